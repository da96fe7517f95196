package mask

import "fmt"

// The special token strings of a shown example; they are the datasets package's
// PAD/BOS/MASK/UNK tokens (a test checks that they agree).
const (
	showPad  = "<pad>"
	showBos  = "<bos>"
	showMask = "<mask>"
	showUnk  = "<unk>"
)

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
// is empty. Token ids come from a small vocabulary of the tokens at hand (special
// tokens first), and the random stream is the one training uses for example index of
// the batch at step with the run's seed, so the view is reproducible.
func ShowCorruption(c Corruption, target, source, corpus []string, seed uint64, step, index int) (CorruptionView, error) {
	if c.IsZero() {
		return CorruptionView{}, fmt.Errorf("mask: empty corruption strategy")
	}
	if len(target) == 0 {
		return CorruptionView{}, fmt.Errorf("input %q: the target has no tokens", c.spec)
	}
	if step < 0 || index < 0 {
		return CorruptionView{}, fmt.Errorf("input %q: step and index must be >= 0, got %d and %d", c.spec, step, index)
	}
	vocab := []string{showPad, showBos, showUnk, showMask}
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
	tokens := append([]string{showBos}, target...)
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
		MaskID: ids[showMask],
		UnkID:  ids[showUnk],
		Freq:   freq,
		Lookup: func(t string) (int32, bool) { v, ok := ids[t]; return v, ok },
	}
	if err := c.Check(cp); err != nil {
		return CorruptionView{}, err
	}
	hidden := c.Hide(Input{Tokens: input, Source: src, Step: step, Corpus: cp}, ExampleRNG(seed, step, index))
	repl := showMask
	if c.Replace() == ReplaceUnk {
		repl = showUnk
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
