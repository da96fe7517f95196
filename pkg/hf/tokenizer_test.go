package hf

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// tokenizerFamilies are the fixtures of testdata/tokenizers (generate.js): each a
// tokenizer.json and tokenizer_config.json in Hugging Face's format.
var tokenizerFamilies = []string{"gpt2", "qwen3", "llama3", "llama2", "mistral"}

type tokenizerCase struct {
	Text    string  `json:"text"`
	IDs     []int32 `json:"ids"`
	Decoded string  `json:"decoded"`
}

// TestTokenizerMatchesTransformersJS compares Encode and Decode with the ids and texts of an
// independent implementation (transformers.js's tokenizers, run by generate.js) on every
// text of every family, and checks that Decode(Encode(x)) gives x back (less the special
// tokens the post-processor adds) wherever the tokenizer is lossless.
func TestTokenizerMatchesTransformersJS(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "tokenizers", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var expected map[string][]tokenizerCase
	if err := json.Unmarshal(b, &expected); err != nil {
		t.Fatal(err)
	}
	checkTokenizers(t, filepath.Join("testdata", "tokenizers"), expected, 200)
}

// TestTokenizerFullVocabularies runs the same comparison on the whole tokenizers of GPT-2,
// Qwen3, Llama 3 and Llama 2 (151,643 to 32,000 tokens; Meta's licence keeps Llama's out
// of the repository) and 2,000 more poems, written by
// `node pkg/hf/testdata/tokenizers/generate.js --full DIR`; set MASKLAB_HF_TOKENIZERS=DIR.
func TestTokenizerFullVocabularies(t *testing.T) {
	dir := os.Getenv("MASKLAB_HF_TOKENIZERS")
	if dir == "" {
		t.Skip("MASKLAB_HF_TOKENIZERS is not set (see generate.js --full)")
	}
	b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var expected map[string][]tokenizerCase
	if err := json.Unmarshal(b, &expected); err != nil {
		t.Fatal(err)
	}
	checkTokenizers(t, dir, expected, 2000)
}

func checkTokenizers(t *testing.T, dir string, expected map[string][]tokenizerCase, minCases int) {
	for _, fam := range tokenizerFamilies {
		if expected[fam] == nil && minCases > 200 {
			continue
		}
		t.Run(fam, func(t *testing.T) {
			tok, err := LoadTokenizer(filepath.Join(dir, fam))
			if err != nil {
				t.Fatal(err)
			}
			cases := expected[fam]
			if len(cases) < minCases {
				t.Fatalf("%d cases, want at least %d", len(cases), minCases)
			}
			same, decodedSame, roundTrips, lossless := 0, 0, 0, 0
			for _, c := range cases {
				ids := tok.Encode(c.Text)
				if slices.Equal(ids, c.IDs) {
					same++
				} else {
					t.Errorf("Encode(%.200q)\n got %.300v\nwant %.300v", c.Text, ids, c.IDs)
				}
				if got := tok.Decode(c.IDs); got == c.Decoded {
					decodedSame++
				} else {
					t.Errorf("Decode(%v)\n got %q\nwant %q", c.IDs, got, c.Decoded)
				}
				plain := tok.EncodePlain(c.Text)
				if want, ok := losslessText(fam, c.Text); ok {
					lossless++
					if got := tok.Decode(plain); got == want {
						roundTrips++
					} else {
						t.Errorf("Decode(EncodePlain(%q)) = %q", c.Text, got)
					}
				}
			}
			t.Logf("%s: %d/%d texts encode to the same ids, %d/%d decode to the same text, %d/%d lossless texts round-trip", fam, same, len(cases), decodedSame, len(cases), roundTrips, lossless)
		})
	}
}

