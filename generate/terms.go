package generate

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/quarry-kb/quarry/internal/hanfold"
)

// Base weights of term kinds. A Han bigram is about as specific as an
// English word; a single Han character much less so.
const (
	weightWord       = 1.0
	weightHanBigram  = 1.0
	weightHanUnigram = 0.5
)

// Terms returns the distinct content terms of text, in order of first
// appearance: for Latin-script runs, lower-cased words without stop
// words, lightly stemmed ("refunds", "refunded" → "refund"); for Han runs,
// the runs are cut at function words (如何, 什么, 可以...) and give their
// characters (minus particles and pronouns such as 的, 了, 吗, 我) and
// their character bigrams.
func Terms(text string) []string {
	var out []string
	seen := map[string]bool{}
	eachTerm(text, func(t string, _ float64) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	})
	return out
}

// eachTerm calls fn for every term occurrence in text with the term's
// base weight.
func eachTerm(text string, fn func(term string, base float64)) {
	eachTermWord(text, func(term, _ string, base float64) { fn(term, base) })
}

// eachTermWord is eachTerm that also passes the word as the text spells
// it, lower-cased (for a Han term, the term itself).
func eachTermWord(text string, fn func(term, word string, base float64)) {
	var word strings.Builder
	prev := ""
	flushWord := func() {
		if word.Len() > 0 {
			w := word.String()
			// "how long", "how much": the adverb frames the question.
			if !(prev == "how" && howFrames[w]) {
				if t, ok := englishTerm(w); ok {
					fn(t, strings.TrimSuffix(strings.TrimRight(w, "'"), "'s"), weightWord)
				}
			}
			prev = w
			word.Reset()
		}
	}
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case unicode.Is(unicode.Han, r):
			flushWord()
			prev = ""
			j := i + size
			for j < len(text) {
				r2, s2 := utf8.DecodeRuneInString(text[j:])
				if !unicode.Is(unicode.Han, r2) {
					break
				}
				j += s2
			}
			// Traditional and simplified characters are one term.
			hanTerms(hanfold.Fold(text[i:j]), func(t string, base float64) { fn(t, t, base) })
			i = j
			continue
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			word.WriteRune(unicode.ToLower(r))
		case r == '.' && word.Len() > 0 && isDigitByte(word.String()[word.Len()-1]) && i+1 < len(text) && isDigitByte(text[i+1]):
			// A version or a decimal ("2.0.5", "3.3", "14.99") is one
			// term: its digits apart match any number.
			word.WriteByte('.')
		case (r == '\'' || r == '’') && word.Len() > 0:
			// Inside a word ("don't", "customer's"); a trailing one is dropped by englishTerm.
			word.WriteByte('\'')
		default:
			flushWord()
		}
		i += size
	}
	flushWord()
}

// vocabularyWords returns the distinct words of a question whose absence
// from a knowledge base says it is about something the knowledge base
// does not cover: English content words (not numbers) as spelt,
// lower-cased, and content Han characters. Han bigrams are left out: a
// bigram across two words ("货以" in 退货以后) is absent from most
// texts without meaning anything.
func vocabularyWords(question string) []string {
	seen := map[string]bool{}
	var out []string
	eachTermWord(question, func(term, word string, base float64) {
		r, _ := utf8.DecodeRuneInString(term)
		latin := r < utf8.RuneSelf
		if latin && isNumeral(term) || !latin && base != weightHanUnigram || seen[word] {
			return
		}
		seen[word] = true
		out = append(out, word)
	})
	return out
}

// englishTerm turns one lower-cased word into a term, or reports false
// for a stop word or a single letter.
func englishTerm(w string) (string, bool) {
	w = strings.TrimRight(w, "'")
	w = strings.TrimSuffix(w, "'s")
	if stopEN[w] || strings.IndexByte(w, '\'') >= 0 && stopEN[strings.ReplaceAll(w, "'", "")] {
		return "", false
	}
	if utf8.RuneCountInString(w) == 1 && !isDigits(w) {
		return "", false
	}
	return stem(w), true
}

