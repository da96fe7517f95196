package mask

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// BERT's MLM: about 15% of the choosable tokens chosen, of them about 80% [MASK], 10%
// random and 10% unchanged; kept positions never chosen; reproducible from the RNG.
func TestBertMLMStatistics(t *testing.T) {
	m := BertMLM()
	const n, maskID, V = 200, 1, 1000
	toks := make([]int32, n)
	keep := make([]bool, n)
	for i := range toks {
		toks[i] = int32(100 + i)
	}
	keep[0], keep[n-1] = true, true // [CLS], [SEP]
	var chosen, masked, random, same, total int
	for ex := range 500 {
		res, err := m.Apply(MLMInput{Tokens: toks, Keep: keep, MaskID: maskID, Vocab: V}, ExampleRNG(7, 0, ex))
		if err != nil {
			t.Fatal(err)
		}
		total += n - 2
		if res.Chosen[0] || res.Chosen[n-1] {
			t.Fatal("a kept position was chosen")
		}
		for p, c := range res.Chosen {
			switch {
			case !c:
				if res.Inputs[p] != toks[p] {
					t.Fatalf("position %d not chosen but changed", p)
				}
			case res.Inputs[p] == maskID:
				chosen++
				masked++
			case res.Inputs[p] == toks[p]:
				chosen++
				same++
			default:
				chosen++
				random++
			}
		}
	}
	near := func(what string, got, want, tol float64) {
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.4f, want %.2f ± %.3f", what, got, want, tol)
		}
	}
	near("chosen fraction", float64(chosen)/float64(total), 0.15, 0.005)
	near("[MASK] fraction of chosen", float64(masked)/float64(chosen), 0.8, 0.01)
	near("random fraction of chosen", float64(random)/float64(chosen), 0.1, 0.01)
	near("unchanged fraction of chosen", float64(same)/float64(chosen), 0.1, 0.01)
	a, _ := m.Apply(MLMInput{Tokens: toks, MaskID: maskID, Vocab: V}, ExampleRNG(7, 3, 4))
	b, _ := m.Apply(MLMInput{Tokens: toks, MaskID: maskID, Vocab: V}, ExampleRNG(7, 3, 4))
	for i := range a.Inputs {
		if a.Inputs[i] != b.Inputs[i] || a.Chosen[i] != b.Chosen[i] {
			t.Fatal("the same RNG gave different corruptions")
		}
	}
}

// Whole-word MLM chooses every token of a word or none; span MLM chooses runs whose
// mean length is SpanMean and whose fraction is Rate.
func TestMLMWholeWordAndSpans(t *testing.T) {
	words := []int32{0, 0, 1, 2, 2, 2, 3, 4, 4, 5}
	toks := make([]int32, len(words))
	m := MLM{Rate: 0.3, MaskProb: 1, WholeWord: true}
	for ex := range 300 {
		res, err := m.Apply(MLMInput{Tokens: toks, Words: words, MaskID: 1}, rand.New(rand.NewPCG(1, uint64(ex))))
		if err != nil {
			t.Fatal(err)
		}
		for p := 1; p < len(words); p++ {
			if words[p] == words[p-1] && res.Chosen[p] != res.Chosen[p-1] {
				t.Fatalf("word %d half chosen: %v", words[p], res.Chosen)
			}
		}
	}
	s := MLM{Rate: 0.2, MaskProb: 1, SpanMean: 3}
	long := make([]int32, 20000)
	res, err := s.Apply(MLMInput{Tokens: long, MaskID: 1}, rand.New(rand.NewPCG(2, 3)))
	if err != nil {
		t.Fatal(err)
	}
	chosen, runs := 0, 0
	for p, c := range res.Chosen {
		if c {
			chosen++
			if p == 0 || !res.Chosen[p-1] {
				runs++
			}
		}
	}
	if f := float64(chosen) / float64(len(long)); math.Abs(f-0.2) > 0.02 {
		t.Errorf("span MLM chose a fraction %.3f, want 0.2", f)
	}
	// Adjacent spans merge when a gap of 0 is drawn, so runs are a little longer.
	if l := float64(chosen) / float64(runs); l < 3 || l > 4.5 {
		t.Errorf("span MLM runs have mean length %.2f, want about 3", l)
	}
}

// MLM's errors name the bad value.
func TestMLMErrors(t *testing.T) {
	for _, c := range []struct {
		m    MLM
		in   MLMInput
		want string
	}{
		{MLM{Rate: 1.5}, MLMInput{}, "rate"},
		{MLM{Rate: 0.1, MaskProb: 0.9, RandomProb: 0.2}, MLMInput{}, "sum <= 1"},
		{MLM{Rate: 0.1, SpanMean: 0.5}, MLMInput{}, "span mean"},
		{MLM{Rate: 0.1, WholeWord: true}, MLMInput{Tokens: []int32{1}}, "needs MLMInput.Words"},
		{MLM{Rate: 0.1, RandomProb: 0.1}, MLMInput{Tokens: []int32{1}}, "Vocab"},
		{BertMLM(), MLMInput{Tokens: []int32{1, 2}, Words: []int32{0}, Vocab: 5}, "1 word ids for 2 tokens"},
	} {
		if _, err := c.m.Apply(c.in, rand.New(rand.NewPCG(1, 1))); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want an error about %q", c.m, err, c.want)
		}
	}
}
