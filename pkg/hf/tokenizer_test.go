package hf

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

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
