package mask

import "fmt"

// ShowTokens is the side data ShowCorruption takes from a tokenizer, as plain values.
// The zero value uses "<bos>", "<mask>" and "<unk>" (the special tokens of masklab's
// text tasks, see package datasets) and splits keep-lists into single characters.
type ShowTokens struct {
	BOS, Mask, Unk string
	// Split splits a keep-list (interactive(keep, "...")) into tokens, as the training
	// tokenizer does (datasets.Tokenize); nil splits into runes.
	Split func(text string) []string
}

func (t ShowTokens) withDefaults() ShowTokens {
	if t.BOS == "" {
		t.BOS = "<bos>"
	}
	if t.Mask == "" {
		t.Mask = "<mask>"
	}
	if t.Unk == "" {
		t.Unk = "<unk>"
	}
	if t.Split == nil {
		t.Split = func(text string) []string {
			var out []string
			for _, r := range text {
				out = append(out, string(r))
			}
			return out
		}
	}
	return t
}

// CorruptionView is what a decoder-input corruption strategy does to one tokenized
// example: the decoder input (BOS, then the target tokens), which positions are hidden,
// and the corrupted input the decoder would see. It is for pictures and explanations.
type CorruptionView struct {
	Spec      string   // the strategy's canonical spec
	Tokens    []string // "<bos>" followed by the target tokens
	Hidden    []bool   // per position of Tokens; Hidden[0] (BOS) is always false
	Corrupted []string // Tokens with hidden positions replaced by "<mask>" (or "<unk>" for drop)
}

// ShowCorruption applies c to one example given as tokens (e.g. from
// datasets.Tokenize): the decoder input is BOS followed by target; source is the
// example's source tokens (read by interactive(copy, p)); token frequencies for
// interactive(freq, f) are counted over corpus, or over target and source when corpus
// is empty; keep-lists are split with tok.Split, as in training. Token ids come from a
// small vocabulary of the tokens at hand, with the special tokens first, and the random
// stream is the one training uses for example index of the batch at step with the run's
// seed, so the view is reproducible. It is what "masklab corrupt" prints.
func ShowCorruption(c Corruption, target, source, corpus []string, tok ShowTokens, seed uint64, step, index int) (CorruptionView, error) {
	if c.IsZero() {
		return CorruptionView{}, fmt.Errorf("mask: empty corruption strategy")
	}
	if len(target) == 0 {
		return CorruptionView{}, fmt.Errorf("input %q: the target has no tokens", c.spec)
	}
	if step < 0 || index < 0 {
		return CorruptionView{}, fmt.Errorf("input %q: step and index must be >= 0, got %d and %d", c.spec, step, index)
	}
	tok = tok.withDefaults()
	// The special tokens take ids 0..5 in the order of the text tasks' vocabularies
	// (PAD, BOS, EOS, UNK, SEP, MASK); PAD, EOS and SEP never occur in a view, so their
	// slots hold names no token can have.
	vocab := []string{"\x00pad", tok.BOS, "\x00eos", tok.Unk, "\x00sep", tok.Mask}
	ids := map[string]int32{}
	for i, t := range vocab {
		ids[t] = int32(i)
	}
	id := func(t string) int32 {
		if v, ok := ids[t]; ok {
			return v
		}
		ids[t] = int32(len(vocab))
		vocab = append(vocab, t)
		return ids[t]
	}
	tokens := append([]string{tok.BOS}, target...)
	input := make([]int32, len(tokens))
	for i, t := range tokens {
		input[i] = id(t)
	}
	src := make([]int32, len(source))
	for i, t := range source {
		src[i] = id(t)
	}
	if len(corpus) == 0 {
		corpus = append(append([]string(nil), target...), source...)
	}
	for _, t := range corpus {
		id(t)
	}
	freq := make([]int64, len(vocab))
	for _, t := range corpus {
		freq[ids[t]]++
	}
	cp := &Corpus{
		MaskID: ids[tok.Mask],
		UnkID:  ids[tok.Unk],
		Freq:   freq,
		Lookup: func(t string) (int32, bool) { v, ok := ids[t]; return v, ok },
		Tokenize: func(text string) []int32 {
			var out []int32
			for _, t := range tok.Split(text) {
				out = append(out, id(t))
			}
			return out
		},
	}
	if err := c.Check(cp); err != nil {
		return CorruptionView{}, err
	}
	hidden := c.Hide(Input{Tokens: input, Source: src, Step: step, Corpus: cp}, ExampleRNG(seed, step, index))
	repl := tok.Mask
	if c.Replace() == ReplaceUnk {
		repl = tok.Unk
	}
	view := CorruptionView{Spec: c.String(), Tokens: tokens, Hidden: hidden, Corrupted: make([]string, len(tokens))}
	for i, t := range tokens {
		view.Corrupted[i] = t
		if hidden[i] {
			view.Corrupted[i] = repl
		}
	}
	return view, nil
}
