// Package kb is the lifecycle of Quarry's knowledge bases: creating,
// listing and deleting them, building generations of their indexes
// (incremental ingests and full rebuilds, validated and gated), switching
// and rolling back generations, and serving: an engine per knowledge base
// that is swapped for the new generation's without a restart, and the
// rebuild scheduler behind the admin routes.
//
// A data directory holds one folder per knowledge base, DATA/kb/NAME;
// each keeps generations of its indexes (see package index/gen), the
// source folders its documents come from (sources.json) and a record of
// its last rebuild (rebuild.json). The command line, the server and the
// scheduler all go through a Manager.
//
// The package knows the storage backends only through factories set in
// Config (the keyword index, the embedder, the vector store): cmd/quarry
// injects the concrete ones.
package kb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index/gen"
	"github.com/quarry-kb/quarry/ingest"
)

// Default is the knowledge base commands and routes use when none is
// named.
const Default = "default"

// Files of a generation (see package index/gen).
const (
	KeywordDir   = "keyword"       // the keyword index
	VectorsDir   = "vectors"       // the embedded vector store
	ManifestFile = "manifest.json" // what was ingested, by path and hash
	// VectorsRecordFile says where the vectors are (see VectorBackend).
	VectorsRecordFile = "vectors.json"
)

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// MaxNameLen bounds a knowledge base's name (it becomes a directory and
// part of a Qdrant collection name).
const MaxNameLen = 63

// ValidateName checks a knowledge base's name: lower-case letters,
// digits and '-', starting with a letter or digit.
func ValidateName(name string) error {
	if len(name) == 0 || len(name) > MaxNameLen || !validName.MatchString(name) {
		return quarry.Errorf(quarry.CodeInvalid,
			"invalid knowledge base name %q: use 1 to %d lower-case letters, digits and '-', starting with a letter or digit (e.g. support-en)", name, MaxNameLen)
	}
	return nil
}

// Root returns the directory of knowledge base name in data.
func Root(data, name string) string { return filepath.Join(data, "kb", name) }

// Config configures a Manager. The zero value of a field means its
// default; Data is required.
type Config struct {
	// Data is the data directory.
	Data string
	// Engine holds the settings and factories engines are built with.
	Engine EngineConfig
	// Vectors returns the vector backend new generations of knowledge
	// base name are written to (the configured store). Nil means
	// Engine.VectorsFor(name, the embedded record).
	Vectors func(name string) (VectorBackend, error)
	// Chunk sets chunk sizes of ingests.
	Chunk ingest.ChunkConfig
	// Ingest is the template of every sync's options: how files are
	// parsed (a parse worker, see ingest/sandbox), what is excluded, and
	// whether links out of the folder are followed. Chunk and Progress
	// come from the fields of those names; Failures and Root are set per
	// knowledge base and source.
	Ingest ingest.Options
	// OpenSource opens a recorded source (default OpenSource); tests
	// inject failures.
	OpenSource func(src string) (fs.FS, error)
	// Progress, when set, is told how far an ingest has got.
	Progress func(ingest.Progress)
	// Gate, when set, must pass before a rebuild is switched to.
	Gate *Gate
	// Schedule is a cron spec of rebuilds of every knowledge base while
	// serving ("" for none).
	Schedule string
	// WatchEvery is how often a serving Manager looks for new
	// generations and knowledge bases (default 200ms).
	WatchEvery time.Duration
	// Logger receives what a library would otherwise print: warnings,
	// the gate's measures, switches (default: discard).
	Logger *slog.Logger
	// Report, when set, receives the gate's measures as lines of text
	// (the command line prints them).
	Report io.Writer
	// MaxConcurrent bounds the searches and offline answers served at
	// once, across knowledge bases (default twice GOMAXPROCS; negative:
	// no bound). More requests wait their turn.
	MaxConcurrent int
}

