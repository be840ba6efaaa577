package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/generate"
	"github.com/quarry-kb/quarry/generate/ollama"
	"github.com/quarry-kb/quarry/generate/openai"
	"github.com/quarry-kb/quarry/index"
	"github.com/quarry-kb/quarry/index/ollamaembed"
	"github.com/quarry-kb/quarry/index/openaiembed"
)

// Model providers. Every setting is a flag with an environment variable
// (the flag wins); a command registers only the groups it uses, so a
// setting is read only where it matters (quarry ingest never looks at
// the LLM settings).
//
//	LLM (group "llm": serve, demo, ask)
//	  --llm-provider            QUARRY_LLM_PROVIDER            none | openai | ollama (default none: the offline extractive answerer)
//	  --llm-base-url            QUARRY_LLM_BASE_URL            API root (openai: up to /v1; ollama: the server root)
//	  --llm-model               QUARRY_LLM_MODEL               required with a provider
//	  --llm-api-key-env         QUARRY_LLM_API_KEY_ENV         name of the variable holding the key (default OPENAI_API_KEY)
//	  --llm-timeout             QUARRY_LLM_TIMEOUT             per call, e.g. 90s (default 2m)
//	  --llm-max-context-tokens  QUARRY_LLM_MAX_CONTEXT_TOKENS  prompt budget (default 3000)
//	  --llm-max-answer-tokens   QUARRY_LLM_MAX_ANSWER_TOKENS   answer bound (default 512)
//	  --llm-temperature         QUARRY_LLM_TEMPERATURE         0 to 2 (default 0)
//	  --rewrite                 QUARRY_REWRITE                 heuristic | llm | off: how follow-ups are made standalone
//	Embeddings (group "embed": every command that opens an index)
//	  --embed-provider          QUARRY_EMBED_PROVIDER          charngram | openai | ollama (default charngram, offline)
//	  --embed-base-url          QUARRY_EMBED_BASE_URL
//	  --embed-model             QUARRY_EMBED_MODEL             required with openai or ollama
//	  --embed-api-key-env       QUARRY_EMBED_API_KEY_ENV       default OPENAI_API_KEY
//	  --embed-dim               QUARRY_EMBED_DIM               0: ask the server once
//	  --embed-query-prefix      QUARRY_EMBED_QUERY_PREFIX      e.g. "query: " for e5
//	  --embed-passage-prefix    QUARRY_EMBED_PASSAGE_PREFIX    e.g. "passage: "
//
// API keys are read from the named variable when a provider is built
// and are never logged, printed or written to the data directory.

// Provider names.
const (
	providerNone      = "none"
	providerOpenAI    = "openai"
	providerOllama    = "ollama"
	providerCharngram = "charngram"

	rewriteHeuristic = "heuristic"
	rewriteLLM       = "llm"
	rewriteOff       = "off"

	defaultAPIKeyEnv = "OPENAI_API_KEY"
)

// providerSettings are the model settings of one command, as given.
// Numbers are kept as text until validate, so that a malformed value
// from the environment is an error naming it rather than a silent
// default.
type providerSettings struct {
	getenv func(string) string
	llm    bool // the llm group was registered
	embed  bool // the embed group was registered

	LLMProvider, LLMBaseURL, LLMModel, LLMAPIKeyEnv  string
	LLMTimeout, LLMMaxContext, LLMMaxAnswer, LLMTemp string
	Rewrite                                          string

	EmbedProvider, EmbedBaseURL, EmbedModel, EmbedAPIKeyEnv string
	EmbedDim, EmbedQueryPrefix, EmbedPassagePrefix          string
}

