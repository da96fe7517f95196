package layers

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
)

// sampleModel returns a Generator factory over one random Llama-style model.
func sampleModel(t *testing.T) func(s Sampling) *Generator {
	cfg := generationCases(t)[10].cfg // arch/llama
	store := model.NewStore()
	_ = store.SetRNGStateFromSeed(7)
	return func(s Sampling) *Generator {
		g, err := NewGenerator(backend.Must(), store, cfg, GenerateOptions{BOS: 1, EOS: 2, PAD: 0, MaxNewTokens: 10, MaxLen: 16, Sampling: s, KeepLogits: true})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
}

func generate(t *testing.T, g *Generator) *Generation {
	t.Helper()
	_, prompts := greedyInputs(KindDecoder, 6, 13)
	out, err := g.Generate(nil, prompts)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Sampling's limits are greedy decoding: top-k 1 at any temperature, and a temperature
// near 0; the same seed gives the same tokens, another seed (at temperature 1) others.
func TestSamplingProperties(t *testing.T) {
	gen := sampleModel(t)
	greedy := fmt.Sprint(generate(t, gen(Sampling{})).Tokens)
	for _, s := range []Sampling{{Temperature: 1.5, TopK: 1, Seed: 3}, {Temperature: 1e-6, Seed: 4}, {Temperature: 1e-6, TopP: 0.9, Seed: 5}} {
		if got := fmt.Sprint(generate(t, gen(s)).Tokens); got != greedy {
			t.Errorf("%+v: %s, greedy %s", s, got, greedy)
		}
	}
	hot := Sampling{Temperature: 1, Seed: 11}
	a, b := fmt.Sprint(generate(t, gen(hot)).Tokens), fmt.Sprint(generate(t, gen(hot)).Tokens)
	if a != b {
		t.Fatalf("same seed, different tokens:\n%s\n%s", a, b)
	}
	hot.Seed = 12
	if c := fmt.Sprint(generate(t, gen(hot)).Tokens); c == a || a == greedy {
		t.Fatalf("sampling at temperature 1 does not depend on the seed or equals greedy: seed 11 %s, seed 12 %s, greedy %s", a, c, greedy)
	}
}

// Every token drawn with top-k or top-p lies in the support computed from that step's
// logits (the k largest; the smallest most-likely set reaching p), and the sampler
// draws from all of it.
func TestSamplingSupport(t *testing.T) {
	gen := sampleModel(t)
	for _, s := range []Sampling{{Temperature: 1, TopK: 3}, {Temperature: 2, TopP: 0.6}, {Temperature: 0.7, TopK: 4, TopP: 0.8}} {
		seen := map[int32]bool{}
		for seed := range uint64(20) {
			s.Seed = seed
			out := generate(t, gen(s))
			for step, rows := range out.Logits {
				for b, logits := range rows {
					if logits == nil {
						continue
					}
					tok := out.Tokens[b][step]
					if !inSupport(logits, s, tok) {
						t.Fatalf("%+v: step %d row %d drew %d outside its support (logits %v)", s, step, b, tok, logits)
					}
					seen[tok] = true
				}
			}
		}
		if len(seen) < 3 {
			t.Fatalf("%+v: only tokens %v drawn", s, seen)
		}
	}
}

// inSupport recomputes the support independently: a token is kept by top-k when fewer
// than k logits are larger, and by top-p when the probabilities larger than its own sum
// (among the top-k survivors) to less than p.
func inSupport(logits []float32, s Sampling, tok int32) bool {
	x := float64(logits[tok])
	larger := 0
	for _, v := range logits {
		if float64(v) > x {
			larger++
		}
	}
	if s.TopK > 0 && larger >= s.TopK {
		return false
	}
	if s.TopP == 0 || s.TopP == 1 {
		return true
	}
	kth := math.Inf(-1)
	if s.TopK > 0 {
		sorted := append([]float32(nil), logits...)
		for i := range sorted { // selection of the k-th largest
			for j := i + 1; j < len(sorted); j++ {
				if sorted[j] > sorted[i] {
					sorted[i], sorted[j] = sorted[j], sorted[i]
				}
			}
		}
		kth = float64(sorted[s.TopK-1])
	}
	var z, above float64
	for _, v := range logits {
		if float64(v) >= kth {
			p := math.Exp(float64(v) / s.Temperature)
			z += p
			if float64(v) > x {
				above += p
			}
		}
	}
	return above/z < s.TopP+1e-12
}

// A mask under which a cache would differ from recomputing ("pad" alone lets every
// position see later ones) makes the generator recompute the prefix, and say why.
func TestGenerateRefusesCacheForBidirectionalMask(t *testing.T) {
	cfg := variants(KindDecoder)[0]
	cfg.Self = mustParse(t, "pad")
	g, err := NewGenerator(backend.Must(), model.NewStore(), cfg, GenerateOptions{BOS: 1, EOS: 2, MaxNewTokens: 3})
	if err != nil {
		t.Fatal(err)
	}
	if ok, why := g.Cached(); ok || !strings.Contains(why, `self mask "pad"`) {
		t.Fatalf("Cached() = %v, %q", ok, why)
	}
	if _, err := g.Generate(nil, [][]int32{{1, 4}}); err != nil {
		t.Fatal(err)
	}
	// The cross-attention band follows the diagonal of the valid lengths: a decoder
	// row's keys move as the decoded length grows.
	s2s := variants(KindSeq2Seq)[0]
	s2s.Cross = mustParse(t, "band(1)")
	if why := cacheBlocker(backend.Must(), s2s.WithDefaults()); !strings.Contains(why, `cross mask "band(1)" changes the row`) {
		t.Fatalf("band depends on the decoded length, yet cacheBlocker says %q", why)
	}
	s2s.Cross = mustParse(t, "pad")
	if why := cacheBlocker(backend.Must(), s2s.WithDefaults()); why != "" {
		t.Fatalf("cross mask pad: %q", why)
	}
	for _, bad := range []GenerateOptions{{MaxNewTokens: 0}, {MaxNewTokens: 1, Sampling: Sampling{Temperature: -1}},
		{MaxNewTokens: 1, Sampling: Sampling{TopP: 1.5}}, {MaxNewTokens: 1, Sampling: Sampling{TopK: -2}}} {
		if _, err := NewGenerator(backend.Must(), model.NewStore(), variants(KindDecoder)[0], bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// The sampler's support equals the one a full sort gives, also when top-p needs tokens
// far below the most likely one (a long flat tail), with ties kept in id order.
func TestSamplerSupportMatchesFullSort(t *testing.T) {
	logits := make([]float32, 30000)
	for i := range logits {
		logits[i] = -10 - float32(i%7)*0.001 // a tail each e^-10 of the top
	}
	logits[123], logits[4567], logits[8] = 0, -1, -1
	for _, s := range []Sampling{{Temperature: 1, TopP: 0.5}, {Temperature: 1, TopP: 0.999}, {Temperature: 0.5, TopK: 40, TopP: 0.7},
		{Temperature: 1, TopK: 3}, {Temperature: 2, TopK: 5, TopP: 0.95}, {Temperature: 1}} {
		order, probs := newSampler(s).support(logits)
		wantOrder, wantProbs := fullSortSupport(logits, s)
		if len(order) != len(wantOrder) {
			t.Fatalf("%+v: %d tokens, want %d", s, len(order), len(wantOrder))
		}
		for i := range order {
			if order[i] != wantOrder[i] || math.Abs(probs[i]-wantProbs[i]) > 1e-12 {
				t.Fatalf("%+v: token %d is %d (p %g), want %d (p %g)", s, i, order[i], probs[i], wantOrder[i], wantProbs[i])
			}
		}
	}
}

// fullSortSupport is the support by the book: sort every token, most likely first
// (ties in id order; without any cut, id order), keep the top k (ties kept), then the
// most likely ones until the mass before a token reaches p, renormalised.
func fullSortSupport(logits []float32, s Sampling) ([]int, []float64) {
	order := make([]int, len(logits))
	for i := range order {
		order[i] = i
	}
	cut := (s.TopK > 0 && s.TopK < len(logits)) || (s.TopP > 0 && s.TopP < 1)
	if cut {
		sort.SliceStable(order, func(a, b int) bool { return logits[order[a]] > logits[order[b]] })
	}
	if s.TopK > 0 && s.TopK < len(logits) {
		kth := logits[order[s.TopK-1]]
		n := 0
		for n < len(order) && logits[order[n]] >= kth {
			n++
		}
		order = order[:n]
	}
	top := math.Inf(-1)
	for _, i := range order {
		top = math.Max(top, float64(logits[i])/s.Temperature)
	}
	probs := make([]float64, len(order))
	sum := 0.0
	for j, i := range order {
		probs[j] = math.Exp(float64(logits[i])/s.Temperature - top)
		sum += probs[j]
	}
	for j := range probs {
		probs[j] /= sum
	}
	if s.TopP > 0 && s.TopP < 1 {
		above, n := 0.0, 0
		for n < len(probs) && above < s.TopP {
			above += probs[n]
			n++
		}
		order, probs = order[:n], probs[:n]
		for j := range probs {
			probs[j] /= above
		}
	}
	return order, probs
}

// An LSTM decoder has no attention to cache: the generator recomputes, and decodes what
// Greedy decodes.
func TestGenerateLSTMRecomputes(t *testing.T) {
	cfg := Config{Kind: KindLSTM, Vocab: 12, DModel: 8, Heads: 2, EncLayers: 1, DecLayers: 2}
	store := model.NewStore()
	_ = store.SetRNGStateFromSeed(3)
	g, err := NewGenerator(backend.Must(), store, cfg, GenerateOptions{BOS: 1, EOS: 2, MaxNewTokens: 20, MaxLen: 9, SrcLen: 8})
	if err != nil {
		t.Fatal(err)
	}
	if ok, why := g.Cached(); ok || !strings.Contains(why, "lstm") {
		t.Fatalf("Cached() = %v, %q", ok, why)
	}
	src, prompts := greedyInputs(KindLSTM, 4, cfg.Vocab)
	got, err := g.Generate(src, prompts)
	if err != nil {
		t.Fatal(err)
	}
	want, err := GreedyDecode(backend.Must(), store, cfg, GreedyOptions{BOS: 1, EOS: 2, MaxLen: 9, SrcLen: 8}, src, prompts)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got.Tokens) != fmt.Sprint(want) {
		t.Fatalf("generator %v, Greedy %v", got.Tokens, want)
	}
}
