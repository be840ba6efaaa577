package strategy

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// Analyzer turns text into terms exactly as retrieval analyses a query
// (bleveindex.QueryTerms): curated phrasings and blocked topics are
// matched on those terms, so stemming, stop words, width folding and
// Chinese bigrams work as they do for search.
type Analyzer func(text string) []string

// Kind says which rule of a strategy answered a question.
type Kind string

// Kinds of decision, also the value of quarry.Answer.Strategy.
const (
	KindNone      Kind = ""           // retrieve and answer as usual
	KindCurated   Kind = "curated"    // a curated answer, verbatim
	KindBlocked   Kind = "blocked"    // a blocked topic's fixed reply
	KindSmallTalk Kind = "small_talk" // a greeting, thanks or goodbye
	KindHandoff   Kind = "handoff"    // handed to a person
)

// Strategy is a parsed strategy file, compiled for matching. It is
// immutable and safe for concurrent use.
type Strategy struct {
	File File   // as parsed, with defaults filled in where the file leaves them
	Path string // where it was loaded from ("" for the built-in default)

	analyze   Analyzer
	weak      map[string]bool // terms that say little about the topic ("how", "我的")
	curated   []curatedEntry
	blocked   []blockedEntry
	requests  []string // ways of asking for a person, lower case
	threshold float64
}

type curatedEntry struct {
	c         Curated
	phrasings []map[string]bool
}

type blockedEntry struct {
	b      Blocked
	topics [][]string
}

// functionWords carry little of a question's topic: they count for
// weakWeight in the curated similarity, so "How can I reset my
// password?" matches "How do I reset my password?" and "How do I reset
// my router?" does not. They are analysed like everything else.
var functionWords = []string{
	"how", "what", "when", "where", "why", "who", "which", "whom", "whose",
	"do", "does", "did", "can", "could", "would", "should", "shall", "may", "might", "must",
	"i", "me", "my", "mine", "you", "your", "we", "our", "us", "it", "its",
	"please", "hi", "hello", "there", "get", "have", "has", "had", "am", "been", "about", "from", "so", "just",
	"怎么", "怎样", "如何", "什么", "哪里", "哪个", "为什么", "请问", "我的", "我们", "你们", "可以", "能否", "是否", "一下", "是不", "不是",
}

const weakWeight = 0.1

// Compile prepares f for matching with analyze.
func Compile(f File, path string, analyze Analyzer) (*Strategy, error) {
	if analyze == nil {
		return nil, fmt.Errorf("strategy: no analyzer")
	}
	s := &Strategy{File: f, Path: path, analyze: analyze, weak: map[string]bool{}, threshold: f.Threshold}
	if s.threshold == 0 {
		s.threshold = DefaultThreshold
	}
	for _, w := range functionWords {
		for _, t := range analyze(w) {
			s.weak[t] = true
		}
	}
	for _, c := range f.Curated {
		e := curatedEntry{c: c}
		for _, q := range c.Questions {
			e.phrasings = append(e.phrasings, set(analyze(q)))
		}
		s.curated = append(s.curated, e)
	}
	for _, b := range f.Blocked {
		e := blockedEntry{b: b}
		for _, t := range b.Topics {
			if terms := analyze(t); len(terms) > 0 {
				e.topics = append(e.topics, terms)
			}
		}
		s.blocked = append(s.blocked, e)
	}
	s.requests = append(s.requests, humanRequests...)
	for _, p := range f.Escalation.Phrases {
		s.requests = append(s.requests, strings.ToLower(strings.TrimSpace(p)))
	}
	return s, nil
}

// Threshold is the effective curated threshold.
func (s *Strategy) Threshold() float64 { return s.threshold }

func set(terms []string) map[string]bool {
	m := make(map[string]bool, len(terms))
	for _, t := range terms {
		m[t] = true
	}
	return m
}

// similarity is the weighted Dice coefficient of two term sets,
// 2·|A∩B| / (|A|+|B|), where function words weigh weakWeight and other
// terms 1.
func (s *Strategy) similarity(a, b map[string]bool) float64 {
	var inter, union float64
	w := func(t string) float64 {
		if s.weak[t] {
			return weakWeight
		}
		return 1
	}
	for t := range a {
		union += w(t)
		if b[t] {
			inter += w(t)
		}
	}
	for t := range b {
		if !a[t] {
			union += w(t)
		}
	}
	if union == 0 {
		return 0
	}
	return 2 * inter / (union + inter)
}

// Match is a curated answer that matched a question.
type Match struct {
	Curated Curated
	Score   float64
}

// MatchCurated returns the curated answer closest to question, if it is
// at least the threshold.
func (s *Strategy) MatchCurated(question string) (Match, bool) {
	q := set(s.analyze(question))
	if len(q) == 0 {
		return Match{}, false
	}
	var best Match
	for _, e := range s.curated {
		for _, p := range e.phrasings {
			if sc := s.similarity(q, p); sc > best.Score {
				best = Match{Curated: e.c, Score: sc}
			}
		}
	}
	return best, best.Score >= s.threshold && best.Score > 0
}

