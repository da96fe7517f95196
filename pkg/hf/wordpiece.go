package hf

// BERT's tokenizer: the basic tokenizer (Hugging Face's BertNormalizer and
// BertPreTokenizer) and greedy longest-match-first WordPiece, read from a tokenizer.json
// whose model is WordPiece or from vocab.txt with tokenizer_config.json, as
// BertTokenizerFast and BertTokenizer read them.
//
// Why our own (December 2026): github.com/sugarme/tokenizer v0.3.0, the pure-Go port
// tokenizer.go already weighed, has BertNormalizer, BertPreTokenizer and WordPiece, but
// (read in its source) its tokenizer.json loader turns "strip_accents": null, which
// bert-base-chinese and every uncased BERT have, into false (Hugging Face: strip when
// lower-casing), so "café" keeps its accent; its whitespace is only ' ', \t, \n, \r
// (Hugging Face: Unicode White_Space, so U+3000 and NBSP split words) and its control
// characters only Cc and Cf; and it would bring five more modules (a progress bar among
// them). The algorithm is short; it is checked here against transformers.js
// (@lenml/tokenizers) on committed fixtures (testdata/wordpiece, written by its
// generate.js).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// VocabFile is BERT's vocabulary file: one token a line, the line number its id.
const VocabFile = "vocab.txt"

// WordPieceOptions are the basic tokenizer's and WordPiece's options (tokenizer.json's
// BertNormalizer and WordPiece model; tokenizer_config.json's do_lower_case,
// strip_accents, tokenize_chinese_chars).
type WordPieceOptions struct {
	CleanText    bool // drop NUL, U+FFFD and control characters; whitespace becomes ' '
	ChineseChars bool // put spaces around every CJK ideograph, so each is a word
	Lowercase    bool // lower-case
	StripAccents bool // NFD, then drop non-spacing marks (BERT: on when Lowercase unless set)

	Unk           string // the unknown token, "[UNK]"
	Prefix        string // the continuation prefix, "##"
	MaxInputChars int    // longer words become Unk (100)
}

// DefaultWordPieceOptions are BertTokenizer's defaults (do_lower_case true).
func DefaultWordPieceOptions() WordPieceOptions {
	return WordPieceOptions{CleanText: true, ChineseChars: true, Lowercase: true, StripAccents: true,
		Unk: "[UNK]", Prefix: "##", MaxInputChars: 100}
}

// WordPiece is BERT's tokenizer. Encode gives [CLS] text [SEP] (the template of the
// tokenizer.json's post-processor, or BertTokenizer's), EncodePair the pair with
// token-type ids. It is safe for concurrent use.
type WordPiece struct {
	Options WordPieceOptions
	// Special holds the ids of [PAD], [UNK], [CLS], [SEP], [MASK] (or the names
	// tokenizer_config.json gives); -1 where the vocabulary lacks one.
	Pad, UnkID, CLS, SEP, Mask int32

	vocab   map[string]int32
	tokens  []string // id -> token ("" where none)
	special []string // tokens matched whole in the raw text, longest first
	specIDs map[int32]bool

	// The template: single = prefix A suffix; pair = prefix A suffix B pairSuffix, with
	// the token types of each part.
	prefix, suffix, pairSuffix []int32
	typeA, typeB               int32
	prefixTypes, suffixTypes   []int32
	pairSuffixTypes            []int32
	cleanup                    bool // the decoder's clean_up_tokenization_spaces
}

// NewWordPiece makes a tokenizer from a vocabulary (id = index) and options, with
// BertTokenizer's special tokens and template ([CLS] A [SEP], [CLS] A [SEP] B [SEP]).
func NewWordPiece(vocab []string, opts WordPieceOptions) (*WordPiece, error) {
	m := make(map[string]int32, len(vocab))
	for i, tok := range vocab {
		if _, dup := m[tok]; !dup {
			m[tok] = int32(i)
		}
	}
	return newWordPiece(m, opts, [5]string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}, nil)
}

