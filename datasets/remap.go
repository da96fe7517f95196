package datasets

import "fmt"

// WithVocab returns a copy of t whose decoder-side ids (and, when the source shares the
// decoder's vocabulary, its source ids) are re-encoded with vocab: what lets a
// fine-tuning task (cedict-sft) use the vocabulary of the run it starts from
// (cedict-docs), so the embeddings mean the same. Tokens vocab lacks become its UNK; the
// special ids PAD, BOS and EOS must agree. A codec vocabulary (NewCodecVocab: a
// pretrained model's tokenizer) encodes the examples again from their texts instead.
// t itself (possibly cached) is not modified.
func (t *Task) WithVocab(vocab *Vocab) (*Task, error) {
	if vocab.codec != nil {
		return t.WithCodec(vocab, t.Options.MaxLen, 0, 0)
	}
	if vocab.PAD != t.Vocab.PAD || vocab.BOS != t.Vocab.BOS || vocab.EOS != t.Vocab.EOS {
		return nil, fmt.Errorf("the vocabulary's special ids (PAD %d BOS %d EOS %d) differ from task %q's (%d %d %d)",
			vocab.PAD, vocab.BOS, vocab.EOS, t.Name, t.Vocab.PAD, t.Vocab.BOS, t.Vocab.EOS)
	}
	ids := make([]int32, t.Vocab.Size())
	for i, tok := range t.Vocab.Tokens {
		id := vocab.ID(tok)
		if id < 0 {
			if vocab.UNK < 0 {
				return nil, fmt.Errorf("token %q of task %q is not in the vocabulary, which has no UNK", tok, t.Name)
			}
			id = vocab.UNK
		}
		ids[i] = int32(id)
	}
	shared := t.SrcVocab == t.Vocab
	remap := func(exs []Example) []Example {
		out := make([]Example, len(exs))
		for i, e := range exs {
			e.Target = mapIDs(e.Target, ids)
			if shared {
				e.Source = mapIDs(e.Source, ids)
			}
			out[i] = e
		}
		return out
	}
	nt := t.clone()
	nt.Train, nt.Valid, nt.Test = remap(t.Train), remap(t.Valid), remap(t.Test)
	if shared {
		nt.SrcVocab = vocab
	}
	nt.Vocab = vocab
	nt.finish()
	return nt, nil
}

func mapIDs(in []int32, ids []int32) []int32 {
	if in == nil {
		return nil
	}
	out := make([]int32, len(in))
	for j, id := range in {
		out[j] = ids[id]
	}
	return out
}
