package hf

// The tokenizer of a checkpoint: tokenizer.json (and tokenizer_config.json) read and run
// as Hugging Face's tokenizers library runs them, for the BPE tokenizers of the families
// pkg/hf loads: byte-level BPE (GPT-2, Qwen2/Qwen3, Llama 3) and SentencePiece-style BPE
// (Llama 2, Mistral: ▁ for spaces, <0xNN> byte fallback).
//
// Why our own and not a library (December 2026, from the Go module proxy):
//   - github.com/gomlx/go-huggingface v0.3.1 reads SentencePiece's tokenizer.model only, not
//     tokenizer.json: no byte-level BPE, so no GPT-2, Qwen or Llama 3.
//   - github.com/sugarme/tokenizer v0.3.0 (pure Go) runs the ByteLevel and Split
//     pre-tokenizers through Go's regexp, which cannot express the lookahead \s+(?!\S) of
//     GPT-2's and Llama 3/Qwen's regexes: its ByteLevel regex leaves out the whitespace
//     branches (a TODO in its source), so whitespace runs split differently from Hugging
//     Face (every indented line of code), and Llama 3's and Qwen's Split regexes do not
//     compile; its BPE has no byte_fallback, so Llama 2 and Mistral lose every character
//     outside the vocabulary.
//   - github.com/daulet/tokenizers binds the Rust library through CGO and a prebuilt static
//     library: masklab builds with the Go toolchain alone.
// The two regexes are matched by hand-written scanners (pretokenize.go) that implement their
// alternations exactly, lookahead included; tokenizer_test.go checks the ids against an
// independent implementation (transformers.js's tokenizers) on 228 texts per family.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// File names of a checkpoint's tokenizer.
const (
	TokenizerFile       = "tokenizer.json"
	TokenizerConfigFile = "tokenizer_config.json"
)

// Tokenizer encodes text to token ids and decodes ids back, as the Hugging Face tokenizer
// described by a tokenizer.json does. It is safe for concurrent use.
type Tokenizer struct {
	// Special holds the ids of the special tokens tokenizer_config.json names (-1: none).
	Special Special
	// Vocab is the number of ids: one more than the largest id of the model's vocabulary
	// and its added tokens.
	Vocab int

	vocab   map[string]int32
	tokens  map[int32]string
	merges  map[uint64]merge // (left id, right id) -> merge
	byteIDs [256]int32       // <0xNN>'s id, -1 where the vocabulary lacks it

	mu    sync.Mutex
	cache map[string][]int32 // word -> ids

	added []addedToken // longest content first
	// The added tokens by their first byte, longest first: those matched in the text
	// (normalized false) and those matched in its normalized stretches.
	rawAdded, normAdded [256][]addedMatch
	addedIDs            map[int32]*addedToken

	norm      []normalizer
	pre       []preTokenizer
	byteLevel bool // the pre-tokenizer maps bytes to GPT-2's printable characters

	unk          int32 // -1: none
	wordLevel    bool  // a WordLevel model: each pre-tokenized word is one token, or unk
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool

	prefix, suffix []int32 // the post-processor's special tokens around one sequence
	decoders       []decoder
}

// Special are the ids of a tokenizer's special tokens; -1 where it has none.
type Special struct {
	BOS, EOS, PAD, UNK int32
	// AddBOS and AddEOS tell whether Encode puts BOS first and EOS last.
	AddBOS, AddEOS bool
}

type addedToken struct {
	ID         int32  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// typed is any polymorphic component of tokenizer.json: a "type" and its fields.
type typed struct {
	Type string `json:"type"`
	raw  json.RawMessage
}

func (t *typed) UnmarshalJSON(b []byte) error {
	t.raw = append(json.RawMessage(nil), b...)
	var v struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	t.Type = v.Type
	return nil
}

func (t *typed) into(v any) error { return json.Unmarshal(t.raw, v) }

// sequence parses a "Sequence" component (normalizers, pre-tokenizers, decoders): the
// list under key, each element parsed by parse, flattened in order.
func sequence[T any](c *typed, key string, parse func(*typed) ([]T, error)) ([]T, error) {
	var v map[string]json.RawMessage
	var list []*typed
	if err := c.into(&v); err != nil {
		return nil, fmt.Errorf("%s sequence: %w", key, err)
	}
	if raw, ok := v[key]; ok {
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("%s sequence: %w", key, err)
		}
	}
	var all []T
	for _, e := range list {
		es, err := parse(e)
		if err != nil {
			return nil, err
		}
		all = append(all, es...)
	}
	return all, nil
}

