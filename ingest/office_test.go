package ingest

import (
	"archive/zip"
	"bytes"
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/quarry-kb/quarry"
	"github.com/quarry-kb/quarry/internal/officegen"
)

// sectionWith returns the first section whose text contains s.
func sectionWith(p Parsed, s string) (Section, bool) {
	for _, sec := range p.Sections {
		if strings.Contains(sec.Text, s) {
			return sec, true
		}
	}
	return Section{}, false
}

func allText(p Parsed) string {
	var b strings.Builder
	for _, s := range p.Sections {
		b.WriteString(strings.Join(s.Heading, " > "))
		b.WriteString("\n")
		b.WriteString(s.Text)
		b.WriteString("\n")
	}
	return b.String()
}

func testDocx() []byte {
	return officegen.DOCX(officegen.Doc{
		Title:  "Doorbell Pro Service Guide",
		Header: "CONFIDENTIAL RUNNING HEADER",
		Footer: "Page footer text 12345",
		Styles: []officegen.Style{
			{ID: "a3", Name: "标题 2", Outline: -1},              // a localised heading name, no outline level
			{ID: "MyTopic", Name: "Topic Heading", Outline: 2}, // only an outline level: level 3
		},
		Blocks: []officegen.Block{
			{Heading: "Doorbell Pro Service Guide", Style: "Title"},
			{Heading: "Installation", Level: 1},
			{Para: "Mount the doorbell 48 inches above the ground.", Footnote: "Measured from the ground to the centre of the button."},
			{Heading: "Wiring", Level: 2},
			{List: []string{"Turn off power at the breaker.", "Connect the two wires to the terminals."}},
			{Heading: "Transformer table", Style: "MyTopic"},
			{Table: [][]string{{"Model", "Voltage", "Rating"}, {"Doorbell Pro", "16-24 V AC", "30 VA"}, {"Doorbell Lite", "8-24 V AC", "10 VA"}}, HeaderRow: true},
			{Heading: "保修说明", Style: "a3"},
			{Para: "门铃整机保修1年。"},
		},
	})
}

func TestDOCX(t *testing.T) {
	p, err := ParseFile("guide.docx", testDocx())
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != TypeDOCX || p.Title != "Doorbell Pro Service Guide" {
		t.Errorf("type %q title %q", p.Type, p.Title)
	}
	cases := []struct {
		text    string
		heading string
	}{
		{"Mount the doorbell 48 inches above the ground.", "Installation"},
		{"[1] Measured from the ground to the centre of the button.", "Installation"},
		{"- Turn off power at the breaker.\n- Connect the two wires to the terminals.", "Installation > Wiring"},
		{"Doorbell Pro — Voltage: 16-24 V AC; Rating: 30 VA.", "Installation > Wiring > Transformer table"},
		{"门铃整机保修1年。", "Installation > 保修说明"},
	}
	for _, c := range cases {
		sec, ok := sectionWith(p, c.text)
		if !ok {
			t.Errorf("no section holds %q; got:\n%s", c.text, allText(p))
			continue
		}
		if got := strings.Join(sec.Heading, " > "); got != c.heading {
			t.Errorf("%q: heading %q, want %q", c.text, got, c.heading)
		}
	}
	all := allText(p)
	for _, gone := range []string{"CONFIDENTIAL RUNNING HEADER", "Page footer text", "Model — Voltage"} {
		if strings.Contains(all, gone) {
			t.Errorf("%q should not be ingested:\n%s", gone, all)
		}
	}
}

func TestPPTX(t *testing.T) {
	data := officegen.PPTX("Guard plans deck", []officegen.Slide{
		{Title: "Kestrel Guard plans", Bullets: []string{"Three plans for every home.", "Cancel any time."}, Notes: "Mention the 30-day free trial of Guard Plus."},
		{Title: "Prices", Table: [][]string{{"Plan", "Monthly", "Video history"}, {"Basic", "$3.99", "7 days"}, {"Plus", "$9.99", "30 days"}}},
		{Bullets: []string{"Questions?"}},
	})
	p, err := ParseFile("deck.pptx", data)
	if err != nil {
		t.Fatal(err)
	}
	if p.Title != "Guard plans deck" {
		t.Errorf("title %q", p.Title)
	}
	want := []struct {
		heading string
		page    int
		text    []string
	}{
		{"Kestrel Guard plans", 1, []string{"Three plans for every home.\nCancel any time.", "Speaker notes: Mention the 30-day free trial of Guard Plus."}},
		{"Prices", 2, []string{"Basic — Monthly: $3.99; Video history: 7 days.", "Plus — Monthly: $9.99; Video history: 30 days."}},
		{"Slide 3", 3, []string{"Questions?"}},
	}
	if len(p.Sections) != len(want) {
		t.Fatalf("%d sections, want %d:\n%s", len(p.Sections), len(want), allText(p))
	}
	for i, w := range want {
		s := p.Sections[i]
		if got := strings.Join(s.Heading, " > "); got != w.heading || s.Page != w.page {
			t.Errorf("slide %d: heading %q page %d, want %q page %d", i+1, got, s.Page, w.heading, w.page)
		}
		for _, x := range w.text {
			if !strings.Contains(s.Text, x) {
				t.Errorf("slide %d lacks %q:\n%s", i+1, x, s.Text)
			}
		}
		if strings.Contains(s.Text, w.heading) {
			t.Errorf("slide %d repeats its title in its text", i+1)
		}
	}
	if strings.Contains(allText(p), "\n1\n") {
		t.Errorf("the slide number placeholder of the notes was ingested")
	}
}

