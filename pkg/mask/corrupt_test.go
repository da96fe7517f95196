package mask

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func mustCorruption(t *testing.T, spec string) Corruption {
	t.Helper()
	c, err := ParseCorruption(spec)
	if err != nil {
		t.Fatalf("ParseCorruption(%q): %v", spec, err)
	}
	return c
}

// seq returns BOS (id 1) followed by n tokens with ids 10, 11, ...
func seq(n int) []int32 {
	out := []int32{1}
	for i := 0; i < n; i++ {
		out = append(out, int32(10+i))
	}
	return out
}

func hiddenCount(h []bool) int {
	n := 0
	for _, v := range h {
		if v {
			n++
		}
	}
	return n
}

func TestCorruptionBOSNeverHidden(t *testing.T) {
	corpus := &Corpus{MaskID: 4, UnkID: 3, Freq: []int64{0, 100, 0, 0, 0, 0, 0, 0, 0, 0, 5, 4, 3}, Lookup: func(string) (int32, bool) { return 11, true }}
	for _, spec := range []string{"none", "full", "partial(1)", "partial(3)", "random(1)", "span(1, 3)", "span(0.9, 2)", "drop(1)",
		"interactive(freq, 1)", "interactive(copy, 1)", `interactive(keep, "x")`, "schedule(random, 1, 1, 10)"} {
		c := mustCorruption(t, spec)
		for n := 0; n < 12; n++ {
			in := Input{Tokens: seq(n), Source: []int32{1, 10, 11, 12}, Corpus: corpus}
			h := c.Hide(in, ExampleRNG(1, 0, n))
			if len(h) != n+1 {
				t.Fatalf("%s: %d flags for %d tokens", spec, len(h), n+1)
			}
			if h[0] {
				t.Fatalf("%s hid BOS", spec)
			}
		}
	}
}

func TestCorruptionFullAndNone(t *testing.T) {
	for n := 0; n < 10; n++ {
		h := mustCorruption(t, "full").Hide(Input{Tokens: seq(n)}, ExampleRNG(0, 0, 0))
		if hiddenCount(h) != n {
			t.Errorf("full hid %d of %d positions after BOS", hiddenCount(h), n)
		}
		if hiddenCount(mustCorruption(t, "none").Hide(Input{Tokens: seq(n)}, ExampleRNG(0, 0, 0))) != 0 {
			t.Errorf("none hid something")
		}
	}
}

func TestCorruptionPartial(t *testing.T) {
	for k := 1; k <= 5; k++ {
		c := mustCorruption(t, "partial("+string(rune('0'+k))+")")
		h := c.Hide(Input{Tokens: seq(17)}, ExampleRNG(0, 0, 0))
		for p, v := range h {
			want := p >= 1 && (p-1)%k == 0
			if v != want {
				t.Fatalf("partial(%d): position %d hidden=%v, want %v", k, p, v, want)
			}
		}
	}
	// The source article's mask[::2]: positions 1, 3, 5, ...
	h := mustCorruption(t, "partial(2)").Hide(Input{Tokens: seq(6)}, nil)
	if !slices.Equal(h, []bool{false, true, false, true, false, true, false}) {
		t.Errorf("partial(2) on 6 tokens = %v", h)
	}
}

func TestCorruptionRandomRate(t *testing.T) {
	for _, spec := range []string{"random(0.15)", "random(0.5)", "drop(0.3)"} {
		c := mustCorruption(t, spec)
		p := map[string]float64{"random(0.15)": 0.15, "random(0.5)": 0.5, "drop(0.3)": 0.3}[spec]
		total, hidden := 0, 0
		for i := 0; i < 200; i++ {
			h := c.Hide(Input{Tokens: seq(50)}, ExampleRNG(9, 0, i))
			total += 50
			hidden += hiddenCount(h)
		}
		rate := float64(hidden) / float64(total)
		sd := math.Sqrt(p * (1 - p) / float64(total))
		if math.Abs(rate-p) > 5*sd {
			t.Errorf("%s hid %.4f of the positions, want %g +- %.4f", spec, rate, p, 5*sd)
		}
	}
	if mustCorruption(t, "drop(0.3)").Replace() != ReplaceUnk || mustCorruption(t, "random(0.3)").Replace() != ReplaceMask {
		t.Error("drop must replace with UNK, random with MASK")
	}
}