// newWordPiece finishes a tokenizer; names are the pad, unk, cls, sep and mask tokens,
// extra further special tokens.
func newWordPiece(vocab map[string]int32, opts WordPieceOptions, names [5]string, extra []string) (*WordPiece, error) {
	if opts.Prefix == "" {
		opts.Prefix = "##"
	}
	if opts.MaxInputChars <= 0 {
		opts.MaxInputChars = 100
	}
	if opts.Unk == "" {
		opts.Unk = names[1]
	}
	w := &WordPiece{Options: opts, vocab: vocab, specIDs: map[int32]bool{}, cleanup: true}
	n := 0
	for _, id := range vocab {
		n = max(n, int(id)+1)
	}
	w.tokens = make([]string, n)
	for tok, id := range vocab {
		if id < 0 {
			return nil, fmt.Errorf("token %q has a negative id %d", tok, id)
		}
		w.tokens[id] = tok
	}
	ids := [5]*int32{&w.Pad, &w.UnkID, &w.CLS, &w.SEP, &w.Mask}
	for i, name := range names {
		*ids[i] = -1
		if id, ok := vocab[name]; ok {
			*ids[i] = id
		}
	}
	if _, ok := vocab[opts.Unk]; !ok {
		return nil, fmt.Errorf("the unknown token %q is not in the vocabulary", opts.Unk)
	}
	w.UnkID = vocab[opts.Unk]
	seen := map[string]bool{}
	for _, s := range append(names[:], extra...) {
		if id, ok := vocab[s]; ok && s != "" && !seen[s] {
			seen[s] = true
			w.special = append(w.special, s)
			w.specIDs[id] = true
		}
	}
	sort.SliceStable(w.special, func(i, j int) bool { return len(w.special[i]) > len(w.special[j]) })
	if w.CLS >= 0 && w.SEP >= 0 {
		w.prefix, w.suffix, w.pairSuffix = []int32{w.CLS}, []int32{w.SEP}, []int32{w.SEP}
		w.prefixTypes, w.suffixTypes, w.pairSuffixTypes = []int32{0}, []int32{0}, []int32{1}
		w.typeA, w.typeB = 0, 1
	}
	return w, nil
}

// LoadWordPiece reads dir's BERT tokenizer: tokenizer.json when its model is WordPiece,
// else vocab.txt; with tokenizer_config.json's do_lower_case, strip_accents,
// tokenize_chinese_chars and special tokens (for vocab.txt; tokenizer.json carries its
// own normalizer). A directory with neither, or a tokenizer.json of another model,
// is an error that says so.
func LoadWordPiece(dir string) (*WordPiece, error) {
	cfg, err := readTokenizerConfig(dir)
	if err != nil {
		return nil, err
	}
	jpath := filepath.Join(dir, TokenizerFile)
	if b, err := os.ReadFile(jpath); err == nil {
		w, err := NewWordPieceJSON(b)
		if err != nil {
			return nil, fmt.Errorf("hf: %s: %w", jpath, err)
		}
		return w, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("hf: %w", err)
	}
	vpath := filepath.Join(dir, VocabFile)
	f, err := os.Open(vpath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("hf: %s has neither %s nor %s: a BERT tokenizer needs one of them", dir, TokenizerFile, VocabFile)
	}
	if err != nil {
		return nil, fmt.Errorf("hf: %w", err)
	}
	defer f.Close()
	vocab, err := readVocab(f)
	if err != nil {
		return nil, fmt.Errorf("hf: %s: %w", vpath, err)
	}
	w, err := newWordPieceConfig(vocab, cfg)
	if err != nil {
		return nil, fmt.Errorf("hf: %s, %s: %w", vpath, filepath.Join(dir, TokenizerConfigFile), err)
	}
	return w, nil
}

