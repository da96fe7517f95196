package mask

import (
	"fmt"
	"math/rand/v2"
)

// MLM is a masked-language-model corruption, BERT's pretraining objective (Devlin et al.
// 2019) and its variants: it chooses positions to predict and replaces each chosen
// token by MaskID with probability MaskProb, by a uniformly random id with probability
// RandomProb, and leaves it unchanged otherwise. The loss is taken on the chosen
// positions only (their weights are MLMResult.Chosen), against the original tokens.
//
// Positions are chosen by units: single tokens, or whole words (WholeWord, with
// MLMInput.Words, e.g. CC-CEDICT segmentation of Chinese text: the word ids reach this
// package as a plain per-token slice), each unit with probability Rate as Hugging Face's
// DataCollatorForLanguageModeling draws tokens, or, with SpanMean > 0, in spans of units
// of geometric length with mean SpanMean covering a fraction Rate of them (SpanBERT's
// idea; the spans' start is stationary, as span(p, mean_len)'s). Positions MLMInput.Keep
// marks ([CLS], [SEP], padding) are never chosen.
type MLM struct {
	Rate       float64 // fraction of units chosen (BERT: 0.15)
	MaskProb   float64 // of the chosen tokens, the fraction replaced by the mask id (0.8)
	RandomProb float64 // ... replaced by a random id (0.1); the rest stay unchanged
	SpanMean   float64 // > 0: choose spans of units with this mean length (>= 1)
	WholeWord  bool    // units are MLMInput.Words' words, not tokens
}

// BertMLM is BERT's objective: 15% of the tokens, 80% of them [MASK], 10% random, 10%
// unchanged.
func BertMLM() MLM { return MLM{Rate: 0.15, MaskProb: 0.8, RandomProb: 0.1} }

// Validate reports what is wrong with m.
func (m MLM) Validate() error {
	switch {
	case !(m.Rate >= 0 && m.Rate <= 1):
		return fmt.Errorf("mask: mlm rate must be in [0, 1], got %g", m.Rate)
	case !(m.MaskProb >= 0 && m.RandomProb >= 0 && m.MaskProb+m.RandomProb <= 1):
		return fmt.Errorf("mask: mlm mask and random probabilities must be >= 0 with a sum <= 1, got %g and %g", m.MaskProb, m.RandomProb)
	case m.SpanMean != 0 && !(m.SpanMean >= 1 && m.SpanMean <= 1e6):
		return fmt.Errorf("mask: mlm span mean length must be 0 (no spans) or in [1, 1e6], got %g", m.SpanMean)
	}
	return nil
}

// MLMInput is one example as MLM.Apply sees it.
type MLMInput struct {
	Tokens []int32 // the example's valid token ids
	// Words, when not nil, gives each token's word id (len(Tokens)): consecutive tokens
	// with the same id form one word (WholeWord).
	Words []int32
	// Keep, when not nil, marks the positions never chosen (len(Tokens)).
	Keep   []bool
	MaskID int32 // the id of [MASK]
	Vocab  int   // random replacements are drawn uniformly from 0..Vocab-1
}

// MLMResult is one corrupted example.
type MLMResult struct {
	Inputs []int32 // the model's inputs: Tokens with the chosen ones replaced (or not)
	Chosen []bool  // the positions to predict (the loss weights)
}

// Apply corrupts one example, drawing all randomness from rng (mask.ExampleRNG makes
// it reproducible per step and example).
func (m MLM) Apply(in MLMInput, rng *rand.Rand) (MLMResult, error) {
	if err := m.Validate(); err != nil {
		return MLMResult{}, err
	}
	n := len(in.Tokens)
	switch {
	case in.Words != nil && len(in.Words) != n:
		return MLMResult{}, fmt.Errorf("mask: mlm: %d word ids for %d tokens", len(in.Words), n)
	case in.Keep != nil && len(in.Keep) != n:
		return MLMResult{}, fmt.Errorf("mask: mlm: %d keep flags for %d tokens", len(in.Keep), n)
	case m.WholeWord && in.Words == nil:
		return MLMResult{}, fmt.Errorf("mask: mlm: whole-word masking needs MLMInput.Words")
	case m.RandomProb > 0 && in.Vocab < 1:
		return MLMResult{}, fmt.Errorf("mask: mlm: random replacements need MLMInput.Vocab >= 1, got %d", in.Vocab)
	}
	// Units: [start, end) runs of choosable positions (a word, or a token).
	type unit struct{ start, end int }
	var units []unit
	for i := 0; i < n; i++ {
		if in.Keep != nil && in.Keep[i] {
			continue
		}
		j := i + 1
		if m.WholeWord {
			for j < n && in.Words[j] == in.Words[i] && (in.Keep == nil || !in.Keep[j]) {
				j++
			}
		}
		units = append(units, unit{i, j})
		i = j - 1
	}
	pick := make([]bool, len(units))
	switch {
	case m.SpanMean > 0 && m.Rate > 0 && m.Rate < 1:
		gapMean := m.SpanMean * (1 - m.Rate) / m.Rate
		inSpan := rng.Float64() < m.Rate
		for u := 0; u < len(units); {
			if inSpan {
				k := 1 + geometric(rng, 1/m.SpanMean)
				for j := 0; j < k && u < len(units); j++ {
					pick[u] = true
					u++
				}
			} else {
				u += geometric(rng, 1/(gapMean+1))
			}
			inSpan = !inSpan
		}
	default:
		for u := range units {
			pick[u] = m.Rate >= 1 || (m.Rate > 0 && rng.Float64() < m.Rate)
		}
	}
	res := MLMResult{Inputs: append([]int32(nil), in.Tokens...), Chosen: make([]bool, n)}
	for u, un := range units {
		if !pick[u] {
			continue
		}
		for p := un.start; p < un.end; p++ {
			res.Chosen[p] = true
			switch r := rng.Float64(); {
			case r < m.MaskProb:
				res.Inputs[p] = in.MaskID
			case r < m.MaskProb+m.RandomProb:
				res.Inputs[p] = int32(rng.IntN(in.Vocab))
			}
		}
	}
	return res, nil
}

