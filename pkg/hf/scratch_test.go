package hf

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/datasets"
	"github.com/masklab/masklab/pkg/layers"
)

var updateWordLevel = flag.Bool("update-wordlevel", false, "rewrite testdata/wordlevel's tokenizer files (then rerun its generate.js)")

// wordLevelTasks are the from-scratch vocabularies of testdata/wordlevel: per-character
// poetry (CJK and a few symbols) and CC-CEDICT's SFT task (Chinese, pinyin, English).
var wordLevelTasks = map[string]string{"poetry": "poetry-lm", "cedict": "cedict-sft"}

func wordLevelVocab(t testing.TB, task string) *datasets.Vocab {
	t.Helper()
	tk, err := datasets.Load(task, datasets.Options{VocabSize: 3000})
	if err != nil {
		t.Fatal(err)
	}
	return tk.Vocab
}

func hasSpecial(v *datasets.Vocab, text string) bool {
	for id, tok := range v.Tokens {
		if v.IsSpecial(id) && strings.Contains(text, tok) {
			return true
		}
	}
	return false
}

type wordLevelCase struct {
	Text    string  `json:"text"`
	IDs     []int32 `json:"ids"`     // tokenizer(text) of both JavaScript implementations (BOS first)
	Decoded string  `json:"decoded"` // decode(ids[1:]) of both
}

// The WordLevel tokenizer a from-scratch vocabulary exports to (WriteWordLevel) is the
// committed fixture byte for byte; pkg/hf's tokenizer, transformers.js's
// (@lenml/tokenizers) and Hugging Face's tokenizers.js (@huggingface/tokenizers) give
// its texts the same ids, which are masklab's own (datasets' Tokenize and Vocab) after
// <bos>; and they decode alike.
func TestWordLevelMatchesMasklabAndJS(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "wordlevel", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var expected map[string][]wordLevelCase
	if err := json.Unmarshal(b, &expected); err != nil {
		t.Fatal(err)
	}
	for name, task := range wordLevelTasks {
		t.Run(name, func(t *testing.T) {
			v := wordLevelVocab(t, task)
			fixture := filepath.Join("testdata", "wordlevel", name)
			if *updateWordLevel {
				if err := WriteWordLevel(fixture, v, 512); err != nil {
					t.Fatal(err)
				}
			}
			tmp := t.TempDir()
			if err := WriteWordLevel(tmp, v, 512); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{TokenizerFile, TokenizerConfigFile} {
				x, _ := os.ReadFile(filepath.Join(fixture, f))
				y, _ := os.ReadFile(filepath.Join(tmp, f))
				if !bytes.Equal(x, y) {
					t.Errorf("%s differs from the committed fixture (rerun with -update-wordlevel and generate.js)", f)
				}
			}
			tok, err := LoadTokenizer(fixture)
			if err != nil {
				t.Fatal(err)
			}
			cases := expected[name]
			if len(cases) < 250 {
				t.Fatalf("%d cases, want at least 250", len(cases))
			}
			unk := 0
			for _, c := range cases {
				if got := tok.Encode(c.Text); !slices.Equal(got, c.IDs) {
					t.Errorf("Encode(%.100q)\n got %v\nwant %v", c.Text, got, c.IDs)
				}
				own, err := v.EncodeText(c.Text)
				if err != nil {
					t.Fatal(err)
				}
				// Hugging Face matches special tokens in the text ("<bos>"); masklab's
				// tokenizer has no such tokens in text (it splits "<", "bos", ">").
				if got := tok.EncodePlain(c.Text); !slices.Equal(got, own) && !hasSpecial(v, c.Text) {
					t.Errorf("EncodePlain(%.100q) = %v, masklab's own %v", c.Text, got, own)
				}
				if got := tok.Decode(c.IDs[1:]); got != c.Decoded {
					t.Errorf("Decode(%v) = %q, want %q", c.IDs[1:], got, c.Decoded)
				}
				if slices.Contains(own, int32(v.UNK)) {
					unk++
				}
			}
			t.Logf("%s: %d texts (%d with <unk>), same ids and decoding in pkg/hf, both JavaScript tokenizers and masklab's own", name, len(cases), unk)
		})
	}
}