// stem is a light English stemmer: it only has to map a word's common
// inflections to one form ("refund", "refunds", "refunded", "refunding";
// "policy", "policies"; "charge", "charged", "charges"), not to produce
// a real word. Words with digits are left alone.
func stem(w string) string {
	if len(w) <= 3 || strings.ContainsAny(w, "0123456789") {
		return w
	}
	switch {
	case strings.HasSuffix(w, "ies") && len(w) > 4, strings.HasSuffix(w, "ied") && len(w) > 4:
		w = w[:len(w)-3] + "i"
	case strings.HasSuffix(w, "sses"):
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "es") && len(w) > 4 && endsSibilant(w[:len(w)-2]):
		w = w[:len(w)-2]
	case strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us") &&
		!strings.HasSuffix(w, "is") && len(w) > 3:
		w = w[:len(w)-1]
	}
	switch {
	case strings.HasSuffix(w, "ing") && len(w) >= 6:
		w = undouble(w[:len(w)-3])
	case strings.HasSuffix(w, "ed") && len(w) >= 5 && !strings.HasSuffix(w, "eed"):
		w = undouble(w[:len(w)-2])
	case strings.HasSuffix(w, "ly") && len(w) >= 6 && !strings.ContainsRune("ip", rune(w[len(w)-3])):
		w = w[:len(w)-2] // "monthly" → "month", not "family" or "supply"
	}
	if len(w) > 3 {
		switch w[len(w)-1] {
		case 'e':
			w = w[:len(w)-1]
		case 'y':
			w = w[:len(w)-1] + "i"
		}
	}
	return w
}

func endsSibilant(w string) bool {
	return strings.HasSuffix(w, "s") || strings.HasSuffix(w, "x") || strings.HasSuffix(w, "z") ||
		strings.HasSuffix(w, "ch") || strings.HasSuffix(w, "sh")
}

// undouble drops the second of a final doubled consonant ("shipp" →
// "ship"), except for l, s and z ("bill", "pass", "buzz"); "ell" after
// a longer stem loses an l too, for British spellings ("cancelled",
// "labelled").
func undouble(w string) string {
	n := len(w)
	if n >= 3 && w[n-1] == w[n-2] && !strings.ContainsRune("aeioulsz", rune(w[n-1])) {
		return w[:n-1]
	}
	if n >= 6 && strings.HasSuffix(w, "ell") {
		return w[:n-1]
	}
	return w
}

// hanTerms emits the terms of one run of Han characters.
func hanTerms(run string, fn func(string, float64)) {
	for len(run) > 0 {
		// Cut the run at the next function word.
		seg, rest := run, ""
		for i := 0; i < len(run); {
			if n := stopZHWordAt(run[i:]); n > 0 {
				seg, rest = run[:i], run[i+n:]
				break
			}
			_, size := utf8.DecodeRuneInString(run[i:])
			i += size
		}
		hanSegment(seg, fn)
		run = rest
	}
}

// hanSegment emits the unigrams and bigrams of a run segment that holds
// no function word.
func hanSegment(seg string, fn func(string, float64)) {
	prev, prevSize := rune(-1), 0
	for i := 0; i < len(seg); {
		r, size := utf8.DecodeRuneInString(seg[i:])
		if !stopZHChar[r] {
			fn(seg[i:i+size], weightHanUnigram)
		}
		if prev >= 0 && !particleZH[prev] && !particleZH[r] && !(stopZHChar[prev] && stopZHChar[r]) {
			fn(seg[i-prevSize:i+size], weightHanBigram)
		}
		prev, prevSize = r, size
		i += size
	}
}

// stopZHWordAt returns the byte length of the function word that starts
// s, or 0. Longer words win.
func stopZHWordAt(s string) int {
	r, _ := utf8.DecodeRuneInString(s)
	best := 0
	for _, w := range stopZHByFirst[r] {
		if len(w) > best && strings.HasPrefix(s, w) {
			best = len(w)
		}
	}
	return best
}

// stopZHByFirst indexes stopZHWords by their first character.
var stopZHByFirst = func() map[rune][]string {
	m := map[rune][]string{}
	for _, w := range stopZHWords {
		r, _ := utf8.DecodeRuneInString(w)
		m[r] = append(m[r], w)
	}
	return m
}()

// stopZHWords are Chinese function words and question frames. They cut a
// Han run, so that "如何申请退款" yields terms of "申请退款" only.
var stopZHWords = []string{
	"怎么样", "怎么", "怎样", "如何", "什么", "为什么", "为何", "哪些", "哪里", "哪儿", "哪个", "是否", "能否", "可否",
	"可以", "能够", "请问", "一下", "我们", "你们", "他们", "她们", "它们", "您们", "自己", "这个", "那个", "这些",
	"那些", "这样", "那样", "一个", "已经", "还是", "或者", "以及", "而且", "但是", "因为", "所以", "如果", "的话",
	"多久", "多长时间", "多少", "有没有", "是不是", "能不能", "会不会", "要不要", "可不可以",
	"什么时候", "几点", "几天", "几个", "大概", "大约", "一般",
}