// pattern is tokenizer.json's {"String": s} or {"Regex": r}.
type pattern struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

type tokenizerJSON struct {
	AddedTokens   []addedToken `json:"added_tokens"`
	Normalizer    *typed       `json:"normalizer"`
	PreTokenizer  *typed       `json:"pre_tokenizer"`
	PostProcessor *typed       `json:"post_processor"`
	Decoder       *typed       `json:"decoder"`
	Model         struct {
		Type                    string           `json:"type"`
		Vocab                   map[string]int32 `json:"vocab"`
		Merges                  []any            `json:"merges"`
		UnkToken                *string          `json:"unk_token"`
		FuseUnk                 bool             `json:"fuse_unk"`
		ByteFallback            bool             `json:"byte_fallback"`
		IgnoreMerges            bool             `json:"ignore_merges"`
		Dropout                 *float64         `json:"dropout"`
		ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
		EndOfWordSuffix         *string          `json:"end_of_word_suffix"`
	} `json:"model"`
}

// LoadTokenizer reads dir's tokenizer.json and, when present, tokenizer_config.json (the
// special tokens: bos_token, eos_token, pad_token, unk_token; add_bos_token and
// add_eos_token for Llama's tokenizer classes). A model, normalizer, pre-tokenizer,
// post-processor or decoder it cannot run exactly is an error that names its type.
func LoadTokenizer(dir string) (*Tokenizer, error) {
	path := filepath.Join(dir, TokenizerFile)
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("hf: %s: no %s (a checkpoint with only tokenizer.model or vocab.json/merges.txt: save it with transformers' AutoTokenizer.from_pretrained(dir).save_pretrained(dir), which writes tokenizer.json)", dir, TokenizerFile)
		}
		return nil, fmt.Errorf("hf: %w", err)
	}
	cfg, err := readTokenizerConfig(dir)
	if err != nil {
		return nil, err
	}
	t, err := NewTokenizer(b, cfg)
	if err != nil {
		return nil, fmt.Errorf("hf: %s: %w", path, err)
	}
	return t, nil
}