// A from-scratch decoder with a Llama or GPT-2 block recipe exports (ExportScratch) and
// loads back (Load) as LlamaForCausalLM / GPT2LMHeadModel with the same model config and
// identical logits; the tokenizer files load with the vocabulary's special tokens.
func TestScratchExportRoundTrip(t *testing.T) {
	v := wordLevelVocab(t, "poetry-lm")
	for _, c := range []struct {
		family, arch string
		tied         bool
	}{{layers.FamilyLlama, "LlamaForCausalLM", false}, {layers.FamilyLlama, "LlamaForCausalLM", true}, {layers.FamilyGPT2, "GPT2LMHeadModel", true}} {
		t.Run(c.arch, func(t *testing.T) {
			pos := layers.PosRotary
			if c.family == layers.FamilyGPT2 {
				pos = layers.PosLearned
			}
			cfg := layers.Config{Kind: layers.KindDecoder, Vocab: v.Size(), DModel: 32, Heads: 4, FF: 48, DecLayers: 2,
				Positions: pos, Tied: c.tied, MaxLen: 64, Self: mustMask(t, "causal & pad"), Arch: &layers.Arch{Family: c.family}}
			store := model.NewStore()
			if err := store.SetRNGStateFromSeed(7); err != nil {
				t.Fatal(err)
			}
			b := batch{ids: [][]int32{{1, 10, 11, 12, 13, 2, 0, 0}, {1, 20, 30, 40, 50, 60, 70, 2}}, lens: []int32{6, 8}}
			want := forward(t, store, cfg, b) // initializes the variables
			dir := t.TempDir()
			if err := ExportScratch(dir, cfg, v, store, "", ExportOptions{}); err != nil {
				t.Fatal(err)
			}
			ck, loaded, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if ck.Config.Architecture != c.arch {
				t.Errorf("architecture %s, want %s", ck.Config.Architecture, c.arch)
			}
			back := ck.Config.Model(cfg.Self)
			if back.Vocab != cfg.Vocab || back.DModel != cfg.DModel || back.Heads != cfg.Heads || back.FF != cfg.FF ||
				back.DecLayers != cfg.DecLayers || back.Tied != cfg.Tied || back.MaxLen != cfg.MaxLen || back.Positions != cfg.Positions {
				t.Errorf("model config %+v, exported %+v", back, cfg)
			}
			got := forward(t, loaded, back, b)
			for i := range got {
				for j := range got[i] {
					if !slices.Equal(got[i][j], want[i][j]) {
						t.Fatalf("logits differ at row %d position %d", i, j)
					}
				}
			}
			tv, err := ck.TaskVocab("")
			if err != nil {
				t.Fatal(err)
			}
			if tv.BOS != v.BOS || tv.EOS != v.EOS || tv.PAD != v.PAD || tv.UNK != v.UNK || tv.Size() != v.Size() {
				t.Errorf("special ids %d %d %d %d (size %d), want %d %d %d %d (%d)", tv.BOS, tv.EOS, tv.PAD, tv.UNK, tv.Size(), v.BOS, v.EOS, v.PAD, v.UNK, v.Size())
			}
		})
	}
}

// A model that no Hugging Face architecture computes, or a vocabulary WordLevel cannot
// hold, is refused with an error naming what.
func TestScratchExportRefuses(t *testing.T) {
	v := wordLevelVocab(t, "poetry-lm")
	base := layers.Config{Kind: layers.KindDecoder, Vocab: v.Size(), DModel: 32, Heads: 4, FF: 48, DecLayers: 1, Positions: layers.PosRotary}
	for _, c := range []struct {
		edit func(*layers.Config)
		want string
	}{
		{func(m *layers.Config) {}, "no block recipe"},
		{func(m *layers.Config) { m.Arch = &layers.Arch{Family: layers.FamilyLlama, Window: 4} }, "sliding window"},
		{func(m *layers.Config) {
			m.Arch = &layers.Arch{Family: layers.FamilyLlama}
			m.Positions = layers.PosSinusoidal
		}, "rotary positions"},
		{func(m *layers.Config) { m.Arch = &layers.Arch{Family: layers.FamilyLlama}; m.PostLN = true }, "post-LN"},
	} {
		m := base
		c.edit(&m)
		if _, err := ScratchConfig(m, v); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ScratchConfig: %v, want an error with %q", err, c.want)
		}
	}
	syn, err := datasets.Load("reverse", datasets.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteWordLevel(t.TempDir(), syn.Vocab, 64); err == nil || !strings.Contains(err.Error(), "<unk>") {
		t.Errorf("WriteWordLevel of a synthetic vocabulary: %v", err)
	}
}