// MatchBlocked returns the blocked entry whose topic the question
// contains (every term of the topic, in any order).
func (s *Strategy) MatchBlocked(question string) (Blocked, bool) {
	if len(s.blocked) == 0 {
		return Blocked{}, false
	}
	q := set(s.analyze(question))
	for _, e := range s.blocked {
	topics:
		for _, t := range e.topics {
			for _, term := range t {
				if !q[term] {
					continue topics
				}
			}
			return e.b, true
		}
	}
	return Blocked{}, false
}

// humanRequests are built-in ways of asking for a person. Phrases of
// several words (or Chinese phrases) match anywhere in a message; single
// English words only when they are most of it, so "the agent's fee"
// in a longer question is still searched.
var humanRequests = []string{
	"转人工", "人工客服", "人工服务", "找人工", "接人工", "真人客服", "要人工", "人工坐席", "客服人员",
	"talk to a human", "speak to a human", "talk to a person", "speak to a person", "talk to someone",
	"speak to someone", "real person", "human agent", "live agent", "talk to an agent", "speak to an agent",
	"customer service representative", "talk to a representative", "speak with a human", "speak with someone",
	"agent", "human", "representative", "operator", "人工",
}

var wordRE = regexp.MustCompile(`[\p{L}\p{N}']+`)

// WantsHuman reports whether question asks for a person.
func (s *Strategy) WantsHuman(question string) bool {
	if s.File.Escalation.OnRequestOff {
		return false
	}
	q := strings.ToLower(question)
	words := wordRE.FindAllString(q, -1)
	padded := " " + strings.Join(words, " ") + " "
	for _, p := range s.requests {
		if p == "" {
			continue
		}
		if hasHan(p) {
			if strings.Contains(q, p) && (len([]rune(p)) > 2 || len([]rune(strings.Join(words, ""))) <= 6) {
				return true
			}
			continue
		}
		pw := strings.Join(wordRE.FindAllString(p, -1), " ")
		if strings.Contains(pw, " ") {
			if strings.Contains(padded, " "+pw+" ") {
				return true
			}
			continue
		}
		// One word: only as (nearly) the whole message: "agent", "agent please".
		if len(words) <= 3 && strings.Contains(padded, " "+pw+" ") {
			return true
		}
	}
	return false
}

// Small talk: whole messages, after lower-casing and dropping
// punctuation, emoji and spaces.
var (
	greetings = []string{"hi", "hello", "hey", "hiya", "hithere", "hellothere", "goodmorning", "goodafternoon", "goodevening",
		"你好", "您好", "嗨", "哈喽", "哈啰", "在吗", "在么", "在不在", "早上好", "下午好", "晚上好", "你好啊", "您好啊", "hi你好", "你好呀"}
	thanks = []string{"thanks", "thankyou", "thx", "ty", "thanksalot", "thankyousomuch", "thanksverymuch", "thankyouverymuch",
		"okthanks", "ok", "okay", "great", "greatthanks", "cheers", "perfect", "perfectthanks", "gotit", "gotitthanks",
		"谢谢", "谢谢你", "谢谢您", "多谢", "感谢", "非常感谢", "好的", "好的谢谢", "好的谢谢你", "明白了", "知道了", "谢啦", "好"}
	goodbyes = []string{"bye", "goodbye", "byebye", "seeyou", "再见", "拜拜", "回见"}
)

// SmallTalkKind returns "greeting", "thanks" or "goodbye" when the
// whole question is one, else "".
func SmallTalkKind(question string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(question) {
		if unicode.IsLetter(r) || unicode.IsNumber(r) {
			b.WriteRune(r)
		}
	}
	key := b.String()
	if key == "" {
		return ""
	}
	for kind, list := range map[string][]string{"greeting": greetings, "thanks": thanks, "goodbye": goodbyes} {
		for _, w := range list {
			if key == w {
				return kind
			}
		}
	}
	return ""
}

// SmallTalkReply returns the reply to a small-talk kind in lang.
func (s *Strategy) SmallTalkReply(kind, lang string) string {
	st := s.File.SmallTalk
	switch kind {
	case "greeting":
		return st.Greeting.For(lang, Text{En: defaultGreetingEnglish, Zh: defaultGreetingChinese})
	case "thanks":
		return st.Thanks.For(lang, Text{En: defaultThanksEnglish, Zh: defaultThanksChinese})
	}
	return st.Goodbye.For(lang, Text{En: defaultGoodbyeEnglish, Zh: defaultGoodbyeChinese})
}

// HandoffText is the hand-off reply in lang.
func (s *Strategy) HandoffText(lang string) string {
	return s.File.Escalation.Handoff.For(lang, Text{En: defaultHandoffEnglish, Zh: defaultHandoffChinese})
}

// BlockedReply is b's reply in lang.
func BlockedReply(b Blocked, lang string) string {
	return b.Reply.For(lang, Text{En: defaultBlockedEnglish, Zh: defaultBlockedChinese})
}

// Lang is "zh" for text with Chinese characters, else "en".
func Lang(s string) string {
	if hasHan(s) {
		return "zh"
	}
	return "en"
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}
