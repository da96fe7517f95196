package textutil

import "testing"

func TestClosest(t *testing.T) {
	known := []string{"causal", "doc", "window", "partial", "from", "axes", "model"}
	for typed, want := range map[string]string{
		"causl": "causal", "dco": "doc", "windw": "window", "partail": "partial",
		"frm": "from", "axs": "axes", "modle": "model", "CAUSAL": "causal",
		"xyz": "", "completely-different": "",
	} {
		if got := Closest(typed, known); got != want {
			t.Errorf("Closest(%q) = %q, want %q", typed, got, want)
		}
	}
	keys := []string{"model.layers", "model.heads", "task.name", "optim.lr"}
	for typed, want := range map[string]string{
		"model.layr": "model.layers", "model.layer": "model.layers", "layers": "model.layers",
		"layres": "model.layers", "task.nmae": "task.name", "nothing.here": "",
	} {
		if got := ClosestKey(typed, keys); got != want {
			t.Errorf("ClosestKey(%q) = %q, want %q", typed, got, want)
		}
	}
}

func TestDistanceCountsSwapsAsOne(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"dco", "doc", 1}, {"", "abc", 3}, {"程序员", "程序", 1}, {"kitten", "sitting", 3}} {
		if got := Distance(c.a, c.b); got != c.d {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
}

func TestPluralAndSortedKeys(t *testing.T) {
	if Plural(1) != "" || Plural(0) != "s" || Plural(2) != "s" {
		t.Error("Plural")
	}
	if got := SortedKeys(map[string]int{"b": 1, "a": 2, "c": 3}); len(got) != 3 || got[0] != "a" || got[2] != "c" {
		t.Errorf("SortedKeys = %v", got)
	}
}

func TestLevenshteinCountDuration(t *testing.T) {
	if d := Levenshtein([]rune("程序员"), []rune("程序猿")); d != 1 {
		t.Errorf("Levenshtein = %d", d)
	}
	if d := Levenshtein([]rune("ab"), []rune("ba")); d != 2 {
		t.Errorf("Levenshtein counts a swap as %d, want 2", d)
	}
	if Count(23100) != "23.1k" || Count(950) != "950" || Count(1_200_000) != "1.2M" {
		t.Errorf("Count: %s %s %s", Count(23100), Count(950), Count(1_200_000))
	}
	if Duration(40) != "40 s" || Duration(720) != "12 min" || Duration(9000) != "2.5 h" {
		t.Errorf("Duration: %s %s %s", Duration(40), Duration(720), Duration(9000))
	}
}
