package datasets

import (
	"cmp"
	"fmt"
	"slices"
)

// rawExample is a tokenized example before splitting and vocabulary building.
type rawExample struct {
	key, origin      string
	src, tgt, prompt []int32 // interned tokens; prompt: SFT only (tgt is then the completion)
	// chat, when set, makes the example a conversation (SFT): tgt is its own-vocabulary
	// encoding (internChat, chatSEP for SEP), spans its supervised positions.
	chat             *Conversation
	spans            []Span
	srcText, tgtText string
	// texts are hashes of strings that no two splits may share besides the key (e.g.
	// the halves of a couplet, keyed on its poem): a valid example with one of them in
	// train, or a test example with one in train or valid, is dropped (Task.Dropped).
	texts []uint64
	// split, when > 0, places the example in split split-1 instead of by its key's
	// hash (e.g. a split of authors balanced by their numbers of poems).
	split int8
	// dup, when not 0, is a hash of (srcText, tgtText) that a loader finding exact
	// duplicates can use instead of hashing the texts.
	dup uint64
}

// Split fractions of text tasks, by hash of the example's key: 90% train, 5% valid,
// 5% test.
const (
	trainPerMille = 900
	validPerMille = 950
)

// splitOf returns 0 (train), 1 (valid) or 2 (test) for a key: stable across runs and
// machines (FNV-1a of the key).
func splitOf(key string) int {
	h := hashPair("split", key) % 1000 // = hashString("split\x00"+key)
	switch {
	case h < trainPerMille:
		return 0
	case h < validPerMille:
		return 1
	}
	return 2
}

// Text-task special ids.
const (
	textPAD = iota
	textBOS
	textEOS
	textUNK
	textSEP
	textMASK
	textFirstData
)

func textSpecials() []string {
	return []string{PadToken, BosToken, EosToken, UnkToken, SepToken, MaskToken}
}