// readVocab reads vocab.txt: one token a line (trailing "\r" and "\n" removed), the
// line number its id. An empty line is the token "" no text produces.
func readVocab(f *os.File) ([]string, error) {
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	var vocab []string
	for sc.Scan() {
		vocab = append(vocab, strings.TrimRight(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(vocab) == 0 {
		return nil, fmt.Errorf("empty vocabulary")
	}
	return vocab, nil
}

// newWordPieceConfig applies tokenizer_config.json's options to a vocab.txt tokenizer,
// as BertTokenizer's constructor does.
func newWordPieceConfig(vocab []string, cfg map[string]any) (*WordPiece, error) {
	opts := DefaultWordPieceOptions()
	k := keys{path: TokenizerConfigFile, m: cfg}
	var err error
	if opts.Lowercase, err = k.bool("do_lower_case", true); err != nil {
		return nil, err
	}
	if opts.ChineseChars, err = k.bool("tokenize_chinese_chars", true); err != nil {
		return nil, err
	}
	if opts.StripAccents, err = k.bool("strip_accents", opts.Lowercase); err != nil {
		return nil, err
	}
	if b, _ := k.bool("do_basic_tokenize", true); !b {
		return nil, fmt.Errorf("do_basic_tokenize false is not supported")
	}
	names := [5]string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
	for i, key := range []string{"pad_token", "unk_token", "cls_token", "sep_token", "mask_token"} {
		if s, ok := tokenString(cfg[key]); ok {
			names[i] = s
		}
	}
	opts.Unk = names[1]
	m := make(map[string]int32, len(vocab))
	for i, tok := range vocab {
		if _, dup := m[tok]; !dup {
			m[tok] = int32(i)
		}
	}
	return newWordPiece(m, opts, names, nil)
}

// tokenString reads a special token of tokenizer_config.json: a string or an
// AddedToken object {"content": ...}.
func tokenString(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case map[string]any:
		s, ok := t["content"].(string)
		return s, ok
	}
	return "", false
}

// wordPieceJSON is the part of a BERT tokenizer.json the WordPiece tokenizer reads.
type wordPieceJSON struct {
	AddedTokens []struct {
		ID         int32  `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	} `json:"added_tokens"`
	Normalizer    *typed `json:"normalizer"`
	PreTokenizer  *typed `json:"pre_tokenizer"`
	PostProcessor *typed `json:"post_processor"`
	Decoder       *typed `json:"decoder"`
	Model         struct {
		Type          string           `json:"type"`
		UnkToken      string           `json:"unk_token"`
		Prefix        *string          `json:"continuing_subword_prefix"`
		MaxInputChars int              `json:"max_input_chars_per_word"`
		Vocab         map[string]int32 `json:"vocab"`
	} `json:"model"`
}

// NewWordPieceJSON makes a tokenizer from the bytes of a BERT tokenizer.json: model
// WordPiece, normalizer BertNormalizer, pre-tokenizer BertPreTokenizer, post-processor
// TemplateProcessing or BertProcessing, decoder WordPiece. Other components are errors
// that name them.
func NewWordPieceJSON(b []byte) (*WordPiece, error) {
	var j wordPieceJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, err
	}
	if j.Model.Type != "WordPiece" {
		return nil, fmt.Errorf("model type %q is not WordPiece (a byte-level or SentencePiece BPE tokenizer: load it with hf.LoadTokenizer)", j.Model.Type)
	}
	if len(j.Model.Vocab) == 0 {
		return nil, fmt.Errorf("the WordPiece model has an empty vocabulary")
	}
	opts := WordPieceOptions{Unk: j.Model.UnkToken, Prefix: "##", MaxInputChars: j.Model.MaxInputChars}
	if j.Model.Prefix != nil {
		opts.Prefix = *j.Model.Prefix
	}
	if j.Normalizer != nil {
		if j.Normalizer.Type != "BertNormalizer" {
			return nil, fmt.Errorf("normalizer type %q is not supported (supported: BertNormalizer)", j.Normalizer.Type)
		}
		var n struct {
			CleanText    *bool `json:"clean_text"`
			ChineseChars *bool `json:"handle_chinese_chars"`
			StripAccents *bool `json:"strip_accents"`
			Lowercase    *bool `json:"lowercase"`
		}
		if err := j.Normalizer.into(&n); err != nil {
			return nil, err
		}
		def := func(p *bool, d bool) bool {
			if p == nil {
				return d
			}
			return *p
		}
		opts.CleanText = def(n.CleanText, true)
		opts.ChineseChars = def(n.ChineseChars, true)
		opts.Lowercase = def(n.Lowercase, true)
		opts.StripAccents = def(n.StripAccents, opts.Lowercase)
	}
	if j.PreTokenizer == nil || j.PreTokenizer.Type != "BertPreTokenizer" {
		t := "none"
		if j.PreTokenizer != nil {
			t = fmt.Sprintf("%q", j.PreTokenizer.Type)
		}
		return nil, fmt.Errorf("pre_tokenizer type %s is not supported (supported: BertPreTokenizer)", t)
	}
	vocab := j.Model.Vocab
	names := [5]string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
	var extra []string
	for _, a := range j.AddedTokens {
		if a.SingleWord || a.LStrip || a.RStrip || a.Normalized {
			return nil, fmt.Errorf("added token %q: single_word, lstrip, rstrip and normalized added tokens are not supported", a.Content)
		}
		if id, ok := vocab[a.Content]; ok && id != a.ID {
			return nil, fmt.Errorf("added token %q has id %d, the vocabulary %d", a.Content, a.ID, id)
		}
		vocab[a.Content] = a.ID
		extra = append(extra, a.Content)
	}
	w, err := newWordPiece(vocab, opts, names, extra)
	if err != nil {
		return nil, err
	}
	if err := w.parseTemplate(j.PostProcessor); err != nil {
		return nil, err
	}
	if j.Decoder != nil {
		if j.Decoder.Type != "WordPiece" {
			return nil, fmt.Errorf("decoder type %q is not supported (supported: WordPiece)", j.Decoder.Type)
		}
		var d struct {
			Prefix  *string `json:"prefix"`
			Cleanup *bool   `json:"cleanup"`
		}
		if err := j.Decoder.into(&d); err != nil {
			return nil, err
		}
		if d.Prefix != nil && *d.Prefix != opts.Prefix {
			return nil, fmt.Errorf("the WordPiece decoder's prefix %q differs from the model's %q", *d.Prefix, opts.Prefix)
		}
		w.cleanup = d.Cleanup == nil || *d.Cleanup
	}
	return w, nil
}

// parseTemplate reads the post-processor: TemplateProcessing (single and pair) or
// BertProcessing (cls, sep); none means no special tokens.
func (w *WordPiece) parseTemplate(c *typed) error {
	w.prefix, w.suffix, w.pairSuffix = nil, nil, nil
	w.prefixTypes, w.suffixTypes, w.pairSuffixTypes = nil, nil, nil
	w.typeA, w.typeB = 0, 1
	if c == nil {
		return nil
	}
	switch c.Type {
	case "BertProcessing":
		var v struct {
			CLS []any `json:"cls"`
			SEP []any `json:"sep"`
		}
		if err := c.into(&v); err != nil {
			return err
		}
		cls, ok1 := v.CLS[1].(float64)
		sep, ok2 := v.SEP[1].(float64)
		if len(v.CLS) != 2 || len(v.SEP) != 2 || !ok1 || !ok2 {
			return fmt.Errorf("post_processor BertProcessing: cls and sep must be [token, id]")
		}
		w.prefix, w.suffix, w.pairSuffix = []int32{int32(cls)}, []int32{int32(sep)}, []int32{int32(sep)}
		w.prefixTypes, w.suffixTypes, w.pairSuffixTypes = []int32{0}, []int32{0}, []int32{1}
		return nil
	case "TemplateProcessing":
		type part struct {
			SpecialToken *struct {
				ID     string `json:"id"`
				TypeID int32  `json:"type_id"`
			} `json:"SpecialToken"`
			Sequence *struct {
				ID     string `json:"id"`
				TypeID int32  `json:"type_id"`
			} `json:"Sequence"`
		}
		var v struct {
			Single        []part `json:"single"`
			Pair          []part `json:"pair"`
			SpecialTokens map[string]struct {
				IDs []int32 `json:"ids"`
			} `json:"special_tokens"`
		}
		if err := c.into(&v); err != nil {
			return err
		}
		// single: prefix $A suffix.
		seq := 0
		for _, p := range v.Single {
			switch {
			case p.Sequence != nil:
				seq++
				w.typeA = p.Sequence.TypeID
			case p.SpecialToken != nil:
				st, ok := v.SpecialTokens[p.SpecialToken.ID]
				if !ok {
					return fmt.Errorf("post_processor TemplateProcessing: special token %q is not in special_tokens", p.SpecialToken.ID)
				}
				for _, id := range st.IDs {
					if seq == 0 {
						w.prefix, w.prefixTypes = append(w.prefix, id), append(w.prefixTypes, p.SpecialToken.TypeID)
					} else {
						w.suffix, w.suffixTypes = append(w.suffix, id), append(w.suffixTypes, p.SpecialToken.TypeID)
					}
				}
			}
		}
		if seq != 1 {
			return fmt.Errorf("post_processor TemplateProcessing: the single template must have one sequence, has %d", seq)
		}
		// pair: the single template's prefix $A suffix, then $B pairSuffix.
		seq = 0
		var pre []int32
		for _, p := range v.Pair {
			switch {
			case p.Sequence != nil:
				seq++
				if seq == 2 {
					w.typeB = p.Sequence.TypeID
					if !equalInt32(pre, append(append([]int32{}, w.prefix...), w.suffix...)) {
						return fmt.Errorf("post_processor TemplateProcessing: the pair template must begin with the single template")
					}
				}
			case p.SpecialToken != nil:
				st := v.SpecialTokens[p.SpecialToken.ID]
				for _, id := range st.IDs {
					if seq < 2 {
						pre = append(pre, id)
					} else {
						w.pairSuffix, w.pairSuffixTypes = append(w.pairSuffix, id), append(w.pairSuffixTypes, p.SpecialToken.TypeID)
					}
				}
			}
		}
		if len(v.Pair) > 0 && seq != 2 {
			return fmt.Errorf("post_processor TemplateProcessing: the pair template must have two sequences, has %d", seq)
		}
		return nil
	}
	return fmt.Errorf("post_processor type %q is not supported (supported: TemplateProcessing, BertProcessing)", c.Type)
}

func equalInt32(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Vocab is the number of ids.
func (w *WordPiece) Vocab() int { return len(w.tokens) }

// TokenID is the id of a token.
func (w *WordPiece) TokenID(token string) (int32, bool) { id, ok := w.vocab[token]; return id, ok }

// Token is the token of an id ("" when it has none).
func (w *WordPiece) Token(id int32) string {
	if id < 0 || int(id) >= len(w.tokens) {
		return ""
	}
	return w.tokens[id]
}

// Encode tokenizes text with the template's special tokens: [CLS] text [SEP].
func (w *WordPiece) Encode(text string) []int32 {
	ids := append([]int32{}, w.prefix...)
	ids = w.encode(text, ids)
	return append(ids, w.suffix...)
}

// EncodePair tokenizes a pair: [CLS] a [SEP] b [SEP], and the token-type ids (0 for the
// first part, 1 for the second).
func (w *WordPiece) EncodePair(a, b string) (ids, types []int32) {
	ids = append(ids, w.prefix...)
	types = append(types, w.prefixTypes...)
	n := len(ids)
	ids = w.encode(a, ids)
	for range len(ids) - n {
		types = append(types, w.typeA)
	}
	ids = append(ids, w.suffix...)
	types = append(types, w.suffixTypes...)
	n = len(ids)
	ids = w.encode(b, ids)
	for range len(ids) - n {
		types = append(types, w.typeB)
	}
	ids = append(ids, w.pairSuffix...)
	types = append(types, w.pairSuffixTypes...)
	return ids, types
}

// EncodePlain tokenizes text without special tokens around it.
func (w *WordPiece) EncodePlain(text string) []int32 { return w.encode(text, nil) }

// Tokenize returns the tokens of text, without special tokens around it.
func (w *WordPiece) Tokenize(text string) []string {
	ids := w.encode(text, nil)
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = w.tokens[id]
	}
	return out
}

// encode appends the ids of text: its special tokens matched whole first, the rest
// normalised, split into words and WordPiece-tokenized.
func (w *WordPiece) encode(text string, ids []int32) []int32 {
	for text != "" {
		at, tok := len(text), ""
		for _, s := range w.special {
			if i := strings.Index(text, s); i >= 0 && (i < at || (i == at && len(s) > len(tok))) {
				at, tok = i, s
			}
		}
		ids = w.encodeText(text[:at], ids)
		if tok == "" {
			break
		}
		ids = append(ids, w.vocab[tok])
		text = text[at+len(tok):]
	}
	return ids
}

// encodeText normalises, pre-tokenizes and WordPiece-tokenizes text without special
// tokens.
func (w *WordPiece) encodeText(text string, ids []int32) []int32 {
	for _, word := range bertWords(w.normalize(text)) {
		ids = w.wordPiece(word, ids)
	}
	return ids
}

// normalize is BertNormalizer: clean text, space out CJK ideographs, strip accents,
// lower-case (in that order, as Hugging Face's tokenizers do).
func (w *WordPiece) normalize(s string) string {
	o := w.Options
	var b strings.Builder
	for _, r := range s {
		if o.CleanText {
			if r == 0 || r == utf8.RuneError || bertControl(r) {
				continue
			}
			if bertSpace(r) {
				r = ' '
			}
		}
		if o.ChineseChars && isCJK(r) {
			b.WriteByte(' ')
			b.WriteRune(r)
			b.WriteByte(' ')
			continue
		}
		b.WriteRune(r)
	}
	s = b.String()
	if o.StripAccents {
		b.Reset()
		for _, r := range norm.NFD.String(s) {
			if !unicode.Is(unicode.Mn, r) {
				b.WriteRune(r)
			}
		}
		s = b.String()
	}
	if o.Lowercase {
		s = strings.ToLower(s)
	}
	return s
}

// bertWords is BertPreTokenizer: split on whitespace (dropped) and around every
// punctuation character (kept, one a word).
func bertWords(s string) []string {
	var words []string
	start := -1
	for i, r := range s {
		switch {
		case bertSpace(r):
			if start >= 0 {
				words = append(words, s[start:i])
				start = -1
			}
		case bertPunct(r):
			if start >= 0 {
				words = append(words, s[start:i])
				start = -1
			}
			words = append(words, s[i:i+utf8.RuneLen(r)])
		default:
			if start < 0 {
				start = i
			}
		}
	}
	if start >= 0 {
		words = append(words, s[start:])
	}
	return words
}

// wordPiece appends the ids of one word: greedy longest match first, continuations
// with the prefix; the unknown token for the whole word when a part has no match or the
// word is longer than MaxInputChars.
func (w *WordPiece) wordPiece(word string, ids []int32) []int32 {
	o := w.Options
	if utf8.RuneCountInString(word) > o.MaxInputChars {
		return append(ids, w.UnkID)
	}
	n := len(ids)
	for start := 0; start < len(word); {
		end := len(word)
		found := int32(-1)
		for end > start {
			sub := word[start:end]
			if start > 0 {
				sub = o.Prefix + sub
			}
			if id, ok := w.vocab[sub]; ok {
				found = id
				break
			}
			_, size := utf8.DecodeLastRuneInString(word[start:end])
			end -= size
		}
		if found < 0 {
			return append(ids[:n], w.UnkID)
		}
		ids = append(ids, found)
		start = end
	}
	return ids
}

// bertSpace is the whitespace of BERT's basic tokenizer (Hugging Face's tokenizers:
// \t, \n, \r and Unicode White_Space).
func bertSpace(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || unicode.Is(unicode.White_Space, r)
}

// bertControl: the Unicode "other" categories (Cc, Cf, Co, Cs, unassigned) but \t, \n, \r.
func bertControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs) || !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z)
}

// bertPunct: ASCII punctuation (which includes $, +, <, =, >, ^, `, |, ~) and the
// Unicode P categories.
func bertPunct(r rune) bool {
	if r < 128 {
		return r >= 33 && r <= 47 || r >= 58 && r <= 64 || r >= 91 && r <= 96 || r >= 123 && r <= 126
	}
	return unicode.IsPunct(r)
}

// isCJK reports whether r is a CJK Unified Ideograph (BERT's "Chinese character": the
// blocks of the original BERT's _is_chinese_char, as Hugging Face's tokenizers have them).
func isCJK(r rune) bool {
	return r >= 0x4E00 && r <= 0x9FFF || r >= 0x3400 && r <= 0x4DBF || r >= 0x20000 && r <= 0x2A6DF ||
		r >= 0x2A700 && r <= 0x2B73F || r >= 0x2B740 && r <= 0x2B81F || r >= 0x2B820 && r <= 0x2CEAF ||
		r >= 0xF900 && r <= 0xFAFF || r >= 0x2F800 && r <= 0x2FA1F
}

// Decode turns ids back into text as the WordPiece decoder does: tokens joined by
// spaces, continuations glued on, special tokens kept; then, with cleanup (the default),
// the spaces before punctuation and English contractions removed.
func (w *WordPiece) Decode(ids []int32) string { return w.decode(ids, false) }

// DecodeSkipSpecial is Decode without the special tokens.
func (w *WordPiece) DecodeSkipSpecial(ids []int32) string { return w.decode(ids, true) }

func (w *WordPiece) decode(ids []int32, skip bool) string {
	var b bytes.Buffer
	first := true
	for _, id := range ids {
		if skip && w.specIDs[id] {
			continue
		}
		tok := w.Token(id)
		if !first {
			if rest, ok := strings.CutPrefix(tok, w.Options.Prefix); ok {
				tok = rest
			} else {
				tok = " " + tok
			}
		}
		first = false
		if w.cleanup {
			tok = cleanupSpaces(tok)
		}
		b.WriteString(tok)
	}
	return b.String()
}

// cleanupSpaces is the decoders' clean-up, applied (as Hugging Face's tokenizers apply it)
// to each token with its leading space.
func cleanupSpaces(s string) string {
	for _, r := range [][2]string{{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
		{" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}} {
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return s
}

// EncodeTruncated is Encode cut to at most maxLen ids: the text's tokens are truncated
// from the end so that the template's special tokens ([CLS], [SEP]) stay, as Hugging
// Face's truncation=True, max_length=maxLen does. maxLen must leave room for them.
func (w *WordPiece) EncodeTruncated(text string, maxLen int) ([]int32, error) {
	room := maxLen - len(w.prefix) - len(w.suffix)
	if room < 0 {
		return nil, fmt.Errorf("hf: max length %d leaves no room for the %d special tokens", maxLen, len(w.prefix)+len(w.suffix))
	}
	a := w.encode(text, nil)
	a = a[:min(len(a), room)]
	ids := append(append([]int32{}, w.prefix...), a...)
	return append(ids, w.suffix...), nil
}

// EncodePairTruncated is EncodePair cut to at most maxLen ids by Hugging Face's
// longest_first strategy: a token is removed from the end of the longer part (the
// second when they are as long) until the pair fits.
func (w *WordPiece) EncodePairTruncated(a, b string, maxLen int) (ids, types []int32, err error) {
	special := len(w.prefix) + len(w.suffix) + len(w.pairSuffix)
	room := maxLen - special
	if room < 0 {
		return nil, nil, fmt.Errorf("hf: max length %d leaves no room for the %d special tokens", maxLen, special)
	}
	ta, tb := w.encode(a, nil), w.encode(b, nil)
	for len(ta)+len(tb) > room {
		if len(ta) > len(tb) {
			ta = ta[:len(ta)-1]
		} else {
			tb = tb[:len(tb)-1]
		}
	}
	ids = append(ids, w.prefix...)
	types = append(types, w.prefixTypes...)
	for _, id := range ta {
		ids, types = append(ids, id), append(types, w.typeA)
	}
	ids, types = append(ids, w.suffix...), append(types, w.suffixTypes...)
	for _, id := range tb {
		ids, types = append(ids, id), append(types, w.typeB)
	}
	ids, types = append(ids, w.pairSuffix...), append(types, w.pairSuffixTypes...)
	return ids, types, nil
}
