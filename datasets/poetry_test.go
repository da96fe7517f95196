package datasets

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

var poetryTasks = []string{"poetry-lm", "poetry-lm-titled", "poetry-couplet", "poetry-title", "poetry-compose", "poetry-tune"}

func TestPoetryChecksum(t *testing.T) {
	sum := sha256.Sum256(poetryGz)
	if got := hex.EncodeToString(sum[:]); got != "70f1299bca1b6b7359b60fc33437d33e9ca40abc2fd972ce7cf41f1a3267007d" {
		t.Fatalf("data/poetry.tsv.gz sha256 %s differs from the one documented in data/README.md", got)
	}
	poems, err := Poetry()
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for i := range poems {
		p := &poems[i]
		count[p.Dynasty+"/"+p.Form]++
		if p.Line != i+2 || strings.Contains(p.Text, "/") || strings.TrimSpace(p.Text) == "" {
			t.Fatalf("poem %d: line %d, text %q", i, p.Line, clip(p.Text))
		}
	}
	if len(poems) != 78605 || count["tang/shi"] != 57552 || count["song/ci"] != 21053 {
		t.Fatalf("%d poems %v, want 78605: 57552 tang/shi, 21053 song/ci", len(poems), count)
	}
	p := poems[0]
	if p.Author != "太宗皇帝" || p.Title != "帝京篇十首 一" || p.Lines()[1] != "綺殿千尋起，離宮百雉餘。" || len(p.Lines()) != 4 {
		t.Fatalf("first poem %+v", p)
	}
}

// poemOf returns the poem an example was made from (by its Origin).
func poemOf(t *testing.T, e *Example) *Poem {
	poems, _ := Poetry()
	s, ok := strings.CutPrefix(e.Origin, "poetry.tsv:")
	s, _, _ = strings.Cut(s, "#")
	line, err := strconv.Atoi(s)
	if !ok || err != nil || line < 2 || line-2 >= len(poems) {
		t.Helper()
		t.Fatalf("example origin %q", e.Origin)
	}
	return &poems[line-2]
}

// splitsOf loads a task and calls f with each example and its split (0, 1, 2).
func splitsOf(t *testing.T, name string, o Options, f func(e *Example, split int)) *Task {
	t.Helper()
	task, err := Load(name, o)
	if err != nil {
		t.Fatal(err)
	}
	for s, exs := range [][]Example{task.Train, task.Valid, task.Test} {
		if len(exs) == 0 {
			t.Fatalf("%s: split %d is empty", name, s)
		}
		for i := range exs {
			f(&exs[i], s)
		}
	}
	return task
}

// disjoint records which split each string of a kind ("key", "poem", ...) was seen in.
type disjoint map[string]map[string]int

func (d disjoint) add(t *testing.T, task, what, s string, split int) {
	m := d[what]
	if m == nil {
		m = map[string]int{}
		d[what] = m
	}
	if p, ok := m[s]; ok && p != split {
		t.Helper()
		t.Fatalf("%s: %s %q in splits %d and %d", task, what, clip(s), p, split)
	}
	m[s] = split
}

