package hanfold

import "testing"

func TestFold(t *testing.T) {
	tests := []struct{ in, want string }{
		{"退貨和退款需要幾天？", "退货和退款需要几天？"},
		{"退货和退款需要几天？", "退货和退款需要几天？"}, // simplified stays
		{"門鎖電池", "门锁电池"},
		{"Reset the hub 重設網關", "Reset the hub 重设网关"},
		{"no Han at all", "no Han at all"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := Fold(tc.in); got != tc.want {
			t.Errorf("Fold(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFoldRune(t *testing.T) {
	for in, want := range map[rune]rune{'貨': '货', '货': '货', '門': '门', 'a': 'a', '。': '。'} {
		for range 2 { // the second answer comes from the cache
			if got := FoldRune(in); got != want {
				t.Errorf("FoldRune(%q) = %q, want %q", in, got, want)
			}
		}
	}
}

func BenchmarkFold(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Fold("退貨")
	}
}