// NewTokenizer builds a tokenizer from the bytes of a tokenizer.json and the decoded
// tokenizer_config.json (nil when there is none).
func NewTokenizer(tokenizerJSONBytes []byte, config map[string]any) (*Tokenizer, error) {
	var j tokenizerJSON
	if err := json.Unmarshal(tokenizerJSONBytes, &j); err != nil {
		return nil, err
	}
	m := j.Model
	if m.Type != "BPE" && m.Type != "WordLevel" && !(m.Type == "" && m.Merges != nil) {
		return nil, fmt.Errorf("model type %q is not supported (supported: BPE, WordLevel; Unigram is not; BERT's WordPiece: hf.LoadWordPiece)", m.Type)
	}
	if m.Type == "WordLevel" && m.UnkToken == nil {
		def := "<unk>" // WordLevel's default unk_token
		m.UnkToken = &def
	}
	if m.Dropout != nil && *m.Dropout != 0 {
		return nil, fmt.Errorf("BPE dropout %g is not supported (only deterministic BPE)", *m.Dropout)
	}
	if m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "" {
		return nil, fmt.Errorf("BPE continuing_subword_prefix %q is not supported", *m.ContinuingSubwordPrefix)
	}
	if m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "" {
		return nil, fmt.Errorf("BPE end_of_word_suffix %q is not supported", *m.EndOfWordSuffix)
	}
	t := &Tokenizer{
		vocab: m.Vocab, tokens: make(map[int32]string, len(m.Vocab)+len(j.AddedTokens)),
		merges: make(map[uint64]merge, len(m.Merges)), addedIDs: map[int32]*addedToken{},
		unk: -1, fuseUnk: m.FuseUnk, byteFallback: m.ByteFallback, ignoreMerges: m.IgnoreMerges,
		wordLevel: m.Type == "WordLevel",
	}
	if t.vocab == nil {
		t.vocab = map[string]int32{}
	}
	for b := range t.byteIDs {
		t.byteIDs[b] = -1
		if id, ok := t.vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			t.byteIDs[b] = id
		}
	}
	for tok, id := range t.vocab {
		t.tokens[id] = tok
		t.Vocab = max(t.Vocab, int(id)+1)
	}
	for rank, mg := range m.Merges {
		var pair [2]string
		switch v := mg.(type) {
		case string: // "a b"
			a, b, ok := strings.Cut(v, " ")
			if !ok {
				return nil, fmt.Errorf("merge %d %q is not two tokens separated by a space", rank, v)
			}
			pair = [2]string{a, b}
		case []any: // ["a", "b"]
			a, ok1 := v[0].(string)
			b, ok2 := v[1].(string)
			if len(v) != 2 || !ok1 || !ok2 {
				return nil, fmt.Errorf("merge %d %v is not a pair of tokens", rank, v)
			}
			pair = [2]string{a, b}
		default:
			return nil, fmt.Errorf("merge %d %v is neither \"a b\" nor [\"a\", \"b\"]", rank, mg)
		}
		id, ok := t.vocab[pair[0]+pair[1]]
		_, okA := t.vocab[pair[0]]
		_, okB := t.vocab[pair[1]]
		if !ok || !okA || !okB {
			return nil, fmt.Errorf("merge %d %q + %q: a token is not in the vocabulary", rank, pair[0], pair[1])
		}
		if k := pairKey(t.vocab[pair[0]], t.vocab[pair[1]]); !hasKey(t.merges, k) {
			t.merges[k] = merge{rank, id}
		}
	}
	if m.UnkToken != nil {
		id, ok := t.vocab[*m.UnkToken]
		if !ok {
			return nil, fmt.Errorf("unk_token %q is not in the vocabulary", *m.UnkToken)
		}
		t.unk = id
	}
	for i := range j.AddedTokens {
		a := j.AddedTokens[i]
		if a.Content == "" {
			return nil, fmt.Errorf("added token %d is empty", a.ID)
		}
		if id, ok := t.vocab[a.Content]; ok {
			a.ID = id // Hugging Face: a token of the model's vocabulary keeps its id
		}
		t.added = append(t.added, a)
		t.tokens[a.ID] = a.Content
		t.Vocab = max(t.Vocab, int(a.ID)+1)
	}
	sort.SliceStable(t.added, func(a, b int) bool { return len(t.added[a].Content) > len(t.added[b].Content) })
	for i := range t.added {
		a := &t.added[i]
		t.addedIDs[a.ID] = a
	}
	var err error
	if t.norm, err = parseNormalizer(j.Normalizer); err != nil {
		return nil, err
	}
	var normed []addedMatch
	for i := range t.added {
		a := &t.added[i]
		if !a.Normalized {
			t.rawAdded[a.Content[0]] = append(t.rawAdded[a.Content[0]], addedMatch{a.Content, a})
			continue
		}
		pat := a.Content
		for _, n := range t.norm {
			pat = n(pat)
		}
		if pat != "" {
			normed = append(normed, addedMatch{pat, a})
		}
	}
	sort.SliceStable(normed, func(i, j int) bool { return len(normed[i].pat) > len(normed[j].pat) })
	for _, m := range normed {
		t.normAdded[m.pat[0]] = append(t.normAdded[m.pat[0]], m)
	}
	if t.pre, err = t.parsePreTokenizer(j.PreTokenizer); err != nil {
		return nil, err
	}
	if err = t.parsePostProcessor(j.PostProcessor); err != nil {
		return nil, err
	}
	if t.decoders, err = parseDecoder(j.Decoder); err != nil {
		return nil, err
	}
	if err = t.readConfig(config); err != nil {
		return nil, err
	}
	return t, nil
}