func TestXLSX(t *testing.T) {
	data, err := officegen.XLSX("Price list", []officegen.Sheet{
		{Name: "Cameras", Rows: [][]string{{"Product", "Price", "Warranty"}, {}, {"Cam Indoor C1", "$59", "2 years"}, {"Cam Outdoor C3", "$129", "2 years"}}},
		{Name: "常见问题", Rows: [][]string{{"标准问", "相似问题", "答案"}, {"门锁电池能用多久？", "电池续航多久\n多久换一次电池", "门锁使用4节AA电池，正常使用约12个月。电量低于20%时App会提醒。"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseFile("prices.xlsx", data)
	if err != nil {
		t.Fatal(err)
	}
	sec, ok := sectionWith(p, "Cam Outdoor C3 — Price: $129; Warranty: 2 years.")
	if !ok || strings.Join(sec.Heading, " > ") != "Cameras" {
		t.Errorf("record row missing or under the wrong heading:\n%s", allText(p))
	}
	sec, ok = sectionWith(p, "门锁使用4节AA电池")
	if !ok {
		t.Fatalf("FAQ answer missing:\n%s", allText(p))
	}
	wantHead := []string{"常见问题", FAQPrefix + "门锁电池能用多久？ / 电池续航多久 / 多久换一次电池"}
	if strings.Join(sec.Heading, "|") != strings.Join(wantHead, "|") {
		t.Errorf("FAQ heading %q, want %q", sec.Heading, wantHead)
	}
	if sec.Text != "门锁使用4节AA电池，正常使用约12个月。电量低于20%时App会提醒。" {
		t.Errorf("FAQ text %q: want the answer, whole, alone", sec.Text)
	}
}

func TestCSV(t *testing.T) {
	gbk, err := simplifiedchinese.GBK.NewEncoder().String("问题,答案\n发票怎么开？,在订单详情页点击“申请发票”，电子发票1个工作日内发到邮箱。\n")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		data     []byte
		heading  string
		text     string
		sections int
	}{
		{"faq-bom.csv", []byte("\ufeffQuestion,Similar questions,Answer\n" +
			"How do I reset the Doorbell Pro?,\"Factory reset doorbell;Doorbell reset steps\",\"Hold the reset button for 15 seconds.\nThe light turns white when it is done.\"\n" +
			"Empty answer,,\n"), FAQPrefix + "How do I reset the Doorbell Pro? / Factory reset doorbell / Doorbell reset steps",
			"Hold the reset button for 15 seconds.\nThe light turns white when it is done.", 1},
		{"faq-gbk.csv", []byte(gbk), FAQPrefix + "发票怎么开？", "在订单详情页点击“申请发票”，电子发票1个工作日内发到邮箱。", 1},
		{"stores.csv", []byte("Store;City;Hours\nKestrel Studio SoHo;New York;10:00-20:00\nKestrel Studio Mission;San Francisco;11:00-19:00\n"), "",
			"Kestrel Studio SoHo — City: New York; Hours: 10:00-20:00.", 1},
		{"plain.tsv", []byte("Code\tMeaning\nE12\tBattery too cold\n"), "", "E12 — Meaning: Battery too cold.", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParseFile(c.name, c.data)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Sections) != c.sections {
				t.Fatalf("%d sections, want %d:\n%s", len(p.Sections), c.sections, allText(p))
			}
			sec, ok := sectionWith(p, c.text)
			if !ok {
				t.Fatalf("no section holds %q:\n%s", c.text, allText(p))
			}
			if got := strings.Join(sec.Heading, " > "); got != c.heading {
				t.Errorf("heading %q, want %q", got, c.heading)
			}
		})
	}
}

// zipBomb returns a .docx-shaped zip whose document part inflates
// 8 MiB of zeros from a few KiB.
func zipBomb(t testing.TB) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"[Content_Types].xml", "word/document.xml"} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if name == "word/document.xml" {
			if _, err := w.Write(make([]byte, 8<<20)); err != nil {
				t.Fatal(err)
			}
		} else if _, err := w.Write([]byte("<Types/>")); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestOfficeHostile(t *testing.T) {
	good := testDocx()
	cases := []struct {
		name, path string
		data       []byte
		reason     string
	}{
		{"zip bomb", "bomb.docx", zipBomb(t), "zip bomb"},
		{"truncated docx", "cut.docx", good[:len(good)/2], "corrupt Word file"},
		{"not a zip", "fake.pptx", []byte("this is not a zip archive at all"), "corrupt PowerPoint file"},
		{"zip without content types", "odd.xlsx", func() []byte {
			var b bytes.Buffer
			zw := zip.NewWriter(&b)
			w, _ := zw.Create("hello.txt")
			w.Write([]byte("hi"))
			zw.Close()
			return b.Bytes()
		}(), "not an Office document"},
		{"binary csv", "bin.csv", []byte("a,b\x00\x01\x02"), "binary content"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseFile(c.path, c.data)
			if err == nil {
				t.Fatal("parsed; want an error")
			}
			if !strings.Contains(err.Error(), c.reason) || quarry.ErrorCode(err) != quarry.CodeInvalid {
				t.Errorf("error %q (code %s), want one naming %q", err, quarry.ErrorCode(err), c.reason)
			}
		})
	}
}

