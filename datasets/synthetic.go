package datasets

import (
	"fmt"
	"slices"
	"strconv"
)

func init() {
	register("copy", "synthetic seq2seq: the target is the source (tokens 3..V-1, lengths MinLen..MaxLen)", synthetic("copy", func(s []int32) []int32 { return slices.Clone(s) }))
	register("reverse", "synthetic seq2seq: the target is the source reversed; the defaults are the reference benchmark's (vocab 64, PAD 0 BOS 1 EOS 2, tokens 3..63, lengths 8..22, padded to 24)", synthetic("reverse", func(s []int32) []int32 {
		r := slices.Clone(s)
		slices.Reverse(r)
		return r
	}))
	register("sort", "synthetic seq2seq: the target is the source sorted ascending", synthetic("sort", func(s []int32) []int32 {
		r := slices.Clone(s)
		slices.Sort(r)
		return r
	}))
}

// Synthetic defaults: the reference benchmark's reverse task.
const (
	defaultSynthVocab = 64
	defaultMinLen     = 8
	defaultMaxLen     = 22
	defaultTrainSize  = 50000
	defaultEvalSize   = 1000
)

// SyntheticVocab returns the vocabulary of a synthetic task: PAD 0, BOS 1, EOS 2, data
// tokens 3..size-1 written as their decimal ids, and with withMask a MASK token at id
// size.
func SyntheticVocab(size int, withMask bool) (*Vocab, error) {
	if size < 4 {
		return nil, fmt.Errorf("synthetic vocabulary size must be >= 4 (PAD, BOS, EOS and one data token), got %d", size)
	}
	toks := []string{PadToken, BosToken, EosToken}
	for i := 3; i < size; i++ {
		toks = append(toks, strconv.Itoa(i))
	}
	if withMask {
		toks = append(toks, MaskToken)
	}
	return NewVocab(toks)
}

// SampleSynthetic draws one source sequence of the synthetic distribution: length
// uniform in [minLen, maxLen], tokens uniform in [3, vocabSize).
func sampleSynthetic(r *rng, vocabSize, minLen, maxLen int) []int32 {
	l := minLen + r.intn(maxLen-minLen+1)
	s := make([]int32, l)
	for i := range s {
		s[i] = int32(3 + r.intn(vocabSize-3))
	}
	return s
}

func synthetic(name string, f func([]int32) []int32) func(Options) (*Task, error) {
	return func(o Options) (*Task, error) {
		if o.VocabSize == 0 {
			o.VocabSize = defaultSynthVocab
		}
		if o.MinLen == 0 {
			o.MinLen = defaultMinLen
		}
		if o.MaxLen == 0 {
			o.MaxLen = max(defaultMaxLen, o.MinLen)
		}
		if o.TrainSize == 0 {
			o.TrainSize = defaultTrainSize
		}
		if o.ValidSize == 0 {
			o.ValidSize = defaultEvalSize
		}
		if o.TestSize == 0 {
			o.TestSize = defaultEvalSize
		}
		if o.MaxExamples > 0 {
			o.TrainSize = min(o.TrainSize, o.MaxExamples)
		}
		if o.MaxEval > 0 {
			o.ValidSize, o.TestSize = min(o.ValidSize, o.MaxEval), min(o.TestSize, o.MaxEval)
		}
		if o.MinLen > o.MaxLen {
			return nil, fmt.Errorf("task %q: MinLen %d > MaxLen %d", name, o.MinLen, o.MaxLen)
		}
		if o.Path != "" {
			return nil, fmt.Errorf("task %q is synthetic and reads no file, got Path %q", name, o.Path)
		}
		v, err := SyntheticVocab(o.VocabSize, o.WithMask)
		if err != nil {
			return nil, fmt.Errorf("task %q: %w", name, err)
		}
		t := &Task{Kind: Seq2Seq, Vocab: v, SrcVocab: v, Options: o}
		if o.Stream {
			t.stream = func(r *rng) Example {
				src := sampleSynthetic(r, o.VocabSize, o.MinLen, o.MaxLen)
				return Example{Source: src, Target: f(src), Origin: name + "/stream"}
			}
		}
		// Splits are disjoint by construction: a sequence already drawn for an
		// earlier split (or earlier in this one) is drawn again.
		r := newRNG(o.Seed, hashString(name))
		seen := map[string]bool{}
		gen := func(n int, split string) []Example {
			exs := make([]Example, 0, n)
			for tries := 0; len(exs) < n && tries < 100*n+1000; tries++ {
				src := sampleSynthetic(r, o.VocabSize, o.MinLen, o.MaxLen)
				key := fmt.Sprint(src)
				if seen[key] {
					continue
				}
				seen[key] = true
				tgt := f(src)
				exs = append(exs, Example{Source: src, Target: tgt, Key: key,
					SourceText: Detokenize(v.Decode(src)), TargetText: Detokenize(v.Decode(tgt)),
					Origin: fmt.Sprintf("%s/%s#%d", name, split, len(exs))})
			}
			return exs
		}
		t.Train = gen(o.TrainSize, "train")
		t.Valid = gen(o.ValidSize, "valid")
		t.Test = gen(o.TestSize, "test")
		if len(t.Test) < o.TestSize {
			return nil, fmt.Errorf("task %q: only %d distinct sequences found for %d examples; widen VocabSize (%d) or the length range %d..%d",
				name, len(t.Train)+len(t.Valid)+len(t.Test), o.TrainSize+o.ValidSize+o.TestSize, o.VocabSize, o.MinLen, o.MaxLen)
		}
		return t, nil
	}
}
