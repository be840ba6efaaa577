package ollama

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// maxLine bounds one line of a streamed response.
const maxLine = 4 << 20

var errLineTooLong = errors.New("stream line too long")

// lineReader reads newline-delimited JSON (the format Ollama streams
// in), one non-blank line at a time.
type lineReader struct {
	r    *bufio.Reader
	line []byte
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the next non-blank line, without its line ending. The
// returned slice is valid until the next call. At the end of the stream
// it returns io.EOF. A last line with no newline is returned with
// unterminated set: if it does not parse, the stream was cut in the
// middle of it.
func (l *lineReader) Next() (line []byte, unterminated bool, err error) {
	for {
		l.line = l.line[:0]
		for {
			frag, err := l.r.ReadSlice('\n')
			if len(l.line)+len(frag) > maxLine {
				return nil, false, fmt.Errorf("%w (over %d bytes)", errLineTooLong, maxLine)
			}
			l.line = append(l.line, frag...)
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil && (err != io.EOF || len(l.line) == 0) {
				return nil, false, err
			}
			unterminated = err == io.EOF
			break
		}
		if line = bytes.TrimSpace(l.line); len(line) > 0 {
			return line, unterminated, nil
		}
	}
}
