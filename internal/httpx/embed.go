package httpx

import (
	"context"
	"strings"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/index"
)

// Embedding defaults shared by the embedding adapters.
const (
	DefaultBatchSize   = 64
	DefaultConcurrency = 2
)

// EmbedBatches embeds texts through embed, in batches of at most size
// texts (0 means DefaultBatchSize) with at most limit requests in flight
// (0 means DefaultConcurrency), and returns the vectors in the order of
// texts. embed must return one vector per text of its batch, in order.
// Every vector must have dim dimensions: another size means the server
// runs another model than the index was built with (quarry.ErrConflict).
// An empty text is quarry.ErrInvalid (embedding APIs reject them).
func EmbedBatches(ctx context.Context, service string, texts []string, size, limit, dim int,
	embed func(ctx context.Context, batch []string) ([][]float32, error)) ([]index.Vector, error) {
	for i, t := range texts {
		if strings.TrimSpace(t) == "" {
			return nil, quarry.Errorf(quarry.CodeInvalid, "%s: text %d is empty", service, i)
		}
	}
	if size <= 0 {
		size = DefaultBatchSize
	}
	if limit <= 0 {
		limit = DefaultConcurrency
	}
	out := make([]index.Vector, len(texts))
	err := Batches(ctx, len(texts), size, limit, func(ctx context.Context, lo, hi int) error {
		vecs, err := embed(ctx, texts[lo:hi])
		if err != nil {
			return err
		}
		if len(vecs) != hi-lo {
			return quarry.Errorf(quarry.CodeUnavailable, "%s: malformed response: %d embeddings for %d texts", service, len(vecs), hi-lo)
		}
		for i, v := range vecs {
			if err := CheckDim(service, v, dim); err != nil {
				return err
			}
			out[lo+i] = index.Vector{Dense: v}
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil && quarry.ErrorCode(err) != quarry.CodeCanceled && quarry.ErrorCode(err) != quarry.CodeTimeout {
			return nil, quarry.Errorf(quarry.ErrorCode(ctx.Err()), "%s: %w", service, ctx.Err())
		}
		return nil, err
	}
	return out, nil
}

// CheckDim checks that v is a usable vector of dim dimensions (any
// non-zero size when dim is 0).
func CheckDim(service string, v []float32, dim int) error {
	switch {
	case len(v) == 0:
		return quarry.Errorf(quarry.CodeUnavailable, "%s: malformed response: empty embedding", service)
	case dim > 0 && len(v) != dim:
		return quarry.Errorf(quarry.CodeConflict, "%s: embedding has %d dimensions, the space has %d; is the server running another model?", service, len(v), dim)
	}
	return nil
}

// SpaceName builds an index.Space Embedder name: provider:model, plus
// the query and passage prefixes when set, since they change the
// vectors: `openai:e5-large;query="query: ";passage="passage: "`.
func SpaceName(provider, model, queryPrefix, passagePrefix string) string {
	var b strings.Builder
	b.WriteString(provider)
	b.WriteByte(':')
	b.WriteString(model)
	if queryPrefix != "" {
		b.WriteString(";query=")
		b.WriteString(quote(queryPrefix))
	}
	if passagePrefix != "" {
		b.WriteString(";passage=")
		b.WriteString(quote(passagePrefix))
	}
	return b.String()
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