// providerFlags registers the flags of groups ("llm", "embed") on fs,
// with defaults from the environment.
func providerFlags(fs *flag.FlagSet, env *Env, groups ...string) *providerSettings {
	p := &providerSettings{getenv: env.Getenv}
	str := func(dst *string, name, key, def, usage string) {
		v := env.Getenv(key)
		if v == "" {
			v = def
		}
		fs.StringVar(dst, name, v, usage+" (env "+key+")")
	}
	for _, g := range groups {
		switch g {
		case "llm":
			p.llm = true
			str(&p.LLMProvider, "llm-provider", "QUARRY_LLM_PROVIDER", providerNone, "language model that writes answers: none (offline extractive answers), openai (any OpenAI-compatible API) or ollama")
			str(&p.LLMBaseURL, "llm-base-url", "QUARRY_LLM_BASE_URL", "", "API root of the language model: for openai up to the version, e.g. http://localhost:8000/v1 (default https://api.openai.com/v1); for ollama the server, default http://localhost:11434")
			str(&p.LLMModel, "llm-model", "QUARRY_LLM_MODEL", "", "language model name, e.g. gpt-4o-mini or qwen2.5:7b")
			str(&p.LLMAPIKeyEnv, "llm-api-key-env", "QUARRY_LLM_API_KEY_ENV", defaultAPIKeyEnv, "name of the environment variable holding the language model's API key (the key is never logged)")
			str(&p.LLMTimeout, "llm-timeout", "QUARRY_LLM_TIMEOUT", "", "time limit of one language model call, e.g. 90s (default 2m)")
			str(&p.LLMMaxContext, "llm-max-context-tokens", "QUARRY_LLM_MAX_CONTEXT_TOKENS", "", "prompt budget in tokens: passages that do not fit are left out (default 3000)")
			str(&p.LLMMaxAnswer, "llm-max-answer-tokens", "QUARRY_LLM_MAX_ANSWER_TOKENS", "", "longest answer in tokens (default 512)")
			str(&p.LLMTemp, "llm-temperature", "QUARRY_LLM_TEMPERATURE", "", "sampling temperature, 0 to 2 (default 0)")
			str(&p.Rewrite, "rewrite", "QUARRY_REWRITE", rewriteHeuristic, "how follow-up questions are made standalone before retrieval: heuristic, llm (needs --llm-provider) or off")
		case "embed":
			p.embed = true
			str(&p.EmbedProvider, "embed-provider", "QUARRY_EMBED_PROVIDER", providerCharngram, "embedder of the vector leg: charngram (offline), openai (any OpenAI-compatible embeddings API) or ollama; changing it needs quarry reindex")
			str(&p.EmbedBaseURL, "embed-base-url", "QUARRY_EMBED_BASE_URL", "", "API root of the embedder (as --llm-base-url)")
			str(&p.EmbedModel, "embed-model", "QUARRY_EMBED_MODEL", "", "embedding model name, e.g. text-embedding-3-small or bge-m3")
			str(&p.EmbedAPIKeyEnv, "embed-api-key-env", "QUARRY_EMBED_API_KEY_ENV", defaultAPIKeyEnv, "name of the environment variable holding the embedder's API key (the key is never logged)")
			str(&p.EmbedDim, "embed-dim", "QUARRY_EMBED_DIM", "", "embedding dimension; 0 asks the server once")
			str(&p.EmbedQueryPrefix, "embed-query-prefix", "QUARRY_EMBED_QUERY_PREFIX", "", `text put before queries, for models trained with one (e5: "query: ")`)
			str(&p.EmbedPassagePrefix, "embed-passage-prefix", "QUARRY_EMBED_PASSAGE_PREFIX", "", `text put before passages (e5: "passage: ")`)
		}
	}
	return p
}

// llmConfig and embedConfig are validated settings.
type llmConfig struct {
	Provider         string
	BaseURL, Model   string
	APIKeyEnv        string
	Timeout          time.Duration
	MaxContextTokens int
	MaxAnswerTokens  int
	Temperature      float64
	Rewrite          string
}

type embedConfig struct {
	Provider                   string
	BaseURL, Model             string
	APIKeyEnv                  string
	Dim                        int
	QueryPrefix, PassagePrefix string
}

// settingError is a quarry.ErrInvalid naming the flag and its variable.
func settingError(flagName, key, format string, args ...any) error {
	return quarry.Errorf(quarry.CodeInvalid, "--%s (env %s): %s", flagName, key, fmt.Sprintf(format, args...))
}

