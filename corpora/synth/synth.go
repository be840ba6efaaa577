// Package synth generates a synthetic corpus for benchmarks: any number
// of short English-like documents, each about one chunk long, served as
// an fs.FS that makes every file from its name when it is read. Nothing
// is stored, so a million documents cost no disk and no memory, and the
// same Config always gives the same bytes.
//
// Words come from a made-up vocabulary of pronounceable words drawn
// with a Zipf distribution (a few words very common, most rare), as in
// real text; titles and queries are drawn from the same vocabulary, so
// queries have realistic posting-list lengths in both retrieval legs.
package synth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config describes a corpus. The zero value of a field means its
// default.
type Config struct {
	Docs  int    // number of documents; default 1000
	Words int    // average words in a document body; default 100 (one chunk)
	Vocab int    // distinct words; default 30000
	Seed  uint64 // default 1
}

// PerDir is how many documents one directory holds.
const PerDir = 1000

// Corpus is a synthetic corpus. It implements fs.FS, fs.ReadDirFS,
// fs.ReadFileFS and fs.StatFS; it is safe for concurrent use.
type Corpus struct {
	cfg   Config
	vocab []string
	cdf   []float64
	mod   time.Time
}

// New returns the corpus of cfg.
func New(cfg Config) *Corpus {
	if cfg.Docs <= 0 {
		cfg.Docs = 1000
	}
	if cfg.Words <= 0 {
		cfg.Words = 100
	}
	if cfg.Vocab <= 0 {
		cfg.Vocab = 30000
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	voc := vocabulary(cfg.Vocab, cfg.Seed)
	return &Corpus{cfg: cfg, vocab: voc, cdf: zipfCDF(len(voc)), mod: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
}

var (
	onsets = strings.Fields("b c d f g h j k l m n p r s t v w z br cr dr fr gr pr tr bl cl fl gl pl sl st sp sc sh ch th")
	nuclei = strings.Fields("a e i o u ai ea ee oa ou io")
	codas  = []string{"", "", "n", "r", "s", "t", "l", "m", "nd", "st", "rk", "ng"}
)

// vocabulary makes n distinct pronounceable words, shortest first (so
// the common words of the Zipf draw are short, as in English).
func vocabulary(n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	seen := make(map[string]bool, n)
	out := make([]string, 0, n)
	for syll := 1; len(out) < n; syll = min(syll+1, 4) {
		// Up to a few thousand words of each length before moving on.
		for tries := 0; tries < 4*n && len(out) < n && (syll == 4 || tries < 3000*syll); tries++ {
			var b strings.Builder
			for range syll {
				b.WriteString(onsets[r.IntN(len(onsets))])
				b.WriteString(nuclei[r.IntN(len(nuclei))])
				b.WriteString(codas[r.IntN(len(codas))])
			}
			w := b.String()
			if !seen[w] {
				seen[w] = true
				out = append(out, w)
			}
		}
	}
	return out
}

// zipfCDF is the cumulative distribution of word ranks: rank k has
// weight 1/(k+2)^1.1.
func zipfCDF(n int) []float64 {
	cdf := make([]float64, n)
	sum := 0.0
	for k := range cdf {
		sum += math.Pow(float64(k+2), -1.1)
		cdf[k] = sum
	}
	for k := range cdf {
		cdf[k] /= sum
	}
	return cdf
}

// word draws a word.
func (c *Corpus) word(r *rand.Rand) string {
	k, _ := slices.BinarySearch(c.cdf, r.Float64())
	return c.vocab[min(k, len(c.vocab)-1)]
}

// Docs returns the number of documents.
func (c *Corpus) Docs() int { return c.cfg.Docs }

// Path returns the path of document i (0 ≤ i < Docs()).
func Path(i int) string {
	return fmt.Sprintf("d%04d/doc%07d.md", i/PerDir, i)
}

// index parses a document path back into its number.
func (c *Corpus) index(name string) (int, bool) {
	dir, file, ok := strings.Cut(name, "/")
	if !ok || !strings.HasPrefix(file, "doc") || !strings.HasSuffix(file, ".md") {
		return 0, false
	}
	i, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(file, "doc"), ".md"))
	if err != nil || i < 0 || i >= c.cfg.Docs || Path(i) != dir+"/"+file {
		return 0, false
	}
	return i, true
}

