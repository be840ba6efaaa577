package kb

import "testing"

func TestScrubPaths(t *testing.T) {
	tests := []struct{ in, want string }{
		{"bleveindex: open /srv/quarry/kb/default/g000002/keyword: in use", "bleveindex: open .../keyword: in use"},
		{`source "/home/ops/docs" is not a readable directory`, `source ".../docs" is not a readable directory`},
		{"no path here", "no path here"},
	}
	for _, tt := range tests {
		if got := scrubPaths(tt.in); got != tt.want {
			t.Errorf("scrubPaths(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