// validate checks the settings and returns them parsed. Everything a
// provider needs is checked here, before any index is opened or any
// server contacted.
func (p *providerSettings) validate() (llmConfig, embedConfig, error) {
	var l llmConfig
	var e embedConfig
	if p.llm {
		var err error
		if l, err = p.validateLLM(); err != nil {
			return l, e, err
		}
	}
	if p.embed {
		var err error
		if e, err = p.validateEmbed(); err != nil {
			return l, e, err
		}
	}
	return l, e, nil
}

func (p *providerSettings) validateLLM() (llmConfig, error) {
	c := llmConfig{
		Provider:  strings.ToLower(strings.TrimSpace(p.LLMProvider)),
		BaseURL:   strings.TrimSpace(p.LLMBaseURL),
		Model:     strings.TrimSpace(p.LLMModel),
		APIKeyEnv: strings.TrimSpace(p.LLMAPIKeyEnv),
		Rewrite:   strings.ToLower(strings.TrimSpace(p.Rewrite)),
	}
	switch c.Provider {
	case "", providerNone:
		c.Provider = providerNone
		if c.Model != "" || c.BaseURL != "" {
			return c, settingError("llm-provider", "QUARRY_LLM_PROVIDER",
				"a language model is configured (model %q, base URL %q) but no provider: set --llm-provider openai or ollama, or unset the model and base URL", c.Model, c.BaseURL)
		}
	case providerOpenAI, providerOllama:
		if c.Model == "" {
			example := "gpt-4o-mini"
			if c.Provider == providerOllama {
				example = "qwen2.5:7b"
			}
			return c, settingError("llm-model", "QUARRY_LLM_MODEL",
				"--llm-provider %s needs a model: set --llm-model or QUARRY_LLM_MODEL (for example %s)", c.Provider, example)
		}
		if err := checkURL(c.BaseURL, "llm-base-url", "QUARRY_LLM_BASE_URL"); err != nil {
			return c, err
		}
		if c.Provider == providerOpenAI && c.BaseURL == "" && p.getenv(c.APIKeyEnv) == "" {
			return c, settingError("llm-api-key-env", "QUARRY_LLM_API_KEY_ENV",
				"OpenAI's API needs a key and the variable %s is empty: export it, name another variable with --llm-api-key-env, or point --llm-base-url at a local OpenAI-compatible server", c.APIKeyEnv)
		}
	default:
		return c, settingError("llm-provider", "QUARRY_LLM_PROVIDER", "unknown provider %q: want none, openai or ollama", p.LLMProvider)
	}
	if c.APIKeyEnv == "" {
		c.APIKeyEnv = defaultAPIKeyEnv
	}
	var err error
	if c.Timeout, err = parseDuration(p.LLMTimeout, "llm-timeout", "QUARRY_LLM_TIMEOUT"); err != nil {
		return c, err
	}
	if c.MaxContextTokens, err = parseCount(p.LLMMaxContext, "llm-max-context-tokens", "QUARRY_LLM_MAX_CONTEXT_TOKENS"); err != nil {
		return c, err
	}
	if c.MaxAnswerTokens, err = parseCount(p.LLMMaxAnswer, "llm-max-answer-tokens", "QUARRY_LLM_MAX_ANSWER_TOKENS"); err != nil {
		return c, err
	}
	if s := strings.TrimSpace(p.LLMTemp); s != "" {
		t, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(t) || t < 0 || t > 2 {
			return c, settingError("llm-temperature", "QUARRY_LLM_TEMPERATURE", "%q: want a number from 0 to 2", s)
		}
		c.Temperature = t
	}
	switch c.Rewrite {
	case "":
		c.Rewrite = rewriteHeuristic
	case rewriteHeuristic, rewriteOff:
	case rewriteLLM:
		if c.Provider == providerNone {
			return c, settingError("rewrite", "QUARRY_REWRITE",
				"llm rewriting needs a language model: set --llm-provider (and --llm-model), or use --rewrite heuristic")
		}
	default:
		return c, settingError("rewrite", "QUARRY_REWRITE", "unknown mode %q: want heuristic, llm or off", p.Rewrite)
	}
	return c, nil
}

