// Package convlog is Quarry's conversation log: every question asked,
// the standalone query it was rewritten into, the answer with its
// citations, whether it was answered or declined, how long it took,
// through which channel, for which knowledge base and key, and the
// feedback the asker gave. It is what the operator's dashboard, the
// `quarry report` and `quarry questions export` commands read.
//
// The log is a pure-Go SQLite database (modernc.org/sqlite, no cgo) in
// the data directory, in WAL mode: a turn is committed before its answer
// is finished on the wire, so a server killed with SIGKILL loses no
// answered turn. The schema is versioned (PRAGMA user_version) and
// migrated forward on Open. Client addresses are never stored in clear:
// only a salted hash (the salt is random per database), enough to count
// distinct askers and nothing more.
package convlog

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/quarry-kb/quarry"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// FileName is the log's file in the data directory.
const FileName = "conversations.db"

// The log's types are the domain's (package quarry); these names keep
// the log's callers short.
type (
	Turn     = quarry.Turn
	Feedback = quarry.Feedback
	Filter   = quarry.TurnFilter
	Citation = quarry.Citation
)

// Channels and ratings, as in package quarry.
const (
	ChannelAPI    = quarry.ChannelAPI
	ChannelWidget = quarry.ChannelWidget
	ChannelOpenAI = quarry.ChannelOpenAI
	ChannelWeChat = quarry.ChannelWeChat
	RatingUp      = quarry.RatingUp
	RatingDown    = quarry.RatingDown
)

// Config configures a Log. The zero value of a field means its default.
type Config struct {
	// Path is the database file (required); Open creates it and its
	// directory.
	Path string
	// Now is the clock (default time.Now); tests set it.
	Now func() time.Time
}

// Log is an open conversation log. Its methods are safe for concurrent
// use, also by several processes on one file (a server and the CLI).
type Log struct {
	db   *sql.DB
	now  func() time.Time
	salt []byte
}

// migrations are applied in order; the database's user_version is the
// number applied. Never edit one that has shipped: add another.
var migrations = []string{
	// 1: turns and feedback.
	`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
	CREATE TABLE turns (
		answer_id       TEXT PRIMARY KEY,
		conversation_id TEXT NOT NULL,
		time            INTEGER NOT NULL, -- Unix milliseconds
		kb              TEXT NOT NULL,
		channel         TEXT NOT NULL,
		key_id          TEXT NOT NULL DEFAULT '',
		origin          TEXT NOT NULL DEFAULT '',
		client_hash     TEXT NOT NULL DEFAULT '',
		question        TEXT NOT NULL,
		query           TEXT NOT NULL DEFAULT '',
		answer          TEXT NOT NULL,
		answered        INTEGER NOT NULL,
		lang            TEXT NOT NULL DEFAULT '',
		citations       TEXT NOT NULL DEFAULT '[]', -- JSON array of Citation
		latency_ms      REAL NOT NULL
	);
	CREATE INDEX turns_time ON turns (time);
	CREATE INDEX turns_kb_time ON turns (kb, time);
	CREATE INDEX turns_conversation ON turns (conversation_id, time);
	CREATE TABLE feedback (
		answer_id TEXT PRIMARY KEY REFERENCES turns (answer_id) ON DELETE CASCADE,
		rating    INTEGER NOT NULL, -- +1 up, -1 down
		comment   TEXT NOT NULL DEFAULT '',
		time      INTEGER NOT NULL
	);`,
	// 2: the dashboard's slowest questions without sorting every turn.
	`CREATE INDEX turns_latency ON turns (latency_ms);`,
}

// SchemaVersion is the schema version this code writes.
var SchemaVersion = len(migrations)

