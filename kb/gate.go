package kb

import (
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/corpora"
	"github.com/quarry-kb/quarry/index/gen"
	"github.com/quarry-kb/quarry/retrieve"
)

// Gate is the evaluation gate of a rebuild: recall@5 (an expected
// document among the first five, ranked by best chunk) on a question
// file, for the new generation and the serving one. A new generation
// worse by more than the margin is not switched to.
type Gate struct {
	file      string
	questions []corpora.Question // answerable ones with expected documents
	margin    float64
}

// LoadGate reads the question file at path (JSON lines, the corpora
// format). An empty path means no gate (nil).
func LoadGate(path string, margin float64) (*Gate, error) {
	if path == "" {
		return nil, nil
	}
	if margin < 0 || margin > 1 {
		return nil, quarry.Errorf(quarry.CodeInvalid, "--gate-margin must be between 0 and 1, got %g", margin)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, quarry.Errorf(quarry.CodeInvalid, "--gate-questions: %w", err)
	}
	defer f.Close()
	qs, err := corpora.ParseQuestions(f)
	if err != nil {
		return nil, quarry.Errorf(quarry.CodeInvalid, "--gate-questions %s: %w", path, err)
	}
	g := &Gate{file: path, margin: margin}
	for _, q := range qs {
		if q.Answerable && len(q.ExpectedDocs) > 0 {
			g.questions = append(g.questions, q)
		}
	}
	if len(g.questions) == 0 {
		return nil, quarry.Errorf(quarry.CodeInvalid, "--gate-questions %s has no answerable question with expected documents", path)
	}
	return g, nil
}

// gateRetrieve ranks documents by their best chunk.
var gateRetrieve = retrieve.Config{MaxPerDoc: 1}

// recall returns the share of the gate's questions whose first five
// documents include an expected one.
func (gt *Gate) recall(ctx context.Context, e *Engine) (float64, error) {
	r, release, err := e.Retriever(gateRetrieve)
	if err != nil {
		return 0, err
	}
	defer release()
	hits := 0
	for _, q := range gt.questions {
		res, err := r.Search(ctx, quarry.SearchRequest{Query: q.Question, K: 5, Mode: quarry.ModeHybrid})
		if err != nil {
			return 0, fmt.Errorf("gate question %s: %w", q.ID, err)
		}
		if slices.ContainsFunc(res.Passages, func(p quarry.Passage) bool { return slices.Contains(q.ExpectedDocs, p.Path) }) {
			hits++
		}
	}
	return float64(hits) / float64(len(gt.questions)), nil
}

// check measures generation g (built, not yet switched to) against the
// serving generation and fails with quarry.ErrConflict when g is worse
// by more than the margin.
func (gt *Gate) check(ctx context.Context, m *Manager, name string, d *gen.Dir, w *gen.Writer, g string, serving gen.State, cfg EngineConfig) error {
	e, err := OpenEngine(ctx, name, g, d.Path(g), cfg.readOnly())
	if err != nil {
		return fmt.Errorf("gate: open generation %s: %w", g, err)
	}
	newR, err := gt.recall(ctx, e)
	if cerr := e.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if serving.Current == "" {
		m.report("gate: recall@5 of %s on %d questions is %.3f (nothing serves yet to compare with)\n", g, len(gt.questions), newR)
		return nil
	}
	oldR, err := gt.servingRecall(ctx, m, name, d, w, serving.Current, cfg)
	if err != nil {
		return fmt.Errorf("gate: measure serving generation %s: %w", serving.Current, err)
	}
	m.report("gate: recall@5 on %d questions: new %s %.3f, serving %s %.3f (margin %.3f)\n",
		len(gt.questions), g, newR, serving.Current, oldR, gt.margin)
	if newR < oldR-gt.margin-1e-9 {
		return quarry.Errorf(quarry.CodeConflict,
			"gate: the new generation's recall@5 on %s is %.3f, worse than the serving generation's %.3f by more than %.3f; not switching",
			gt.file, newR, oldR, gt.margin)
	}
	return nil
}

// servingRecall measures the serving generation: through the engine the
// server lends when the rebuild runs inside it, else by opening it, and
// when it is held open by a server in another process, on a copy.
func (gt *Gate) servingRecall(ctx context.Context, m *Manager, name string, d *gen.Dir, w *gen.Writer, current string, cfg EngineConfig) (float64, error) {
	if e, release, err := m.borrow(name); err == nil {
		defer release()
		if e.gen == current {
			return gt.recall(ctx, e)
		}
	}
	e, err := OpenEngine(ctx, name, current, d.Path(current), cfg.readOnly())
	if err != nil {
		copyGen, dir, cerr := w.Begin(current)
		if cerr != nil {
			return 0, fmt.Errorf("%w (and copying it: %v)", err, cerr)
		}
		defer w.Abort(copyGen)
		if e, err = OpenEngine(ctx, name, current, dir, cfg.readOnly()); err != nil {
			return 0, err
		}
	}
	defer e.Close()
	return gt.recall(ctx, e)
}