func (p *providerSettings) validateEmbed() (embedConfig, error) {
	c := embedConfig{
		Provider:      strings.ToLower(strings.TrimSpace(p.EmbedProvider)),
		BaseURL:       strings.TrimSpace(p.EmbedBaseURL),
		Model:         strings.TrimSpace(p.EmbedModel),
		APIKeyEnv:     strings.TrimSpace(p.EmbedAPIKeyEnv),
		QueryPrefix:   p.EmbedQueryPrefix,
		PassagePrefix: p.EmbedPassagePrefix,
	}
	if c.APIKeyEnv == "" {
		c.APIKeyEnv = defaultAPIKeyEnv
	}
	var err error
	if c.Dim, err = parseCount(p.EmbedDim, "embed-dim", "QUARRY_EMBED_DIM"); err != nil {
		return c, err
	}
	switch c.Provider {
	case "", providerCharngram:
		c.Provider = providerCharngram
		if c.Model != "" || c.BaseURL != "" || c.Dim != 0 || c.QueryPrefix != "" || c.PassagePrefix != "" {
			return c, settingError("embed-provider", "QUARRY_EMBED_PROVIDER",
				"embedding model settings are given but the provider is charngram, which takes none: set --embed-provider openai or ollama, or unset them")
		}
	case providerOpenAI, providerOllama:
		if c.Model == "" {
			example := "text-embedding-3-small"
			if c.Provider == providerOllama {
				example = "bge-m3"
			}
			return c, settingError("embed-model", "QUARRY_EMBED_MODEL",
				"--embed-provider %s needs a model: set --embed-model or QUARRY_EMBED_MODEL (for example %s)", c.Provider, example)
		}
		if err := checkURL(c.BaseURL, "embed-base-url", "QUARRY_EMBED_BASE_URL"); err != nil {
			return c, err
		}
		if c.Provider == providerOpenAI && c.BaseURL == "" && p.getenv(c.APIKeyEnv) == "" {
			return c, settingError("embed-api-key-env", "QUARRY_EMBED_API_KEY_ENV",
				"OpenAI's API needs a key and the variable %s is empty: export it, name another variable with --embed-api-key-env, or point --embed-base-url at a local OpenAI-compatible server", c.APIKeyEnv)
		}
	default:
		return c, settingError("embed-provider", "QUARRY_EMBED_PROVIDER", "unknown provider %q: want charngram, openai or ollama", p.EmbedProvider)
	}
	return c, nil
}

func checkURL(raw, flagName, key string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return settingError(flagName, key, "%q: want http(s)://host[:port][/path]", raw)
	}
	if u.User != nil {
		return settingError(flagName, key, "the URL must not hold credentials; put the key in the variable named by the api-key-env setting")
	}
	return nil
}

func parseDuration(s, flagName, key string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, settingError(flagName, key, "%q: want a duration such as 90s or 2m", s)
	}
	return d, nil
}

func parseCount(s, flagName, key string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, settingError(flagName, key, "%q: want a whole number, 0 or more", s)
	}
	return n, nil
}

// providers holds the model clients of one command: built once, shared
// by every engine the command opens (a server swapping generations
// keeps its clients), closed at the end.
type providers struct {
	llm   llmConfig
	embed embedConfig
	ctx   context.Context // for the embedder's dimension probe

	model    generate.Model
	answerer generate.Answerer
	closers  []func() error

	embedKey string // read from the variable named by the settings
	embOnce  sync.Once
	emb      index.Embedder
	embErr   error
}