// readConfig sets Special from tokenizer_config.json. Llama's tokenizer classes rebuild
// their post-processor from add_bos_token/add_eos_token, as transformers does; other
// classes keep tokenizer.json's.
func (t *Tokenizer) readConfig(cfg map[string]any) error {
	t.Special = Special{BOS: -1, EOS: -1, PAD: -1, UNK: t.unk}
	id := func(key string) (int32, error) {
		v, ok := cfg[key]
		if !ok || v == nil {
			return -1, nil
		}
		s, ok := v.(string)
		if m, isMap := v.(map[string]any); isMap {
			s, ok = m["content"].(string)
		}
		if !ok {
			return -1, fmt.Errorf("%s: %s is %v, not a token", TokenizerConfigFile, key, v)
		}
		if i, ok := t.TokenID(s); ok {
			return i, nil
		}
		return -1, fmt.Errorf("%s: %s %q is not a token of tokenizer.json", TokenizerConfigFile, key, s)
	}
	var err error
	for _, f := range []struct {
		key string
		dst *int32
	}{{"bos_token", &t.Special.BOS}, {"eos_token", &t.Special.EOS}, {"pad_token", &t.Special.PAD}, {"unk_token", &t.Special.UNK}} {
		i, e := id(f.key)
		if e != nil {
			err = errors.Join(err, e)
		} else if i >= 0 {
			*f.dst = i
		}
	}
	if err != nil {
		return err
	}
	class, _ := cfg["tokenizer_class"].(string)
	switch strings.TrimSuffix(class, "Fast") {
	case "LlamaTokenizer", "CodeLlamaTokenizer", "GemmaTokenizer":
		bos, hasBOS := cfg["add_bos_token"].(bool)
		eos, hasEOS := cfg["add_eos_token"].(bool)
		if hasBOS || hasEOS {
			if !hasBOS {
				bos = true
			}
			t.prefix, t.suffix = nil, nil
			if bos && t.Special.BOS >= 0 {
				t.prefix = []int32{t.Special.BOS}
			}
			if eos && t.Special.EOS >= 0 {
				t.suffix = []int32{t.Special.EOS}
			}
		}
	}
	t.Special.AddBOS = len(t.prefix) > 0 && t.prefix[0] == t.Special.BOS
	t.Special.AddEOS = len(t.suffix) > 0 && t.suffix[len(t.suffix)-1] == t.Special.EOS
	return nil
}

// TokenID is the id of a token of the vocabulary or an added token.
func (t *Tokenizer) TokenID(token string) (int32, bool) {
	for i := range t.added {
		if t.added[i].Content == token {
			return t.added[i].ID, true
		}
	}
	id, ok := t.vocab[token]
	return id, ok
}

// Token is the token of an id ("" when the id has none).
func (t *Tokenizer) Token(id int32) string { return t.tokens[id] }

// Encode tokenizes text as Hugging Face's tokenizer(text) does: added and special tokens
// in the text are matched first, the rest is normalized, pre-tokenized and split by BPE,
// and the post-processor's special tokens (BOS for Llama) are added. A character that
// neither the vocabulary, byte fallback nor an unk token can represent is dropped (byte-level
// tokenizers represent every byte).
func (t *Tokenizer) Encode(text string) []int32 {
	ids := slices.Clone(t.prefix)
	ids = t.encode(text, ids)
	return append(ids, t.suffix...)
}

// EncodePlain tokenizes text without the post-processor's special tokens
// (add_special_tokens=False): the ids of a piece of a longer sequence.
func (t *Tokenizer) EncodePlain(text string) []int32 { return t.encode(text, nil) }

// piece is a part of the text on its way through the pipeline; start tells whether it
// begins at the start of the text (Metaspace's prepend_scheme "first").
type piece struct {
	s     string
	start bool
}

func (t *Tokenizer) encode(text string, ids []int32) []int32 {
	// As Hugging Face's added vocabulary: tokens with normalized false are matched in the
	// text, those with normalized true (in their normalized form) in each normalized stretch.
	return splitAdded(piece{text, true}, &t.rawAdded, ids, func(p piece, ids []int32) []int32 {
		for _, n := range t.norm {
			p.s = n(p.s)
		}
		return splitAdded(p, &t.normAdded, ids, t.encodeWords)
	})
}

// addedMatch is an added token and the text that stands for it.
type addedMatch struct {
	pat string
	a   *addedToken
}

// splitAdded appends the ids of p's added tokens (table) and of the stretches between
// them (section).
func splitAdded(p piece, table *[256][]addedMatch, ids []int32, section func(piece, []int32) []int32) []int32 {
	text, pos := p.s, 0
	for pos < len(text) {
		m, from, to := nextAdded(text, pos, table)
		end := len(text)
		if m != nil {
			end = from
		}
		if end > pos {
			ids = section(piece{text[pos:end], p.start && pos == 0}, ids)
		}
		if m == nil {
			return ids
		}
		ids = append(ids, m.a.ID)
		pos = to
	}
	return ids
}

