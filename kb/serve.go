package kb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"sync"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index/gen"
)

// Serving. A Manager serves every knowledge base of its data directory:
// Engine opens one on first use, and Watch polls the state files (every
// Config.WatchEvery) so that a generation switched to by this process or
// another (quarry ingest, reindex, rollback) is served within moments,
// and a knowledge base created after the server started is served as
// soon as it has a generation.
//
// Swapping engines: the new generation's engine is opened beside the
// serving one and swapped in; the replaced one keeps answering the
// requests that already hold it and is closed after retireGrace, once
// idle. A rollback to the generation just replaced does not open it a
// second time (its files are locked by the engine still open): the
// retired engine is taken back instead, and if it is already closing the
// reload waits for the close before opening it again.

// retireGrace is how long a replaced engine stays open: requests that
// resolved it just before the swap are served in that time (those still
// waiting for their turn go to its replacement), and a rollback within
// it takes it back at once, without opening anything. Meanwhile the
// memory of both generations is in use.
const retireGrace = 10 * time.Second

// holder keeps the serving engine of one knowledge base.
type holder struct {
	m    *Manager
	name string
	dir  *gen.Dir

	reloadMu sync.Mutex // one reload at a time (the watcher, a rebuild, a first request)

	mu       sync.Mutex
	eng      *Engine
	versions int
	lastErr  error
	retired  map[string]retired // replaced engines by generation, until closed
}

type retired struct {
	e      *Engine
	cancel func() bool // stops the pending close; false once it started
}

func (h *holder) current() *Engine {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.eng
}

// holderFor returns the holder of knowledge base name, making it.
func (m *Manager) holderFor(name string) (*holder, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, quarry.Errorf(quarry.CodeUnavailable, "the server is shutting down")
	}
	if h := m.served[name]; h != nil {
		return h, nil
	}
	d, err := m.existing(name)
	if err != nil {
		return nil, err
	}
	h := &holder{m: m, name: name, dir: d, retired: map[string]retired{}}
	m.served[name] = h
	return h, nil
}

// Engine returns the engine serving knowledge base name, opening it on
// first use. A knowledge base that does not exist is quarry.ErrNotFound;
// one with nothing ingested yet is quarry.ErrUnavailable.
func (m *Manager) Engine(ctx context.Context, name string) (*Engine, error) {
	if err := ValidateName(name); err != nil {
		return nil, quarry.Errorf(quarry.CodeNotFound, "no knowledge base %q: %w", name, err)
	}
	h, err := m.holderFor(name)
	if err != nil {
		return nil, err
	}
	if e := h.current(); e != nil {
		return e, nil
	}
	if err := h.reload(ctx); err != nil {
		return nil, err
	}
	if e := h.current(); e != nil {
		return e, nil
	}
	return nil, quarry.Errorf(quarry.CodeUnavailable, "knowledge base %q has no documents yet: ingest some (quarry ingest --kb %s SOURCE_DIR)", name, name)
}

