package mask

import (
	"slices"
	"strings"
	"testing"
)

func TestLossWeights(t *testing.T) {
	for _, tc := range []struct {
		spec             string
		t, valid, prompt int
		want             []float32
	}{
		{"all", 6, 4, 2, []float32{1, 1, 1, 1, 0, 0}},
		{"completion", 6, 4, 2, []float32{0, 0, 1, 1, 0, 0}},
		{"plw(0.1)", 6, 4, 2, []float32{0.1, 0.1, 1, 1, 0, 0}},
		{"plw(0)", 3, 3, 1, []float32{0, 1, 1}},
		{"plw(1)", 3, 3, 1, []float32{1, 1, 1}},
		{"completion", 3, 2, 5, []float32{0, 0, 0}},
		{"all", 3, 0, 0, []float32{0, 0, 0}},
	} {
		l, err := ParseLoss(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.Weights(tc.t, tc.valid, tc.prompt); !slices.Equal(got, tc.want) {
			t.Errorf("%s.Weights(%d, %d, %d) = %v, want %v", tc.spec, tc.t, tc.valid, tc.prompt, got, tc.want)
		}
	}
}

// TestLossPLWSums: sum of plw(w) weights = w*prompt + completion, and plw(0) equals
// completion, plw(1) equals all.
func TestLossPLWSums(t *testing.T) {
	all, _ := ParseLoss("all")
	comp, _ := ParseLoss("completion")
	for _, w := range []float64{0, 0.1, 0.5, 1} {
		l, err := ParseLoss("plw(" + Arg{Num: w, IsNum: true}.String() + ")")
		if err != nil {
			t.Fatal(err)
		}
		for valid := 0; valid <= 8; valid++ {
			for prompt := 0; prompt <= valid; prompt++ {
				ws := l.Weights(10, valid, prompt)
				var sum float64
				for _, x := range ws {
					sum += float64(x)
				}
				want := float64(float32(w))*float64(prompt) + float64(valid-prompt)
				if d := sum - want; d > 1e-5 || d < -1e-5 {
					t.Fatalf("plw(%g) valid %d prompt %d: sum %g, want %g", w, valid, prompt, sum, want)
				}
				if w == 0 && !slices.Equal(ws, comp.Weights(10, valid, prompt)) {
					t.Fatalf("plw(0) != completion")
				}
				if w == 1 && !slices.Equal(ws, all.Weights(10, valid, prompt)) {
					t.Fatalf("plw(1) != all")
				}
			}
		}
	}
}

func TestLossBatchAndErrors(t *testing.T) {
	unregister(t, KindLoss, "test_last")
	l, _ := ParseLoss("plw(0.5)")
	got, err := l.BatchWeights(2, 3, []int{3, 1}, []int{1, 0})
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{0.5, 1, 1, 1, 0, 0}; !slices.Equal(got, want) {
		t.Errorf("BatchWeights = %v, want %v", got, want)
	}
	if _, err := l.BatchWeights(2, 3, []int{3, 4}, nil); err == nil {
		t.Error("BatchWeights accepted a length > T")
	}
	for spec, want := range map[string]string{
		"plw(1.5)":   "column 5: plw: w must be in [0, 1], got 1.5",
		"plw":        "plw takes 1 argument, got 0",
		"complete":   `did you mean "completion"`,
		"all(1)":     "all takes no arguments, got 1",
		"all | plw":  "one name with arguments",
		"plw(-0.1)":  "got -0.1",
		"plw(\"x\")": `w must be a number, got "x"`,
	} {
		if _, err := ParseLoss(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseLoss(%q) = %v, want an error containing %q", spec, err, want)
		}
	}
	if err := RegisterLoss("test_last", "", "only the last token", func(a Args) (Loss, error) {
		return NewLoss("", func(pos, valid, _ int) float32 {
			if pos == valid-1 {
				return 1
			}
			return 0
		}), nil
	}); err != nil {
		t.Fatal(err)
	}
	u, err := ParseLoss("test_last")
	if err != nil || !slices.Equal(u.Weights(4, 3, 0), []float32{0, 0, 1, 0}) {
		t.Errorf("user loss: %v %v", u.Weights(4, 3, 0), err)
	}
}

// PackedWeights weighs each document of a packed row exactly as BatchWeights weighs the
// same document alone in a row (prompt counted per document), and padding gets 0.
func TestPackedWeightsPerDocument(t *testing.T) {
	for _, spec := range []string{"all", "completion", "plw(0.1)"} {
		l, err := ParseLoss(spec)
		if err != nil {
			t.Fatal(err)
		}
		// One row of T=8: doc 1 = 2 prompt + 1 completion, doc 2 = 1 prompt + 2 completion, 2 padding.
		seg := []int32{1, 1, 1, 2, 2, 2, 0, 0}
		prompt := []int32{1, 1, 0, 1, 0, 0, 0, 0}
		got, err := l.PackedWeights(1, 8, []int{6}, seg, prompt)
		if err != nil {
			t.Fatal(err)
		}
		alone, err := l.BatchWeights(2, 3, []int{3, 3}, []int{2, 1})
		if err != nil {
			t.Fatal(err)
		}
		want := append(append([]float32(nil), alone...), 0, 0)
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: packed weights %v, want %v", spec, got, want)
				break
			}
		}
		// Without segments and prompts: one document per row, no prompt.
		plain, _ := l.PackedWeights(1, 8, []int{6}, nil, nil)
		one, _ := l.BatchWeights(1, 8, []int{6}, nil)
		for i := range one {
			if plain[i] != one[i] {
				t.Errorf("%s: unsegmented weights %v, want %v", spec, plain, one)
				break
			}
		}
	}
	l, _ := ParseLoss("all")
	if _, err := l.PackedWeights(1, 4, []int{5}, nil, nil); err == nil {
		t.Error("PackedWeights accepted a valid length beyond T")
	}
	if _, err := l.PackedWeights(1, 4, []int{4}, []int32{1}, nil); err == nil {
		t.Error("PackedWeights accepted segments of the wrong size")
	}
}

