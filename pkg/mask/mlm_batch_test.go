package mask

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// TestMLMSpecs: the mlm strategies parse into the MLM they name, and Apply (decoder-input
// corruption) refuses them.
func TestMLMSpecs(t *testing.T) {
	for spec, want := range map[string]MLM{
		"mlm(0.15)":            BertMLM(),
		"mlm(0.3, 1, 0)":       {Rate: 0.3, MaskProb: 1},
		"mlm_span(0.15, 3)":    {Rate: 0.15, MaskProb: 0.8, RandomProb: 0.1, SpanMean: 3},
		"mlm_word(0.2)":        {Rate: 0.2, MaskProb: 0.8, RandomProb: 0.1, WholeWord: true},
		"mlm(0.15, 0.8, 0.10)": BertMLM(),
	} {
		c, err := ParseCorruption(spec)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		if got, ok := c.MLM(); !ok || got != want {
			t.Errorf("%s: MLM() = %+v, %v; want %+v", spec, got, ok, want)
		}
		if _, _, err := c.Apply(Batch{IDs: []int32{1, 2}, B: 1, T: 2}, &Corpus{}); err == nil || !strings.Contains(err.Error(), "model kind bert") {
			t.Errorf("%s: Apply = %v, want a refusal naming model kind bert", spec, err)
		}
	}
	for _, bad := range []string{"mlm", "mlm(1.5)", "mlm(0.15, 0.9, 0.2)", "mlm_span(0.15, 0.5)", "mlm_word(0.1, 2)"} {
		if _, err := ParseCorruption(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	if c, _ := ParseCorruption("random(0.1)"); func() bool { _, ok := c.MLM(); return ok }() {
		t.Error("random(0.1) says it is an MLM corruption")
	}
}

// TestMLMApplyBatch: over a large batch, 15% of the choosable tokens are chosen, 80% of
// those become MASK and 10% change to another id; padding and each row's last token
// are never chosen or changed; weights are 1 exactly on the chosen; the same seed and
// step give the same batch, another step another one.
func TestMLMApplyBatch(t *testing.T) {
	const B, T, V, maskID = 200, 40, 1000, 3
	b := MLMBatch{B: B, T: T, Lens: make([]int, B), IDs: make([]int32, B*T), KeepLast: true, MaskID: maskID, Vocab: V, Seed: 7, Step: 1}
	for i := range B {
		b.Lens[i] = 10 + i%(T-10)
		for p := range b.Lens[i] {
			b.IDs[i*T+p] = int32(10 + (i*31+p*7)%(V-10))
		}
	}
	in, w, err := BertMLM().ApplyBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	var choosable, chosen, masked, changed float64
	for i := range B {
		for p := range T {
			k := i*T + p
			if p >= b.Lens[i]-1 {
				if w[k] != 0 || in[k] != b.IDs[k] {
					t.Fatalf("row %d position %d (last or padding) chosen or changed", i, p)
				}
				continue
			}
			choosable++
			if w[k] == 0 {
				if in[k] != b.IDs[k] {
					t.Fatalf("row %d position %d changed but not chosen", i, p)
				}
				continue
			}
			chosen++
			switch {
			case in[k] == maskID:
				masked++
			case in[k] != b.IDs[k]:
				changed++
			}
		}
	}
	for _, c := range []struct {
		what      string
		got, want float64
	}{{"chosen", chosen / choosable, 0.15}, {"masked", masked / chosen, 0.8}, {"random", changed / chosen, 0.1}} {
		if math.Abs(c.got-c.want) > 0.03 {
			t.Errorf("%s fraction %.3f, want %.2f ± 0.03", c.what, c.got, c.want)
		}
	}
	in2, w2, _ := BertMLM().ApplyBatch(b)
	if !slices.Equal(in, in2) || !slices.Equal(w, w2) {
		t.Error("the same seed and step gave another batch")
	}
	b.Step = 2
	if in3, _, _ := BertMLM().ApplyBatch(b); slices.Equal(in, in3) {
		t.Error("another step gave the same batch")
	}
	b.Lens = b.Lens[:1]
	if _, _, err := BertMLM().ApplyBatch(b); err == nil {
		t.Error("a batch with too few lengths: no error")
	}
}
