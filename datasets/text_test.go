package datasets

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestTokenize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"程序员", []string{"程", "序", "员"}},
		{"cheng2 xu4 yuan2", []string{"cheng2", "xu4", "yuan2"}},
		{"to act, pragmatically (idiom)", []string{"to", "act", ",", "pragmatically", "(", "idiom", ")"}},
		{"AA制 lü4", []string{"AA", "制", "lü4"}},
		{"词语：程序员。", []string{"词", "语", "：", "程", "序", "员", "。"}},
		{"  \t\n", nil},
		{"non-governmental", []string{"non", "-", "governmental"}},
	} {
		if got := Tokenize(c.in); !slices.Equal(got, c.want) {
			t.Errorf("Tokenize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, s := range []string{"程序员", "cheng2 xu4 yuan2", "programmer", "to act, pragmatically (idiom)", "non-governmental organization", "词语：程序员。"} {
		if got := Detokenize(Tokenize(s)); got != s {
			t.Errorf("Detokenize(Tokenize(%q)) = %q", s, got)
		}
	}
}

func ExampleTokenize() {
	fmt.Println(strings.Join(Tokenize("程序员: cheng2 xu4 yuan2, programmer"), " | "))
	// Output: 程 | 序 | 员 | : | cheng2 | xu4 | yuan2 | , | programmer
}

// TestCedictRoundTrip: 程序员 -> cheng2 xu4 yuan2 / programmer through the tokenizer
// and the task vocabularies, and through a saved and reloaded vocabulary.
func TestCedictRoundTrip(t *testing.T) {
	for _, c := range []struct{ task, want string }{{"cedict-pinyin", "cheng2 xu4 yuan2"}, {"cedict-english", "programmer"}} {
		task, err := Load(c.task, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var found *Example
		for _, split := range [][]Example{task.Train, task.Valid, task.Test} {
			for i := range split {
				if split[i].SourceText == "程序员" {
					found = &split[i]
				}
			}
		}
		if found == nil {
			t.Fatalf("%s: no example with source 程序员", c.task)
		}
		if found.TargetText != c.want {
			t.Fatalf("%s: 程序员 -> %q, want %q", c.task, found.TargetText, c.want)
		}
		src, err := task.SrcVocab.EncodeText("程序员")
		if err != nil {
			t.Fatal(err)
		}
		tgt, err := task.Vocab.EncodeText(c.want)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(src, found.Source) || !slices.Equal(tgt, found.Target) {
			t.Fatalf("%s: encoded %v -> %v, example has %v -> %v", c.task, src, tgt, found.Source, found.Target)
		}
		if slices.Contains(src, int32(task.SrcVocab.UNK)) || slices.Contains(tgt, int32(task.Vocab.UNK)) {
			t.Fatalf("%s: 程序员 / %q encode with UNK: %v %v", c.task, c.want, src, tgt)
		}
		path := filepath.Join(t.TempDir(), "vocab.json")
		if err := task.Vocab.Save(path); err != nil {
			t.Fatal(err)
		}
		v, err := LoadVocab(path)
		if err != nil {
			t.Fatal(err)
		}
		// What a model would emit: BOS? target EOS PAD...
		out := append(append(slices.Clone(tgt), int32(v.EOS)), int32(v.PAD), int32(v.PAD))
		if got := v.DecodeText(out); got != c.want {
			t.Errorf("%s: reloaded vocab decodes %v as %q, want %q", c.task, out, got, c.want)
		}
		if got := task.SrcVocab.DecodeText(src); got != "程序员" {
			t.Errorf("%s: source decodes as %q", c.task, got)
		}
		if v.PAD != 0 || v.BOS != 1 || v.EOS != 2 || v.UNK != 3 || v.SEP != 4 || v.MASK != 5 {
			t.Errorf("%s: text-task special ids %d %d %d %d %d %d, want 0..5", c.task, v.PAD, v.BOS, v.EOS, v.UNK, v.SEP, v.MASK)
		}
	}
}

func TestVocabJSONErrors(t *testing.T) {
	for _, bad := range []string{`{"tokens":["a","a"]}`, `{"tokens":["<pad>","x"],"pad":1}`, `{"tokens":`, `{"tokens":[""]}`} {
		var v Vocab
		if err := v.UnmarshalJSON([]byte(bad)); err == nil {
			t.Errorf("UnmarshalJSON(%s) gave no error", bad)
		}
	}
	v, _ := SyntheticVocab(8, false)
	if _, err := v.Encode([]string{"3", "zzz"}); err == nil || !strings.Contains(err.Error(), "zzz") {
		t.Errorf("encoding an unknown token without UNK: err = %v", err)
	}
	if _, err := LoadVocab(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("LoadVocab of a missing file gave no error")
	}
}

func TestCedictChecksum(t *testing.T) {
	sum := sha256.Sum256(cedictGz)
	if got := hex.EncodeToString(sum[:]); got != "007ddacfabeaa1e066d6fd81b5150ed81f2786239f321b568cc1161c99ad422d" {
		t.Fatalf("data/cedict.tsv.gz sha256 %s differs from the one documented in data/README.md", got)
	}
	es, err := Cedict()
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 124263 {
		t.Fatalf("%d entries, want 124263", len(es))
	}
}

func TestCleanGlosses(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"programmer", []string{"programmer"}},
		{"see 曲阜市[Qu1 fu4 Shi4]", nil},
		{"surname Cheng / rule / order / (old) variant of 程[cheng2]", []string{"rule", "order", "surname Cheng"}},
		{"lit. see the wind and set your sails (idiom); fig. to act pragmatically / to be flexible", []string{"to act pragmatically", "to be flexible"}},
		{"Sana'a, capital of Yemen (Tw)", []string{"Sana'a, capital of Yemen"}},
		{"CL:個|个[ge4] / program", []string{"program"}},
		{"a kind of 饭馆[fan4 guan3] dish", []string{"a kind of dish"}},
		{"unbalanced (note", nil},
	} {
		if got := CleanGlosses(c.in); !slices.Equal(got, c.want) {
			t.Errorf("CleanGlosses(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestSplitsDisjointAndStable: no key (CEDICT headword) in two splits; the split of a
// key is a fixed function of the string (pinned values), and reloading gives the same
// examples in the same order.
func TestSplitsDisjointAndStable(t *testing.T) {
	if h := hashString(""); h != 0xcbf29ce484222325 {
		t.Fatalf("hashString is not FNV-1a 64: %x", h)
	}
	// Pinned: changing these moves data between splits for every user.
	pinned := map[string]int{"程序员": 0, "五彩纸屑": 2, "中国": 2, "你好": 0, "行": 2}
	for k, want := range pinned {
		if got := splitOf(k); got != want {
			t.Errorf("splitOf(%q) = %d, want %d", k, got, want)
		}
	}
	for _, name := range []string{"cedict-pinyin", "cedict-english", "cedict-docs", "cedict-sft"} {
		task, err := Load(name, Options{})
		if err != nil {
			t.Fatal(err)
		}
		where := map[string]int{}
		for s, split := range [][]Example{task.Train, task.Valid, task.Test} {
			for _, e := range split {
				if p, ok := where[e.Key]; ok && p != s {
					t.Fatalf("%s: key %q in splits %d and %d", name, e.Key, p, s)
				}
				where[e.Key] = s
			}
		}
		if name == "cedict-pinyin" && (len(task.Train) != 109751 || len(task.Valid) != 6070 || len(task.Test) != 6076) {
			t.Errorf("cedict-pinyin split sizes %d/%d/%d, want 109751/6070/6076 (pinned)", len(task.Train), len(task.Valid), len(task.Test))
		}
		n := len(task.Train) + len(task.Valid) + len(task.Test)
		if f := float64(len(task.Train)) / float64(n); f < 0.88 || f > 0.92 {
			t.Errorf("%s: train fraction %.3f, want about 0.90", name, f)
		}
		for k, s := range pinned {
			if got, ok := where[k]; ok && got != s {
				t.Errorf("%s: %q in split %d, want %d", name, k, got, s)
			}
		}
	}
	a, _ := Load("cedict-pinyin", Options{MaxExamples: 500, MaxEval: 50})
	taskCacheMu.Lock()
	clear(taskCache)
	taskCacheMu.Unlock()
	b, _ := Load("cedict-pinyin", Options{MaxExamples: 500, MaxEval: 50})
	if len(a.Train) != 500 || len(a.Valid) != 50 {
		t.Fatalf("subset sizes %d/%d, want 500/50", len(a.Train), len(a.Valid))
	}
	for i := range a.Train {
		if a.Train[i].SourceText != b.Train[i].SourceText || !slices.Equal(a.Train[i].Target, b.Train[i].Target) {
			t.Fatalf("train example %d differs between loads", i)
		}
	}
	if !slices.Equal(a.Vocab.Tokens, b.Vocab.Tokens) {
		t.Fatal("vocabulary differs between loads")
	}
}
