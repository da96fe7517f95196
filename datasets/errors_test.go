package datasets

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name string
		opts Options
		want []string // substrings of the error
	}{
		{"no-such-task", Options{}, []string{`unknown task "no-such-task"`, "cedict-pinyin", "reverse", "jsonl"}},
		{"tsv", Options{}, []string{"Options.Path"}},
		{"tsv", Options{Path: filepath.Join(dir, "missing.tsv")}, []string{"missing.tsv"}},
		{"tsv", Options{Path: write("three.tsv", "a\tb\nc\td\te\n")}, []string{"three.tsv:2", "got 3"}},
		{"tsv", Options{Path: write("one.tsv", "a\tb\n\nc\n")}, []string{"one.tsv:3", "got 1"}},
		{"tsv", Options{Path: write("emptyfield.tsv", "a\t  \n")}, []string{"emptyfield.tsv:1", "empty target"}},
		{"tsv", Options{Path: write("empty.tsv", "")}, []string{"empty.tsv", "no examples"}},
		{"tsv", Options{Path: write("blank.tsv", "\n  \n")}, []string{"blank.tsv", "no examples"}},
		{"tsv", Options{Path: write("utf8.tsv", "a\tb\n\xff\tc\n")}, []string{"utf8.tsv:2", "UTF-8"}},
		{"jsonl", Options{Path: write("bad.jsonl", "{\"text\":\"a\"}\n{\"text\": \n")}, []string{"bad.jsonl:2", "JSON"}},
		{"jsonl", Options{Path: write("mixed.jsonl", "{\"text\":\"a\"}\n{\"prompt\":\"p\",\"completion\":\"c\"}\n")}, []string{"mixed.jsonl:2", "first at", "mixed.jsonl:1"}},
		{"jsonl", Options{Path: write("half.jsonl", "{\"prompt\":\"p\"}\n")}, []string{"half.jsonl:1", "completion"}},
		{"jsonl", Options{Path: write("two.jsonl", "{\"text\":\"a\"} {\"text\":\"b\"}\n")}, []string{"two.jsonl:1", "more than one"}},
		{"jsonl", Options{Path: write("arr.jsonl", "[1,2]\n")}, []string{"arr.jsonl:1"}},
		// A field of the wrong type is named, with the type it had (not "not a JSON object").
		{"jsonl", Options{Path: write("num.jsonl", "{\"prompt\": 5, \"completion\": \"x\"}\n")}, []string{"num.jsonl:1", `field "prompt" must be a string`, "number"}},
		{"jsonl", Options{Path: write("list.jsonl", "{\"text\": [\"a\"]}\n")}, []string{"list.jsonl:1", `field "text" must be a string`, "array"}},
		{"jsonl", Options{Path: write("emptytext.jsonl", "{\"text\":\" \"}\n")}, []string{"emptytext.jsonl:1", "empty"}},
		{"jsonl", Options{Path: write("none.jsonl", "")}, []string{"none.jsonl", "no examples"}},
		{"cedict-pinyin", Options{Path: "x.tsv"}, []string{"cedict-pinyin", "x.tsv"}},
		{"reverse", Options{MinLen: 9, MaxLen: 3}, []string{"MinLen 9 > MaxLen 3"}},
		{"reverse", Options{VocabSize: 3}, []string{"vocabulary size must be >= 4"}},
		{"cedict-docs", Options{VocabSize: 4}, []string{"vocabulary size must be > 6"}},
		{"cedict-pinyin", Options{MaxLen: 0, MinLen: 500}, []string{"training split is empty"}},
		{"reverse", Options{MaxExamples: -1}, []string{"negative option"}},
	} {
		_, err := Load(c.name, c.opts)
		if err == nil {
			t.Errorf("Load(%q, %+v): no error", c.name, c.opts)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Load(%q, %+v) error %q does not mention %q", c.name, c.opts, err, w)
			}
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("error %q spans lines", err)
		}
	}
}