func TestCorruptionSpan(t *testing.T) {
	for _, tc := range []struct{ p, l float64 }{{0.15, 3}, {0.3, 2}, {0.5, 5}, {0.2, 1}} {
		c := spanCorruption(tc.p, tc.l)
		hidden, total, spans, spanLen := 0, 0, 0, 0
		for i := 0; i < 100; i++ {
			h := c.Hide(Input{Tokens: seq(400)}, ExampleRNG(3, 0, i))
			total += 400
			hidden += hiddenCount(h)
			// Count spans that end before the sequence does (the last one may be cut).
			run := 0
			for p := 1; p < len(h); p++ {
				if h[p] {
					run++
				} else if run > 0 {
					spans++
					spanLen += run
					run = 0
				}
			}
		}
		rate := float64(hidden) / float64(total)
		if math.Abs(rate-tc.p) > 0.03 {
			t.Errorf("span(%g, %g) hid %.3f of the positions, want about %g", tc.p, tc.l, rate, tc.p)
		}
		// Adjacent spans separated by an empty gap merge, so measured runs are a bit
		// longer than the drawn spans: mean run = l / (1 - P(gap = 0)).
		gapMean := tc.l * (1 - tc.p) / tc.p
		wantRun := tc.l / (1 - 1/(gapMean+1))
		mean := float64(spanLen) / float64(spans)
		if math.Abs(mean-wantRun)/wantRun > 0.1 {
			t.Errorf("span(%g, %g): mean run length %.2f, want about %.2f", tc.p, tc.l, mean, wantRun)
		}
	}
	if _, err := ParseCorruption("span(0.1, 0.5)"); err == nil || !strings.Contains(err.Error(), "mean_len must be in [1, 1e6], got 0.5") {
		t.Errorf("span(0.1, 0.5): err = %v", err)
	}
}

func TestCorruptionDeterminism(t *testing.T) {
	ids := make([]int32, 0, 4*10)
	for i := 0; i < 4; i++ {
		ids = append(ids, seq(9)...)
	}
	b := Batch{IDs: ids, B: 4, T: 10, Lens: []int{10, 7, 1, 4}, Step: 5, Seed: 42}
	corpus := &Corpus{MaskID: 4, UnkID: 3}
	for _, spec := range []string{"random(0.4)", "span(0.4, 2)", "drop(0.4)", "schedule(random, 0, 0.8, 10)"} {
		c := mustCorruption(t, spec)
		out1, h1, err := c.Apply(b, corpus)
		if err != nil {
			t.Fatal(err)
		}
		out2, h2, _ := c.Apply(b, corpus)
		if !slices.Equal(out1, out2) || !slices.Equal(h1, h2) {
			t.Errorf("%s is not deterministic given (seed, step)", spec)
		}
		b2 := b
		b2.Step = 6
		out3, _, _ := c.Apply(b2, corpus)
		if slices.Equal(out1, out3) {
			t.Errorf("%s gives the same corruption at steps 5 and 6", spec)
		}
		repl := int32(4)
		if c.Replace() == ReplaceUnk {
			repl = 3
		}
		for i := 0; i < b.B; i++ {
			for p := 0; p < b.T; p++ {
				j := i*b.T + p
				switch {
				case p >= b.Lens[i] || p == 0:
					if h1[j] || out1[j] != ids[j] {
						t.Errorf("%s changed row %d position %d (BOS or padding)", spec, i, p)
					}
				case h1[j] && out1[j] != repl:
					t.Errorf("%s: hidden position has id %d, want %d", spec, out1[j], repl)
				case !h1[j] && out1[j] != ids[j]:
					t.Errorf("%s changed a visible position", spec)
				}
			}
		}
	}
	// Bad batches are errors.
	c := mustCorruption(t, "full")
	if _, _, err := c.Apply(Batch{IDs: ids, B: 4, T: 9}, corpus); err == nil {
		t.Error("Apply accepted B*T != len(IDs)")
	}
	if _, _, err := c.Apply(Batch{IDs: ids, B: 4, T: 10, Lens: []int{1, 2, 3, 11}}, corpus); err == nil {
		t.Error("Apply accepted a valid length > T")
	}
	if _, _, err := c.Apply(b, nil); err == nil {
		t.Error("Apply accepted a nil Corpus")
	}
}

