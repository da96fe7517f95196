package datasets

import "fmt"

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

// withCodec is WithVocab for a codec vocabulary: every example is encoded again from its
// texts. An LM document is its text's ids; an SFT example (and a seq2seq one, which
// becomes SFT: source as prompt, target as completion) is the prompt's ids then the
// completion's, each encoded on its own and joined as they are (no SEP, no separator:
// as TRL's prompt-completion format, a task that wants one has it in its prompt text),
// PromptLen the prompt's ids. Examples longer than Options.MaxLen ids (when set) are
// dropped and counted in Dropped.
func (t *Task) withCodec(v *Vocab) (*Task, error) {
	nt := t.clone()
	if t.Kind == Seq2Seq {
		nt.Kind = SFT
	}
	nt.SrcVocab, nt.Vocab = nil, v
	encode := func(exs []Example) []Example {
		out := make([]Example, 0, len(exs))
		for _, e := range exs {
			e.Source = nil
			if nt.Kind == SFT {
				p := v.codec.EncodePlain(e.SourceText)
				e.Target, e.PromptLen = append(p[:len(p):len(p)], v.codec.EncodePlain(e.TargetText)...), len(p)
			} else {
				e.Target = v.codec.EncodePlain(e.TargetText)
			}
			if t.Options.MaxLen > 0 && len(e.Target) > t.Options.MaxLen {
				nt.Dropped++
				continue
			}
			out = append(out, e)
		}
		return out
	}
	nt.Train, nt.Valid, nt.Test = encode(t.Train), encode(t.Valid), encode(t.Test)
	if len(nt.Train) == 0 {
		return nil, fmt.Errorf("task %q: no training example has at most task.max_len=%d tokenizer ids", t.Name, t.Options.MaxLen)
	}
	nt.finish()
	return nt, nil
}
