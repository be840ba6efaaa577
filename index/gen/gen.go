// Package gen manages generations of a knowledge base's indexes on disk.
//
// Every write (an incremental ingest or a full rebuild) builds a new
// generation directory beside the serving one and then switches to it by
// atomically replacing one small state file. Readers (the server, the
// CLI) open whatever generation the state file names; a server polls it
// and swaps generations without a restart. The previous generation is
// kept for rollback, older ones are pruned (Prune, once everything else
// that names generations has switched too), and a generation left
// half-built by a crash is removed by the next writer.
//
//	ROOT/
//	  state.json        {"current": "g000002", "previous": "g000001", ...}
//	  writer.lock       flock held by the one writer at a time
//	  g000001/          a complete generation (whatever the backends keep)
//	  g000002/
//	  g000003/.building a generation being built (or abandoned by a crash)
package gen

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/internal/fsx"
)

const (
	stateFile     = "state.json"
	lockFile      = "writer.lock"
	buildingMark  = ".building"
	genPrefix     = "g"
	genDigits     = 6
	maxHistoryLen = 20
)

// Info describes a generation when it is switched to.
type Info struct {
	Gen       string `json:"gen"`
	Documents int    `json:"documents"`
	Chunks    int    `json:"chunks"`
	Embedder  string `json:"embedder,omitempty"`
	// VectorStore names where the generation keeps its vectors:
	// "embedded" (a directory inside the generation) or "qdrant".
	VectorStore string    `json:"vector_store,omitempty"`
	Built       time.Time `json:"built"`
	Reason      string    `json:"reason,omitempty"` // "ingest", "reindex", "rollback"
	// BuildSeconds is how long the build that made the generation took,
	// from its start to its switch (0 for a rollback, which builds
	// nothing).
	BuildSeconds float64 `json:"build_seconds,omitempty"`
}

// State is the content of state.json.
type State struct {
	Current  string    `json:"current"`
	Previous string    `json:"previous,omitempty"`
	Switched time.Time `json:"switched"`
	Info     Info      `json:"info"`               // of Current
	History  []Info    `json:"history,omitempty"`  // newest first
	Versions int       `json:"versions,omitempty"` // incremented on every switch
}

// Dir is the generations directory of one knowledge base.
type Dir struct{ root string }

// Open returns the generations directory at root, creating it if needed.
func Open(root string) (*Dir, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", root, err)
	}
	return &Dir{root: root}, nil
}

// Root returns the directory.
func (d *Dir) Root() string { return d.root }

// Path returns the directory of a generation.
func (d *Dir) Path(gen string) string { return filepath.Join(d.root, gen) }