// losslessText is what Decode(EncodePlain(text)) gives back when the family's tokenizer is
// lossless on text: byte-level BPE keeps every byte (Qwen normalizes to NFC first);
// SentencePiece-style BPE loses a leading space to the Strip decoder, a ▁ of the text
// (decoded as a space), and the space after an added token to the prepended ▁.
func losslessText(fam, text string) (string, bool) {
	switch fam {
	case "gpt2", "llama3":
		return text, true
	case "qwen3":
		return norm.NFC.String(text), true
	}
	if strings.HasPrefix(text, " ") || strings.Contains(text, "▁") || strings.Contains(text, "<s>") || strings.Contains(text, "</s>") || strings.Contains(text, "<unk>") {
		return "", false
	}
	return text, true
}

// TestTokenizerSpecial checks the special ids each family's tokenizer_config.json names and
// whether Encode adds BOS.
func TestTokenizerSpecial(t *testing.T) {
	for _, c := range []struct {
		fam   string
		want  Special
		vocab int
	}{
		{"gpt2", Special{BOS: 3000, EOS: 3000, PAD: -1, UNK: 3000}, 3001},
		{"qwen3", Special{BOS: -1, EOS: 151645, PAD: 151643, UNK: -1}, 151669},
		{"llama3", Special{BOS: 6000, EOS: 6001, PAD: -1, UNK: -1, AddBOS: true}, 6012},
		{"llama2", Special{BOS: 1, EOS: 2, PAD: -1, UNK: 0, AddBOS: true}, 5264},
		{"mistral", Special{BOS: 1, EOS: 2, PAD: -1, UNK: 0, AddBOS: true}, 5264},
	} {
		tok, err := LoadTokenizer(filepath.Join("testdata", "tokenizers", c.fam))
		if err != nil {
			t.Fatal(err)
		}
		if tok.Special != c.want || tok.Vocab != c.vocab {
			t.Errorf("%s: Special %+v, Vocab %d; want %+v, %d", c.fam, tok.Special, tok.Vocab, c.want, c.vocab)
		}
		ids := tok.Encode("hi")
		if got := len(ids) > 0 && ids[0] == c.want.BOS; got != c.want.AddBOS {
			t.Errorf("%s: Encode(\"hi\") = %v: BOS first %v, want %v", c.fam, ids, got, c.want.AddBOS)
		}
		if plain := tok.EncodePlain("hi"); c.want.AddBOS && !slices.Equal(plain, ids[1:]) {
			t.Errorf("%s: EncodePlain(\"hi\") = %v, Encode %v", c.fam, plain, ids)
		}
		if s := tok.DecodeSkipSpecial(tok.Encode("hi")); s != "hi" {
			t.Errorf("%s: DecodeSkipSpecial(Encode(\"hi\")) = %q", c.fam, s)
		}
	}
	// add_bos_token / add_eos_token rebuild a Llama tokenizer's template, as transformers does.
	dir := copyFixture(t, filepath.Join("tokenizers", "llama2"))
	editFile(t, dir, TokenizerConfigFile, `"add_eos_token": false`, `"add_eos_token": true`)
	tok, err := LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ids := tok.Encode("hi"); ids[0] != 1 || ids[len(ids)-1] != 2 || !tok.Special.AddEOS {
		t.Errorf("add_eos_token true: Encode(\"hi\") = %v, Special %+v", ids, tok.Special)
	}
}

