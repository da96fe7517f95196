package datasets

import (
	"cmp"
	"fmt"
	"slices"
)

// Codec is a subword tokenizer whose ids are a pretrained model's: a Hugging Face
// checkpoint's tokenizer (pkg/hf's Tokenizer implements it). A task re-encoded with a
// codec vocabulary ([NewCodecVocab], [Task.WithVocab]) is tokenized by it, not by
// masklab's character tokenizer.
type Codec interface {
	// EncodePlain encodes text without adding special tokens.
	EncodePlain(text string) []int32
	// Decode turns ids back into text.
	Decode(ids []int32) string
}

// NewCodecVocab returns the vocabulary of a model whose text codec tokenizes: size ids
// (the model's embedding rows, which may outnumber the codec's ids), tokens[id] naming
// id where it has a name (a missing, empty or repeated name becomes "<id:N>"), and the
// special ids pad, bos, eos, unk and mask (-1: none; no SEP). EncodeText and DecodeText
// go through codec.
func NewCodecVocab(size int, tokens func(id int) string, codec Codec, pad, bos, eos, unk, mask int) (*Vocab, error) {
	v := &Vocab{Tokens: make([]string, size), index: make(map[string]int, size), codec: codec,
		PAD: pad, BOS: bos, EOS: eos, UNK: unk, SEP: -1, MASK: mask}
	for id := range size {
		s := tokens(id)
		if _, dup := v.index[s]; s == "" || dup {
			s = fmt.Sprintf("<id:%d>", id)
		}
		v.Tokens[id], v.index[s] = s, id
	}
	for _, c := range []struct {
		name string
		id   int
	}{{"pad", pad}, {"bos", bos}, {"eos", eos}, {"unk", unk}, {"mask", mask}} {
		if c.id >= size || (c.id < 0 && c.name != "unk" && c.name != "mask") {
			return nil, fmt.Errorf("vocab: the %s id %d is not one of the model's %d ids", c.name, c.id, size)
		}
	}
	return v, nil
}

// Codec returns the codec of a codec vocabulary (NewCodecVocab); nil for masklab's own.
func (v *Vocab) Codec() Codec { return v.codec }

// WithCodec returns a copy of t encoded again, from its examples' texts, by the codec
// vocabulary v (NewCodecVocab). An LM document is its text's ids; an SFT example (and a
// seq2seq one, which becomes SFT: source as prompt, target as completion) is the
// prompt's ids then the completion's, each encoded on its own and joined as they are (no
// SEP, no separator: as TRL's prompt-completion format, a task that wants one has it in
// its prompt text), PromptLen the prompt's ids. A conversation (Example.Chat: chat
// records, conversational prompt/completion records) is rendered by v's chat template
// (Vocab.WithChatTemplate; none is an error) and encoded piece by piece between its
// supervised spans, which become Example.Spans (see encodeChat).
//
// maxLen (> 0) is the maximum number of ids, BOS and EOS not counted. An LM document of
// more ids is dropped (counted in Dropped). An SFT example or conversation of more ids
// loses its first ids, which must be prompt (the prompt is cut from the left, counted in
// Truncated); one whose supervised ids would be cut (its completion, or its first
// assistant turn, starts later than the cut) is dropped instead, counted in TooLong and
// Dropped: it is never trained on nothing. maxExamples and maxEval (> 0) keep, of the
// examples that fit, the ones whose keys hash lowest, as Options.MaxExamples and MaxEval
// do, so that t is best loaded without MaxLen, MaxExamples and MaxEval (its examples are
// encoded in that order, until enough fit). t itself (possibly cached) is not modified.
func (t *Task) WithCodec(v *Vocab, maxLen, maxExamples, maxEval int) (*Task, error) {
	return t.withCodec(v, maxLen, maxExamples, maxEval, false)
}

// WithCodecSeq2Seq is WithCodec for an encoder-decoder that keeps a seq2seq task
// seq2seq (a BERT encoder's run): source and target are each encoded by v (both sides
// share it: SrcVocab is v too), and maxLen bounds each of them.
func (t *Task) WithCodecSeq2Seq(v *Vocab, maxLen, maxExamples, maxEval int) (*Task, error) {
	return t.withCodec(v, maxLen, maxExamples, maxEval, t.Kind == Seq2Seq)
}

func (t *Task) withCodec(v *Vocab, maxLen, maxExamples, maxEval int, seq2seq bool) (*Task, error) {
	if v.codec == nil {
		return nil, fmt.Errorf("vocab: not a codec vocabulary")
	}
	nt := t.clone()
	if t.Kind == Seq2Seq && !seq2seq {
		nt.Kind = SFT
	}
	nt.SrcVocab, nt.Vocab = nil, v
	if seq2seq {
		nt.SrcVocab = v
	}
	nt.Dropped, nt.Truncated, nt.TooLong = t.Dropped, 0, 0
	var err error
	encode := func(exs []Example, n int) []Example {
		idx := make([]int, len(exs))
		for i := range idx {
			idx[i] = i
		}
		if n > 0 && n < len(exs) {
			slices.SortStableFunc(idx, func(a, b int) int {
				return cmp.Compare(hashPair("subset", exs[a].Key), hashPair("subset", exs[b].Key))
			})
		}
		enc := make(map[int]Example)
		var keep []int
		for _, i := range idx {
			if err != nil || n > 0 && len(keep) >= n {
				break
			}
			e := exs[i]
			e.Source, e.Spans = nil, nil
			switch {
			case seq2seq:
				e.Source, e.Target = v.codec.EncodePlain(e.SourceText), v.codec.EncodePlain(e.TargetText)
				if maxLen > 0 && len(e.Source) > maxLen {
					nt.Dropped++
					continue
				}
			case e.IsChat():
				if v.chat == nil {
					err = fmt.Errorf("%s: a conversation needs a chat template, and the tokenizer has none (a base model's): set task.chat_template to chatml or to a .jinja file", e.Origin)
					return nil
				}
				var ids []int32
				if ids, e.Spans, err = encodeChat(v, v.chat, &e); err != nil {
					err = fmt.Errorf("%s: %w", e.Origin, err)
					return nil
				}
				e.Target, e.PromptLen = ids, e.Spans[0].Start
			case nt.Kind == SFT:
				p := v.codec.EncodePlain(e.SourceText)
				e.Target, e.PromptLen = append(p[:len(p):len(p)], v.codec.EncodePlain(e.TargetText)...), len(p)
			default:
				e.Target = v.codec.EncodePlain(e.TargetText)
			}
			if maxLen > 0 && len(e.Target) > maxLen {
				if nt.Kind != SFT {
					nt.Dropped++
					continue
				}
				if _, ok := truncateLeft(&e, maxLen); !ok {
					nt.Dropped++
					nt.TooLong++
					continue
				}
				nt.Truncated++
			}
			enc[i], keep = e, append(keep, i)
		}
		slices.Sort(keep)
		out := make([]Example, len(keep))
		for j, i := range keep {
			out[j] = enc[i]
		}
		return out
	}
	nt.Train, nt.Valid, nt.Test = encode(t.Train, maxExamples), encode(t.Valid, maxEval), encode(t.Test, maxEval)
	if err != nil {
		return nil, fmt.Errorf("task %q: %w", t.Name, err)
	}
	if len(nt.Train) == 0 {
		return nil, fmt.Errorf("task %q: no training example fits task.max_len=%d tokenizer ids (%d dropped, %d of them because their completion alone would not fit)", t.Name, maxLen, nt.Dropped, nt.TooLong)
	}
	nt.finish()
	return nt, nil
}