func TestBatchErrors(t *testing.T) {
	task, err := Load("reverse", Options{TrainSize: 100, ValidSize: 10, TestSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	long := filepath.Join(t.TempDir(), "long.tsv")
	os.WriteFile(long, []byte("a b c d e f g h i j\tk\n"), 0o644)
	user, err := Load(long, Options{})
	if err != nil {
		t.Fatal(err)
	}
	split := "train"
	if len(user.Train) == 0 {
		split = map[bool]string{true: "valid", false: "test"}[len(user.Valid) > 0]
	}
	for _, c := range []struct {
		task  *Task
		split string
		bs    int
		step  int
		o     BatchOptions
		want  []string
	}{
		{task, "train", 8, 0, BatchOptions{TgtLen: 12}, []string{"longer than the model allows", "TgtLen 12", "reverse/train#"}},
		{task, "train", 8, 0, BatchOptions{SrcLen: 5}, []string{"source has", "SrcLen 5"}},
		{user, split, 1, 0, BatchOptions{SrcLen: 8}, []string{"long.tsv:1", "10 tokens"}},
		{task, "dev2", 8, 0, BatchOptions{}, []string{`unknown split "dev2"`}},
		{task, "train", 0, 0, BatchOptions{}, []string{"batch size must be > 0"}},
		{task, "train", 8, -1, BatchOptions{}, []string{"step must be >= 0"}},
		{task, "train", 8, 0, BatchOptions{Pack: FirstFit}, []string{"decoder-only"}},
		{task, "train", 8, 0, BatchOptions{Pack: "zigzag"}, []string{`unknown packing "zigzag"`, "first-fit"}},
		{task, "train", 101, 0, BatchOptions{Bucket: 2}, []string{"bucketing needs at least one full batch", "100 examples"}},
	} {
		_, err := c.task.Batch(c.split, c.bs, 0, c.step, c.o)
		if err == nil {
			t.Errorf("%s Batch(%s, %d, step %d, %+v): no error", c.task.Name, c.split, c.bs, c.step, c.o)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not mention %q", err, w)
			}
		}
	}
}

// Fuzzing the loaders: no panic; errors name the file; success means every example
// has tokens and a task can be built.
func FuzzParseTSV(f *testing.F) {
	for _, s := range []string{"a\tb\n", "source\ttarget\n程序员\tcheng2 xu4 yuan2\r\n", "a\tb\tc", "\t\n", "\xff\tb", "", "x\ty\n\n\nz\tw"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		kind, raws, in, err := parseTSV("f.tsv", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.tsv") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, r := range raws {
			if len(r.src) == 0 || len(r.tgt) == 0 {
				t.Fatalf("empty example %+v", r)
			}
		}
		if task, err := buildTextTask("tsv", kind, raws, in, Options{}); err == nil {
			task.Name = "tsv"
			task.finish()
			task.Batch("train", 2, 0, 3, BatchOptions{})
		}
	})
}

func FuzzParseJSONL(f *testing.F) {
	for _, s := range []string{`{"text":"a b"}`, `{"prompt":"问","completion":"答"}` + "\n" + `{"prompt":"p","completion":"c","x":1}`, `{"text":null}`, `[]`, `{"text":"a"}{"text":"b"}`, "", `{"prompt":"","completion":"c"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		kind, raws, in, err := parseJSONL("f.jsonl", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.jsonl") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if kind != LM && kind != SFT {
			t.Fatalf("kind %q", kind)
		}
		for _, r := range raws {
			if len(r.tgt) == 0 || (kind == SFT && len(r.prompt) == 0) {
				t.Fatalf("empty example %+v", r)
			}
		}
		if task, err := buildTextTask("jsonl", kind, raws, in, Options{}); err == nil {
			task.Name = "jsonl"
			task.finish()
			for _, p := range Packings() {
				task.Batch("train", 2, 0, 1, BatchOptions{Pack: p})
			}
		}
	})
}

// FuzzTokenize: tokens are non-empty and whitespace-free, they spell the text minus
// whitespace and control characters, and Detokenize is undone by Tokenize.
func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"程序员 cheng2 xu4 yuan2", "to act, (idiom) A-B", "ＡＢ Ｃ！", "\xff\xfe a", "e\u0301 \u200b x", "lü4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		toks := Tokenize(s)
		var b strings.Builder
		for _, tok := range toks {
			if tok == "" || strings.IndexFunc(tok, unicode.IsSpace) >= 0 {
				t.Fatalf("bad token %q in %q", tok, toks)
			}
			b.WriteString(tok)
		}
		if utf8.ValidString(s) {
			stripped := strings.Map(func(r rune) rune {
				if unicode.IsSpace(r) || unicode.IsControl(r) {
					return -1
				}
				return r
			}, s)
			if b.String() != stripped {
				t.Fatalf("tokens %q do not spell %q", toks, stripped)
			}
		}
		if again := Tokenize(Detokenize(toks)); !slices.Equal(again, toks) {
			t.Fatalf("Tokenize(Detokenize(%q)) = %q", toks, again)
		}
	})
}
