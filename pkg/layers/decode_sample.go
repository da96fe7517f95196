package layers

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// Sampling chooses each generated token from the step's logits, as Hugging Face's
// generate with do_sample: the logits are divided by Temperature, then only the TopK
// most likely tokens are kept (ties at the k-th logit kept), then only the smallest set
// of most likely tokens whose probabilities reach TopP (a token is kept when the tokens
// more likely than it sum to less than TopP: at least one always is), and a token is
// drawn from the softmax of what is left. Temperature 0 is greedy decoding (the first
// largest logit), whatever TopK and TopP say.
//
// The draws come from a PCG generator seeded with Seed at the start of each Generate
// call, one draw per unfinished row per step in row order: the same model, prompts and
// Sampling give the same tokens.
type Sampling struct {
	Temperature float64 // 0: greedy; > 0: sample
	TopK        int     // > 0: keep the TopK most likely tokens; 0: all
	TopP        float64 // in (0, 1): nucleus sampling; 0 or 1: all
	Seed        uint64
}

// Validate reports a setting outside its range, naming it.
func (s Sampling) Validate() error {
	switch {
	case s.Temperature < 0 || math.IsNaN(s.Temperature) || math.IsInf(s.Temperature, 0):
		return fmt.Errorf("layers: temperature must be >= 0 (0: greedy), got %g", s.Temperature)
	case s.TopK < 0:
		return fmt.Errorf("layers: top-k must be >= 0 (0: no limit), got %d", s.TopK)
	case !(s.TopP >= 0 && s.TopP <= 1):
		return fmt.Errorf("layers: top-p must be in [0, 1] (0 or 1: no limit), got %g", s.TopP)
	}
	return nil
}

// Greedy reports whether s decodes greedily.
func (s Sampling) Greedy() bool { return s.Temperature == 0 }

// sampler draws the tokens of one Generate call.
type sampler struct {
	s     Sampling
	rng   *rand.Rand
	order []int
	probs []float64
	heap  []float32
}

func newSampler(s Sampling) *sampler {
	return &sampler{s: s, rng: rand.New(rand.NewPCG(s.Seed, 0x6d61736b6c6162))}
}

// firstMax returns the index of the first largest value.
func firstMax(logits []float32) int32 {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	return int32(best)
}

// kthLargest returns the k-th largest of xs (1 <= k <= len(xs)), with a min-heap of
// the k largest: O(V log k), not a sort of the vocabulary.
func (sp *sampler) kthLargest(xs []float32, k int) float32 {
	h := sp.heap[:0]
	down := func() {
		for i := 0; ; {
			c := 2*i + 1
			if c >= len(h) {
				return
			}
			if c+1 < len(h) && h[c+1] < h[c] {
				c++
			}
			if h[i] <= h[c] {
				return
			}
			h[i], h[c] = h[c], h[i]
			i = c
		}
	}
	for _, v := range xs {
		switch {
		case len(h) < k:
			h = append(h, v)
			for i := len(h) - 1; i > 0 && h[(i-1)/2] > h[i]; i = (i - 1) / 2 {
				h[i], h[(i-1)/2] = h[(i-1)/2], h[i]
			}
		case v > h[0]:
			h[0] = v
			down()
		}
	}
	sp.heap = h
	return h[0]
}

// support returns the tokens that sampling may draw from logits and their
// probabilities after temperature, top-k and top-p (renormalised): most likely first
// (ties in id order) when top-k or top-p cut, else every token in id order. Only the
// tokens that can matter are sorted: top-k's survivors, and for top-p the tokens above
// a probability cutoff that is lowered until they reach TopP (the most likely tokens
// are the same whichever cutoff finds them, so the support is exact).
func (sp *sampler) support(logits []float32) ([]int, []float64) {
	s := sp.s
	kth := float32(math.Inf(-1))
	if s.TopK > 0 && s.TopK < len(logits) {
		kth = sp.kthLargest(logits, s.TopK)
	}
	top := float64(logits[firstMax(logits)]) / s.Temperature
	sum := sp.refill(logits, kth, top)
	order, probs := sp.order, sp.probs
	if s.TopP <= 0 || s.TopP >= 1 {
		if s.TopK > 0 && s.TopK < len(logits) {
			sortByLogit(logits, order, probs)
		}
		for i := range probs {
			probs[i] /= sum
		}
		return order, probs
	}
	// Top-p over the survivors: the candidates above a cutoff (relative to the largest
	// probability, 1), sorted; the cutoff is lowered until their prefix sums reach TopP.
	for cut := 1e-4; ; cut *= 1e-4 {
		n := 0
		for j := range order {
			if probs[j] >= cut {
				order[n], probs[n] = order[j], probs[j]
				n++
			}
		}
		all := n == len(order) || cut < 1e-300
		if all && n < len(order) {
			sp.refill(logits, kth, top)
			order, probs, n = sp.order, sp.probs, len(sp.order)
		}
		sortByLogit(logits, order[:n], probs[:n])
		above, kept := 0.0, 0
		for kept < n && above < s.TopP*sum {
			above += probs[kept]
			kept++
		}
		if above >= s.TopP*sum || all {
			order, probs = order[:kept], probs[:kept]
			for i := range probs {
				probs[i] /= above
			}
			return order, probs
		}
		sp.refill(logits, kth, top) // not enough mass above the cutoff: every survivor again
		order, probs = sp.order, sp.probs
	}
}

// refill sets the survivors of top-k (logits >= kth) in id order with their
// unnormalised probabilities exp(logit/T - top), and returns their sum.
func (sp *sampler) refill(logits []float32, kth float32, top float64) float64 {
	sp.order, sp.probs = sp.order[:0], sp.probs[:0]
	sum := 0.0
	for i, v := range logits {
		if v >= kth {
			p := math.Exp(float64(v)/sp.s.Temperature - top)
			sp.order, sp.probs = append(sp.order, i), append(sp.probs, p)
			sum += p
		}
	}
	return sum
}

// sortByLogit sorts the tokens and their probabilities together, most likely first,
// ties in id order.
func sortByLogit(logits []float32, order []int, probs []float64) {
	idx := make([]int, len(order))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		la, lb := logits[order[idx[a]]], logits[order[idx[b]]]
		return la > lb || (la == lb && order[idx[a]] < order[idx[b]])
	})
	o, p := append([]int(nil), order...), append([]float64(nil), probs...)
	for i, j := range idx {
		order[i], probs[i] = o[j], p[j]
	}
}

// next chooses the next token from one row's logits.
func (sp *sampler) next(logits []float32) int32 {
	if sp.s.Greedy() {
		return firstMax(logits)
	}
	order, probs := sp.support(logits)
	u := sp.rng.Float64()
	for i, p := range probs {
		if u < p {
			return int32(order[i])
		}
		u -= p
	}
	return int32(order[len(order)-1])
}
