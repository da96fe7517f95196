package sysmem

import "testing"

func TestParseAndFormat(t *testing.T) {
	for s, want := range map[string]int64{"1024": 1024, "8GiB": 8 << 30, "800M": 800 << 20, "1.5G": 3 << 29, "2 TB": 2 << 40, "512k": 512 << 10} {
		if got, err := Parse(s); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v, want %d", s, got, err, want)
		}
	}
	for _, bad := range []string{"", "lots", "8 parsecs", "-1G"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	if got := Format(3 << 29); got != "1.5 GiB" {
		t.Errorf("Format = %q", got)
	}
}

func TestLimitIsReadHere(t *testing.T) {
	b, src, ok := Limit()
	if !ok || b < 1<<26 || src == "" {
		t.Errorf("Limit() = %d, %q, %v: want the machine's memory", b, src, ok)
	}
}