// nextAdded finds the leftmost, then longest, added token in text at or after pos, and the
// span it takes (with the whitespace lstrip and rstrip absorb).
func nextAdded(text string, pos int, table *[256][]addedMatch) (*addedMatch, int, int) {
	for i := pos; i < len(text); i++ {
		for k := range table[text[i]] {
			m := &table[text[i]][k]
			a := m.a
			if !strings.HasPrefix(text[i:], m.pat) {
				continue
			}
			from, to := i, i+len(m.pat)
			if a.SingleWord && (from > 0 && isWordChar(lastRune(text[:from])) || to < len(text) && isWordChar(firstRune(text[to:]))) {
				continue
			}
			if a.LStrip {
				for from > pos {
					r, n := utf8.DecodeLastRuneInString(text[:from])
					if !unicode.IsSpace(r) {
						break
					}
					from -= n
				}
			}
			if a.RStrip {
				for to < len(text) {
					r, n := utf8.DecodeRuneInString(text[to:])
					if !unicode.IsSpace(r) {
						break
					}
					to += n
				}
			}
			return m, from, to
		}
	}
	return nil, 0, 0
}

func isWordChar(r rune) bool  { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }
func lastRune(s string) rune  { r, _ := utf8.DecodeLastRuneInString(s); return r }
func firstRune(s string) rune { r, _ := utf8.DecodeRuneInString(s); return r }

// encodeWords runs one normalized stretch of text between added tokens through the
// pre-tokenizer and BPE.
func (t *Tokenizer) encodeWords(p piece, ids []int32) []int32 {
	words := []piece{p}
	for _, pt := range t.pre {
		var next []piece
		for _, w := range words {
			next = pt(w, next)
		}
		words = next
	}
	for _, w := range words {
		switch id, ok := t.vocab[w.s]; {
		case w.s == "":
		case t.wordLevel && ok:
			ids = append(ids, id)
		case t.wordLevel && t.unk >= 0:
			ids = append(ids, t.unk)
		case !t.wordLevel:
			ids = t.bpe(w.s, ids)
		}
	}
	return ids
}

// bpe splits one pre-tokenized word into tokens: its characters (bytes for characters
// the vocabulary lacks, with byte_fallback; else unk), then merges, lowest rank first.
func (t *Tokenizer) bpe(word string, ids []int32) []int32 {
	if t.ignoreMerges {
		if id, ok := t.vocab[word]; ok {
			return append(ids, id)
		}
	}
	cacheable := len(word) <= maxCachedWord
	if cacheable {
		t.mu.Lock()
		cached, ok := t.cache[word]
		t.mu.Unlock()
		if ok {
			return append(ids, cached...)
		}
	}
	out := t.merge(word)
	if cacheable {
		t.mu.Lock()
		if len(t.cache) >= maxCache {
			clear(t.cache)
		}
		if t.cache == nil {
			t.cache = map[string][]int32{}
		}
		t.cache[word] = out
		t.mu.Unlock()
	}
	return append(ids, out...)
}

// The words bpe remembers (Hugging Face's BPE caches 10,000 too).
const (
	maxCache      = 10000
	maxCachedWord = 256
)

