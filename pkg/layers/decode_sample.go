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

// support returns the tokens that sampling may draw from logits, most likely first,
// and their probabilities after temperature, top-k and top-p (renormalised).
func (sp *sampler) support(logits []float32) ([]int, []float64) {
	s := sp.s
	sp.order = sp.order[:0]
	for i := range logits {
		sp.order = append(sp.order, i)
	}
	order := sp.order
	sort.SliceStable(order, func(a, b int) bool { return logits[order[a]] > logits[order[b]] })
	if s.TopK > 0 && s.TopK < len(order) {
		kth := logits[order[s.TopK-1]]
		n := s.TopK
		for n < len(order) && logits[order[n]] == kth {
			n++
		}
		order = order[:n]
	}
	// Softmax of logits/T over the kept tokens, in float64.
	sp.probs = sp.probs[:0]
	top := float64(logits[order[0]]) / s.Temperature
	sum := 0.0
	for _, i := range order {
		p := math.Exp(float64(logits[i])/s.Temperature - top)
		sp.probs = append(sp.probs, p)
		sum += p
	}
	probs := sp.probs
	for i := range probs {
		probs[i] /= sum
	}
	if s.TopP > 0 && s.TopP < 1 {
		above, n := 0.0, 0
		for n < len(probs) && above < s.TopP {
			above += probs[n]
			n++
		}
		order, probs = order[:n], probs[:n]
		sum = 0
		for _, p := range probs {
			sum += p
		}
		for i := range probs {
			probs[i] /= sum
		}
	}
	return order, probs
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
