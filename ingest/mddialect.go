package ingest

import (
	"bytes"
	"regexp"
	"strings"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
)

// Markdown as people write it, beyond CommonMark and GFM:
//
//   - wiki-links and embeds (Obsidian, Foam, many wikis): [[Page]],
//     [[Page|label]], [[Page#Heading]] read as their label (or page
//     name); an embed ![[file]] pulls in another file or an image and
//     has no text of its own here;
//   - callouts and alerts: "> [!info]+ Title" (Obsidian) and "> [!NOTE]"
//     (GitHub): the marker is dropped, a custom title kept, and the
//     callout's text joins the paragraph before it, which it belongs to;
//   - admonitions: ":::tip Title" … ":::" (Docusaurus, VuePress), read as
//     callouts;
//   - MDX: import and export lines are dropped, and so are lines that
//     only open or close a JSX component (<Tabs>, <TabItem value="x">,
//     </Tabs>, <Note />); the Markdown inside components is kept.
//
// No well-kept goldmark extension for these is available to the
// project, so they are parsed here: wiki-links by a goldmark inline
// parser, callouts from goldmark's block quotes, admonitions and MDX
// lines by a line pass before goldmark (see preprocessMarkdown) that
// leaves fenced code alone.

// wikiLink is a [[target|label]] link or a ![[target]] embed.
type wikiLink struct {
	ast.BaseInline
	Label string // the text the link reads as; "" for an embed
	Embed bool
}

var kindWikiLink = ast.NewNodeKind("WikiLink")

func (n *wikiLink) Kind() ast.NodeKind { return kindWikiLink }

func (n *wikiLink) Dump(src []byte, level int) {
	ast.DumpHelper(n, src, level, map[string]string{"Label": n.Label}, nil)
}

// wikiLinkParser parses wiki-links and embeds. It runs before
// goldmark's link parser (priority 199 against 200), which would
// otherwise read "[[Page]]" as brackets around a link reference.
type wikiLinkParser struct{}

func (wikiLinkParser) Trigger() []byte { return []byte{'!', '['} }

func (wikiLinkParser) Parse(_ ast.Node, block text.Reader, _ parser.Context) ast.Node {
	line, _ := block.PeekLine()
	embed := bytes.HasPrefix(line, []byte("![["))
	rest := line
	if embed {
		rest = rest[1:]
	}
	if !bytes.HasPrefix(rest, []byte("[[")) {
		return nil
	}
	end := bytes.Index(rest[2:], []byte("]]"))
	if end <= 0 {
		return nil
	}
	inner := string(rest[2 : 2+end])
	if strings.TrimSpace(inner) == "" || strings.ContainsAny(inner, "[]\n") {
		return nil
	}
	consumed := 2 + end + 2
	if embed {
		consumed++
	}
	block.Advance(consumed)
	if embed {
		return &wikiLink{Embed: true}
	}
	return &wikiLink{Label: wikiLabel(inner)}
}

// wikiLabel is the text a wiki-link reads as: its label after "|", else
// its target as Obsidian shows it ("Page", "Page > Heading", "Heading"
// for a link inside the page), without a ".md" extension.
func wikiLabel(inner string) string {
	target, label, ok := strings.Cut(inner, "|")
	if ok && strings.TrimSpace(label) != "" {
		return strings.TrimSpace(label)
	}
	page, heading, _ := strings.Cut(target, "#")
	page = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(page), ".md"))
	heading = strings.TrimSpace(strings.TrimPrefix(heading, "^")) // "#^block" links to a block
	switch {
	case page == "":
		return heading
	case heading == "":
		return page
	}
	return page + " > " + heading
}

// calloutMarker matches the first line of a callout or alert:
// "[!type]", an optional fold sign, and an optional title.
var calloutMarker = regexp.MustCompile(`^\s*\[!([A-Za-z][\w-]*)\]([+-]?)[ \t]*(.*)$`)

// callout reports whether a block quote is a callout; title is its
// custom title ("" when it has none, or only repeats the type).
func (w *mdWalker) callout(q *ast.Blockquote) (title string, ok bool) {
	p, isPara := q.FirstChild().(*ast.Paragraph)
	if !isPara || p.Lines().Len() == 0 {
		return "", false
	}
	first := p.Lines().At(0)
	m := calloutMarker.FindStringSubmatch(strings.TrimRight(string(first.Value(w.src)), "\r\n"))
	if m == nil {
		return "", false
	}
	title = strings.TrimSpace(m[3])
	if strings.EqualFold(title, m[1]) {
		title = ""
	}
	return title, true
}