// Document returns the Markdown text of document i: a title, a heading
// and a body of sentences.
func (c *Corpus) Document(i int) []byte {
	r := rand.New(rand.NewPCG(c.cfg.Seed, uint64(i)+1))
	var b bytes.Buffer
	b.Grow(8 * c.cfg.Words)
	b.WriteString("# ")
	c.sentence(&b, r, 3+r.IntN(4), false)
	b.WriteString("\n\n## ")
	c.sentence(&b, r, 2+r.IntN(3), false)
	b.WriteString("\n\n")
	words := c.cfg.Words/2 + r.IntN(c.cfg.Words+1)
	for words > 0 {
		n := min(words, 6+r.IntN(14))
		c.sentence(&b, r, n, true)
		b.WriteByte(' ')
		words -= n
	}
	b.WriteByte('\n')
	return b.Bytes()
}

func (c *Corpus) sentence(b *bytes.Buffer, r *rand.Rand, n int, period bool) {
	for j := range n {
		w := c.word(r)
		if j == 0 {
			b.WriteByte(w[0] - 'a' + 'A')
			w = w[1:]
		} else {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	if period {
		b.WriteByte('.')
	}
}

// Queries returns n queries of 2 to 5 words, each drawn from the text of
// a random document (so most have answers), deterministic for a seed.
func (c *Corpus) Queries(n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 0x9e77))
	out := make([]string, n)
	for i := range out {
		words := strings.Fields(strings.NewReplacer("#", " ", ".", " ").Replace(string(c.Document(r.IntN(c.cfg.Docs)))))
		k := 2 + r.IntN(4)
		start := r.IntN(max(1, len(words)-k))
		out[i] = strings.ToLower(strings.Join(words[start:min(len(words), start+k)], " "))
	}
	return out
}

// Bytes returns the total size of the documents (it generates them all).
func (c *Corpus) Bytes() int64 {
	var n int64
	for i := range c.cfg.Docs {
		n += int64(len(c.Document(i)))
	}
	return n
}

func (c *Corpus) dirs() int { return (c.cfg.Docs + PerDir - 1) / PerDir }

// ReadFile returns the contents of a document.
func (c *Corpus) ReadFile(name string) ([]byte, error) {
	i, ok := c.index(name)
	if !ok {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
	}
	return c.Document(i), nil
}

// Open opens a document or a directory.
func (c *Corpus) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if i, ok := c.index(name); ok {
		data := c.Document(i)
		return &file{Reader: bytes.NewReader(data), info: info{name: path.Base(name), size: int64(len(data)), mod: c.mod}}, nil
	}
	entries, err := c.ReadDir(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &dir{info: info{name: path.Base(name), dir: true, mod: c.mod}, entries: entries}, nil
}

// Stat describes a document or a directory.
func (c *Corpus) Stat(name string) (fs.FileInfo, error) {
	f, err := c.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Stat()
}

// ReadDir lists a directory: "." holds d0000, d0001...; each of those
// holds up to PerDir documents.
func (c *Corpus) ReadDir(name string) ([]fs.DirEntry, error) {
	if name == "." {
		out := make([]fs.DirEntry, c.dirs())
		for d := range out {
			out[d] = fs.FileInfoToDirEntry(info{name: fmt.Sprintf("d%04d", d), dir: true, mod: c.mod})
		}
		return out, nil
	}
	var d int
	if _, err := fmt.Sscanf(name, "d%04d", &d); err != nil || fmt.Sprintf("d%04d", d) != name || d < 0 || d >= c.dirs() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	var out []fs.DirEntry
	for i := d * PerDir; i < min(c.cfg.Docs, (d+1)*PerDir); i++ {
		out = append(out, entry{c, i})
	}
	return out, nil
}

// entry is a document's directory entry; its Info generates the
// document only when asked, so listing a directory stays cheap.
type entry struct {
	c *Corpus
	i int
}

func (e entry) Name() string               { return path.Base(Path(e.i)) }
func (e entry) IsDir() bool                { return false }
func (e entry) Type() fs.FileMode          { return 0 }
func (e entry) Info() (fs.FileInfo, error) { return e.c.Stat(Path(e.i)) }

type info struct {
	name string
	size int64
	dir  bool
	mod  time.Time
}

func (i info) Name() string { return i.name }
func (i info) Size() int64  { return i.size }
func (i info) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}
func (i info) ModTime() time.Time { return i.mod }
func (i info) IsDir() bool        { return i.dir }
func (i info) Sys() any           { return nil }

type file struct {
	*bytes.Reader
	info info
}

func (f *file) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *file) Close() error               { return nil }

type dir struct {
	info    info
	entries []fs.DirEntry
	off     int
}

func (d *dir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dir) Close() error               { return nil }
func (d *dir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errors.New("is a directory")}
}

func (d *dir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	rest = rest[:min(n, len(rest))]
	d.off += len(rest)
	return rest, nil
}
