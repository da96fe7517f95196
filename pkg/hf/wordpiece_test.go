package hf

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// wordPieceExpected is testdata/wordpiece/expected.json (generate.js, transformers.js).
type wordPieceExpected struct {
	Texts    []string    `json:"texts"`
	Pairs    [][2]string `json:"pairs"`
	Variants map[string]struct {
		Single [][]int32 `json:"single"`
		Plain  [][]int32 `json:"plain"`
		Pairs  []struct {
			IDs   []int32 `json:"ids"`
			Types []int32 `json:"types"`
		} `json:"pairs"`
		Decoded []string `json:"decoded"`
	} `json:"variants"`
}

func readWordPieceExpected(t testing.TB) wordPieceExpected {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "wordpiece", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e wordPieceExpected
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// vocabOnly copies dir's vocab.txt and tokenizer_config.json (not tokenizer.json) into a
// temporary directory: the slow BertTokenizer's files.
func vocabOnly(t testing.TB, dir string) string {
	t.Helper()
	d := t.TempDir()
	for _, f := range []string{VocabFile, TokenizerConfigFile} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// transformersJSDivergences are the texts where transformers.js is known to differ from
// Hugging Face's tokenizers (Rust, and the Python BertTokenizer), with what they give
// instead: transformers.js's BertNormalizer walks UTF-16 code units, so it does not
// split out CJK ideographs beyond the BMP (extension B: U+20000...), which both
// Hugging Face implementations (and the original BERT's _is_chinese_char) treat as
// Chinese characters, each its own word. "𠀀𠀁" is one [UNK] there, two here.
var transformersJSDivergences = map[string]func(unk int32, want []int32) []int32{
	"𠀀𠀁 extension B ideographs 𪜀": func(unk int32, want []int32) []int32 {
		i := slices.Index(want, unk)
		return slices.Insert(slices.Clone(want), i, unk)
	},
}

// TestWordPieceMatchesTransformersJS tokenizes the committed texts (classical poems,
// CC-CEDICT entries, mixed scripts, accents, punctuation, special tokens) and pairs with
// each fixture tokenizer, loaded from tokenizer.json and from vocab.txt with
// tokenizer_config.json, and compares the ids, the token types and the decoded text
// with transformers.js's.
func TestWordPieceMatchesTransformersJS(t *testing.T) {
	e := readWordPieceExpected(t)
	for _, name := range []string{"lower", "cased", "keep-accents"} {
		want := e.Variants[name]
		dir := filepath.Join("testdata", "wordpiece", name)
		for _, src := range []string{"tokenizer.json", "vocab.txt"} {
			t.Run(name+"/"+src, func(t *testing.T) {
				d := dir
				if src == "vocab.txt" {
					d = vocabOnly(t, dir)
				}
				w, err := LoadWordPiece(d)
				if err != nil {
					t.Fatal(err)
				}
				bad, diverged := 0, 0
				for i, text := range e.Texts {
					wantSingle, wantPlain := want.Single[i], want.Plain[i]
					if fix := transformersJSDivergences[text]; fix != nil && name != "keep-accents" {
						wantSingle, wantPlain = fix(w.UnkID, wantSingle), fix(w.UnkID, wantPlain)
						diverged++
					}
					if got := w.Encode(text); !slices.Equal(got, wantSingle) {
						bad++
						if bad <= 5 {
							t.Errorf("text %d %q:\n got %v %q\nwant %v", i, text, got, w.Tokenize(text), want.Single[i])
						}
					}
					if got := w.EncodePlain(text); !slices.Equal(got, wantPlain) {
						t.Errorf("text %d %q without special tokens: got %v, want %v", i, text, got, wantPlain)
					}
					if src == "tokenizer.json" {
						if got := w.Decode(want.Plain[i]); got != want.Decoded[i] {
							t.Errorf("decode of text %d: got %q, want %q", i, got, want.Decoded[i])
						}
					}
				}
				for i, p := range e.Pairs {
					ids, types := w.EncodePair(p[0], p[1])
					if !slices.Equal(ids, want.Pairs[i].IDs) || !slices.Equal(types, want.Pairs[i].Types) {
						t.Errorf("pair %d %q: got %v %v, want %v %v", i, p, ids, types, want.Pairs[i].IDs, want.Pairs[i].Types)
					}
				}
				t.Logf("%s from %s: %d/%d texts equal (%d of them by the known divergence), %d pairs", name, src, len(e.Texts)-bad, len(e.Texts), diverged, len(e.Pairs))
			})
		}
	}
}

// TestWordPieceBasics checks BERT's rules on small cases: every CJK character a word,
// lower-casing and accent stripping, punctuation split out, ## continuations, [UNK] for
// a word with an unmatched part or over max_input_chars_per_word.
func TestWordPieceBasics(t *testing.T) {
	vocab := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "掩", "码", "un", "##believ", "##able", "cafe", "!", "a", "##a"}
	opts := DefaultWordPieceOptions()
	opts.MaxInputChars = 12
	w, err := NewWordPiece(vocab, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		text string
		want string
	}{
		{"掩码", "掩 码"},
		{"Unbelievable!", "un ##believ ##able !"},
		{"CAFÉ", "cafe"},
		{"unbelievablex", "[UNK]"},
		{"aaa " + strings.Repeat("a", 13), "a ##a ##a [UNK]"},
		{"unbelievablx", "[UNK]"},
		{"掩[MASK]码", "掩 [MASK] 码"},
		{"\u0000\ufffd", ""},
	} {
		if got := strings.Join(w.Tokenize(c.text), " "); got != c.want {
			t.Errorf("Tokenize(%q) = %q, want %q", c.text, got, c.want)
		}
	}
	ids, types := w.EncodePair("掩", "码")
	if !slices.Equal(ids, []int32{2, 5, 3, 6, 3}) || !slices.Equal(types, []int32{0, 0, 0, 1, 1}) {
		t.Errorf("EncodePair = %v %v", ids, types)
	}
	if got := w.DecodeSkipSpecial(w.Encode("Unbelievable!")); got != "unbelievable!" {
		t.Errorf("DecodeSkipSpecial = %q", got)
	}
}

// Bad WordPiece tokenizers are errors that say what is wrong.
func TestWordPieceBadFiles(t *testing.T) {
	if _, err := LoadWordPiece(t.TempDir()); err == nil || !strings.Contains(err.Error(), "neither tokenizer.json nor vocab.txt") {
		t.Errorf("empty directory: %v", err)
	}
	if _, err := LoadWordPiece(filepath.Join("testdata", "tokenizers", "gpt2")); err == nil || !strings.Contains(err.Error(), "not WordPiece") {
		t.Errorf("a BPE tokenizer.json: %v", err)
	}
	d := vocabOnly(t, filepath.Join("testdata", "wordpiece", "lower"))
	if err := os.WriteFile(filepath.Join(d, VocabFile), []byte("a\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadWordPiece(d); err == nil || !strings.Contains(err.Error(), `"[UNK]" is not in the vocabulary`) {
		t.Errorf("a vocabulary without [UNK]: %v", err)
	}
	b, err := os.ReadFile(filepath.Join("testdata", "wordpiece", "lower", TokenizerFile))
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(b), `"type": "BertPreTokenizer"`, `"type": "Whitespace"`, 1)
	if _, err := NewWordPieceJSON([]byte(bad)); err == nil || !strings.Contains(err.Error(), `"Whitespace"`) {
		t.Errorf("a Whitespace pre-tokenizer: %v", err)
	}
}

// Truncation keeps [CLS] and [SEP]; a pair loses tokens from its longer part first.
func TestWordPieceTruncation(t *testing.T) {
	vocab := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "d", "e"}
	w, err := NewWordPiece(vocab, DefaultWordPieceOptions())
	if err != nil {
		t.Fatal(err)
	}
	ids, err := w.EncodeTruncated("a b c d e", 4)
	if err != nil || !slices.Equal(ids, []int32{2, 5, 6, 3}) {
		t.Errorf("EncodeTruncated = %v, %v", ids, err)
	}
	if ids, _ := w.EncodeTruncated("a b", 10); !slices.Equal(ids, w.Encode("a b")) {
		t.Errorf("a short text changed: %v", ids)
	}
	ids, types, err := w.EncodePairTruncated("a b c d", "e e", 7) // room 4: a b | e e
	if err != nil || !slices.Equal(ids, []int32{2, 5, 6, 3, 9, 9, 3}) || !slices.Equal(types, []int32{0, 0, 0, 0, 1, 1, 1}) {
		t.Errorf("EncodePairTruncated = %v %v, %v", ids, types, err)
	}
	ids, _, _ = w.EncodePairTruncated("a b", "c d", 5) // room 2, equal lengths: a | c
	if !slices.Equal(ids, []int32{2, 5, 3, 7, 3}) {
		t.Errorf("EncodePairTruncated of equal parts = %v", ids)
	}
	if _, err := w.EncodeTruncated("a", 1); err == nil {
		t.Error("a max length below the special tokens' count is not an error")
	}
}

// Encode never panics, whatever the bytes (invalid UTF-8 included).
func FuzzWordPieceEncode(f *testing.F) {
	w, err := LoadWordPiece(filepath.Join("testdata", "wordpiece", "lower"))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", "秦川雄帝宅", "\xff\xfe[MASK]", "a\u0301", "[CLS][SEP"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids := w.Encode(s)
		if len(ids) < 2 || ids[0] != w.CLS || ids[len(ids)-1] != w.SEP {
			t.Fatalf("Encode(%q) = %v", s, ids)
		}
		for _, id := range ids {
			if id < 0 || int(id) >= w.Vocab() {
				t.Fatalf("id %d out of range", id)
			}
		}
		_ = w.Decode(ids)
	})
}