// State reads the state file. A knowledge base that has never been
// written has no state: quarry.ErrNotFound.
func (d *Dir) State() (State, error) {
	var s State
	b, err := os.ReadFile(filepath.Join(d.root, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return s, quarry.Errorf(quarry.CodeNotFound, "no index in %s yet", d.root)
	}
	if err != nil {
		return s, fmt.Errorf("read state: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, quarry.Errorf(quarry.CodeInternal, "corrupt state file %s: %w", filepath.Join(d.root, stateFile), err)
	}
	if s.Current == "" {
		return s, quarry.Errorf(quarry.CodeNotFound, "no index in %s yet", d.root)
	}
	return s, nil
}

// Writer is the exclusive right to build and switch generations.
type Writer struct {
	d    *Dir
	lock *os.File
}

// Lock takes the writer lock without waiting. If another process (or
// another Writer in this one) holds it, the error is quarry.ErrConflict.
// On success it removes generations abandoned half-built by a crash.
func (d *Dir) Lock() (*Writer, error) {
	f, err := os.OpenFile(filepath.Join(d.root, lockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, quarry.Errorf(quarry.CodeConflict, "another ingest or rebuild is running on %s", d.root)
		}
		return nil, fmt.Errorf("lock %s: %w", d.root, err)
	}
	w := &Writer{d: d, lock: f}
	if err := w.removeAbandoned(); err != nil {
		w.Unlock()
		return nil, err
	}
	return w, nil
}

// Busy reports whether a writer holds the lock, without taking it (and
// so without the clean-up Lock does). The answer may be stale as soon as
// it is returned; it is for status reports, not for coordination.
func (d *Dir) Busy() (bool, error) {
	f, err := os.OpenFile(filepath.Join(d.root, lockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return false, fmt.Errorf("open lock: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return true, nil
		}
		return false, fmt.Errorf("lock %s: %w", d.root, err)
	}
	return false, nil // closing f releases the probe
}

// Generations lists the complete generations on disk (those not being
// built), oldest first.
func (d *Dir) Generations() ([]string, error) {
	gens, err := d.generations()
	if err != nil {
		return nil, err
	}
	out := gens[:0]
	for _, g := range gens {
		if !d.building(g) {
			out = append(out, g)
		}
	}
	return out, nil
}

func (d *Dir) building(g string) bool {
	_, err := os.Stat(filepath.Join(d.Path(g), buildingMark))
	return err == nil
}

// Unlock releases the writer lock.
func (w *Writer) Unlock() error {
	if w.lock == nil {
		return nil
	}
	err := w.lock.Close() // closing releases the flock
	w.lock = nil
	return err
}

func (w *Writer) removeAbandoned() error {
	gens, err := w.d.generations()
	if err != nil {
		return err
	}
	for _, g := range gens {
		if w.d.building(g) {
			if err := os.RemoveAll(w.d.Path(g)); err != nil {
				return fmt.Errorf("remove abandoned generation %s: %w", g, err)
			}
		}
	}
	return nil
}

// generations lists generation directory names in ascending order.
func (d *Dir) generations() ([]string, error) {
	ents, err := os.ReadDir(d.root)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", d.root, err)
	}
	var gens []string
	for _, e := range ents {
		if e.IsDir() && genNumber(e.Name()) > 0 {
			gens = append(gens, e.Name())
		}
	}
	sort.Slice(gens, func(i, j int) bool { return genNumber(gens[i]) < genNumber(gens[j]) })
	return gens, nil
}

func genNumber(name string) int {
	if !strings.HasPrefix(name, genPrefix) {
		return 0
	}
	n, err := strconv.Atoi(name[len(genPrefix):])
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// Begin creates the directory of a new generation, marked as being
// built. If from is not empty, that generation's files are copied into
// it first (an incremental write starts from the serving generation).
func (w *Writer) Begin(from string) (gen, dir string, err error) {
	gens, err := w.d.generations()
	if err != nil {
		return "", "", err
	}
	next := 1
	if len(gens) > 0 {
		next = genNumber(gens[len(gens)-1]) + 1
	}
	gen = fmt.Sprintf("%s%0*d", genPrefix, genDigits, next)
	dir = w.d.Path(gen)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("create generation: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, buildingMark), []byte(time.Now().UTC().Format(time.RFC3339)), 0o644); err != nil {
		return "", "", fmt.Errorf("mark generation: %w", err)
	}
	if from != "" {
		if err := copyTree(w.d.Path(from), dir); err != nil {
			os.RemoveAll(dir)
			return "", "", fmt.Errorf("copy generation %s: %w", from, err)
		}
	}
	return gen, dir, nil
}

// Abort removes a generation that will not be switched to.
func (w *Writer) Abort(gen string) error {
	if gen == "" {
		return nil
	}
	if s, err := w.d.State(); err == nil && (s.Current == gen || s.Previous == gen) {
		return quarry.Errorf(quarry.CodeConflict, "generation %s is in use", gen)
	}
	return os.RemoveAll(w.d.Path(gen))
}

// Switch makes gen the serving generation in one atomic rename of the
// state file; the generation that served until now becomes the previous
// one (kept for Rollback). An error means the state file was not
// replaced: the serving generation is unchanged. Older generations are
// not removed here; call Prune once whatever else points at generations
// (an alias in a vector database, say) has been switched too.
func (w *Writer) Switch(info Info) (State, error) {
	if info.Gen == "" {
		return State{}, quarry.Errorf(quarry.CodeInvalid, "switch: no generation")
	}
	if _, err := os.Stat(w.d.Path(info.Gen)); err != nil {
		return State{}, quarry.Errorf(quarry.CodeNotFound, "switch: generation %s: %w", info.Gen, err)
	}
	old, err := w.d.State()
	if err != nil && !errors.Is(err, quarry.ErrNotFound) {
		return State{}, err
	}
	if err := os.Remove(filepath.Join(w.d.Path(info.Gen), buildingMark)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return State{}, fmt.Errorf("unmark generation: %w", err)
	}
	if info.Built.IsZero() {
		info.Built = time.Now().UTC()
	}
	s := State{
		Current:  info.Gen,
		Previous: old.Current,
		Switched: time.Now().UTC(),
		Info:     info,
		History:  append([]Info{info}, old.History...),
		Versions: old.Versions + 1,
	}
	if s.Previous == s.Current {
		s.Previous = old.Previous
	}
	if len(s.History) > maxHistoryLen {
		s.History = s.History[:maxHistoryLen]
	}
	if err := fsx.WriteJSON(filepath.Join(w.d.root, stateFile), s); err != nil {
		return State{}, err
	}
	return s, nil
}

// Rollback switches back to the previous generation. The generation it
// leaves becomes the previous one, so a second rollback undoes the first.
func (w *Writer) Rollback() (State, error) {
	s, err := w.d.State()
	if err != nil {
		return State{}, err
	}
	if s.Previous == "" {
		return State{}, quarry.Errorf(quarry.CodeNotFound, "no previous generation to roll back to")
	}
	info := Info{Gen: s.Previous, Reason: "rollback"}
	for _, h := range s.History {
		if h.Gen == s.Previous {
			info = h
			info.Reason, info.BuildSeconds = "rollback", 0
			break
		}
	}
	return w.Switch(info)
}

// Prune removes the generations other than the current and previous
// ones (and those being built by this writer, which Abort or Switch
// settle), and returns the names it removed.
func (w *Writer) Prune() (removed []string, err error) {
	s, err := w.d.State()
	if err != nil {
		return nil, err
	}
	gens, err := w.d.generations()
	if err != nil {
		return nil, err
	}
	for _, g := range gens {
		if g == s.Current || g == s.Previous || w.d.building(g) {
			continue
		}
		if err := os.RemoveAll(w.d.Path(g)); err != nil {
			return removed, fmt.Errorf("prune %s: %w", g, err)
		}
		removed = append(removed, g)
	}
	return removed, nil
}

// copyTree copies the regular files and directories under src into dst
// (hard links are not used: backends may rewrite files in place).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if rel == buildingMark {
			return nil
		}
		target := filepath.Join(dst, rel)
		if e.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !e.Type().IsRegular() {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