// stopZHChar are characters that are not terms on their own (they still
// form bigrams, so 申请 keeps its 请 and 功能 its 能).
var stopZHChar = map[rune]bool{
	'的': true, '了': true, '吗': true, '呢': true, '吧': true, '啊': true, '么': true, '嘛': true, '呀': true,
	'是': true, '在': true, '和': true, '与': true, '及': true, '或': true, '我': true, '你': true, '您': true,
	'他': true, '她': true, '它': true, '们': true, '这': true, '那': true, '有': true, '就': true, '都': true,
	'也': true, '还': true, '被': true, '把': true, '对': true, '给': true, '让': true, '要': true, '会': true,
	'能': true, '个': true, '怎': true, '哪': true, '谁': true, '该': true, '请': true, '可': true, '以': true,
	'得': true, '地': true, '着': true, '过': true, '很': true, '又': true, '不': true, '没': true, '中': true,
	'上': true, '下': true, '里': true, '为': true, '从': true, '到': true, '于': true, '之': true, '而': true,
	'多': true, '几': true,
}

// particleZH are characters that mark word boundaries: no bigram spans
// them (的退 is not a word).
var particleZH = map[rune]bool{
	'的': true, '了': true, '吗': true, '呢': true, '吧': true, '啊': true, '么': true, '嘛': true, '呀': true,
	'和': true, '与': true, '或': true, '我': true, '你': true, '您': true, '是': true,
}

// howFrames are the words that, after "how", ask for a quantity rather
// than name the subject: "how long does a refund take?" is about refunds.
var howFrames = map[string]bool{
	"long": true, "much": true, "many": true, "often": true, "soon": true, "far": true, "old": true,
	"big": true, "large": true, "fast": true, "quickly": true,
}

// asksQuantity reports whether a question asks for a number, a time or
// a duration: "how long/much/many...", "when", "what time", 多久, 多少,
// 几, 什么时候.
func asksQuantity(q string) bool {
	for _, zh := range []string{"多久", "多少", "多长", "几", "什么时候", "何时"} {
		if strings.Contains(q, zh) {
			return true
		}
	}
	words := strings.FieldsFunc(strings.ToLower(q), func(r rune) bool { return !unicode.IsLetter(r) })
	for i, w := range words {
		if w == "when" || i > 0 && (words[i-1] == "how" && howFrames[w] || words[i-1] == "what" && w == "time") {
			return true
		}
	}
	return false
}

// hasNumber reports whether s holds a figure: a digit, a Chinese
// numeral or an English number word.
func hasNumber(s string) bool {
	if strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsDigit(r) || strings.ContainsRune("一二三四五六七八九十两百千万半", r)
	}) {
		return true
	}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) }) {
		if numberWords[w] {
			return true
		}
	}
	return false
}

var numberWords = map[string]bool{
	"one": true, "two": true, "three": true, "four": true, "five": true, "six": true, "seven": true,
	"eight": true, "nine": true, "ten": true, "eleven": true, "twelve": true, "twenty": true, "thirty": true,
	"hundred": true, "thousand": true, "half": true, "once": true, "twice": true, "daily": true,
	"weekly": true, "monthly": true, "yearly": true, "annually": true, "immediately": true,
}

// stopEN are English function words and question frames ("how do I get
// ...", "can you tell me ..."), which say nothing about what is asked.
var stopEN = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`
a about above after again against all also am an and any are aren't as at be because been before
being below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't
down during each either else ever every few for from further get gets getting got had hadn't has hasn't
have haven't having he he'd he'll he's her here here's hers herself him himself his how how's however i
i'd i'll i'm i've if in into is isn't it it's its itself just know let let's like may me might mine more
most much must mustn't my myself need needs no nor not now of off on once only or other ought our ours
ourselves out over own please really same shall shan't she she'd she'll she's should shouldn't so some
such take takes tell than that that's the their theirs them themselves then there there's these they
they'd they'll they're they've this those through thus to too under until up upon us very via want
wants was wasn't way we we'd we'll we're we've were weren't what what's whatever when when's where
where's whether which while who who's whom whose why why's will with won't would wouldn't yes yet you
you'd you'll you're you've your yours yourself yourselves`) {
		m[w] = true
	}
	return m
}()

// Answer types: what kind of fact a question asks for, from its wording.
// A sentence that holds a fact of that kind is more likely the answer
// than one that merely shares the question's words.
type answerType uint8

const (
	typeDuration answerType = 1 << iota // how long, 多久, 几天
	typeMoney                           // how much, cost, price, 多少钱, 费用
	typeTime                            // when, what time, until when, 什么时候, 几点
	typeCount                           // how many, maximum number, 几个, 多少个
	typeList                            // which formats, what methods, 哪些: an enumeration
)