// open validates the settings and builds the language model client
// (which contacts nobody yet). The embedder is built on first use: a
// remote one may ask its server for the dimension. ctx bounds that
// probe.
func (p *providerSettings) open(ctx context.Context) (*providers, error) {
	l, e, err := p.validate()
	if err != nil {
		return nil, err
	}
	pr := &providers{llm: l, embed: e, ctx: ctx}
	if e.Provider == providerOpenAI {
		pr.embedKey = p.getenv(e.APIKeyEnv)
	}
	switch l.Provider {
	case providerOpenAI:
		c, err := openai.New(openai.Config{BaseURL: l.BaseURL, Model: l.Model, APIKey: p.getenv(l.APIKeyEnv), Timeout: l.Timeout})
		if err != nil {
			return nil, err
		}
		pr.model, pr.closers = c, append(pr.closers, c.Close)
	case providerOllama:
		maxCtx, maxAns := l.MaxContextTokens, l.MaxAnswerTokens
		if maxCtx == 0 {
			maxCtx = generate.DefaultMaxContextTokens
		}
		if maxAns == 0 {
			maxAns = generate.DefaultMaxAnswerTokens
		}
		c, err := ollama.New(ollama.Config{
			BaseURL: l.BaseURL, Model: l.Model, Timeout: l.Timeout,
			// Ollama's default window is smaller than the default prompt
			// budget and it truncates silently; the budget is measured
			// in cl100k tokens, hence the margin for other tokenizers.
			NumCtx: (maxCtx + maxAns) * 5 / 4,
		})
		if err != nil {
			return nil, err
		}
		pr.model, pr.closers = c, append(pr.closers, c.Close)
	}
	if pr.model != nil {
		a, err := generate.NewLLM(generate.LLMConfig{
			Model: pr.model, MaxContextTokens: l.MaxContextTokens, MaxAnswerTokens: l.MaxAnswerTokens, Temperature: l.Temperature,
		})
		if err != nil {
			pr.Close()
			return nil, err
		}
		pr.answerer = a
	}
	return pr, nil
}

// embedder returns the configured embedder, built once.
func (pr *providers) embedder() (index.Embedder, error) {
	pr.embOnce.Do(func() {
		e := pr.embed
		switch e.Provider {
		case providerOpenAI:
			var emb *openaiembed.Embedder
			emb, pr.embErr = openaiembed.New(pr.ctx, openaiembed.Config{
				BaseURL: e.BaseURL, Model: e.Model, APIKey: pr.embedKey, Dim: e.Dim,
				QueryPrefix: e.QueryPrefix, PassagePrefix: e.PassagePrefix,
			})
			if pr.embErr == nil {
				pr.emb, pr.closers = emb, append(pr.closers, emb.Close)
			}
		case providerOllama:
			var emb *ollamaembed.Embedder
			emb, pr.embErr = ollamaembed.New(pr.ctx, ollamaembed.Config{
				BaseURL: e.BaseURL, Model: e.Model, Dim: e.Dim,
				QueryPrefix: e.QueryPrefix, PassagePrefix: e.PassagePrefix,
			})
			if pr.embErr == nil {
				pr.emb, pr.closers = emb, append(pr.closers, emb.Close)
			}
		}
		if pr.embErr != nil {
			pr.embErr = fmt.Errorf("%s embedder %q: %w", e.Provider, e.Model, pr.embErr)
		}
	})
	return pr.emb, pr.embErr
}

// apply sets cfg's provider hooks: the embedder, the answerer and the
// follow-up rewriter.
func (pr *providers) apply(cfg engineConfig) engineConfig {
	if pr == nil {
		return cfg
	}
	if pr.embed.Provider != "" && pr.embed.Provider != providerCharngram {
		cfg.NewEmbed = pr.embedder
	}
	if pr.answerer != nil {
		a := pr.answerer
		cfg.NewAnswerer = func() (generate.Answerer, error) { return a, nil }
	}
	switch pr.llm.Rewrite {
	case rewriteLLM:
		cfg.Rewriter = generate.LLMRewriter{Model: pr.model}
	case rewriteOff:
		cfg.NoRewrite = true
	}
	return cfg
}

// Close releases the clients.
func (pr *providers) Close() error {
	if pr == nil {
		return nil
	}
	var errs []error
	for _, c := range pr.closers {
		errs = append(errs, c())
	}
	pr.closers = nil
	return errors.Join(errs...)
}