// TestPoetryTasks loads each task once (with its defaults, and split by author) and
// checks what makes it that task: no key, no poem text (normalized), no prompt and
// (couplets) no half-line in two splits, no author in two splits when split by
// author; couplets of 5 or 7 characters a side, aligned; documents that are the poem;
// completions after the prompt span (PromptLen) that are the title, the poem, the
// tune; ids that spell the texts. It pins the default sizes of poetry-lm and
// poetry-couplet (documented in doc.go and the README).
func TestPoetryTasks(t *testing.T) {
	pinned := map[string][4]int{ // train, valid, test, vocabulary
		"poetry-lm":      {69023, 3824, 3830, 10571},
		"poetry-couplet": {216367, 11274, 11517, 8918},
	}
	for _, name := range append(slices.Clone(poetryTasks), "poetry-lm:by-author", "poetry-couplet:by-author") {
		base, _, _ := strings.Cut(name, ":")
		byAuthor := strings.HasSuffix(name, "by-author")
		d := disjoint{}
		lens := map[int]int{}
		var last *Poem // a poem's couplets come one after another
		task := splitsOf(t, name, Options{}, func(e *Example, s int) {
			p := poemOf(t, e)
			if p != last {
				d.add(t, name, "key", e.Key, s)
				d.add(t, name, "poem", poetryData.norm[p.Line-2], s)
				if byAuthor {
					d.add(t, name, "author", p.Author, s)
				}
				last = p
			}
			if key := poetryData.norm[p.Line-2]; (byAuthor && e.Key != p.Author) || (!byAuthor && e.Key != key) {
				t.Fatalf("%s: key %q of a poem by %q", name, clip(e.Key), p.Author)
			}
			switch base {
			case "poetry-couplet":
				d.add(t, name, "half", e.SourceText, s)
				d.add(t, name, "half", e.TargetText, s)
				checkCouplet(t, e, p, lens)
				return
			case "poetry-title", "poetry-compose", "poetry-tune":
				d.add(t, name, "prompt", e.SourceText, s)
			}
			want := map[string]string{"poetry-lm": p.Text, "poetry-lm-titled": PoetryHeading(p) + "\n" + p.Text,
				"poetry-title": p.Title, "poetry-compose": p.Text, "poetry-tune": p.Title}[base]
			if e.TargetText != want {
				t.Fatalf("%s %s: target %q, want %q", name, e.Origin, clip(e.TargetText), clip(want))
			}
			switch base {
			case "poetry-title", "poetry-tune":
				if !strings.HasSuffix(e.SourceText, p.Text) || p.Title == "" || p.Title == lostTune {
					t.Fatalf("%s %s: prompt %q, title %q", name, e.Origin, clip(e.SourceText), p.Title)
				}
				if base == "poetry-tune" && (p.Form != "ci" || strings.ContainsAny(p.Title, "・ ")) {
					t.Fatalf("%s %s: %s titled %q", name, e.Origin, p.Form, p.Title)
				}
			case "poetry-compose":
				if !strings.Contains(e.SourceText, PoetryHeading(p)) {
					t.Fatalf("%s %s: prompt %q does not name %q", name, e.Origin, e.SourceText, PoetryHeading(p))
				}
			}
		})
		if want, ok := pinned[name]; ok {
			if got := [4]int{len(task.Train), len(task.Valid), len(task.Test), task.Vocab.Size()}; got != want {
				t.Errorf("%s: train, valid, test, vocabulary %v, want %v", name, got, want)
			}
		}
		n := len(task.Train) + len(task.Valid) + len(task.Test)
		if f := float64(len(task.Train)) / float64(n); f < 0.86 || f > 0.93 {
			t.Errorf("%s: train fraction %.3f, want about 0.90", name, f)
		}
		if base == "poetry-couplet" {
			if lens[5] == 0 || lens[7] == 0 || len(lens) != 2 || task.SrcLen != 8 || task.TgtLen != 8 {
				t.Fatalf("%s: half-line lengths %v, SrcLen %d TgtLen %d", name, lens, task.SrcLen, task.TgtLen)
			}
			for _, e := range task.Train[:2000] {
				src, tgt := []rune(e.SourceText), []rune(e.TargetText)
				for k := range src {
					if task.SrcVocab.Token(int(e.Source[k])) != string(src[k]) || task.Vocab.Token(int(e.Target[k])) != string(tgt[k]) {
						t.Fatalf("%s: position %d: tokens %q %q, want %q %q", e.Origin, k, task.SrcVocab.Token(int(e.Source[k])), task.Vocab.Token(int(e.Target[k])), string(src[k]), string(tgt[k]))
					}
				}
			}
			clearTaskCache()
			continue
		}
		for _, e := range task.Train[:2000] {
			completion := e.Target
			switch task.Kind {
			case LM:
				if e.PromptLen != 0 {
					t.Fatalf("%s: LM example with PromptLen %d", name, e.PromptLen)
				}
			case SFT:
				if e.PromptLen < 2 || e.PromptLen >= len(e.Target) || e.Target[e.PromptLen-1] != int32(task.Vocab.SEP) || slices.Contains(e.Target[e.PromptLen:], int32(task.Vocab.SEP)) {
					t.Fatalf("%s %s: PromptLen %d in %d ids, SEP at %d", name, e.Origin, e.PromptLen, len(e.Target), slices.Index(e.Target, int32(task.Vocab.SEP)))
				}
				completion = e.Target[e.PromptLen:]
				if got := task.Vocab.Decode(e.Target[:e.PromptLen-1]); !slices.Equal(got, Tokenize(e.SourceText)) {
					t.Fatalf("%s %s: prompt ids spell %q, want %q", name, e.Origin, got, Tokenize(e.SourceText))
				}
			}
			if got := task.Vocab.Decode(completion); !slices.Equal(got, Tokenize(e.TargetText)) {
				t.Fatalf("%s %s: ids spell %q, want %q", name, e.Origin, got, Tokenize(e.TargetText))
			}
		}
		if task.Options.MaxLen != poetryMaxLen || task.MaxTargetLen > poetryMaxLen {
			t.Errorf("%s: MaxLen %d, longest %d", name, task.Options.MaxLen, task.MaxTargetLen)
		}
		clearTaskCache() // these tasks are large: keep the test's memory small
	}
	for _, line := range []string{"秦川雄帝宅，函谷壯皇居。", "花深深。", "說四句，演毘尼，凡夫聽者盡歸依。", "愁雲闇□畔，寒色暝天涯。",
		"一二三四，五六七八。", "一二三四五，六七八九十十一。", "一二三四五，六七八九十", "一二三四五 ，六七八九十。"} {
		_, _, n, ok := parseCouplet(line)
		if want := line == "秦川雄帝宅，函谷壯皇居。"; ok != want || (ok && n != 5) {
			t.Errorf("parseCouplet(%q) = %d, %v", line, n, ok)
		}
	}
}