// notPluralNouns are words ending in "s" that follow "what" or "which"
// as verbs or function words, not as the plural noun of a list.
var notPluralNouns = map[string]bool{"is": true, "does": true, "was": true, "has": true, "happens": true,
	"means": true, "goes": true, "comes": true, "causes": true, "this": true, "its": true, "us": true}

// asksList reports whether a question asks for several things at once:
// "which message formats", "what login methods", 哪些, 哪几种.
func asksList(q string) bool {
	q = hanfold.Fold(q)
	for _, zh := range []string{"哪些", "哪几种", "哪几个", "哪几类"} {
		if strings.Contains(q, zh) {
			return true
		}
	}
	words := strings.FieldsFunc(strings.ToLower(q), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	for i, w := range words {
		if w != "which" && w != "what" {
			continue
		}
		for _, n := range words[i+1 : min(i+4, len(words))] {
			if len(n) >= 4 && strings.HasSuffix(n, "s") && !strings.HasSuffix(n, "ss") && !notPluralNouns[n] {
				return true
			}
			if stopEN[n] {
				break
			}
		}
	}
	return false
}

// enumerates reports whether a sentence lists several short items:
// "txt, markdown, markdownV2, html", "OSS, S3, GCS, ABS", 甲、乙、丙.
func enumerates(s string) bool {
	if strings.Count(s, "、") >= 2 {
		return true
	}
	short := 0
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '，' })
	for i, p := range parts {
		if i == 0 || i == len(parts)-1 {
			continue // the first and last items run into the sentence
		}
		// The last item of a list is often joined by "and" or "or"
		// ("LDAP, Casdoor SSO and OAuth2"): each side is an item.
		item := true
		for _, it := range splitConjunction(p) {
			if !shortItem(it) {
				item = false
			}
		}
		if item {
			short++
		}
	}
	return short >= 2
}

// shortItem reports whether p is short enough to be an item of an
// enumeration: one to three words, at most maxItemChars characters.
func shortItem(p string) bool {
	n := len(strings.Fields(p))
	return n >= 1 && n <= 3 && utf8.RuneCountInString(strings.TrimSpace(p)) <= maxItemChars
}

// maxItemChars is the longest item of an enumeration ("Apache
// DolphinScheduler password").
const maxItemChars = 32

// splitConjunction splits "A and B" or "A or B" into its two sides; any
// other text is returned whole.
func splitConjunction(p string) []string {
	for _, c := range []string{" and ", " or ", "和", "或"} {
		if a, b, ok := strings.Cut(p, c); ok && strings.TrimSpace(a) != "" && strings.TrimSpace(b) != "" {
			return []string{a, b}
		}
	}
	return []string{p}
}