func TestCorruptionInteractive(t *testing.T) {
	// Vocabulary: 0 pad, 1 bos, 2 eos, 3 unk, 4 mask, 5 我, 6 是, 7 一, 8 个, 9 程.
	words := map[string]int32{"我": 5, "是": 6, "一": 7, "个": 8, "程": 9}
	freq := []int64{0, 0, 0, 0, 0, 90, 80, 3, 2, 1}
	corpus := &Corpus{MaskID: 4, UnkID: 3, Freq: freq, Lookup: func(s string) (int32, bool) { id, ok := words[s]; return id, ok }}
	tokens := []int32{1, 5, 6, 7, 8, 9, 5}

	// freq: 0.2 of a 10-id vocabulary = the 2 most frequent ids (我, 是).
	h := mustCorruption(t, "interactive(freq, 0.2)").Hide(Input{Tokens: tokens, Corpus: corpus}, nil)
	if want := []bool{false, true, true, false, false, false, true}; !slices.Equal(h, want) {
		t.Errorf("interactive(freq, 0.2) = %v, want %v", h, want)
	}
	if err := mustCorruption(t, "interactive(freq, 0.2)").Check(&Corpus{}); err == nil || !strings.Contains(err.Error(), "Corpus.Freq") {
		t.Errorf("freq without frequencies: err = %v", err)
	}

	// keep: everything but 我 and 是 is hidden.
	c := mustCorruption(t, `interactive(keep, "我 是")`)
	if c.String() != `interactive(keep, "我 是")` {
		t.Errorf("String() = %q", c.String())
	}
	h = c.Hide(Input{Tokens: tokens, Corpus: corpus}, nil)
	if want := []bool{false, false, false, true, true, true, false}; !slices.Equal(h, want) {
		t.Errorf("interactive(keep) = %v, want %v", h, want)
	}
	if err := mustCorruption(t, `interactive(keep, "我 猫")`).Check(corpus); err == nil || !strings.Contains(err.Error(), "猫") {
		t.Errorf("keep-list with an unknown token: err = %v", err)
	}
	tok := &Corpus{Tokenize: func(s string) []int32 { return []int32{7} }}
	if h := c.Hide(Input{Tokens: tokens, Corpus: tok}, nil); !slices.Equal(h, []bool{false, true, true, false, true, true, true}) {
		t.Errorf("keep with Tokenize = %v", h)
	}

	// copy: only tokens that occur in the source, each with probability p.
	src := []int32{5, 9, 2}
	h = mustCorruption(t, "interactive(copy, 1)").Hide(Input{Tokens: tokens, Source: src}, ExampleRNG(0, 0, 0))
	if want := []bool{false, true, false, false, false, true, true}; !slices.Equal(h, want) {
		t.Errorf("interactive(copy, 1) = %v, want %v", h, want)
	}
	copyHalf := mustCorruption(t, "interactive(copy, 0.5)")
	long := append([]int32{1}, slices.Repeat([]int32{5, 6}, 500)...)
	n := 0
	for p, v := range copyHalf.Hide(Input{Tokens: long, Source: src}, ExampleRNG(0, 0, 0)) {
		if v && long[p] != 5 {
			t.Fatalf("interactive(copy) hid token %d, which is not in the source", long[p])
		}
		if v {
			n++
		}
	}
	if n < 200 || n > 300 { // Binomial(500, 0.5): 250 +- 5 sd
		t.Errorf("interactive(copy, 0.5) hid %d of 500 copyable tokens", n)
	}
	if _, err := ParseCorruption("interactive(cpy, 0.5)"); err == nil || !strings.Contains(err.Error(), "unknown rule") {
		t.Errorf("interactive(cpy): err = %v", err)
	}
}

