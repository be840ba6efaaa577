package corpora_test

import (
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/quarry-kb/quarry/corpora"
)

func ExampleQuestions() {
	qs, err := corpora.Questions()
	if err != nil {
		panic(err)
	}
	q := qs[0]
	fmt.Println(q.Question)
	fmt.Println(q.ExpectedDocs[0], "->", q.ExpectedAnswer)

	// The expected document is in the embedded help centre.
	raw, err := fs.ReadFile(corpora.HelpCenter(), q.ExpectedDocs[0])
	if err != nil {
		panic(err)
	}
	fmt.Println(corpora.ContainsAnswer(string(raw), q.ExpectedAnswer))
	// Output:
	// How much do I have to spend to get free standard shipping?
	// shipping/shipping-rates-and-delivery-times.html -> $49 or more
	// true
}

func BenchmarkQuestions(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := corpora.Questions(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkContainsAnswer(b *testing.B) {
	text := strings.Repeat("Refunds are issued within 5 business days after we receive your return. 退款将在3个工作日内原路退回。 ", 40)
	b.ReportAllocs()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if !corpora.ContainsAnswer(text, "3个工作日") {
			b.Fatal("not found")
		}
	}
}