// checkCouplet: both halves have 5 or 7 characters, the same number, one token
// each, and they are the halves of the line "上句，下句。" the example comes from.
func checkCouplet(t *testing.T, e *Example, p *Poem, lens map[int]int) {
	n := len(e.Source)
	lens[n]++
	if (n != 5 && n != 7) || len(e.Target) != n || utf8.RuneCountInString(e.SourceText) != n || utf8.RuneCountInString(e.TargetText) != n {
		t.Helper()
		t.Fatalf("%s: %q -> %q has %d and %d tokens", e.Origin, e.SourceText, e.TargetText, n, len(e.Target))
	}
	_, k, _ := strings.Cut(e.Origin, "#")
	line, _ := strconv.Atoi(k)
	if l := p.Lines()[line-1]; !strings.HasPrefix(l, e.SourceText+"，"+e.TargetText) || utf8.RuneCountInString(l) != 2*n+2 {
		t.Helper()
		t.Fatalf("%s: %q -> %q is not line %q", e.Origin, e.SourceText, e.TargetText, l)
	}
}

func clearTaskCache() {
	taskCacheMu.Lock()
	clear(taskCache)
	taskCacheMu.Unlock()
}

// TestPoetryPacking: poetry-lm packs with every strategy, rows carrying segment ids
// (document masks) and per-document positions, every token of the split once.
func TestPoetryPacking(t *testing.T) {
	task, err := Load("poetry-lm", Options{MaxExamples: 2000, MaxEval: 300})
	if err != nil {
		t.Fatal(err)
	}
	for _, pack := range Packings() {
		o := BatchOptions{Pack: pack}
		if pack == Concat {
			o.TgtLen = 64 // shorter than many poems: they are split across rows
		}
		multi := 0
		for step := range 3 {
			b, err := task.Batch("train", 16, 1, step, o)
			if err != nil {
				t.Fatal(err)
			}
			checkBatch(t, task, task.Train, b, nil)
			for r := range b.Rows {
				if len(b.Docs[r]) > 1 {
					multi++
				}
				if b.Segments[r*b.T] != 1 {
					t.Fatalf("%s: row %d starts with segment %d", pack, r, b.Segments[r*b.T])
				}
			}
		}
		if (pack == NoPacking) != (multi == 0) {
			t.Errorf("%s: %d rows with several documents", pack, multi)
		}
		cov := covered{}
		for b, err := range task.Batches("valid", 16, o) {
			if err != nil {
				t.Fatal(err)
			}
			checkBatch(t, task, task.Valid, b, cov)
		}
		checkCoverage(t, "poetry-lm valid "+string(pack), task.Valid, cov)
	}
}

