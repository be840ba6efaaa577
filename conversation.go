package quarry

import "time"

// The conversation log's domain types: what was asked, through which
// channel, what was answered, and what the asker thought of it. The log
// itself is package convlog (SQLite); the server records turns and
// feedback through an interface of its own.

// Channels a question can arrive through.
const (
	ChannelAPI    = "api"    // POST /v1/ask, /v1/kb/{kb}/ask
	ChannelWidget = "widget" // the embeddable website widget
	ChannelOpenAI = "openai" // POST /v1/chat/completions
	ChannelWeChat = "wechat" // the WeChat official-account channel
)

// Ratings of feedback.
const (
	RatingUp   = "up"
	RatingDown = "down"
)

// Feedback is what an asker said about one answer.
type Feedback struct {
	Rating  string    `json:"rating"` // RatingUp or RatingDown
	Comment string    `json:"comment,omitempty"`
	Time    time.Time `json:"time"`
}

// Turn is one question and its answer, as the conversation log keeps
// it. Client addresses are never kept in clear: ClientHash is a salted
// hash.
type Turn struct {
	AnswerID       string     `json:"answer_id"`
	ConversationID string     `json:"conversation_id"`
	Time           time.Time  `json:"time"`
	KB             string     `json:"kb"`
	Channel        string     `json:"channel"`
	KeyID          string     `json:"key_id,omitempty"`
	Origin         string     `json:"origin,omitempty"` // the web page's origin, for widget turns
	ClientHash     string     `json:"client_hash,omitempty"`
	Question       string     `json:"question"`
	Query          string     `json:"query,omitempty"` // the rewritten, standalone question, when it differs
	Answer         string     `json:"answer"`
	Answered       bool       `json:"answered"`
	Lang           string     `json:"lang,omitempty"`
	Citations      []Citation `json:"citations"`
	LatencyMS      float64    `json:"latency_ms"`
	Feedback       *Feedback  `json:"feedback,omitempty"`
}

// TurnFilter selects turns of the conversation log. Zero fields select
// everything.
type TurnFilter struct {
	KB      string
	Channel string
	Since   time.Time // inclusive
	Until   time.Time // exclusive
	// Unanswered and DownRated select declined turns or down-rated ones;
	// with both set, either.
	Unanswered bool
	DownRated  bool
	// Limit caps the number of turns; 0 means no cap.
	Limit int
}

// Report holds the figures of the operator's dashboard and of
// `quarry report` for the turns a filter selects.
type Report struct {
	KB    string    `json:"kb,omitempty"`
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`

	Questions     int     `json:"questions"`
	Conversations int     `json:"conversations"`
	Answered      int     `json:"answered"`
	Declined      int     `json:"declined"`
	AnswerRate    float64 `json:"answer_rate"` // Answered / Questions
	Up            int     `json:"up"`
	Down          int     `json:"down"`
	Satisfaction  float64 `json:"satisfaction"` // Up / (Up + Down); 0 when nothing was rated
	LatencyP50MS  float64 `json:"latency_p50_ms"`
	LatencyP95MS  float64 `json:"latency_p95_ms"`

	// Volume is the questions over time, in buckets of BucketSeconds
	// aligned to whole hours, days or weeks (UTC); the first may start
	// before Since, but holds only turns from Since.
	BucketSeconds int64    `json:"bucket_seconds"`
	Volume        []Bucket `json:"volume"`
	// Unanswered are the declined questions, near-duplicates grouped,
	// most frequent first.
	Unanswered []QuestionGroup `json:"unanswered"`
	// LowestRated are the down-rated answers, newest first.
	LowestRated []Turn `json:"lowest_rated"`
	// Slowest are the slowest turns, slowest first.
	Slowest []Turn `json:"slowest"`
}

// Bucket is one interval of a report's volume chart.
type Bucket struct {
	Start     time.Time `json:"start"`
	Questions int       `json:"questions"`
	Answered  int       `json:"answered"`
	Up        int       `json:"up"`
	Down      int       `json:"down"`
}

// QuestionGroup is a question and its near-duplicates.
type QuestionGroup struct {
	Question string   `json:"question"` // the most frequent phrasing
	Count    int      `json:"count"`    // times any phrasing of the group was asked
	Variants []string `json:"variants,omitempty"`
}
