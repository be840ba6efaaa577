package ingest

import (
	"fmt"
	"strings"
	"testing"
)

// sectionTexts returns the text of p's sections, joined by blank lines.
func sectionTexts(p Parsed) string {
	var parts []string
	for _, s := range p.Sections {
		parts = append(parts, s.Text)
	}
	return strings.Join(parts, "\n\n")
}

func TestTables(t *testing.T) {
	tests := []struct {
		name string
		path string
		src  string
		want string // the whole text of the document
	}{
		{
			name: "html thead with th",
			path: "t.html",
			src: `<table><thead><tr><th>Store</th><th>Address</th><th>Monday to Saturday</th><th>Sunday</th></tr></thead>
<tbody><tr><td>Chicago, West Loop</td><td>905 W Randolph Street</td><td>9 a.m. to 8 p.m.</td><td>Closed</td></tr>
<tr><td>Austin</td><td>1600 S Congress Avenue</td><td>10 a.m. to 9 p.m.</td><td>11 a.m. to 7 p.m.</td></tr></tbody></table>`,
			want: "Chicago, West Loop — Address: 905 W Randolph Street; Monday to Saturday: 9 a.m. to 8 p.m.; Sunday: Closed.\n\n" +
				"Austin — Address: 1600 S Congress Avenue; Monday to Saturday: 10 a.m. to 9 p.m.; Sunday: 11 a.m. to 7 p.m.",
		},
		{
			name: "html first row of th without thead",
			path: "t.html",
			src:  `<p>Prices:</p><table><tr><th>Device</th><th>Price</th></tr><tr><td>Lock L1</td><td>$229</td></tr></table><p>After.</p>`,
			want: "Prices:\n\nLock L1 — Price: $229.\n\nAfter.",
		},
		{
			name: "html without headers keeps rows as lines",
			path: "t.html",
			src:  `<table><tr><td>a</td><td>1</td></tr><tr><td>b</td><td>2</td></tr></table>`,
			want: "a | 1\nb | 2",
		},
		{
			name: "html header only keeps the line",
			path: "t.html",
			src:  `<table><thead><tr><th>k</th><th>v</th></tr></thead></table>`,
			want: "k | v",
		},
		{
			name: "html caption, colspan, empty cell and a row longer than the header",
			path: "t.html",
			src: `<table><caption>Plans</caption><tr><th>Plan</th><th colspan="2">Price</th><th></th></tr>
<tr><td>Plus</td><td>$9.99</td><td>$99</td><td>note</td></tr><tr><td>Pro</td><td></td><td>$199</td><td>x</td><td>extra</td></tr></table>`,
			want: "Plans\n\nPlus — Price: $9.99; Price: $99; note.\n\nPro — Price: $199; x; extra.",
		},
		{
			name: "html two header rows merge per column",
			path: "t.html",
			src: `<table><thead><tr><th rowspan="2">Plan</th><th colspan="2">Price</th></tr><tr><th>Plan</th><th>Monthly</th><th>Annual</th></tr></thead>
<tbody><tr><td>Guard Pro</td><td>$19.99</td><td>$199</td></tr></tbody></table>`,
			want: "Guard Pro — Price Monthly: $19.99; Price Annual: $199.",
		},
		{
			name: "html cell with periods and sentences",
			path: "t.html",
			src: `<table><tr><th>Option</th><th>How it works</th><th>Cost</th></tr>
<tr><td>Advance</td><td>We ship first. You have 14 days to send it back.</td><td>Free</td></tr>
<tr><td>Bulb 1.5</td><td>3.5 W, e.g. reading</td><td>$4.50</td></tr></table>`,
			want: "Advance — How it works: We ship first. You have 14 days to send it back.; Cost: Free.\n\n" +
				"Bulb 1.5 — How it works: 3.5 W, e.g. reading; Cost: $4.50.",
		},
		{
			name: "html chinese table ends rows with 。",
			path: "t.html",
			src:  `<table><thead><tr><th>收货地区</th><th>预计送达时间（发货后）</th></tr></thead><tbody><tr><td>新疆、西藏、青海</td><td>4至7天</td></tr></tbody></table>`,
			want: "新疆、西藏、青海 — 预计送达时间（发货后）: 4至7天。",
		},
		{
			name: "html empty first cell: no label",
			path: "t.html",
			src:  `<table><tr><th></th><th>Size</th></tr><tr><td></td><td>10 cm</td></tr><tr><td>Row</td><td></td></tr></table>`,
			want: "Size: 10 cm.\n\nRow.",
		},
		{
			name: "markdown pipe table",
			path: "t.md",
			src: "Intro.\n\n| Device | Price | Notes |\n|---|---:|---|\n| Kestrel Smart Lock L1 | $229 | Keypad, 2 physical keys |\n" +
				"| **Hub** H2 | $129 | Needed for sensors. |\n\nAfter.\n",
			want: "Intro.\n\nKestrel Smart Lock L1 — Price: $229; Notes: Keypad, 2 physical keys.\n\nHub H2 — Price: $129; Notes: Needed for sensors.\n\nAfter.",
		},
		{
			name: "markdown table with a blank header keeps rows as lines",
			path: "t.md",
			src:  "|  |  |\n|--|--|\n| a | 1 |\n| b | 2 |\n",
			want: "a | 1\nb | 2",
		},
		{
			name: "markdown table without body rows keeps the header line",
			path: "t.md",
			src:  "| k | v |\n|---|---|\n",
			want: "k | v",
		},
		{
			name: "markdown html table block",
			path: "t.md",
			src:  "<table><tr><th>k</th><th>v</th></tr><tr><td>a</td><td>1</td></tr></table>\n",
			want: "a — v: 1.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseFile(tt.path, []byte(tt.src))
			if err != nil {
				t.Fatalf("ParseFile: %v", err)
			}
			if got := sectionTexts(p); got != tt.want {
				t.Errorf("text =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// pdfRows returns a content stream that sets each row's cells at the
// given x positions, one row every 18 points from the top.
func pdfRows(xs []float64, rows ...[]string) string {
	var b strings.Builder
	b.WriteString("BT /F1 10 Tf ")
	for i, r := range rows {
		for k, c := range r {
			fmt.Fprintf(&b, "1 0 0 1 %g %d Tm (%s) Tj ", xs[k], 700-18*i, c)
		}
	}
	b.WriteString("ET")
	return b.String()
}

func TestPDFTables(t *testing.T) {
	xs := []float64{72, 300, 400}
	tests := []struct {
		name    string
		content string
		want    string
	}{
		{
			name:    "aligned columns with a header row",
			content: pdfRows(xs, []string{"Device", "Price", "Notes"}, []string{"Smart Lock L1", "$229", "Keypad, 2 keys"}, []string{"Hub H2", "$129", "Needed for sensors."}),
			want:    "Smart Lock L1 — Price: $229; Notes: Keypad, 2 keys.\n\nHub H2 — Price: $129; Notes: Needed for sensors.",
		},
		{
			name:    "aligned columns without a header row keep rows as lines",
			content: pdfRows(xs, []string{"E1", "No power", "Check 2 wires"}, []string{"E2", "Low power", "Add kit"}, []string{"E3", "No heat", "Check W"}),
			want:    "E1 | No power | Check 2 wires\nE2 | Low power | Add kit\nE3 | No heat | Check W",
		},
		{
			name:    "two aligned lines are not a table",
			content: pdfRows(xs, []string{"Device", "Price", "Notes"}, []string{"Lock", "$229", "Keypad"}),
			want:    "Device Price Notes Lock $229 Keypad",
		},
		{
			name:    "a list with markers and items at two x is not a table",
			content: pdfRows(xs, []string{"-", "Keypad assembly"}, []string{"-", "Latch and strike plate"}, []string{"-", "2 physical keys"}),
			want:    "- Keypad assembly - Latch and strike plate - 2 physical keys",
		},
		{
			name:    "columns that do not line up are not a table",
			content: pdfRows(xs, []string{"Device", "Price"}, []string{"Lock", "$229"}) + " " + pdfRows([]float64{72, 350}, nil, nil, []string{"Hub", "$129"}),
			want:    "Device Price Lock $229 Hub $129",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseFile("t.pdf", rawPDF(tt.content))
			if err != nil {
				t.Fatalf("ParseFile: %v", err)
			}
			if got := sectionTexts(p); got != tt.want {
				t.Errorf("text =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}
