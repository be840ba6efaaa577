package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/auth"
	"github.com/quarry-kb/quarry/server"
)

// runKeys is quarry keys create|list|revoke.
func runKeys(ctx context.Context, env *Env, args []string) error {
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "create":
		return runKeysCreate(env, args)
	case "list":
		return runKeysList(env, args)
	case "revoke":
		return runKeysRevoke(env, args)
	case "-h", "--help", "help":
		fmt.Fprint(env.Stdout, keysUsage)
		return nil
	}
	fmt.Fprint(env.Stderr, keysUsage)
	return errUsage
}

const keysUsage = `Usage:
  quarry keys create --kb NAME|'*' --scope SCOPE [--scope SCOPE|a,b] [--origin URL] [--name LABEL] [--expires 90d]
  quarry keys list [--json]
  quarry keys revoke ID

API keys for the HTTP API, kept hashed in DATA/keys.json. Scopes: ask, search,
ingest, admin. A key is printed once, when it is created. A running server
refuses a revoked key within a second.
`

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runKeysCreate(env *Env, args []string) error {
	var o options
	fs := newFlags(env, "keys create", "quarry keys create --kb NAME --scope SCOPE [flags]",
		"Create an API key and print it (on stdout, alone, once: it is stored hashed and cannot be shown again).\n"+
			"Clients send it as Authorization: Bearer KEY.", &o)
	var scopes stringList
	fs.Var(&scopes, "scope", "what the key may do: ask, search, ingest, admin (repeat, or comma-separated)")
	kb := fs.String("kb", "", "knowledge base the key is for, or '*' for all (required)")
	origin := fs.String("origin", "", "browser origin the key is bound to, e.g. https://shop.example: it is then accepted only from that origin, for ask and search (a key for a website widget)")
	name := fs.String("name", "", "a label for the key, shown by quarry keys list")
	expires := fs.String("expires", "", "lifetime, e.g. 90d, 2w or 12h (default: no expiry)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if *kb == "" {
		return quarry.Errorf(quarry.CodeInvalid, "--kb is required: a knowledge base name, or '*' for all")
	}
	sc, err := auth.ParseScopes(scopes)
	if err != nil {
		return err
	}
	ttl, err := auth.ParseTTL(*expires)
	if err != nil {
		return err
	}
	k, secret, err := auth.NewStore(o.Data).Create(auth.Spec{Name: *name, KB: *kb, Scopes: sc, Origin: *origin, TTL: ttl})
	auditCLI(env, o.Data, auth.Event{Action: auth.ActionKeyCreate, KB: *kb, Detail: describeKey(k)}, err)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, secret)
	fmt.Fprintf(env.Stderr, "Created %s. This is the only time the key is shown: store it now.\n", describeKey(k))
	return nil
}

func describeKey(k auth.Key) string {
	if k.ID == "" {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "key %s", k.ID)
	if k.Name != "" {
		fmt.Fprintf(&b, " (%s)", k.Name)
	}
	fmt.Fprintf(&b, " for knowledge base %s, scopes %s", k.KB, scopeList(k.Scopes))
	if k.Origin != "" {
		fmt.Fprintf(&b, ", origin %s", k.Origin)
	}
	if !k.Expires.IsZero() {
		fmt.Fprintf(&b, ", expires %s", k.Expires.Format(time.RFC3339))
	}
	return b.String()
}

func scopeList(s []auth.Scope) string {
	parts := make([]string, len(s))
	for i, sc := range s {
		parts[i] = string(sc)
	}
	return strings.Join(parts, ",")
}

func runKeysList(env *Env, args []string) error {
	var o options
	fs := newFlags(env, "keys list", "quarry keys list [flags]", "List the API keys (never the keys themselves).", &o, "json")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	keys, err := auth.NewStore(o.Data).Keys()
	if err != nil {
		return err
	}
	now := time.Now()
	if o.JSON {
		type keyJSON struct {
			ID      string       `json:"id"`
			Name    string       `json:"name,omitempty"`
			KB      string       `json:"kb"`
			Scopes  []auth.Scope `json:"scopes"`
			Origin  string       `json:"origin,omitempty"`
			Created time.Time    `json:"created"`
			Expires time.Time    `json:"expires,omitzero"`
			Revoked time.Time    `json:"revoked,omitzero"`
			State   string       `json:"state"`
		}
		out := []keyJSON{}
		for _, k := range keys {
			out = append(out, keyJSON{k.ID, k.Name, k.KB, k.Scopes, k.Origin, k.Created, k.Expires, k.Revoked, k.State(now)})
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(keys) == 0 {
		fmt.Fprintln(env.Stdout, "No API keys. Create one with: quarry keys create --kb NAME --scope SCOPE")
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tKB\tSCOPES\tORIGIN\tCREATED\tEXPIRES\tSTATE")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	day := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Format("2006-01-02")
	}
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, dash(k.Name), k.KB, scopeList(k.Scopes),
			dash(k.Origin), day(k.Created), day(k.Expires), k.State(now))
	}
	return tw.Flush()
}