// Open opens (creating if needed) the log at cfg.Path and migrates its
// schema. A database written by a newer Quarry is refused.
func Open(ctx context.Context, cfg Config) (*Log, error) {
	if cfg.Path == "" {
		return nil, quarry.Errorf(quarry.CodeInvalid, "convlog: no path")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o755); err != nil {
		return nil, fmt.Errorf("convlog: %w", err)
	}
	// WAL: readers (the dashboard, quarry report) never block the writer;
	// synchronous=NORMAL is durable across a process crash (SIGKILL),
	// which is what the log must survive.
	dsn := "file:" + filepath.ToSlash(cfg.Path) +
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("convlog: open %s: %w", cfg.Path, err)
	}
	db.SetMaxOpenConns(4)
	l := &Log{db: db, now: cfg.Now}
	if err := l.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("convlog: %s: %w", cfg.Path, err)
	}
	if err := l.loadSalt(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("convlog: %s: %w", cfg.Path, err)
	}
	return l, nil
}

// Close closes the database.
func (l *Log) Close() error { return l.db.Close() }

func (l *Log) migrate(ctx context.Context) error {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if v > len(migrations) {
		return quarry.Errorf(quarry.CodeConflict, "schema version %d is newer than this Quarry's %d", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	if v < len(migrations) {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
			return fmt.Errorf("set schema version: %w", err)
		}
	}
	return tx.Commit()
}

func (l *Log) loadSalt(ctx context.Context) error {
	fresh := hex.EncodeToString([]byte(rand.Text()))
	if _, err := l.db.ExecContext(ctx, `INSERT OR IGNORE INTO meta (key, value) VALUES ('client_salt', ?)`, fresh); err != nil {
		return fmt.Errorf("store salt: %w", err)
	}
	var s string
	if err := l.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'client_salt'`).Scan(&s); err != nil {
		return fmt.Errorf("read salt: %w", err)
	}
	l.salt = []byte(s)
	return nil
}

// HashClient returns the salted hash the log keeps instead of a client
// address ("" for ""). The salt never leaves the database, so the hash
// cannot be reversed by trying every IPv4 address.
func (l *Log) HashClient(addr string) string {
	if addr == "" {
		return ""
	}
	h := sha256.New()
	h.Write(l.salt)
	h.Write([]byte{0})
	h.Write([]byte(addr))
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// Record adds a turn. AnswerID, ConversationID, KB, Channel and
// Question are required; a zero Time means now.
func (l *Log) Record(ctx context.Context, t Turn) error {
	args, err := l.turnArgs(t)
	if err != nil {
		return err
	}
	if _, err = l.db.ExecContext(ctx, insertTurn, args...); err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			return quarry.Errorf(quarry.CodeConflict, "convlog: answer %s is already logged", t.AnswerID)
		}
		return fmt.Errorf("convlog: record turn: %w", err)
	}
	return nil
}

// Import adds turns, with their feedback, in one transaction: all or
// none. It is for restoring and generating histories; a turn needs what
// Record needs.
func (l *Log) Import(ctx context.Context, turns []Turn) error {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("convlog: import: %w", err)
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, insertTurn)
	if err != nil {
		return fmt.Errorf("convlog: import: %w", err)
	}
	defer ins.Close()
	fb, err := tx.PrepareContext(ctx, upsertFeedback)
	if err != nil {
		return fmt.Errorf("convlog: import: %w", err)
	}
	defer fb.Close()
	for _, t := range turns {
		args, err := l.turnArgs(t)
		if err != nil {
			return err
		}
		if _, err := ins.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("convlog: import %s: %w", t.AnswerID, err)
		}
		if t.Feedback != nil {
			args, err := l.feedbackArgs(t.AnswerID, *t.Feedback)
			if err != nil {
				return err
			}
			if _, err := fb.ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("convlog: import feedback on %s: %w", t.AnswerID, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("convlog: import: %w", err)
	}
	return nil
}

const insertTurn = `INSERT INTO turns (answer_id, conversation_id, time, kb, channel, key_id, origin,
	client_hash, question, query, answer, answered, lang, citations, latency_ms)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func (l *Log) turnArgs(t Turn) ([]any, error) {
	switch {
	case t.AnswerID == "", t.ConversationID == "", t.KB == "", t.Channel == "":
		return nil, quarry.Errorf(quarry.CodeInvalid, "convlog: a turn needs an answer id, a conversation id, a knowledge base and a channel")
	case strings.TrimSpace(t.Question) == "":
		return nil, quarry.Errorf(quarry.CodeInvalid, "convlog: a turn needs a question")
	}
	if t.Time.IsZero() {
		t.Time = l.now()
	}
	cits := t.Citations
	if cits == nil {
		cits = []Citation{}
	}
	cj, err := json.Marshal(cits)
	if err != nil {
		return nil, fmt.Errorf("convlog: encode citations: %w", err)
	}
	return []any{t.AnswerID, t.ConversationID, t.Time.UnixMilli(), t.KB, t.Channel, t.KeyID, t.Origin,
		t.ClientHash, t.Question, t.Query, t.Answer, boolInt(t.Answered), t.Lang, string(cj), t.LatencyMS}, nil
}

// Get returns the turn with the given answer id, its feedback included;
// quarry.ErrNotFound when there is none.
func (l *Log) Get(ctx context.Context, answerID string) (Turn, error) {
	rows, err := l.db.QueryContext(ctx, selectTurns+` WHERE t.answer_id = ?`, answerID)
	if err != nil {
		return Turn{}, fmt.Errorf("convlog: get %s: %w", answerID, err)
	}
	ts, err := scanTurns(rows)
	if err != nil {
		return Turn{}, err
	}
	if len(ts) == 0 {
		return Turn{}, quarry.Errorf(quarry.CodeNotFound, "no answer with id %q", answerID)
	}
	return ts[0], nil
}

// SetFeedback records the feedback on an answer, replacing earlier
// feedback on it; quarry.ErrNotFound when the answer is not in the log.
func (l *Log) SetFeedback(ctx context.Context, answerID string, f Feedback) error {
	args, err := l.feedbackArgs(answerID, f)
	if err != nil {
		return err
	}
	res, err := l.db.ExecContext(ctx, upsertFeedback, args...)
	if err != nil {
		return fmt.Errorf("convlog: feedback on %s: %w", answerID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return quarry.Errorf(quarry.CodeNotFound, "no answer with id %q", answerID)
	}
	return nil
}

// upsertFeedback adds or replaces the feedback on an answer that is in
// the log (and does nothing for one that is not).
const upsertFeedback = `INSERT INTO feedback (answer_id, rating, comment, time)
	SELECT answer_id, ?, ?, ? FROM turns WHERE answer_id = ?
	ON CONFLICT (answer_id) DO UPDATE SET rating = excluded.rating, comment = excluded.comment, time = excluded.time`

func (l *Log) feedbackArgs(answerID string, f Feedback) ([]any, error) {
	var r int
	switch f.Rating {
	case RatingUp:
		r = 1
	case RatingDown:
		r = -1
	default:
		return nil, quarry.Errorf(quarry.CodeInvalid, `field "rating" must be %q or %q, got %q`, RatingUp, RatingDown, f.Rating)
	}
	if f.Time.IsZero() {
		f.Time = l.now()
	}
	return []any{r, f.Comment, f.Time.UnixMilli(), answerID}, nil
}

func whereClause(f Filter) (string, []any) {
	var conds []string
	var args []any
	if f.KB != "" {
		conds = append(conds, "t.kb = ?")
		args = append(args, f.KB)
	}
	if f.Channel != "" {
		conds = append(conds, "t.channel = ?")
		args = append(args, f.Channel)
	}
	if !f.Since.IsZero() {
		conds = append(conds, "t.time >= ?")
		args = append(args, f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		conds = append(conds, "t.time < ?")
		args = append(args, f.Until.UnixMilli())
	}
	switch {
	case f.Unanswered && f.DownRated:
		conds = append(conds, "(t.answered = 0 OR f.rating < 0)")
	case f.Unanswered:
		conds = append(conds, "t.answered = 0")
	case f.DownRated:
		conds = append(conds, "f.rating < 0")
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

const selectTurns = `SELECT t.answer_id, t.conversation_id, t.time, t.kb, t.channel, t.key_id, t.origin, t.client_hash,
	t.question, t.query, t.answer, t.answered, t.lang, t.citations, t.latency_ms, f.rating, f.comment, f.time
	FROM turns t LEFT JOIN feedback f ON f.answer_id = t.answer_id`

// Turns returns the turns f selects, oldest first.
func (l *Log) Turns(ctx context.Context, f Filter) ([]Turn, error) {
	where, args := whereClause(f)
	q := selectTurns + where + " ORDER BY t.time, t.rowid"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := l.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("convlog: query turns: %w", err)
	}
	return scanTurns(rows)
}

func scanTurns(rows *sql.Rows) ([]Turn, error) {
	defer rows.Close()
	var out []Turn
	for rows.Next() {
		var t Turn
		var ms int64
		var answered int
		var cits string
		var rating sql.NullInt64
		var comment sql.NullString
		var ftime sql.NullInt64
		if err := rows.Scan(&t.AnswerID, &t.ConversationID, &ms, &t.KB, &t.Channel, &t.KeyID, &t.Origin, &t.ClientHash,
			&t.Question, &t.Query, &t.Answer, &answered, &t.Lang, &cits, &t.LatencyMS, &rating, &comment, &ftime); err != nil {
			return nil, fmt.Errorf("convlog: read turn: %w", err)
		}
		t.Time = time.UnixMilli(ms).UTC()
		t.Answered = answered != 0
		if err := json.Unmarshal([]byte(cits), &t.Citations); err != nil {
			return nil, fmt.Errorf("convlog: turn %s: citations: %w", t.AnswerID, err)
		}
		if rating.Valid {
			fb := &Feedback{Rating: RatingUp, Comment: comment.String, Time: time.UnixMilli(ftime.Int64).UTC()}
			if rating.Int64 < 0 {
				fb.Rating = RatingDown
			}
			t.Feedback = fb
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("convlog: read turns: %w", err)
	}
	return out, nil
}

// Prune deletes the turns (and their feedback) older than before and
// returns how many were deleted.
func (l *Log) Prune(ctx context.Context, before time.Time) (int64, error) {
	res, err := l.db.ExecContext(ctx, `DELETE FROM turns WHERE time < ?`, before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("convlog: prune: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// PruneEvery prunes turns older than retention now and then once per
// interval (a day, if interval is 0) until ctx is done. Errors go to
// onErr, if set; the loop keeps going.
func (l *Log) PruneEvery(ctx context.Context, retention, interval time.Duration, onErr func(error)) {
	if retention <= 0 {
		return
	}
	if interval <= 0 {
		interval = 24 * time.Hour
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := l.Prune(ctx, l.now().Add(-retention)); err != nil && onErr != nil && ctx.Err() == nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ParseAge parses an age or retention such as "90d", "2w", "36h" or
// "90m": Go durations plus d (days) and w (weeks).
func ParseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	mult := time.Duration(0)
	switch {
	case strings.HasSuffix(s, "d"):
		mult = 24 * time.Hour
	case strings.HasSuffix(s, "w"):
		mult = 7 * 24 * time.Hour
	}
	if mult != 0 {
		var n int
		if _, err := fmt.Sscanf(s[:len(s)-1], "%d", &n); err != nil || n < 0 || fmt.Sprint(n) != s[:len(s)-1] {
			return 0, quarry.Errorf(quarry.CodeInvalid, "bad age %q: want a number of days or weeks (90d, 2w) or a Go duration (36h)", s)
		}
		return time.Duration(n) * mult, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, quarry.Errorf(quarry.CodeInvalid, "bad age %q: want a number of days or weeks (90d, 2w) or a Go duration (36h)", s)
	}
	return d, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