// writeCallout writes a callout's text into the paragraph before it
// (see sectionBuilder.reopen): its title, if it has one, then its
// paragraphs, the marker line left out.
func (w *mdWalker) writeCallout(q *ast.Blockquote, title string) {
	w.b.reopen()
	if title != "" {
		// A title leads into the callout's text, as a label does.
		switch lastRune(title) {
		case '.', ':', '!', '?', '。', '：', '！', '？':
		default:
			if hasCJK(title) {
				title += "："
			} else {
				title += ":"
			}
		}
		w.b.write(title)
		w.b.lineBreak()
	}
	first := true
	for c := q.FirstChild(); c != nil; c = c.NextSibling() {
		if p, ok := c.(*ast.Paragraph); ok && first {
			// The marker line is the paragraph's first line: skip its
			// inline nodes up to the first line break.
			var b strings.Builder
			skipping := true
			for n := p.FirstChild(); n != nil; n = n.NextSibling() {
				if skipping {
					if t, ok := n.(*ast.Text); ok && (t.SoftLineBreak() || t.HardLineBreak()) {
						skipping = false
					}
					continue
				}
				w.inlineNode(&b, n)
			}
			if s := strings.TrimSpace(b.String()); s != "" {
				w.b.write(s)
				w.b.lineBreak()
			}
			first = false
			continue
		}
		first = false
		switch c := c.(type) {
		case *ast.Paragraph:
			w.b.write(w.inlineText(c))
			w.b.lineBreak()
		default:
			w.block(c)
		}
	}
	w.b.endParagraph()
}

var (
	// admonitionOpen matches ":::type", ":::type Title", ":::type[Title]"
	// and "::: type Title".
	admonitionOpen  = regexp.MustCompile(`^[ \t]{0,3}(:{3,})[ \t]*([A-Za-z][\w-]*)[ \t]*(?:\[(.*)\]|(.*))$`)
	admonitionClose = regexp.MustCompile(`^[ \t]{0,3}(:{3,})[ \t]*$`)
	// mdxImport matches an MDX import or export statement's first line.
	// Prose that starts with "import" or "export" does not look like
	// either statement.
	mdxImport = regexp.MustCompile(`^(import\s.*\sfrom\s+['"][^'"]+['"];?|import\s+['"][^'"]+['"];?|export\s+(const|let|var|default|function|async|class)\b.*)\s*$`)
	// jsxLine matches a line that only opens, closes or self-closes a
	// JSX component (capitalised, or dotted like <Tabs.Item>), or holds
	// only a JSX comment or expression.
	jsxLine = regexp.MustCompile(`^[ \t]*(</?[A-Z][\w.]*(\s[^<>]*)?/?>|\{/\*.*\*/\})[ \t]*$`)
	fence   = regexp.MustCompile("^[ \t]{0,3}(`{3,}|~{3,})")
)

// preprocessMarkdown rewrites the dialect's block syntax that goldmark
// does not parse into what it does: an admonition becomes a callout
// block quote ("> [!tip] Title"), MDX import/export lines and JSX
// component lines become blank lines. Fenced code is left as it is.
func preprocessMarkdown(src string) string {
	if !strings.Contains(src, ":::") && !strings.Contains(src, "import") &&
		!strings.Contains(src, "export") && !strings.Contains(src, "<") {
		return src
	}
	lines := strings.SplitAfter(src, "\n")
	var out strings.Builder
	out.Grow(len(src))
	var inFence string // the fence that opened the code block we are in
	var open []int     // colon counts of the admonitions we are in
	prefix := func() string { return strings.Repeat("> ", len(open)) }
	for _, line := range lines {
		body := strings.TrimRight(line, "\r\n")
		nl := line[len(body):]
		if inFence != "" {
			out.WriteString(prefix() + line)
			if t := strings.TrimSpace(body); len(t) >= len(inFence) && strings.Trim(t, inFence[:1]) == "" {
				inFence = ""
			}
			continue
		}
		if m := fence.FindStringSubmatch(body); m != nil {
			inFence = m[1]
			out.WriteString(prefix() + line)
			continue
		}
		if m := admonitionClose.FindStringSubmatch(body); m != nil && len(open) > 0 {
			open = open[:len(open)-1]
			out.WriteString(prefix() + nl)
			continue
		}
		if m := admonitionOpen.FindStringSubmatch(body); m != nil {
			title := strings.TrimSpace(m[3] + m[4])
			out.WriteString(prefix() + "> [!" + m[2] + "] " + title + nl)
			open = append(open, len(m[1]))
			continue
		}
		if len(open) == 0 && mdxImport.MatchString(body) {
			out.WriteString(nl)
			continue
		}
		if jsxLine.MatchString(body) {
			out.WriteString(prefix() + nl)
			continue
		}
		out.WriteString(prefix() + line)
	}
	return out.String()
}

// slugAlt reports whether an image's alt text is a file or identifier
// name ("alert-slack-webhook", "apiServerContextPath", "img_1.png")
// rather than words: it has no space. Such alt text is not prose.
func slugAlt(alt string) bool {
	alt = strings.TrimSpace(alt)
	return alt != "" && !strings.ContainsAny(alt, " \t\u3000") && !hasCJK(alt)
}

func hasCJK(s string) bool {
	for _, r := range s {
		if isCJK(r) {
			return true
		}
	}
	return false
}