// An unsupported model, normalizer, pre-tokenizer, regex, post-processor or decoder, and a
// missing tokenizer.json, are errors that name what is not supported.
func TestTokenizerErrors(t *testing.T) {
	for _, c := range []struct {
		fam, file, old, new, want string
	}{
		{"llama2", TokenizerFile, `"type":"BPE"`, `"type":"Unigram"`, `model type "Unigram" is not supported`},
		{"llama2", TokenizerFile, `{"type":"Prepend","prepend":"▁"}`, `{"type":"Precompiled","precompiled_charsmap":""}`, `normalizer type "Precompiled" is not supported`},
		{"gpt2", TokenizerFile, `"pre_tokenizer":{"type":"ByteLevel"`, `"pre_tokenizer":{"type":"Whitespace"`, `pre_tokenizer type "Whitespace" is not supported`},
		{"qwen3", TokenizerFile, `|\\s+(?!\\S)|\\s+"}`, `|\\s+(?!\\S)"}`, `pre_tokenizer Split regex "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)" is not supported`},
		{"llama2", TokenizerFile, `"post_processor":{"type":"TemplateProcessing"`, `"post_processor":{"type":"BertProcessing"`, `post_processor type "BertProcessing" is not supported`},
		{"llama2", TokenizerFile, `{"type":"Fuse"}`, `{"type":"CTC"}`, `decoder type "CTC" is not supported`},
		{"llama2", TokenizerFile, `"dropout":null`, `"dropout":0.1`, `BPE dropout 0.1 is not supported`},
		{"llama2", TokenizerConfigFile, `"eos_token": "</s>"`, `"eos_token": "<eos>"`, `eos_token "<eos>" is not a token`},
	} {
		dir := copyFixture(t, filepath.Join("tokenizers", c.fam))
		editFile(t, dir, c.file, c.old, c.new)
		_, err := LoadTokenizer(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s with %s: error %v, want one containing %q", c.fam, c.new, err, c.want)
		}
	}
	if _, err := LoadTokenizer(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no tokenizer.json") {
		t.Errorf("a directory without tokenizer.json: error %v", err)
	}
}

// BenchmarkTokenizerEncode encodes the fixture texts (28 kB) with each family's tokenizer
// (the whole ones with MASKLAB_HF_TOKENIZERS set).
func BenchmarkTokenizerEncode(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join("testdata", "tokenizers", "texts.json"))
	if err != nil {
		b.Fatal(err)
	}
	var texts []string
	if err := json.Unmarshal(raw, &texts); err != nil {
		b.Fatal(err)
	}
	text := strings.Join(texts, "\n")
	dir := filepath.Join("testdata", "tokenizers")
	if d := os.Getenv("MASKLAB_HF_TOKENIZERS"); d != "" {
		dir = d
	}
	for _, fam := range tokenizerFamilies {
		tok, err := LoadTokenizer(filepath.Join(dir, fam))
		if err != nil {
			continue // mistral has no whole tokenizer
		}
		b.Run(fam, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				tok.EncodePlain(text)
			}
		})
	}
}

// TestPreTokenizerSplits checks the hand-written regex scanners and Metaspace's split on
// the cases their alternations turn on (the ids tests cover them through BPE).
func TestPreTokenizerSplits(t *testing.T) {
	words := func(m matcher, s string) []string {
		var out []string
		for _, p := range splitIsolated(m)(piece{s, true}, nil) {
			out = append(out, p.s)
		}
		return out
	}
	llama3 := knownRegex(llama3Regex)
	qwen := knownRegex(qwen2Regex)
	for _, c := range []struct {
		m    matcher
		text string
		want []string
	}{
		{matchGPT2, "Hello  world", []string{"Hello", " ", " world"}},
		{matchGPT2, "a   \n", []string{"a", "   \n"}},
		{matchGPT2, "x \ty", []string{"x", " ", "\ty"[:1], "y"}},
		{matchGPT2, "I'm DON'T 'sa", []string{"I", "'m", " DON", "'", "T", " '", "sa"}},
		{matchGPT2, "12345 ab?!", []string{"12345", " ab", "?!"}},
		{llama3, "I'M 12345 ab?!\n\n  x", []string{"I", "'M", " ", "123", "45", " ab", "?!\n\n", " ", " x"}},
		{llama3, "(中文)", []string{"(中文", ")"}},
		{llama3, "a \r\n\r\n b", []string{"a", " \r\n\r\n", " b"}},
		{qwen, "2026年", []string{"2", "0", "2", "6", "年"}},
	} {
		if got := words(c.m, c.text); !slices.Equal(got, c.want) {
			t.Errorf("%q: %q, want %q", c.text, got, c.want)
		}
	}
	var got []string
	for _, p := range splitBefore("▁a▁▁b", "▁", true, nil) {
		got = append(got, p.s)
	}
	if want := []string{"▁a", "▁", "▁b"}; !slices.Equal(got, want) {
		t.Errorf("splitBefore: %q, want %q", got, want)
	}
	got = got[:0]
	for _, p := range splitBefore("a▁b", "▁", true, nil) {
		got = append(got, p.s)
	}
	if want := []string{"a", "▁b"}; !slices.Equal(got, want) {
		t.Errorf("splitBefore: %q, want %q", got, want)
	}
}