// Serving returns the generation being served for name ("" if none) and
// why the current generation could not be served (nil if it is).
func (m *Manager) Serving(name string) (string, error) {
	m.mu.Lock()
	h := m.served[name]
	m.mu.Unlock()
	if h == nil {
		return "", nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	g := ""
	if h.eng != nil {
		g = h.eng.gen
	}
	return g, h.lastErr
}

// borrow lends the engine serving name, if this process serves it,
// until release is called.
func (m *Manager) borrow(name string) (*Engine, func(), error) {
	m.mu.Lock()
	h := m.served[name]
	m.mu.Unlock()
	if h == nil {
		return nil, nil, errEngineClosed
	}
	e := h.current()
	if e == nil || !e.acquire() {
		return nil, nil, errEngineClosed
	}
	return e, e.release, nil
}

// notify serves the generation just switched to in knowledge base name
// now rather than at the next poll, if this process serves it.
func (m *Manager) notify(ctx context.Context, name string) {
	m.mu.Lock()
	h := m.served[name]
	m.mu.Unlock()
	if h == nil {
		return
	}
	if err := h.reload(ctx); err != nil {
		m.log.Error("loading the new generation failed; still serving the previous one", "kb", name, "err", err)
	}
}

// Watch polls the knowledge bases until ctx ends, serving new
// generations and new knowledge bases.
func (m *Manager) Watch(ctx context.Context) {
	t := time.NewTicker(m.cfg.WatchEvery)
	defer t.Stop()
	lastLogged := map[string]string{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		names, err := m.List()
		if err != nil {
			m.log.Warn("listing knowledge bases", "err", err)
			continue
		}
		m.mu.Lock()
		for name, h := range m.served {
			if name != Default && !m.Exists(name) { // deleted by another process
				delete(m.served, name)
				go h.Close()
			}
		}
		m.mu.Unlock()
		for _, name := range names {
			h, err := m.holderFor(name)
			if err != nil {
				continue
			}
			if err := h.reload(ctx); err != nil {
				if msg := err.Error(); msg != lastLogged[name] { // once per distinct failure
					m.log.Error("loading new generation failed; still serving the previous one", "kb", name, "err", err)
					lastLogged[name] = msg
				}
			} else {
				delete(lastLogged, name)
			}
		}
	}
}

// reload opens the generation the state file names if it is not the one
// being served, and swaps it in.
func (h *holder) reload(ctx context.Context) error {
	h.reloadMu.Lock()
	defer h.reloadMu.Unlock()
	s, err := h.dir.State()
	if errors.Is(err, quarry.ErrNotFound) {
		return nil // nothing ingested yet
	}
	if err != nil {
		return err
	}
	h.mu.Lock()
	same := s.Versions == h.versions || (h.eng != nil && s.Current == h.eng.gen)
	if same {
		h.versions = s.Versions
	}
	h.mu.Unlock()
	if same {
		return nil
	}
	opening := time.Now()
	e, err := h.open(ctx, s.Current)
	if err != nil {
		h.mu.Lock()
		h.lastErr = err
		switch quarry.ErrorCode(err) {
		case quarry.CodeUnavailable, quarry.CodeTimeout, quarry.CodeCanceled:
			// Try again on the next tick: the vector store may be down.
		default:
			h.versions = s.Versions // don't retry a broken generation every tick
		}
		h.mu.Unlock()
		return fmt.Errorf("generation %s: %w", s.Current, err)
	}
	h.mu.Lock()
	old := h.eng
	h.eng = e
	h.versions = s.Versions
	h.lastErr = nil
	e.next.Store(nil) // taken back by a rollback: it is the newest again
	if old != nil {
		old.next.Store(e) // requests still waiting on old go to e
		h.retireLocked(old)
	}
	h.mu.Unlock()
	from := ""
	if old != nil {
		from = old.gen
	}
	h.m.log.Info("switched generation", "kb", h.name, "from", from, "to", e.gen, "documents", s.Info.Documents, "chunks", s.Info.Chunks,
		"open", time.Since(opening).Round(time.Millisecond), "noticed", opening.Sub(s.Switched).Round(time.Millisecond))
	return nil
}

// open returns an engine on generation g: the retired one if it is still
// open, else a new one (after the retired one, if closing, has closed:
// its files are locked until then).
func (h *holder) open(ctx context.Context, g string) (*Engine, error) {
	h.mu.Lock()
	r, ok := h.retired[g]
	if ok {
		delete(h.retired, g)
	}
	h.mu.Unlock()
	if ok {
		if r.cancel() {
			return r.e, nil // taken back before its close started
		}
		wait := time.NewTimer(10 * time.Second)
		defer wait.Stop()
		select {
		case <-r.e.closed:
		case <-wait.C:
			return nil, quarry.Errorf(quarry.CodeUnavailable, "generation %s is still closing", g)
		case <-ctx.Done():
			return nil, quarry.Errorf(quarry.CodeCanceled, "%w", ctx.Err())
		}
	}
	return OpenEngine(ctx, h.name, g, h.dir.Path(g), h.m.cfg.Engine.readOnly())
}

// retireLocked closes e after the grace period unless it is taken back;
// h.mu is held.
func (h *holder) retireLocked(e *Engine) {
	var cancel func() bool
	cancel = e.closeAfter(retireGrace, h.m.log)
	h.retired[e.gen] = retired{e: e, cancel: cancel}
	// Forget it once closed (if nobody took it back meanwhile).
	go func() {
		<-e.closed
		h.mu.Lock()
		if r, ok := h.retired[e.gen]; ok && r.e == e {
			delete(h.retired, e.gen)
		}
		h.mu.Unlock()
	}()
}

// Close closes the serving engine and the retired ones.
func (h *holder) Close() error {
	h.mu.Lock()
	e := h.eng
	h.eng = nil
	rs := h.retired
	h.retired = map[string]retired{}
	h.mu.Unlock()
	var errs []error
	for _, r := range rs {
		r.cancel()
		errs = append(errs, r.e.Close())
	}
	if e != nil {
		errs = append(errs, e.Close())
	}
	return errors.Join(errs...)
}

// Ready reports whether the default knowledge base is served (or,
// without one, any other): /readyz.
func (m *Manager) Ready(ctx context.Context) error {
	if _, err := m.Engine(ctx, Default); err == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, h := range m.served {
		if h.current() != nil {
			return nil
		}
	}
	return quarry.Errorf(quarry.CodeUnavailable, "no index loaded")
}

// CleanAbandoned removes generations left half-built by a process that
// was killed, in every knowledge base no writer is at work on: taking
// the writer lock does that for the directories; the vectors they left
// are dropped too.
func (m *Manager) CleanAbandoned(ctx context.Context) {
	names, _ := m.List()
	for _, name := range names {
		d, err := m.existing(name)
		if err != nil {
			continue
		}
		w, err := d.Lock()
		if err != nil {
			if !errors.Is(err, quarry.ErrConflict) {
				m.log.Warn("could not check for abandoned generations", "kb", name, "err", err)
			}
			continue // a writer is at work; it cleans up when it is done
		}
		gens, err := d.Generations()
		if err == nil {
			var vb VectorBackend
			if vb, err = m.vectors(name); err == nil {
				err = vb.Cleanup(ctx, gens)
				vb.Close()
			}
		}
		if err != nil {
			m.log.Warn("removing the vectors of abandoned generations", "kb", name, "err", err)
		}
		w.Unlock()
	}
}