// buildTextTask splits raws by key, subsets and filters them, builds the
// vocabularies from the training split and encodes everything.
func buildTextTask(name string, kind Kind, raws []rawExample, in *interner, o Options) (*Task, error) {
	if len(raws) == 0 {
		return nil, fmt.Errorf("task %q: no examples", name)
	}
	t := &Task{Kind: kind, Options: o}
	var splits [3][]int
	lastKey, lastSplit := "", -1 // consecutive examples often share a key (a poem's couplets)
	for i := range raws {
		r := &raws[i]
		n := len(r.tgt)
		if kind == SFT && r.chat == nil {
			n += len(r.prompt) + 1
		}
		if (o.MaxLen > 0 && (len(r.src) > o.MaxLen || n > o.MaxLen)) || (o.MinLen > 0 && (n < o.MinLen || (kind == Seq2Seq && len(r.src) < o.MinLen))) {
			t.Dropped++
			continue
		}
		s := lastSplit
		if r.split > 0 {
			s = int(r.split) - 1
		} else if s < 0 || r.key != lastKey {
			s = splitOf(r.key)
			lastKey, lastSplit = r.key, s
		}
		splits[s] = append(splits[s], i)
	}
	// Examples sharing a text with an earlier split leave the later one.
	if slices.ContainsFunc(raws, func(r rawExample) bool { return len(r.texts) > 0 }) {
		var earlier [][]uint64 // sorted texts of each earlier split
		for s := range splits {
			if s > 0 {
				splits[s] = slices.DeleteFunc(splits[s], func(i int) bool {
					for _, h := range raws[i].texts {
						for _, e := range earlier {
							if _, found := slices.BinarySearch(e, h); found {
								t.Dropped++
								return true
							}
						}
					}
					return false
				})
			}
			var hs []uint64
			for _, i := range splits[s] {
				hs = append(hs, raws[i].texts...)
			}
			slices.Sort(hs)
			earlier = append(earlier, hs)
		}
	}
	subset := func(idx []int, n int) []int {
		if n <= 0 || n >= len(idx) {
			return idx
		}
		// The n examples whose keys hash lowest (whole key groups first), back in
		// file order.
		type hashed struct {
			h uint64
			i int
		}
		sorted := make([]hashed, len(idx))
		for j, i := range idx {
			sorted[j] = hashed{hashPair("subset", raws[i].key), i} // = hashString("subset\x00"+key)
		}
		slices.SortStableFunc(sorted, func(a, b hashed) int { return cmp.Compare(a.h, b.h) })
		out := make([]int, n)
		for j := range out {
			out[j] = sorted[j].i
		}
		slices.Sort(out)
		return out
	}
	splits[0] = subset(splits[0], o.MaxExamples)
	splits[1] = subset(splits[1], o.MaxEval)
	splits[2] = subset(splits[2], o.MaxEval)
	if len(splits[0]) == 0 {
		return nil, fmt.Errorf("task %q: the training split is empty (%d examples, %d dropped by MinLen %d / MaxLen %d)", name, len(raws), t.Dropped, o.MinLen, o.MaxLen)
	}

	// Vocabularies from the training split.
	tgtCount, srcCount := make([]int, len(in.toks)), make([]int, len(in.toks))
	for _, i := range splits[0] {
		r := &raws[i]
		for _, tok := range r.prompt {
			tgtCount[tok]++
		}
		for _, tok := range r.tgt {
			if tok != chatSEP {
				tgtCount[tok]++
			}
		}
		for _, tok := range r.src {
			srcCount[tok]++
		}
	}
	var tgtMap, srcMap []int32
	var err error
	if kind == Seq2Seq && o.SharedVocab {
		for i, c := range srcCount {
			tgtCount[i] += c
		}
	}
	if t.Vocab, tgtMap, err = vocabFromCounts(in, tgtCount, o.VocabSize); err != nil {
		return nil, fmt.Errorf("task %q: %w", name, err)
	}
	if kind == Seq2Seq && o.SharedVocab {
		t.SrcVocab, srcMap = t.Vocab, tgtMap
	} else if kind == Seq2Seq {
		if t.SrcVocab, srcMap, err = vocabFromCounts(in, srcCount, o.VocabSize); err != nil {
			return nil, fmt.Errorf("task %q: %w", name, err)
		}
	}
	for s, idx := range splits {
		// The ids of a split live in one array (fewer, larger allocations); each
		// example's slices have their capacity clipped, so appending copies.
		n := 0
		for _, i := range idx {
			r := &raws[i]
			n += len(r.src) + len(r.tgt)
			if kind == SFT && r.chat == nil {
				n += len(r.prompt) + 1
			}
		}
		arena := make([]int32, 0, n)
		encode := func(m []int32, toks ...[]int32) []int32 {
			start := len(arena)
			for k, part := range toks {
				if k > 0 {
					arena = append(arena, textSEP)
				}
				for _, tok := range part {
					if tok == chatSEP {
						arena = append(arena, textSEP)
						continue
					}
					arena = append(arena, m[tok])
				}
			}
			return arena[start:len(arena):len(arena)]
		}
		exs := make([]Example, len(idx))
		for j, i := range idx {
			r := &raws[i]
			e := Example{Key: r.key, Origin: r.origin, SourceText: r.srcText, TargetText: r.tgtText}
			switch kind {
			case Seq2Seq:
				e.Source, e.Target = encode(srcMap, r.src), encode(tgtMap, r.tgt)
			case LM:
				e.Target = encode(tgtMap, r.tgt)
			case SFT:
				if r.chat != nil {
					e.Target, e.Chat = encode(tgtMap, r.tgt), r.chat
					e.Spans, e.PromptLen = r.spans, r.spans[0].Start
					break
				}
				e.Target = encode(tgtMap, r.prompt, r.tgt) // prompt, SEP, completion
				e.PromptLen = len(r.prompt) + 1
			}
			exs[j] = e
		}
		switch s {
		case 0:
			t.Train = exs
		case 1:
			t.Valid = exs
		case 2:
			t.Test = exs
		}
	}
	return t, nil
}

// vocabFromCounts returns the text-task specials followed by the counted tokens
// (count > 0) by decreasing count (ties by string), at most size ids in all (0 = no
// cap), and the map from interned token to vocabulary id (UNK when left out).
func vocabFromCounts(in *interner, counts []int, size int) (*Vocab, []int32, error) {
	if size > 0 && size <= textFirstData {
		return nil, nil, fmt.Errorf("vocabulary size must be > %d (the special tokens), got %d", textFirstData, size)
	}
	var toks []int32
	for tok, c := range counts {
		if c > 0 {
			toks = append(toks, int32(tok))
		}
	}
	slices.SortFunc(toks, func(a, b int32) int {
		if c := cmp.Compare(counts[b], counts[a]); c != 0 {
			return c
		}
		return cmp.Compare(in.toks[a], in.toks[b])
	})
	if size > 0 && len(toks) > size-textFirstData {
		toks = toks[:size-textFirstData]
	}
	strs := textSpecials()
	m := make([]int32, len(in.toks))
	for i := range m {
		m[i] = textUNK
	}
	for _, tok := range toks {
		m[tok] = int32(len(strs))
		strs = append(strs, in.toks[tok])
	}
	v, err := NewVocab(strs)
	return v, m, err
}