// merge runs BPE on one word.
func (t *Tokenizer) merge(word string) []int32 {
	type sym struct {
		id  int32
		unk bool
	}
	syms := make([]sym, 0, len(word))
	for i := 0; i < len(word); {
		_, w := utf8.DecodeRuneInString(word[i:]) // an invalid byte is a character of its own
		c := word[i : i+w]
		i += w
		if id, ok := t.vocab[c]; ok {
			syms = append(syms, sym{id, false})
			continue
		}
		if t.byteFallback {
			n := len(syms)
			for k := 0; k < len(c); k++ {
				id := t.byteIDs[c[k]]
				if id < 0 {
					syms = syms[:n]
					break
				}
				syms = append(syms, sym{id, false})
			}
			if len(syms) > n {
				continue
			}
		}
		if t.unk < 0 {
			continue
		}
		if t.fuseUnk && len(syms) > 0 && syms[len(syms)-1].unk {
			continue
		}
		syms = append(syms, sym{t.unk, true})
	}
	ids := make([]int32, 0, len(syms))
	if len(syms) < 2 {
		for _, s := range syms {
			ids = append(ids, s.id)
		}
		return ids
	}
	// Merge lowest rank first, leftmost first among equal ranks, as Hugging Face's heap
	// does: symbols in a linked list, candidate pairs in a heap, stale ones skipped.
	n := len(syms)
	next, prev, ver := make([]int, n), make([]int, n), make([]int, n)
	for i := range syms {
		next[i], prev[i] = i+1, i-1
	}
	next[n-1] = -1
	var h pairHeap
	push := func(l int) {
		if l < 0 || next[l] < 0 {
			return
		}
		r := next[l]
		if m, ok := t.merges[pairKey(syms[l].id, syms[r].id)]; ok {
			h.push(pairCand{m.rank, l, r, ver[l], ver[r]})
		}
	}
	for i := 0; i+1 < n; i++ {
		push(i)
	}
	for len(h) > 0 {
		c := h.pop()
		if ver[c.l] != c.vl || ver[c.r] != c.vr || next[c.l] != c.r || ver[c.l] < 0 || ver[c.r] < 0 {
			continue
		}
		m := t.merges[pairKey(syms[c.l].id, syms[c.r].id)]
		syms[c.l] = sym{m.id, false}
		ver[c.l]++
		ver[c.r] = -1 // gone
		next[c.l] = next[c.r]
		if next[c.l] >= 0 {
			prev[next[c.l]] = c.l
		}
		push(prev[c.l])
		push(c.l)
	}
	for i := 0; i >= 0; i = next[i] {
		ids = append(ids, syms[i].id)
	}
	return ids
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// merge is one BPE merge: its rank and the token it makes.
type merge struct {
	rank int
	id   int32
}

// pairCand is a pair of adjacent symbols that a merge joins, with the symbols' versions
// when it was found.
type pairCand struct {
	rank, l, r int
	vl, vr     int
}

// pairHeap is a binary min-heap of candidates: lowest rank, then leftmost.
type pairHeap []pairCand

func (c pairCand) less(d pairCand) bool { return c.rank < d.rank || c.rank == d.rank && c.l < d.l }

func (h *pairHeap) push(c pairCand) {
	*h = append(*h, c)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if !a[i].less(a[p]) {
			break
		}
		a[i], a[p] = a[p], a[i]
		i = p
	}
}