func runKeysRevoke(env *Env, args []string) error {
	var o options
	fs := newFlags(env, "keys revoke", "quarry keys revoke [flags] ID",
		"Revoke an API key: running servers refuse it within a second.", &o)
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	k, err := auth.NewStore(o.Data).Revoke(fs.Arg(0))
	auditCLI(env, o.Data, auth.Event{Action: auth.ActionKeyRevoke, KB: k.KB, Detail: cmpOr(describeKey(k), fs.Arg(0))}, err)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Revoked %s.\n", describeKey(k))
	return nil
}

// auditCLI records an admin action done on the command line (on the
// server's machine, with access to its data directory: no key). A
// failure to write the log is reported, not fatal.
func auditCLI(env *Env, data string, e auth.Event, err error) {
	e.Actor, e.Outcome = "cli", auth.OutcomeOK
	if err != nil {
		e.Outcome = auth.OutcomeError
		e.Detail = strings.TrimSpace(e.Detail + " " + err.Error())
	}
	if werr := auth.NewAudit(data).Record(e); werr != nil {
		fmt.Fprintf(env.Stderr, "quarry: warning: %v\n", werr)
	}
}

// serverKeys is the API-key policy of quarry serve: the keys of the data
// directory once any exists; before that, requests pass without a key on
// a loopback address only (serve refuses to start elsewhere, see
// checkExposure), so that a local quarry works as it always has.
type serverKeys struct {
	ring     *auth.Keyring
	loopback bool
}

func (k serverKeys) Authorize(req auth.Request) (auth.Key, error) {
	if k.ring.Empty() {
		if k.loopback {
			return auth.Key{}, nil
		}
		return auth.Key{}, quarry.Errorf(quarry.CodeUnauthenticated, "this server has no API keys: create one with quarry keys create")
	}
	return k.ring.Authorize(req)
}

func (k serverKeys) AllowOrigin(origin string) bool { return k.ring.AllowOrigin(origin) }

// isLoopback reports whether the listen address addr (HOST:PORT) is
// reachable from this machine only. An empty host listens everywhere.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// authSetup returns what quarry serve guards its API with: its keys,
// audit log and rate limits, or an error when it must not start: on a
// non-loopback address without an admin key. --insecure-no-auth lets it
// start there without keys, serving everyone until keys are created
// (keys, once they exist, are always required).
func authSetup(o options, log *slog.Logger) (server.Keys, server.AuditLog, server.RateLimit, error) {
	rl := server.RateLimit{PerKey: o.RateLimitKey, PerAddr: o.RateLimitAddr, Window: o.RateWindow}
	perKB, err := parseKBLimits(o.RateLimitKB)
	if err != nil {
		return nil, nil, rl, err
	}
	rl.PerKeyForKB = perKB
	ring, err := auth.NewKeyring(o.Data)
	if err != nil {
		return nil, nil, rl, err
	}
	loopback := isLoopback(o.Addr)
	switch {
	case o.InsecureNoAuth:
		log.Warn("--insecure-no-auth: until API keys are created, anyone who can reach " + o.Addr +
			" can search, ask and start rebuilds; create keys with quarry keys create")
		loopback = true // open while there are no keys, wherever it listens
	case !loopback && !ring.HasAdmin():
		return nil, nil, rl, quarry.Errorf(quarry.CodeInvalid,
			"refusing to serve on %s, which is not a loopback address, without an admin API key: anyone who can reach it could read and rebuild the knowledge bases.\n"+
				"Create one first:  quarry keys create --data %s --kb '*' --scope admin --name ops\n"+
				"(or listen on 127.0.0.1, or pass --insecure-no-auth to serve without keys until some are created)", o.Addr, o.Data)
	case ring.Empty():
		log.Info("no API keys: serving without authentication on loopback; create keys with quarry keys create")
	}
	return serverKeys{ring: ring, loopback: loopback}, auth.NewAudit(o.Data), rl, nil
}

// parseKBLimits parses --rate-limit-kb: NAME=N[,NAME=N...].
func parseKBLimits(spec string) (map[string]int, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	out := map[string]int{}
	for _, part := range strings.Split(spec, ",") {
		name, num, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(strings.TrimSpace(num))
		if !ok || err != nil || n <= 0 || auth.CheckKB(strings.TrimSpace(name)) != nil || name == auth.AllKBs {
			return nil, quarry.Errorf(quarry.CodeInvalid, "--rate-limit-kb %q: want NAME=N[,NAME=N...] with a knowledge base name and a positive number", spec)
		}
		out[strings.TrimSpace(name)] = n
	}
	return out, nil
}
