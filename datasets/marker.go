package datasets

import (
	"fmt"
	"slices"
	"strings"
)

// WithCompletionMarker returns a copy of an LM task (documents, e.g. a {"text"} JSONL
// file) as an SFT task whose completion is what follows the first occurrence of marker
// in each document, as TRL's DataCollatorForCompletionOnlyLM does with its
// response_template: the tokens up to and including the marker are the prompt
// (Example.PromptLen), the rest is the completion. The marker is tokenized like the
// documents (so "### Answer:" matches wherever those tokens follow each other); with a
// codec vocabulary (a pretrained tokenizer, whose tokens depend on their context) the
// text is cut at the marker instead and both sides encoded on their own.
//
// A document without the marker, or a marker with a token the vocabulary lacks, leaves
// the whole document prompt (PromptLen = len(Target)): with masks.loss=completion only
// its final EOS is trained, where TRL trains nothing. That is the silent failure of a
// template that never matches; pkg/check reports such documents as zero-supervision.
// Matched returns how many training documents contain the marker. t itself (possibly
// cached) is not modified.
func (t *Task) WithCompletionMarker(marker string) (nt *Task, matched int, err error) {
	if t.Kind != LM {
		return nil, 0, fmt.Errorf("a completion marker splits documents ({\"text\"} lines); task %q is %s", t.Name, t.Kind)
	}
	toks := Tokenize(marker)
	if len(toks) == 0 {
		return nil, 0, fmt.Errorf("completion marker %q has no tokens", marker)
	}
	ids := make([]int32, len(toks))
	for i, tok := range toks {
		ids[i] = -1 // a token the vocabulary lacks never matches (Vocab.ID would give UNK)
		if t.Vocab.Has(tok) {
			ids[i] = int32(t.Vocab.ID(tok))
		}
	}
	split := func(exs []Example, count bool) []Example {
		out := make([]Example, len(exs))
		for i, e := range exs {
			e.PromptLen = len(e.Target)
			if c := t.Vocab.codec; c != nil {
				// A codec vocabulary: the text is cut at the marker and each side encoded.
				if j := strings.Index(e.TargetText, marker); j >= 0 {
					p := c.EncodePlain(e.TargetText[:j+len(marker)])
					e.Target, e.PromptLen = append(p[:len(p):len(p)], c.EncodePlain(e.TargetText[j+len(marker):])...), len(p)
					e.SourceText, e.TargetText = e.TargetText[:j+len(marker)], strings.TrimSpace(e.TargetText[j+len(marker):])
					if count {
						matched++
					}
				}
				out[i] = e
				continue
			}
			for at := 0; at+len(ids) <= len(e.Target); at++ {
				if slices.Equal(e.Target[at:at+len(ids)], ids) {
					e.PromptLen = at + len(ids)
					if j := strings.Index(e.TargetText, marker); j >= 0 {
						e.SourceText, e.TargetText = e.TargetText[:j+len(marker)], strings.TrimSpace(e.TargetText[j+len(marker):])
					}
					if count {
						matched++
					}
					break
				}
			}
			out[i] = e
		}
		return out
	}
	nt = t.clone()
	nt.Kind = SFT
	nt.Train, nt.Valid, nt.Test = split(t.Train, true), split(t.Valid, false), split(t.Test, false)
	return nt, matched, nil
}