// questionType returns the answer types a question asks for (0 when it
// asks for none of them, as "how do I ..." and yes/no questions do).
func questionType(q string) answerType {
	q = hanfold.Fold(q)
	var t answerType
	lower := strings.ToLower(q)
	words := strings.FieldsFunc(lower, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	has := func(ws ...string) bool {
		for _, w := range words {
			for _, x := range ws {
				if w == x {
					return true
				}
			}
		}
		return false
	}
	for i, w := range words {
		prev := ""
		if i > 0 {
			prev = words[i-1]
		}
		next := ""
		if i+1 < len(words) {
			next = words[i+1]
		}
		switch {
		case prev == "how" && (w == "long" || w == "soon" || w == "quickly" || w == "fast"):
			t |= typeDuration
		case prev == "how" && w == "often":
			t |= typeDuration | typeCount
		case prev == "how" && w == "much":
			t |= typeMoney | typeCount
		case prev == "how" && w == "many":
			t |= typeCount
			if durationUnitsEN[stem(next)] {
				t |= typeDuration
			}
		case w == "when" || prev == "what" && (w == "time" || w == "date" || w == "day") || prev == "until" && w == "when":
			t |= typeTime | typeDuration
		case (w == "number" || w == "limit") && (prev == "maximum" || prev == "max" || prev == "minimum" || prev == "the"):
			t |= typeCount
		}
	}
	if asksList(q) {
		t |= typeList
	}
	if has("cost", "costs", "price", "prices", "fee", "fees", "charge", "charges", "cheaper", "expensive", "spend") {
		t |= typeMoney
	}
	for _, zh := range []struct {
		s string
		t answerType
	}{
		{"多久", typeDuration}, {"多长时间", typeDuration}, {"多长", typeDuration}, {"几天", typeDuration},
		{"多少天", typeDuration}, {"几个月", typeDuration}, {"几年", typeDuration}, {"几小时", typeDuration},
		{"多少钱", typeMoney}, {"费用", typeMoney}, {"价格", typeMoney}, {"收费", typeMoney}, {"付钱", typeMoney},
		{"运费", typeMoney}, {"折扣", typeMoney}, {"多少元", typeMoney},
		{"什么时候", typeTime | typeDuration}, {"何时", typeTime | typeDuration}, {"几点", typeTime},
		{"几个", typeCount}, {"多少个", typeCount}, {"几台", typeCount}, {"多少台", typeCount}, {"几次", typeCount},
		{"多少", typeCount},
	} {
		if zh.s == "多少" && (strings.Contains(q, "多少钱") || strings.Contains(q, "多少天")) {
			continue // asks for money or days, not a count
		}
		if strings.Contains(q, zh.s) {
			t |= zh.t
		}
	}
	return t
}

// durationUnitsEN are the stemmed English units of a duration.
var durationUnitsEN = map[string]bool{
	"second": true, "minut": true, "minute": true, "hour": true, "day": true, "week": true, "month": true,
	"year": true, "night": true,
}

// sentenceTypes returns the kinds of fact a sentence holds: a duration
// (a number with a time unit), an amount of money (a currency sign or
// unit, or "free"), a time or date, a count (any figure).
func sentenceTypes(s string) answerType {
	s = hanfold.Fold(s)
	var t answerType
	if enumerates(s) {
		t |= typeList
	}
	if hasNumber(s) {
		t |= typeCount
	}
	lower := strings.ToLower(s)
	if strings.ContainsAny(s, "$€£¥%") || strings.Contains(s, "元") || strings.Contains(s, "折") ||
		strings.Contains(s, "免费") || strings.Contains(s, "包邮") {
		t |= typeMoney
	}
	words := strings.FieldsFunc(lower, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	number := false // the previous word was a figure
	for _, w := range words {
		st := stem(w)
		switch {
		case number && durationUnitsEN[st], number && w == "business", w == "immediately", w == "instantly":
			t |= typeDuration
		case w == "free" || w == "usd" || w == "cents" || w == "dollars":
			t |= typeMoney
		case monthsEN[w] || w == "am" || w == "pm" || w == "midnight" || w == "noon" || w == "tomorrow" ||
			w == "today" || w == "next":
			t |= typeTime
		}
		number = isDigits(w) || numberWords[w] || strings.ContainsAny(w, "0123456789")
	}
	if strings.Contains(lower, "a.m.") || strings.Contains(lower, "p.m.") {
		t |= typeTime
	}
	for _, w := range []string{"当天", "当日", "立即", "马上", "即时", "次日"} {
		if strings.Contains(s, w) {
			t |= typeDuration | typeTime
		}
	}
	// Chinese: a figure followed by a unit.
	runes := []rune(s)
	for i, r := range runes {
		if !(unicode.IsDigit(r) || strings.ContainsRune("一二三四五六七八九十两半", r)) || i+1 >= len(runes) {
			continue
		}
		rest := string(runes[i+1 : min(i+5, len(runes))])
		for _, u := range []string{"天", "日", "周", "个月", "月", "年", "小时", "分钟", "秒", "个工作日", "工作日"} {
			if strings.HasPrefix(rest, u) {
				t |= typeDuration
				if u == "月" || u == "日" {
					t |= typeTime
				}
			}
		}
		for _, u := range []string{"点", "时"} {
			if strings.HasPrefix(rest, u) {
				t |= typeTime
			}
		}
	}
	return t
}

var monthsEN = map[string]bool{
	"january": true, "february": true, "march": true, "april": true, "may": true, "june": true, "july": true,
	"august": true, "september": true, "october": true, "november": true, "december": true, "monday": true,
	"tuesday": true, "wednesday": true, "thursday": true, "friday": true, "saturday": true, "sunday": true,
}

// fuzzyMatch reports whether two English terms are likely forms of one
// word that the light stemmer did not join ("deliveri" and "deliver",
// "cancel" and "cancellation", "install" and "installation"): both
// Latin words without digits, sharing a prefix of at least five letters
// that is all of the shorter one but for at most one letter.
func fuzzyMatch(a, b string) bool {
	if a == b {
		return true
	}
	n := min(len(a), len(b))
	if n < 5 {
		return false
	}
	p := 0
	for p < n && a[p] == b[p] {
		c := a[p]
		if c < 'a' || c > 'z' {
			return false
		}
		p++
	}
	return p >= 5 && p >= n-1
}