func (h *pairHeap) pop() pairCand {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(a) && a[l].less(a[m]) {
			m = l
		}
		if r < len(a) && a[r].less(a[m]) {
			m = r
		}
		if m == i {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}

func hasKey[K comparable, V any](m map[K]V, k K) bool { _, ok := m[k]; return ok }

// Decode turns ids back into text as Hugging Face's tokenizer.decode(ids) does, special
// tokens included and without clean_up_tokenization_spaces. Ids without a token are skipped.
func (t *Tokenizer) Decode(ids []int32) string { return t.decode(ids, false) }

// DecodeSkipSpecial is Decode with skip_special_tokens=True.
func (t *Tokenizer) DecodeSkipSpecial(ids []int32) string { return t.decode(ids, true) }

func (t *Tokenizer) decode(ids []int32, skipSpecial bool) string {
	toks := make([]string, 0, len(ids))
	var out strings.Builder
	flush := func() {
		for _, d := range t.decoders {
			toks = d(toks)
		}
		if len(t.decoders) == 0 && len(toks) > 0 { // Hugging Face's default: one space between tokens
			toks = []string{strings.Join(toks, " ")}
		}
		for _, s := range toks {
			out.WriteString(s)
		}
		toks = toks[:0]
	}
	for _, id := range ids {
		if a := t.addedIDs[id]; a != nil {
			if skipSpecial && a.Special {
				continue
			}
			if t.byteLevel { // added tokens are text, not byte symbols
				flush()
				out.WriteString(a.Content)
				continue
			}
		}
		if s, ok := t.tokens[id]; ok {
			toks = append(toks, s)
		}
	}
	flush()
	return out.String()
}

// replaceArgs reads a Replace normalizer's or decoder's string pattern and content
// (kind names which, in errors); regex patterns are not supported.
func replaceArgs(c *typed, kind string) (old, repl string, err error) {
	var v struct {
		Pattern pattern `json:"pattern"`
		Content string  `json:"content"`
	}
	if err := c.into(&v); err != nil {
		return "", "", err
	}
	if v.Pattern.String == nil {
		return "", "", fmt.Errorf("%s Replace with a Regex pattern is not supported (only String patterns)", kind)
	}
	return *v.Pattern.String, v.Content, nil
}

// ---- normalizers ----

type normalizer func(string) string

func parseNormalizer(c *typed) ([]normalizer, error) {
	if c == nil {
		return nil, nil
	}
	switch c.Type {
	case "Sequence":
		return sequence(c, "normalizers", parseNormalizer)
	case "NFC":
		return []normalizer{norm.NFC.String}, nil
	case "NFD":
		return []normalizer{norm.NFD.String}, nil
	case "NFKC":
		return []normalizer{norm.NFKC.String}, nil
	case "NFKD":
		return []normalizer{norm.NFKD.String}, nil
	case "Lowercase":
		return []normalizer{strings.ToLower}, nil
	case "Prepend":
		var v struct {
			Prepend string `json:"prepend"`
		}
		if err := c.into(&v); err != nil {
			return nil, err
		}
		return []normalizer{func(s string) string {
			if s == "" {
				return s
			}
			return v.Prepend + s
		}}, nil
	case "Replace":
		old, repl, err := replaceArgs(c, "normalizer")
		if err != nil {
			return nil, err
		}
		return []normalizer{func(s string) string { return strings.ReplaceAll(s, old, repl) }}, nil
	}
	return nil, fmt.Errorf("normalizer type %q is not supported (supported: Sequence, NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace)", c.Type)
}

// ---- post-processors ----

func (t *Tokenizer) parsePostProcessor(c *typed) error {
	if c == nil {
		return nil
	}
	switch c.Type {
	case "ByteLevel": // offsets only
		return nil
	case "Sequence":
		var v struct {
			Processors []*typed `json:"processors"`
		}
		if err := c.into(&v); err != nil {
			return err
		}
		for _, p := range v.Processors {
			if err := t.parsePostProcessor(p); err != nil {
				return err
			}
		}
		return nil
	case "TemplateProcessing":
		var v struct {
			Single []struct {
				SpecialToken *struct {
					ID string `json:"id"`
				} `json:"SpecialToken"`
				Sequence *struct {
					ID string `json:"id"`
				} `json:"Sequence"`
			} `json:"single"`
			SpecialTokens map[string]struct {
				IDs []int32 `json:"ids"`
			} `json:"special_tokens"`
		}
		if err := c.into(&v); err != nil {
			return err
		}
		t.prefix, t.suffix = nil, nil
		seen := false
		for _, p := range v.Single {
			switch {
			case p.Sequence != nil:
				if seen {
					return fmt.Errorf("post_processor TemplateProcessing: a single template with two sequences")
				}
				seen = true
			case p.SpecialToken != nil:
				st, ok := v.SpecialTokens[p.SpecialToken.ID]
				if !ok {
					return fmt.Errorf("post_processor TemplateProcessing: special token %q is not in special_tokens", p.SpecialToken.ID)
				}
				if seen {
					t.suffix = append(t.suffix, st.IDs...)
				} else {
					t.prefix = append(t.prefix, st.IDs...)
				}
			}
		}
		return nil
	}
	return fmt.Errorf("post_processor type %q is not supported (supported: TemplateProcessing, ByteLevel, Sequence)", c.Type)
}

// ---- decoders ----

type decoder func([]string) []string

func parseDecoder(c *typed) ([]decoder, error) {
	if c == nil {
		return nil, nil
	}
	switch c.Type {
	case "Sequence":
		return sequence(c, "decoders", parseDecoder)
	case "ByteLevel":
		return []decoder{func(toks []string) []string {
			var b []byte
			for _, s := range toks {
				n := len(b)
				for _, r := range s {
					c, ok := unicodeToByte[r]
					if !ok { // a token with a character outside the map: its own bytes, as in Hugging Face
						b = append(b[:n], s...)
						break
					}
					b = append(b, c)
				}
			}
			return []string{lossyUTF8(b)}
		}}, nil
	case "Replace":
		old, repl, err := replaceArgs(c, "decoder")
		if err != nil {
			return nil, err
		}
		return []decoder{func(toks []string) []string {
			for i, s := range toks {
				toks[i] = strings.ReplaceAll(s, old, repl)
			}
			return toks
		}}, nil
	case "ByteFallback":
		return []decoder{byteFallbackDecoder}, nil
	case "Fuse":
		return []decoder{func(toks []string) []string { return []string{strings.Join(toks, "")} }}, nil
	case "Strip":
		var v struct {
			Content string `json:"content"`
			Start   int    `json:"start"`
			Stop    int    `json:"stop"`
		}
		if err := c.into(&v); err != nil {
			return nil, err
		}
		return []decoder{func(toks []string) []string {
			for i, s := range toks {
				for k := 0; k < v.Start && strings.HasPrefix(s, v.Content) && v.Content != ""; k++ {
					s = s[len(v.Content):]
				}
				for k := 0; k < v.Stop && strings.HasSuffix(s, v.Content) && v.Content != ""; k++ {
					s = s[:len(s)-len(v.Content)]
				}
				toks[i] = s
			}
			return toks
		}}, nil
	case "Metaspace":
		ms, err := parseMetaspace(c)
		if err != nil {
			return nil, err
		}
		return []decoder{func(toks []string) []string {
			for i, s := range toks {
				if i == 0 && ms.scheme != "never" { // the first token loses its ▁s, as in Hugging Face's
					toks[i] = strings.ReplaceAll(s, ms.Replacement, "")
				} else {
					toks[i] = strings.ReplaceAll(s, ms.Replacement, " ")
				}
			}
			return toks
		}}, nil
	}
	return nil, fmt.Errorf("decoder type %q is not supported (supported: Sequence, ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace)", c.Type)
}

// byteFallbackDecoder turns runs of <0xNN> tokens into the text of their bytes; a run that
// is not valid UTF-8 becomes one U+FFFD per byte, as in Hugging Face's tokenizers.
func byteFallbackDecoder(toks []string) []string {
	out := make([]string, 0, len(toks))
	var run []byte
	end := func() {
		if len(run) == 0 {
			return
		}
		if utf8.Valid(run) {
			out = append(out, string(run))
		} else {
			out = append(out, strings.Repeat("\uFFFD", len(run)))
		}
		run = run[:0]
	}
	for _, s := range toks {
		if len(s) == 6 && strings.HasPrefix(s, "<0x") && s[5] == '>' {
			var b byte
			if _, err := fmt.Sscanf(s[3:5], "%02X", &b); err == nil {
				run = append(run, b)
				continue
			}
		}
		end()
		out = append(out, s)
	}
	end()
	return out
}

// lossyUTF8 is Rust's String::from_utf8_lossy: each maximal invalid subsequence becomes
// one U+FFFD.
func lossyUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r != utf8.RuneError || n > 1 {
			sb.Write(b[:n])
			b = b[n:]
			continue
		}
		sb.WriteRune(utf8.RuneError)
		need := 0
		switch c := b[0]; {
		case c >= 0xC2 && c <= 0xDF:
			need = 1
		case c >= 0xE0 && c <= 0xEF:
			need = 2
		case c >= 0xF0 && c <= 0xF4:
			need = 3
		}
		k := 1
		for ; k <= need && k < len(b) && b[k]&0xC0 == 0x80; k++ {
		}
		b = b[k:]
	}
	return sb.String()
}

// Tokenizer loads the checkpoint's tokenizer (LoadTokenizer on its directory) and checks
// that every id it makes has a row in the model's embedding (vocab_size, often padded
// beyond the tokenizer's ids).
func (ck *Checkpoint) Tokenizer() (*Tokenizer, error) {
	tok, err := LoadTokenizer(ck.Dir)
	if err != nil {
		return nil, err
	}
	if tok.Vocab > ck.Config.Vocab {
		return nil, fmt.Errorf("hf: %s: the tokenizer's ids go up to %d, but config.json's vocab_size is %d: tokenizer and model do not belong together", ck.Dir, tok.Vocab-1, ck.Config.Vocab)
	}
	return tok, nil
}

// readTokenizerConfig reads dir's tokenizer_config.json, nil when there is none.
func readTokenizerConfig(dir string) (map[string]any, error) {
	path := filepath.Join(dir, TokenizerConfigFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("hf: %w", err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("hf: %s: %w", path, err)
	}
	return cfg, nil
}
