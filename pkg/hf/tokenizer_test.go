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
	for _, fam := range tokenizerFamilies {
		t.Run(fam, func(t *testing.T) {
			tok, err := LoadTokenizer(filepath.Join("testdata", "tokenizers", fam))
			if err != nil {
				t.Fatal(err)
			}
			cases := expected[fam]
			if len(cases) < 200 {
				t.Fatalf("%d cases, want at least 200", len(cases))
			}
			same, decodedSame, roundTrips, lossless := 0, 0, 0, 0
			for _, c := range cases {
				ids := tok.Encode(c.Text)
				if slices.Equal(ids, c.IDs) {
					same++
				} else {
					t.Errorf("Encode(%q)\n got %v\nwant %v", c.Text, ids, c.IDs)
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
