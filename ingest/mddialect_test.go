package ingest

import (
	"strings"
	"testing"
)

// TestMarkdownDialects checks each dialect element of mddialect.go: the
// text it reads as, and the markup that must not reach the chunks.
func TestMarkdownDialects(t *testing.T) {
	tests := []struct {
		name string
		path string
		src  string
		want string // the document's section texts, joined by "\n\n"
	}{
		{"wiki-link with label", "a.md", "Install the [[Importer|Importer plugin]] first.\n",
			"Install the Importer plugin first."},
		{"wiki-link to a page", "a.md", "See [[Getting started]] and [[setup.md]].\n",
			"See Getting started and setup."},
		{"wiki-link to a heading", "a.md", "See [[Setup#Install on Linux]] or [[#Limits]].\n",
			"See Setup > Install on Linux or Limits."},
		{"wiki embed", "a.md", "The flow: ![[diagram.png]] ![[Other note]]\n", "The flow:"},
		{"not a wiki-link", "a.md", "Use [x] and [[ ]] and [a](http://b) here.\n", "Use [x] and [[ ]] and a here."},
		{"obsidian callout joins its paragraph", "a.md",
			"Run the importer nightly.\n\n> [!info]+ Info\n> It skips hidden files.\n\nNext paragraph.\n",
			"Run the importer nightly.\nIt skips hidden files.\n\nNext paragraph."},
		{"callout with a title", "a.md",
			"Upgrade in place.\n\n> [!warning] Back up first\n> Export your data.\n",
			"Upgrade in place.\nBack up first:\nExport your data."},
		{"github alert", "a.md", "Read this.\n\n> [!NOTE]\n> Useful information.\n",
			"Read this.\nUseful information."},
		{"callout first in a section", "a.md", "# T\n\n> [!TIP]\n> Start here.\n", "Start here."},
		{"plain block quote stays a paragraph", "a.md", "Intro.\n\n> A quote.\n", "Intro.\n\nA quote."},
		{"docusaurus admonition", "a.md", "Set it up.\n\n:::tip Pro tip\nUse **dry run** first.\n:::\n\nDone.\n",
			"Set it up.\nPro tip:\nUse dry run first.\n\nDone."},
		{"docusaurus admonition with bracket title", "a.md", "Set it up.\n\n:::note[Heads up]\nIt is slow.\n:::\n",
			"Set it up.\nHeads up:\nIt is slow."},
		{"vuepress admonition", "a.md", "Keep it.\n\n::: warning\nNever delete the index.\n:::\n",
			"Keep it.\nNever delete the index."},
		{"admonition in code is code", "a.md", "```\n:::tip\nx\n:::\n```\n", ":::tip\nx\n:::"},
		{"mdx imports and components", "a.mdx",
			"import Tabs from '@theme/Tabs';\nimport TabItem from '@theme/TabItem';\n\n# Install\n\n<Tabs>\n<TabItem value=\"mac\" label=\"macOS\">\n\nInstall with **Homebrew**.\n\n</TabItem>\n</Tabs>\n\n<Note />\n\nDone.\n",
			"Install with Homebrew.\n\nDone."},
		{"mdx import in code is code", "a.mdx", "```js\nimport x from 'y';\n```\n", "import x from 'y';"},
		{"html block", "a.md", "Intro.\n\n<div class=\"note\"><p>Inside <b>HTML</b>.</p></div>\n",
			"Intro.\n\nInside HTML."},
		{"image slug alt dropped, words kept", "a.md", "Click Save. ![alert-slack-webhook](a.png) ![The save button](b.png)\n",
			"Click Save. The save button"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseFile(tc.path, []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			var texts []string
			for _, s := range p.Sections {
				texts = append(texts, s.Text)
			}
			if got := strings.Join(texts, "\n\n"); got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestMarkdownDialectTitles(t *testing.T) {
	p, err := ParseFile("docs/guide.mdx", []byte("---\ntitle: Guide\n---\nimport X from 'x';\n\n# Heading\n\nText.\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Title != "Guide" || p.Type != TypeMarkdown {
		t.Errorf("title %q type %q, want Guide and %s", p.Title, p.Type, TypeMarkdown)
	}
	p, err = ParseFile("docs/page.md", []byte("import X from 'x';\n\n# [[Importer]] guide\n\nText.\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Title != "Importer guide" {
		t.Errorf("title %q, want %q", p.Title, "Importer guide")
	}
}
