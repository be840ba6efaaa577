package generate

import "context"

type personaKey struct{}

// WithPersona returns a context that asks language-model answerers for
// the operator's persona and tone instructions (a reply strategy sets
// them per knowledge base, and they change without a restart, so they
// travel with the request rather than in the answerer's config). The
// offline extractive answerer quotes passages and ignores them.
func WithPersona(ctx context.Context, persona string) context.Context {
	if persona == "" {
		return ctx
	}
	return context.WithValue(ctx, personaKey{}, persona)
}

// Persona returns the persona WithPersona put in ctx, or "".
func Persona(ctx context.Context) string {
	s, _ := ctx.Value(personaKey{}).(string)
	return s
}
