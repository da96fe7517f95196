package datasets

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Special token strings, as stored in a [Vocab].
const (
	PadToken  = "<pad>"
	BosToken  = "<bos>"
	EosToken  = "<eos>"
	UnkToken  = "<unk>"
	SepToken  = "<sep>"
	MaskToken = "<mask>"
)

// Vocab maps token strings to ids and back. The special ids are fields; an id is -1
// when the vocabulary has no such token. A Vocab is immutable once built; it is saved
// next to a run (Save / LoadVocab, JSON) so a checkpoint can be decoded later.
type Vocab struct {
	// Tokens[id] is the string of token id.
	Tokens []string `json:"tokens"`
	// Special ids (-1 when absent).
	PAD  int `json:"pad"`
	BOS  int `json:"bos"`
	EOS  int `json:"eos"`
	UNK  int `json:"unk"`
	SEP  int `json:"sep"`
	MASK int `json:"mask"`

	index map[string]int
	codec Codec        // a subword tokenizer's vocabulary (NewCodecVocab); nil for masklab's own
	chat  ChatTemplate // renders the conversations of chat records (WithChatTemplate)
}

// NewVocab builds a vocabulary from its token list; the special ids are found by their
// strings (PadToken, ...), -1 when missing. Duplicate or empty tokens are an error.
func NewVocab(tokens []string) (*Vocab, error) {
	v := &Vocab{Tokens: append([]string(nil), tokens...)}
	if err := v.init(); err != nil {
		return nil, err
	}
	return v, nil
}

func (v *Vocab) init() error {
	v.index = make(map[string]int, len(v.Tokens))
	for i, t := range v.Tokens {
		if t == "" {
			return fmt.Errorf("vocab: token %d is empty", i)
		}
		if j, ok := v.index[t]; ok {
			return fmt.Errorf("vocab: token %q appears twice (ids %d and %d)", t, j, i)
		}
		v.index[t] = i
	}
	find := func(s string) int {
		if i, ok := v.index[s]; ok {
			return i
		}
		return -1
	}
	v.PAD, v.BOS, v.EOS = find(PadToken), find(BosToken), find(EosToken)
	v.UNK, v.SEP, v.MASK = find(UnkToken), find(SepToken), find(MaskToken)
	return nil
}

// Size is the number of ids (the model's embedding and output size).
func (v *Vocab) Size() int { return len(v.Tokens) }

// ID returns the id of a token string: UNK (or -1 when the vocabulary has no UNK) for
// an unknown token.
func (v *Vocab) ID(token string) int {
	if i, ok := v.index[token]; ok {
		return i
	}
	return v.UNK
}

// Has reports whether the token string is in the vocabulary.
func (v *Vocab) Has(token string) bool {
	_, ok := v.index[token]
	return ok
}

// Token returns the string of an id, or "<id N>" when out of range.
func (v *Vocab) Token(id int) string {
	if id < 0 || id >= len(v.Tokens) {
		return fmt.Sprintf("<id %d>", id)
	}
	return v.Tokens[id]
}

// IsSpecial reports whether id is one of PAD, BOS, EOS, UNK, SEP, MASK.
func (v *Vocab) IsSpecial(id int) bool {
	return id >= 0 && (id == v.PAD || id == v.BOS || id == v.EOS || id == v.UNK || id == v.SEP || id == v.MASK)
}

// Encode maps tokens to ids. An unknown token becomes UNK; with no UNK in the
// vocabulary it is an error naming the token.
func (v *Vocab) Encode(tokens []string) ([]int32, error) {
	ids := make([]int32, len(tokens))
	for i, t := range tokens {
		id, ok := v.index[t]
		if !ok {
			if v.UNK < 0 {
				return nil, fmt.Errorf("vocab: unknown token %q at position %d and the vocabulary has no %s", t, i, UnkToken)
			}
			id = v.UNK
		}
		ids[i] = int32(id)
	}
	return ids, nil
}

// EncodeText tokenizes text with [Tokenize] and encodes it (a codec vocabulary:
// with its codec).
func (v *Vocab) EncodeText(text string) ([]int32, error) {
	if v.codec != nil {
		return v.codec.EncodePlain(text), nil
	}
	return v.Encode(Tokenize(text))
}

// Decode maps ids to token strings (every id, specials included).
func (v *Vocab) Decode(ids []int32) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = v.Token(int(id))
	}
	return out
}

// DecodeText turns model output ids into text: it stops at the first EOS, drops PAD
// and BOS, and joins the tokens with [Detokenize] (a codec vocabulary: decodes the ids
// with its codec).
func (v *Vocab) DecodeText(ids []int32) string {
	var toks []string
	var kept []int32
	for _, id := range ids {
		i := int(id)
		if i == v.EOS && i >= 0 {
			break
		}
		if (i == v.PAD || i == v.BOS) && i >= 0 {
			continue
		}
		toks, kept = append(toks, v.Token(i)), append(kept, id)
	}
	if v.codec != nil {
		return v.codec.Decode(kept)
	}
	return Detokenize(toks)
}

// MarshalJSON writes the vocabulary as {"tokens":[...], "pad":0, ...}.
func (v *Vocab) MarshalJSON() ([]byte, error) {
	type plain Vocab
	return json.Marshal((*plain)(v))
}

// UnmarshalJSON reads what MarshalJSON wrote and checks that the special ids agree
// with the token strings.
func (v *Vocab) UnmarshalJSON(b []byte) error {
	type plain Vocab
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("vocab: %w", err)
	}
	w := Vocab{Tokens: p.Tokens}
	if err := w.init(); err != nil {
		return err
	}
	for _, c := range []struct {
		name      string
		got, want int
	}{{"pad", p.PAD, w.PAD}, {"bos", p.BOS, w.BOS}, {"eos", p.EOS, w.EOS}, {"unk", p.UNK, w.UNK}, {"sep", p.SEP, w.SEP}, {"mask", p.MASK, w.MASK}} {
		if c.got != c.want {
			return fmt.Errorf("vocab: %q id is %d but its token is at %d", c.name, c.got, c.want)
		}
	}
	*v = w
	return nil
}

// Save writes the vocabulary as JSON to path (through a temporary file and a rename).
func (v *Vocab) Save(path string) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("vocab: save %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("vocab: save %s: %w", path, err)
	}
	return nil
}

// LoadVocab reads a vocabulary written by Save.
func LoadVocab(path string) (*Vocab, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("vocab: %w", err)
	}
	v := new(Vocab)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("vocab %s: %s", path, strings.TrimPrefix(err.Error(), "vocab: "))
	}
	return v, nil
}