func TestCorruptionSchedule(t *testing.T) {
	c := mustCorruption(t, "schedule(random, 0, 0.8, 100)")
	rate := func(step int) float64 {
		hidden := 0
		for i := 0; i < 100; i++ {
			hidden += hiddenCount(c.Hide(Input{Tokens: seq(50), Step: step}, ExampleRNG(1, step, i)))
		}
		return float64(hidden) / 5000
	}
	for step, want := range map[int]float64{0: 0, 50: 0.4, 100: 0.8, 1000: 0.8} {
		if got := rate(step); math.Abs(got-want) > 0.04 {
			t.Errorf("schedule at step %d hides %.3f, want about %g", step, got, want)
		}
	}
	s := mustCorruption(t, "schedule(span, 0, 0.3, 10, 3)")
	if s.String() != "schedule(span, 0, 0.3, 10, 3)" {
		t.Errorf("String() = %q", s.String())
	}
	if p := mustCorruption(t, "schedule(partial, 2, 2, 10)"); hiddenCount(p.Hide(Input{Tokens: seq(4), Step: 5}, ExampleRNG(1, 5, 0))) != 2 {
		t.Error("schedule(partial, 2, 2, 10) at step 5 does not hide every second token")
	}
	d := mustCorruption(t, "schedule(drop, 0, 0.3, 10)")
	if d.Replace() != ReplaceUnk {
		t.Error("schedule(drop, ...) must replace with UNK")
	}
	for spec, want := range map[string]string{
		"schedule(random, 0, 1.5, 10)": "p must be in [0, 1], got 1.5",
		"schedule(random, 0, 1)":       "at least 4 arguments",
		"schedule(spam, 0, 1, 10)":     `did you mean "span"`,
		"schedule(full, 0, 1, 10)":     "full takes no arguments",
		"schedule(random, 0, 1, -5)":   "steps must be >= 0, got -5",
		// partial's k is an integer: the ramp's intermediate rates would be refused at
		// every step, so the schedule is refused at parse time instead of hiding nothing.
		"schedule(partial, 1, 4, 100)": "column 10: schedule: cannot ramp partial from 1 to 4: at rate 2.5, partial: k must be an integer, got 2.5",
	} {
		if _, err := ParseCorruption(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseCorruption(%q) = %v, want an error containing %q", spec, err, want)
		}
	}
}

func TestCorruptionParseErrors(t *testing.T) {
	for spec, want := range map[string]string{
		"partial(0)":        "column 9: partial: k must be >= 1, got 0",
		"partal(2)":         `did you mean "partial"`,
		"full & none":       "input and loss specs are one name with arguments",
		"random":            "random takes 1 argument, got 0",
		"causal":            "known input names: drop, full",
		"random(0.1":        "expected ',' or ')'",
		"interactive(keep)": "interactive takes 2 arguments, got 1",
		// The rule is a word from a short list: a typo gets the closest one.
		"interactive(frq, 0.3)": `column 13: interactive: unknown rule "frq" (did you mean "freq"?); known rules: freq, copy, keep`,
	} {
		_, err := ParseCorruption(spec)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseCorruption(%q) = %v, want an error containing %q", spec, err, want)
		}
	}
}

func TestRegisterCorruption(t *testing.T) {
	unregister(t, KindInput, "test_last")
	err := RegisterCorruption("test_last", "", "hide the last position", func(a Args) (Corruption, error) {
		if err := a.Count(0, 0); err != nil {
			return Corruption{}, err
		}
		return NewCorruption("", ReplaceMask, func(in Input, _ *rand.Rand) []bool {
			h := make([]bool, len(in.Tokens))
			h[len(h)-1] = true
			return h
		}, nil), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c := mustCorruption(t, "test_last")
	if h := c.Hide(Input{Tokens: seq(3)}, nil); !slices.Equal(h, []bool{false, false, false, true}) {
		t.Errorf("test_last = %v", h)
	}
	if h := c.Hide(Input{Tokens: seq(0)}, nil); !slices.Equal(h, []bool{false}) {
		t.Errorf("test_last on BOS only = %v", h)
	}
	if _, err := ParseCorruption("schedule(test_last, 0, 1, 3)"); err == nil || !strings.Contains(err.Error(), "test_last takes no arguments") {
		t.Errorf("schedule of a strategy without a rate: err = %v", err)
	}
}