// TestTokenizerRandomText encodes random strings of letters, digits, punctuation, CJK,
// emoji, whitespace and invalid bytes: no family panics, and byte-level BPE gives back every
// valid string exactly.
func TestTokenizerRandomText(t *testing.T) {
	alphabet := []string{"a", "Z", "é", "ß", "中", "文", "😀", "👍🏽", "1", "٣", "'", "'s", "'LL", ".", "?!", "(", "_", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "▁", "<s>", "<|endoftext|>", "<|im_start|>", "\xe4\xb8", "\xff"}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, fam := range tokenizerFamilies {
		tok, err := LoadTokenizer(filepath.Join("testdata", "tokenizers", fam))
		if err != nil {
			t.Fatal(err)
		}
		for range 300 {
			var sb strings.Builder
			for range rng.IntN(40) {
				sb.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			s := sb.String()
			got := tok.Decode(tok.EncodePlain(s))
			if fam == "gpt2" || fam == "llama3" {
				if utf8.ValidString(s) && got != s {
					t.Errorf("%s: Decode(EncodePlain(%q)) = %q", fam, s, got)
				}
			}
		}
	}
}

// TestMetaspaceDecoder: Hugging Face's Metaspace decoder drops every ▁ of the first token
// (prepend_scheme always or first) and turns the others into spaces.
func TestMetaspaceDecoder(t *testing.T) {
	ds, err := parseDecoder(&typed{Type: "Metaspace", raw: []byte(`{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true}`)})
	if err != nil {
		t.Fatal(err)
	}
	if got := ds[0]([]string{"▁▁Hi", "▁there", "▁"}); !slices.Equal(got, []string{"Hi", " there", " "}) {
		t.Errorf("got %q", got)
	}
}

// TestNormalizedAddedToken: an added token with normalized true is matched, in its
// normalized form, in the normalized text (Hugging Face's added vocabulary): with Llama 2's
// normalizer "<pad>" stands for "▁<pad>", so it is found after a space and not inside a word.
func TestNormalizedAddedToken(t *testing.T) {
	dir := copyFixture(t, filepath.Join("tokenizers", "llama2"))
	editFile(t, dir, TokenizerFile, `"added_tokens":[`, `"added_tokens":[{"id":5264,"content":"<pad>","single_word":false,"lstrip":false,"rstrip":false,"normalized":true,"special":false},`)
	tok, err := LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ids := tok.EncodePlain("a <pad>"); !slices.Contains(ids, 5264) {
		t.Errorf(`EncodePlain("a <pad>") = %v: no <pad>`, ids)
	}
	if ids := tok.EncodePlain("a<pad>"); slices.Contains(ids, 5264) {
		t.Errorf(`EncodePlain("a<pad>") = %v: <pad> inside a word`, ids)
	}
	editFile(t, dir, TokenizerFile, `"normalized":true`, `"normalized":false`)
	if tok, err = LoadTokenizer(dir); err != nil {
		t.Fatal(err)
	}
	if ids := tok.EncodePlain("a<pad>"); !slices.Contains(ids, 5264) {
		t.Errorf(`normalized false: EncodePlain("a<pad>") = %v: no <pad>`, ids)
	}
}

// A checkpoint whose tokenizer makes ids beyond vocab_size is refused.
func TestCheckpointTokenizerVocab(t *testing.T) {
	dir := copyFixture(t, "qwen3")
	for _, f := range []string{TokenizerFile, TokenizerConfigFile} {
		b, err := os.ReadFile(filepath.Join("testdata", "tokenizers", "gpt2", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ck, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ck.Tokenizer(); err == nil || !strings.Contains(err.Error(), "vocab_size is 96") {
		t.Errorf("a 3,001-token tokenizer on a 96-token model: error %v", err)
	}
}