// MLM returns the masked-LM corruption of an mlm, mlm_span or mlm_word strategy.
func (c Corruption) MLM() (MLM, bool) {
	if c.mlm == nil {
		return MLM{}, false
	}
	return *c.mlm, true
}

// mlmCorruption wraps m as an input strategy (its Hide is the chosen positions; Apply
// refuses it: ApplyBatch corrupts a BERT's inputs).
func mlmCorruption(m MLM) Corruption {
	c := NewCorruption("", ReplaceMask, func(in Input, rng *rand.Rand) []bool {
		words := make([]int32, len(in.Tokens)) // each token its own word: no segmentation here
		for i := range words {
			words[i] = int32(i)
		}
		r, _ := m.Apply(MLMInput{Tokens: in.Tokens, Words: words, Vocab: 1}, rng)
		return r.Chosen
	}, nil)
	c.mlm = &m
	return c
}

func init() {
	mustRegister(RegisterCorruption("mlm", "(rate[, mask, random])",
		"masked-LM corruption of a BERT's inputs (model kind bert): choose each token with probability rate; of the chosen, "+
			"a fraction mask becomes MASK, random a random id, the rest stay (defaults 0.8, 0.1: BERT's mlm(0.15)); the loss is on the chosen",
		func(a Args) (Corruption, error) {
			if err := a.Count(1, 3); err != nil {
				return Corruption{}, err
			}
			m := BertMLM()
			var err error
			for i, dst := range []*float64{&m.Rate, &m.MaskProb, &m.RandomProb} {
				if i < a.Len() {
					if *dst, err = a.Prob(i, []string{"rate", "mask", "random"}[i]); err != nil {
						return Corruption{}, err
					}
				}
			}
			if err := m.Validate(); err != nil {
				return Corruption{}, err
			}
			return mlmCorruption(m), nil
		}))
	mustRegister(RegisterCorruption("mlm_span", "(rate, mean_len)",
		"masked-LM corruption in spans (SpanBERT): spans of geometric length with mean mean_len cover a fraction rate of the tokens; 80/10/10 as mlm",
		func(a Args) (Corruption, error) {
			if err := a.Count(2, 2); err != nil {
				return Corruption{}, err
			}
			m := BertMLM()
			var err error
			if m.Rate, err = a.Prob(0, "rate"); err != nil {
				return Corruption{}, err
			}
			if m.SpanMean, err = a.Float(1, "mean_len"); err != nil {
				return Corruption{}, err
			}
			if err := m.Validate(); err != nil {
				return Corruption{}, err
			}
			return mlmCorruption(m), nil
		}))
	mustRegister(RegisterCorruption("mlm_word", "(rate)",
		"whole-word masked-LM corruption: choose each word (CC-CEDICT segmentation of Chinese text) with probability rate and all its tokens; 80/10/10 as mlm",
		probArg("rate", func(p float64) Corruption {
			m := BertMLM()
			m.Rate, m.WholeWord = p, true
			return mlmCorruption(m)
		})))
}

// MLMBatch is a padded batch of token rows as ApplyBatch takes it.
type MLMBatch struct {
	IDs  []int32 // [B*T] row-major token ids
	B, T int
	Lens []int // valid length of each row (<= T)
	// Words, for whole-word masking, holds each row's word ids (Lens[i] of them).
	Words [][]int32
	// KeepLast keeps each row's last valid position (its EOS or [SEP]) unchosen.
	KeepLast bool
	MaskID   int32
	Vocab    int    // random replacements are drawn from 0..Vocab-1
	Seed     uint64 // example i uses ExampleRNG(Seed, Step, i)
	Step     int
}

// ApplyBatch corrupts every row of b with m: the model's inputs (b.IDs with the chosen
// tokens replaced, padding unchanged) and the chosen positions as loss weights (1 where
// chosen, 0 elsewhere and on padding), [B*T] each. Deterministic given (Seed, Step).
func (m MLM) ApplyBatch(b MLMBatch) (inputs []int32, weights []float32, err error) {
	if len(b.IDs) != b.B*b.T || len(b.Lens) != b.B || (b.Words != nil && len(b.Words) != b.B) {
		return nil, nil, fmt.Errorf("mask: mlm: a batch of %d ids, %d lengths and %d word rows for B=%d, T=%d", len(b.IDs), len(b.Lens), len(b.Words), b.B, b.T)
	}
	inputs, weights = append([]int32(nil), b.IDs...), make([]float32, len(b.IDs))
	for i := range b.B {
		n := b.Lens[i]
		if n < 0 || n > b.T {
			return nil, nil, fmt.Errorf("mask: mlm: row %d has valid length %d outside 0..%d", i, n, b.T)
		}
		in := MLMInput{Tokens: b.IDs[i*b.T : i*b.T+n], MaskID: b.MaskID, Vocab: b.Vocab}
		if b.Words != nil {
			in.Words = b.Words[i]
		}
		if b.KeepLast && n > 0 {
			in.Keep = make([]bool, n)
			in.Keep[n-1] = true
		}
		r, err := m.Apply(in, ExampleRNG(b.Seed, b.Step, i))
		if err != nil {
			return nil, nil, fmt.Errorf("row %d: %w", i, err)
		}
		copy(inputs[i*b.T:], r.Inputs)
		for p, c := range r.Chosen {
			if c {
				weights[i*b.T+p] = 1
			}
		}
	}
	return inputs, weights, nil
}