// A multi-turn conversation's prompt flags alternate (system and user turns prompt,
// assistant turns completion): completion weighs every flagged position 0 and every other
// 1, plw(w) w and 1, however the runs alternate and in each packed document on its own;
// the weight function sees, for each position, the example of its own turn (promptLen the
// start of its completion run, or the end of its prompt run).
func TestPackedWeightsChatTurns(t *testing.T) {
	// Row 0: one conversation P P C C P P P C (then 2 padding); row 1: two documents,
	// P C C | P P C, the second document's prompt counted from its own start.
	prompt := []int32{1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0}
	segs := []int32{1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 2, 2, 2, 0, 0, 0, 0}
	lens := []int{8, 6}
	comp, _ := ParseLoss("completion")
	plw, _ := ParseLoss("plw(0.25)")
	got, err := comp.PackedWeights(2, 10, lens, segs, prompt)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0}
	if !slices.Equal(got, want) {
		t.Errorf("completion: %v\nwant        %v", got, want)
	}
	got, err = plw.PackedWeights(2, 10, lens, segs, prompt)
	if err != nil {
		t.Fatal(err)
	}
	want = []float32{.25, .25, 1, 1, .25, .25, .25, 1, 0, 0, .25, 1, 1, .25, .25, 1, 0, 0, 0, 0}
	if !slices.Equal(got, want) {
		t.Errorf("plw(0.25): %v\nwant       %v", got, want)
	}
	var seen [][3]int
	probe := NewLoss("probe", func(pos, validLen, promptLen int) float32 {
		seen = append(seen, [3]int{pos, validLen, promptLen})
		return 1
	})
	if _, err := probe.PackedWeights(1, 10, lens[:1], segs[:10], prompt[:10]); err != nil {
		t.Fatal(err)
	}
	wantSeen := [][3]int{{0, 8, 2}, {1, 8, 2}, {2, 8, 2}, {3, 8, 2}, {4, 8, 7}, {5, 8, 7}, {6, 8, 7}, {7, 8, 7}}
	if !slices.Equal(seen, wantSeen) {
		t.Errorf("weight calls %v, want %v", seen, wantSeen)
	}
	// A leading prompt gives Weights' numbers, as before conversations.
	flags := []int32{1, 1, 1, 0, 0, 0}
	for _, l := range []Loss{comp, plw} {
		got, err := l.PackedWeights(1, 6, []int{5}, nil, flags)
		if err != nil {
			t.Fatal(err)
		}
		if want := l.Weights(6, 5, 3); !slices.Equal(got, want) {
			t.Errorf("%s leading prompt: %v, want %v", l, got, want)
		}
	}
}
