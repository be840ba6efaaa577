package openai

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// maxLine bounds one line of a server-sent event stream; a longer line
// is a protocol error rather than a reason to buffer without end.
const maxLine = 4 << 20

// sseEvent is one server-sent event.
type sseEvent struct {
	Name string // the "event:" field; "" for the default "message"
	Data string // the "data:" lines, joined with "\n"
}

// sseReader reads server-sent events (the text/event-stream format the
// chat-completions API streams in): "field: value" lines, events
// separated by a blank line, lines starting with ":" ignored, several
// data lines joined with "\n". Lines may end in "\n" or "\r\n".
type sseReader struct {
	r    *bufio.Reader
	line []byte
}

func newSSEReader(r io.Reader) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// errLineTooLong reports a line over maxLine.
var errLineTooLong = errors.New("event stream line too long")

// Next returns the next event. At the end of the stream it returns
// io.EOF, after dispatching a final event whose blank line is missing;
// a last line cut off before its end (the connection dropped in the
// middle of it) gives io.ErrUnexpectedEOF.
func (s *sseReader) Next() (sseEvent, error) {
	var ev sseEvent
	var data bytes.Buffer
	hasData := false
	for {
		line, err := s.readLine()
		if err != nil {
			if err == io.EOF && hasData {
				ev.Data = data.String()
				return ev, nil
			}
			return sseEvent{}, err
		}
		if len(line) == 0 { // end of an event
			if hasData {
				ev.Data = data.String()
				return ev, nil
			}
			ev = sseEvent{}
			continue
		}
		if line[0] == ':' { // comment (keep-alive)
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(field) {
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			data.Write(value)
			hasData = true
		case "event":
			ev.Name = string(value)
		}
		// id, retry and unknown fields do not matter here.
	}
}

// readLine returns the next line without its terminator.
func (s *sseReader) readLine() ([]byte, error) {
	s.line = s.line[:0]
	for {
		frag, err := s.r.ReadSlice('\n')
		if len(s.line)+len(frag) > maxLine {
			return nil, fmt.Errorf("%w (over %d bytes)", errLineTooLong, maxLine)
		}
		s.line = append(s.line, frag...)
		switch {
		case err == nil:
			line := s.line[:len(s.line)-1]
			return bytes.TrimSuffix(line, []byte("\r")), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF:
			if len(s.line) > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, io.EOF
		default:
			return nil, err
		}
	}
}