// ParseFailuresFile, in a knowledge base's root, remembers by content
// hash the files whose parse failed (see ingest.Failures).
const ParseFailuresFile = "parse-failures.json"

// DefaultWatchEvery is how often a serving Manager polls state files.
const DefaultWatchEvery = 200 * time.Millisecond

// Manager opens, lists, creates, deletes, builds, switches and rolls
// back the knowledge bases of a data directory, and serves them (see
// Serve).
type Manager struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	served map[string]*holder // knowledge bases being served, once Serve ran
	serve  bool               // Serve was called: knowledge bases are opened on demand
	closed bool

	rb *rebuilder

	docMu sync.Mutex // one document sent over the API at a time
}

// New returns a Manager of cfg.Data.
func New(cfg Config) (*Manager, error) {
	if cfg.Data == "" {
		return nil, quarry.Errorf(quarry.CodeInvalid, "kb: no data directory")
	}
	if cfg.WatchEvery <= 0 {
		cfg.WatchEvery = DefaultWatchEvery
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.OpenSource == nil {
		cfg.OpenSource = OpenSource
	}
	switch {
	case cfg.MaxConcurrent == 0:
		cfg.Engine.slots = make(chan struct{}, 2*runtime.GOMAXPROCS(0))
	case cfg.MaxConcurrent > 0:
		cfg.Engine.slots = make(chan struct{}, cfg.MaxConcurrent)
	}
	m := &Manager{cfg: cfg, log: cfg.Logger, served: map[string]*holder{}}
	rb, err := newRebuilder(m, cfg.Schedule)
	if err != nil {
		return nil, err
	}
	m.rb = rb
	return m, nil
}

// Config returns the manager's configuration.
func (m *Manager) Config() Config { return m.cfg }

// dir opens knowledge base name's generations directory, creating it.
func (m *Manager) dir(name string) (*gen.Dir, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	return gen.Open(Root(m.cfg.Data, name))
}

// Exists reports whether knowledge base name exists.
func (m *Manager) Exists(name string) bool {
	if ValidateName(name) != nil {
		return false
	}
	st, err := os.Stat(Root(m.cfg.Data, name))
	return err == nil && st.IsDir()
}

// errNoKB is the error for a knowledge base that does not exist.
func errNoKB(name string) error {
	return quarry.Errorf(quarry.CodeNotFound, "no knowledge base %q (quarry kb list shows them; quarry kb create %s makes it)", name, name)
}

// existing opens an existing knowledge base's directory.
func (m *Manager) existing(name string) (*gen.Dir, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	if !m.Exists(name) && name != Default { // the default one always exists
		return nil, errNoKB(name)
	}
	return gen.Open(Root(m.cfg.Data, name))
}

// Create creates an empty knowledge base; quarry.ErrConflict if it
// exists.
func (m *Manager) Create(name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	root := Root(m.cfg.Data, name)
	if err := os.MkdirAll(filepath.Dir(root), 0o755); err != nil {
		return quarry.Errorf(quarry.CodeUnavailable, "create %s: %w", root, err)
	}
	if err := os.Mkdir(root, 0o755); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return quarry.Errorf(quarry.CodeConflict, "knowledge base %q exists already", name)
		}
		return quarry.Errorf(quarry.CodeUnavailable, "create %s: %w", root, err)
	}
	return nil
}

// Info describes a knowledge base for listings.
type Info struct {
	Name       string    `json:"name"`
	Generation string    `json:"generation,omitempty"` // "" before the first ingest
	Documents  int       `json:"documents"`
	Chunks     int       `json:"chunks"`
	Built      time.Time `json:"built,omitzero"`
	Sources    []Source  `json:"sources,omitempty"`
}

