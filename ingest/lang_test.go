package ingest

import (
	"slices"
	"testing"
)

func TestDetectLang(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"english", "How do I reset my password?", "en"},
		{"chinese", "如何重置我的密码？", "zh"},
		{"chinese with product names", "在 Quarry 中，使用 sync 命令同步文件夹。", "zh"},
		{"chinese with a long english term", "使用 Kubernetes 部署", "zh"},
		{"english quoting chinese", "The word 你好 means hello in Chinese.", "en"},
		{"no letters", "12345 !!! 678", "en"},
		{"empty", "", "en"},
		{"japanese kana is not han", "これはテストです", "en"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DetectLang(tt.in); got != tt.want {
				t.Errorf("DetectLang(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSplitSentences(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"english", "First one. Second one? Third one! Fourth",
			[]string{"First one.", "Second one?", "Third one!", "Fourth"}},
		{"decimal and version numbers", "Version 2.5 costs $3.99. Update now.",
			[]string{"Version 2.5 costs $3.99.", "Update now."}},
		{"abbreviations", "Use a tool, e.g. the CLI. Ask Dr. Smith. J. R. Tolkien wrote it.",
			[]string{"Use a tool, e.g. the CLI.", "Ask Dr. Smith.", "J. R. Tolkien wrote it."}},
		{"quotes and brackets close the sentence", `He said "stop." Then (quietly) left.) Next.`,
			[]string{`He said "stop."`, "Then (quietly) left.)", "Next."}},
		{"runs of terminators", "Really?! Yes... Fine.",
			[]string{"Really?!", "Yes...", "Fine."}},
		{"chinese", "这是第一句。这是第二句！这是第三句？最后；还有",
			[]string{"这是第一句。", "这是第二句！", "这是第三句？", "最后；", "还有"}},
		{"chinese closing quote", "他说：“好的。”然后走了。",
			[]string{"他说：“好的。”", "然后走了。"}},
		{"mixed", "Quarry 支持中文。It also reads English. 很好！",
			[]string{"Quarry 支持中文。", "It also reads English.", "很好！"}},
		{"line ends", "item one\nitem two. more\n\nlast",
			[]string{"item one", "item two.", "more", "last"}},
		{"no terminator", "just words", []string{"just words"}},
		{"whitespace only", "  \n ", nil},
		{"url is not split", "See https://example.com/a.b for more.", []string{"See https://example.com/a.b for more."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SplitSentences(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("SplitSentences(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}
