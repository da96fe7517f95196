package datasets

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// byteCodec is a codec whose ids are a text's bytes plus 10.
type byteCodec struct{}

func (byteCodec) EncodePlain(s string) []int32 {
	ids := make([]int32, len(s))
	for i := range len(s) {
		ids[i] = int32(s[i]) + 10
	}
	return ids
}

func (byteCodec) Decode(ids []int32) string {
	b := make([]byte, len(ids))
	for i, id := range ids {
		b[i] = byte(id - 10)
	}
	return string(b)
}

// A codec vocabulary re-encodes a task from its texts: an SFT example is the prompt's
// ids then the completion's (PromptLen the prompt's), a seq2seq example becomes one with
// its source as the prompt, an LM document is its text's ids; DecodeText goes through the
// codec and stops at EOS.
func TestWithCodecVocab(t *testing.T) {
	v, err := NewCodecVocab(270, func(id int) string { return map[int]string{1: "<s>", 2: "</s>", 3: "</s>"}[id] }, byteCodec{}, 2, 1, 2, -1, 266)
	if err != nil {
		t.Fatal(err)
	}
	if v.Size() != 270 || v.Token(3) != "<id:3>" || v.Token(4) != "<id:4>" || v.SEP != -1 || v.MASK != 266 {
		t.Fatalf("vocab: size %d, tokens %q %q, SEP %d MASK %d", v.Size(), v.Token(3), v.Token(4), v.SEP, v.MASK)
	}
	if got := v.DecodeText(append(byteCodec{}.EncodePlain("héllo"), 2, 50)); got != "héllo" {
		t.Errorf("DecodeText: %q", got)
	}
	dir := t.TempDir()
	files := map[string]string{
		"sft.jsonl": `{"prompt":"Q: 2+2?","completion":" 4"}` + "\n" + `{"prompt":"Q: 3+3?","completion":" 6"}` + "\n",
		"lm.jsonl":  `{"text":"hello world"}` + "\n" + `{"text":"bye"}` + "\n",
		"s2s.tsv":   "abc\tcba\nxy\tyx\n",
	}
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		kind := "jsonl:"
		if filepath.Ext(name) == ".tsv" {
			kind = "tsv:"
		}
		task, err := Load(kind+path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		nt, err := task.WithVocab(v)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]Kind{"sft.jsonl": SFT, "lm.jsonl": LM, "s2s.tsv": SFT}[name]
		if nt.Kind != want || nt.SrcVocab != nil || nt.Vocab != v {
			t.Errorf("%s: kind %s, want %s", name, nt.Kind, want)
		}
		for _, split := range [][]Example{nt.Train, nt.Valid, nt.Test} {
			for _, e := range split {
				p, c := e.SourceText, e.TargetText
				if want == LM {
					p = ""
				}
				if !slices.Equal(e.Target, byteCodec{}.EncodePlain(p+c)) || e.PromptLen != len(p) || e.Source != nil {
					t.Errorf("%s: %q|%q encoded %v, prompt %d", name, p, c, e.Target, e.PromptLen)
				}
			}
		}
	}
	// max_len counts codec ids; max_examples picks among the examples that fit.
	all, err := Load("jsonl:"+filepath.Join(dir, "lm.jsonl"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ maxLen, maxEx, want int }{{0, 0, 2}, {0, 1, 1}, {3, 0, 1}, {3, 2, 1}} {
		nt, err := all.WithCodec(v, c.maxLen, c.maxEx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(nt.Train) + len(nt.Valid) + len(nt.Test); n != c.want && len(all.Valid)+len(all.Test) == 0 {
			t.Errorf("max_len %d, max_examples %d: %d examples, want %d", c.maxLen, c.maxEx, n, c.want)
		}
		for _, e := range nt.Train {
			if c.maxLen > 0 && len(e.Target) > c.maxLen {
				t.Errorf("max_len %d kept %q", c.maxLen, e.TargetText)
			}
		}
	}
	// A completion marker cuts a codec task's text, each side encoded on its own.
	path := filepath.Join(dir, "marked.jsonl")
	if err := os.WriteFile(path, []byte(`{"text":"Q: 2+2? A: 4"}`+"\n"+`{"text":"no marker"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	task, err := Load("jsonl:"+path, Options{})
	if err == nil {
		task, err = task.WithVocab(v)
	}
	if err != nil {
		t.Fatal(err)
	}
	sft, _, err := task.WithCompletionMarker("A:")
	if err != nil {
		t.Fatal(err)
	}
	var codec byteCodec
	for _, e := range slices.Concat(sft.Train, sft.Valid, sft.Test) {
		text, want := codec.Decode(e.Target), len("Q: 2+2? A:")
		if text == "no marker" {
			want = len(text)
		} else if text != "Q: 2+2? A: 4" {
			t.Errorf("marked document encoded as %q", text)
		}
		if e.PromptLen != want {
			t.Errorf("marked %q: prompt %d ids, want %d", text, e.PromptLen, want)
		}
	}
	if _, err := NewCodecVocab(10, func(int) string { return "" }, byteCodec{}, -1, 1, 2, -1, -1); err == nil {
		t.Error("a vocabulary without PAD was accepted")
	}
}