// TestSyncOfficeFiles: a zip bomb and a corrupt .docx are skipped with a
// reason while the good files beside them are ingested; a changed file is
// replaced and a removed one deleted, as for any other type.
func TestSyncOfficeFiles(t *testing.T) {
	good := testDocx()
	xlsx, err := officegen.XLSX("", []officegen.Sheet{{Name: "FAQ", Rows: [][]string{{"Question", "Answer"}, {"Is there a free trial?", "Yes: Guard Plus is free for 30 days."}}}})
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{
		"guide.docx":      {Data: good},
		"faq.xlsx":        {Data: xlsx},
		"stores.csv":      {Data: []byte("Store,City\nSoHo,New York\n")},
		"bad/bomb.docx":   {Data: zipBomb(t)},
		"bad/broken.docx": {Data: good[:len(good)-200]},
	}
	sink := newMemSink()
	sum, err := Sync(context.Background(), fsys, sink, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Added != 3 || len(sum.Skipped) != 2 {
		t.Fatalf("summary %+v, want 3 added and 2 skipped", sum)
	}
	wantReason := map[string]string{"bad/bomb.docx": "zip bomb", "bad/broken.docx": "corrupt Word file"}
	for _, s := range sum.Skipped {
		if want, ok := wantReason[s.Path]; !ok || !strings.Contains(s.Reason, want) {
			t.Errorf("%s skipped for %q, want a reason naming %q", s.Path, s.Reason, want)
		}
		delete(wantReason, s.Path)
	}
	for _, p := range []string{"guide.docx", "faq.xlsx", "stores.csv"} {
		if len(sink.chunks[p]) == 0 {
			t.Errorf("%s beside the bad files was not ingested", p)
		}
	}
	var faq quarry.Chunk
	for _, c := range sink.chunks["faq.xlsx"] {
		if strings.HasPrefix(c.Heading, "FAQ > "+FAQPrefix) {
			faq = c
		}
	}
	if faq.Heading != "FAQ > Q: Is there a free trial?" || faq.Text != "Yes: Guard Plus is free for 30 days." {
		t.Errorf("FAQ chunk %+v", faq)
	}

	// Change one, delete one, leave one.
	fsys["stores.csv"] = &fstest.MapFile{Data: []byte("Store,City\nMission,San Francisco\n")}
	delete(fsys, "faq.xlsx")
	sink.reset()
	sum, err = Sync(context.Background(), fsys, sink, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Updated != 1 || sum.Removed != 1 || sum.Unchanged != 1 {
		t.Errorf("second run %+v, want 1 updated, 1 removed, 1 unchanged", sum)
	}
	if c := sink.chunks["stores.csv"]; len(c) != 1 || !strings.Contains(c[0].Text, "Mission — City: San Francisco.") {
		t.Errorf("stores.csv chunks %+v", c)
	}
}