// TestPoetryFilters: dynasty and form select the poems, by Options or by the task
// name; the vocabulary cap holds.
func TestPoetryFilters(t *testing.T) {
	t.Cleanup(clearTaskCache)
	for _, c := range []struct {
		name          string
		o             Options
		dynasty, form string
	}{
		{"poetry-lm:tang", Options{}, "tang", "shi"},
		{"poetry-lm", Options{Dynasty: "song"}, "song", "ci"},
		{"poetry-couplet:form=ci", Options{}, "song", "ci"},
		{"poetry-title", Options{Form: "shi"}, "tang", "shi"},
		{"poetry-compose:song,ci", Options{}, "song", "ci"},
	} {
		task := splitsOf(t, c.name, c.o, func(e *Example, s int) {
			if p := poemOf(t, e); p.Dynasty != c.dynasty || p.Form != c.form {
				t.Fatalf("%s %+v: a %s %s poem, %s", c.name, c.o, p.Dynasty, p.Form, e.Origin)
			}
		})
		if !strings.Contains(task.Description, c.dynasty) && !strings.Contains(task.Description, c.form) {
			t.Errorf("%s: description %q does not name the filter", c.name, task.Description)
		}
	}
	a, err := Load("poetry-lm:song", Options{MaxExamples: 300})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load("poetry-lm", Options{Dynasty: "song", MaxExamples: 300})
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "poetry-lm" || a.Options.Dynasty != "song" || len(a.Train) != 300 || a.Train[7].Origin != b.Train[7].Origin {
		t.Fatalf("poetry-lm:song is not Options{Dynasty: song}: %s %+v", a.Name, a.Options)
	}
	capped, err := Load("poetry-lm:song", Options{VocabSize: 2000})
	if err != nil {
		t.Fatal(err)
	}
	unk := 0
	for _, e := range capped.Train {
		for _, id := range e.Target {
			if int(id) == capped.Vocab.UNK {
				unk++
			}
		}
	}
	if capped.Vocab.Size() != 2000 || unk == 0 {
		t.Errorf("VocabSize 2000: vocabulary %d, %d UNK", capped.Vocab.Size(), unk)
	}
}

func TestPoetryErrors(t *testing.T) {
	for _, c := range []struct {
		name    string
		opts    Options
		want    []string
		badName bool // CheckName must refuse the name too
	}{
		{"poetry-lm", Options{Dynasty: "ming"}, []string{`"poetry-lm"`, `unknown dynasty "ming"`, "tang, song"}, false},
		{"poetry-lm", Options{Form: "fu"}, []string{`unknown form "fu"`}, false},
		{"poetry-lm", Options{SplitBy: "title"}, []string{`unknown split "title"`, "poem, author"}, false},
		{"poetry-lm:ming", Options{}, []string{`"poetry-lm:ming"`, `unknown argument "ming"`, "by-author"}, true},
		{"poetry-couplet:dynasty=ming", Options{}, []string{`unknown dynasty "ming"`}, true},
		{"poetry-lm:era=tang", Options{}, []string{`unknown argument "era=tang"`}, true},
		{"poetry-lm:tang,song", Options{}, []string{`dynasty "song" given twice`}, true},
		{"poetry-lm:tang", Options{Dynasty: "song"}, []string{`dynasty "tang" given twice`}, false},
		{"poetry-lm:", Options{}, []string{`unknown argument ""`}, true},
		{"poetry-lm:tang,ci", Options{}, []string{"no poems", `dynasty "tang"`, `form "ci"`}, false},
		{"poetry-tune:tang", Options{}, []string{"ci", `dynasty "tang"`}, false},
		{"poetry-lm", Options{MaxLen: 1}, []string{"split is empty", "MaxLen 1"}, false},
		{"poetry-couplet:song", Options{MinLen: 8}, []string{"training split is empty", "MinLen 8"}, false},
		{"poetry-lm", Options{MinLen: 2000, MaxLen: 5000}, []string{"split is empty", "MinLen 2000", "MaxLen 5000"}, false},
		{"poetry-lm", Options{Path: "x.tsv"}, []string{"poetry-lm", "x.tsv"}, false},
		{"cedict-pinyin:tang", Options{}, []string{`"cedict-pinyin" takes no arguments`, "tang"}, true},
		{"cedict-pinyin", Options{Dynasty: "tang"}, []string{"cedict-pinyin", `Dynasty "tang"`, "poetry"}, false},
		{"poetry-lm-titeld", Options{}, []string{`unknown task "poetry-lm-titeld"`, "poetry-lm-titled"}, true},
		{"poetry-lm", Options{VocabSize: 6}, []string{"vocabulary size must be > 6"}, false},
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
		if err := CheckName(c.name); (err != nil) != c.badName {
			t.Errorf("CheckName(%q) = %v", c.name, err)
		}
	}
	for _, ok := range []string{"poetry-lm", "poetry-lm:tang", "poetry-couplet:song,ci,by-author", "poetry-title:dynasty=tang,split=poem", "tsv:x.tsv", "my.jsonl", "reverse"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q): %v", ok, err)
		}
	}
}