// List returns the names of the knowledge bases, sorted.
func (m *Manager) List() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(m.cfg.Data, "kb"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, quarry.Errorf(quarry.CodeUnavailable, "list knowledge bases: %w", err)
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() && ValidateName(e.Name()) == nil {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// Describe returns what knowledge base name holds.
func (m *Manager) Describe(name string) (Info, error) {
	d, err := m.existing(name)
	if err != nil {
		return Info{}, err
	}
	in := Info{Name: name}
	s, err := d.State()
	switch {
	case err == nil:
		in.Generation, in.Documents, in.Chunks, in.Built = s.Current, s.Info.Documents, s.Info.Chunks, s.Info.Built
	case !errors.Is(err, quarry.ErrNotFound):
		return Info{}, err
	}
	in.Sources, _ = loadSources(d)
	return in, nil
}

// Delete removes knowledge base name: its generations, its vectors and
// its records. It takes the writer lock, so it fails with
// quarry.ErrConflict while a build runs.
func (m *Manager) Delete(ctx context.Context, name string) error {
	d, err := m.existing(name)
	if err != nil {
		return err
	}
	w, err := d.Lock()
	if err != nil {
		return err
	}
	defer w.Unlock()
	m.mu.Lock()
	h := m.served[name]
	delete(m.served, name)
	m.mu.Unlock()
	if h != nil {
		h.Close()
	}
	// Drop the vectors of every generation, whichever store holds them.
	gens, _ := d.Generations()
	for _, g := range gens {
		rec, err := ReadVectorsRecord(d.Path(g))
		if err != nil || rec.Store == StoreEmbedded {
			continue
		}
		vb, err := m.cfg.Engine.vectorsFor(name, rec)
		if err != nil {
			return err
		}
		err = vb.Cleanup(ctx, nil)
		vb.Close()
		if err != nil {
			return fmt.Errorf("remove the vectors of knowledge base %q: %w", name, err)
		}
		break // Cleanup removed every generation's
	}
	if err := os.RemoveAll(d.Root()); err != nil {
		return quarry.Errorf(quarry.CodeUnavailable, "delete knowledge base %q: %w", name, err)
	}
	return nil
}

// vectors returns the backend new generations of name are written to.
func (m *Manager) vectors(name string) (VectorBackend, error) {
	if m.cfg.Vectors != nil {
		return m.cfg.Vectors(name)
	}
	return m.cfg.Engine.vectorsFor(name, VectorsRecord{Store: StoreEmbedded})
}

// Open opens the serving generation of knowledge base name, for a
// reader that is not a server (quarry ask, search, eval). Close it when
// done.
func (m *Manager) Open(ctx context.Context, name string) (*Engine, error) {
	d, err := m.existing(name)
	if err != nil {
		if quarry.ErrorCode(err) == quarry.CodeNotFound {
			return nil, quarry.Errorf(quarry.CodeNotFound, "no index in %s: %w", Root(m.cfg.Data, name), err)
		}
		return nil, err
	}
	s, err := d.State()
	if err != nil {
		return nil, err
	}
	return OpenEngine(ctx, name, s.Current, d.Path(s.Current), m.cfg.Engine.readOnly())
}

// State returns the generations state of knowledge base name.
func (m *Manager) State(name string) (gen.State, error) {
	d, err := m.existing(name)
	if err != nil {
		return gen.State{}, err
	}
	return d.State()
}

// Close stops serving: it waits for running rebuilds and closes the
// engines.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	hs := m.served
	m.served = map[string]*holder{}
	m.mu.Unlock()
	m.rb.Wait()
	var errs []error
	for _, h := range hs {
		errs = append(errs, h.Close())
	}
	return errors.Join(errs...)
}

func (m *Manager) warn(what string, err error) {
	m.log.Warn(what, "err", err)
}

// report writes a line for the operator (the gate's measures).
func (m *Manager) report(format string, args ...any) {
	if m.cfg.Report != nil {
		fmt.Fprintf(m.cfg.Report, format, args...)
		return
	}
	m.log.Info(strings.TrimSpace(fmt.Sprintf(format, args...)))
}
