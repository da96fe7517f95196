package datasets

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// covered records which decoder positions of which examples a batch holds.
type covered map[[2]int]int

// checkBatch verifies every promise of Batch's doc comment for b and adds its
// (example, position) pairs to cov.
func checkBatch(t *testing.T, task *Task, exs []Example, b Batch, cov covered) {
	t.Helper()
	B, S, T := b.B, b.S, b.T
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s %s step %d: %s", task.Name, b.Split, b.Step, fmt.Sprintf(format, args...))
	}
	if len(b.Dec) != B*T || len(b.Tgt) != B*T || len(b.Segments) != B*T || len(b.Positions) != B*T || len(b.Prompt) != B*T || len(b.Prefix) != B*T ||
		len(b.TgtLen) != B || len(b.PromptLen) != B || len(b.Examples) != B || len(b.Docs) != B {
		fail("slice lengths do not match B %d T %d", B, T)
	}
	if task.Kind == Seq2Seq {
		if S == 0 || len(b.Src) != B*S || len(b.SrcLen) != B {
			fail("seq2seq batch without Src: S %d len %d", S, len(b.Src))
		}
	} else if S != 0 || b.Src != nil || b.SrcLen != nil {
		fail("decoder-only batch with a source (S %d)", S)
	}
	v := task.Vocab
	tokens := 0
	for r := range B {
		n := int(b.TgtLen[r])
		tokens += n
		if r >= b.Rows {
			if n != 0 || b.Examples[r] != -1 {
				fail("row %d beyond Rows %d holds data", r, b.Rows)
			}
		}
		if S > 0 && r < b.Rows {
			e := &exs[b.Examples[r]]
			src := b.Src[r*S : (r+1)*S]
			if int(b.SrcLen[r]) != len(e.Source)+1 || !slices.Equal(src[:len(e.Source)], e.Source) || src[len(e.Source)] != int32(v.EOS) {
				fail("row %d: Src %v is not source %v + EOS", r, src, e.Source)
			}
			for _, id := range src[len(e.Source)+1:] {
				if id != int32(v.PAD) {
					fail("row %d: Src padding %v", r, src)
				}
			}
			for p, id := range b.SrcInTgt[r*S : (r+1)*S] {
				switch {
				case p >= int(b.SrcLen[r]):
					if id != -1 {
						fail("row %d: SrcInTgt %d on padding", r, id)
					}
				case id >= 0 && v.Token(int(id)) != task.SrcVocab.Token(int(src[p])):
					fail("row %d: source token %q maps to decoder token %q", r, task.SrcVocab.Token(int(src[p])), v.Token(int(id)))
				case id < 0 && v.Has(task.SrcVocab.Token(int(src[p]))) && int(src[p]) != task.SrcVocab.UNK:
					fail("row %d: source token %q is in the decoder vocabulary but maps to -1", r, task.SrcVocab.Token(int(src[p])))
				}
			}
		}
		seg, prevPos := int32(0), int32(-1)
		for p := range T {
			i := r*T + p
			if p >= n {
				if b.Dec[i] != int32(v.PAD) || b.Tgt[i] != int32(v.PAD) || b.Segments[i] != 0 || b.Positions[i] != 0 || b.Prompt[i] != 0 || b.Prefix[i] != 0 {
					fail("row %d position %d beyond TgtLen %d is not padding", r, p, n)
				}
				continue
			}
			if b.Segments[i] != seg {
				if b.Segments[i] != seg+1 {
					fail("row %d position %d: segment %d after %d", r, p, b.Segments[i], seg)
				}
				seg = b.Segments[i]
				if b.Positions[i] != 0 && !(b.Positions[i] > 0 && p == 0) {
					fail("row %d: segment %d starts at document position %d", r, seg, b.Positions[i])
				}
			} else if b.Positions[i] != prevPos+1 {
				fail("row %d position %d: document position %d after %d", r, p, b.Positions[i], prevPos)
			}
			prevPos = b.Positions[i]
			ex := int(b.Docs[r][seg-1])
			e := &exs[ex]
			pos := int(b.Positions[i])
			wantDec := int32(v.BOS)
			if pos > 0 {
				wantDec = e.Target[pos-1]
			}
			wantTgt := int32(v.EOS)
			if pos < len(e.Target) {
				wantTgt = e.Target[pos]
			}
			if b.Dec[i] != wantDec || b.Tgt[i] != wantTgt {
				fail("row %d position %d (doc %d pos %d): Dec %d Tgt %d, want %d %d", r, p, ex, pos, b.Dec[i], b.Tgt[i], wantDec, wantTgt)
			}
			if (b.Prompt[i] == 1) != (pos < e.PromptLen) || (b.Prefix[i] == 1) != (e.PromptLen > 0 && pos <= e.PromptLen) {
				fail("row %d position %d: Prompt %d Prefix %d for document position %d with PromptLen %d", r, p, b.Prompt[i], b.Prefix[i], pos, e.PromptLen)
			}
			if cov != nil {
				cov[[2]int{ex, pos}]++
			}
		}
		if r < b.Rows && (int(seg) != len(b.Docs[r]) || b.Examples[r] != b.Docs[r][0] || int(b.PromptLen[r]) != exs[b.Examples[r]].PromptLen) {
			fail("row %d: %d segments, Docs %v, Examples %d, PromptLen %d", r, seg, b.Docs[r], b.Examples[r], b.PromptLen[r])
		}
	}
	if tokens != b.Tokens {
		fail("Tokens %d, sum of TgtLen %d", b.Tokens, tokens)
	}
}

// checkCoverage: every position of every example exactly once.
func checkCoverage(t *testing.T, what string, exs []Example, cov covered) {
	t.Helper()
	total := 0
	for i := range exs {
		for p := range docLen(&exs[i]) {
			if c := cov[[2]int{i, p}]; c != 1 {
				t.Fatalf("%s: example %d position %d seen %d times, want once", what, i, p, c)
			}
		}
		total += docLen(&exs[i])
	}
	if len(cov) != total {
		t.Fatalf("%s: %d positions covered, the split has %d", what, len(cov), total)
	}
}

func userFiles(t *testing.T) (tsv, sft, lm string) {
	dir := t.TempDir()
	var a, b, c strings.Builder
	for i := range 300 {
		fmt.Fprintf(&a, "word%d 字%d\tanswer number %d\n", i, i%7, i)
		fmt.Fprintf(&b, "{\"prompt\": \"问题 %d 是什么？\", \"completion\": \"答案 %d\", \"id\": %d}\n", i, i*i, i)
		fmt.Fprintf(&c, "{\"text\": \"document %d says %s\"}\n", i, strings.Repeat("la ", i%9))
	}
	tsv, sft, lm = filepath.Join(dir, "pairs.tsv"), filepath.Join(dir, "sft.jsonl"), filepath.Join(dir, "docs.jsonl")
	for p, s := range map[string]string{tsv: a.String(), sft: b.String(), lm: c.String()} {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return tsv, sft, lm
}

// TestEveryTaskBatches: every registered task (and the user formats) yields train
// batches and in-order eval passes of the promised shapes and contents.
func TestEveryTaskBatches(t *testing.T) {
	tsv, sft, lm := userFiles(t)
	var loads []func() (*Task, error)
	for _, name := range Names() {
		switch name {
		case "tsv":
			loads = append(loads, func() (*Task, error) { return Load("tsv", Options{Path: tsv}) })
			loads = append(loads, func() (*Task, error) { return Load(tsv, Options{}) })
		case "jsonl":
			loads = append(loads, func() (*Task, error) { return Load("jsonl", Options{Path: sft}) })
			loads = append(loads, func() (*Task, error) { return Load("jsonl:"+lm, Options{}) })
		default:
			loads = append(loads, func() (*Task, error) {
				return Load(name, Options{MaxExamples: 1500, MaxEval: 100, TrainSize: 1500, ValidSize: 100, TestSize: 100})
			})
		}
	}
	for _, load := range loads {
		task, err := load()
		if err != nil {
			t.Fatal(err)
		}
		opts := []BatchOptions{{}, {Bucket: 4}}
		if task.Kind != Seq2Seq {
			opts = append(opts, BatchOptions{Pack: FirstFit}, BatchOptions{Pack: BestFitDecreasing}, BatchOptions{Pack: Concat, TgtLen: 16})
		}
		for _, o := range opts {
			for _, step := range []int{0, 1, 250} {
				b, err := task.Batch("train", 8, 5, step, o)
				if err != nil {
					t.Fatalf("%s %+v: %v", task.Name, o, err)
				}
				if b.Rows != 8 || b.B != 8 {
					t.Fatalf("%s %+v: train batch with %d of %d rows", task.Name, o, b.Rows, b.B)
				}
				if b.T != max(o.TgtLen, 0) && o.TgtLen > 0 || (o.TgtLen == 0 && b.T != task.TgtLen) {
					t.Fatalf("%s: T %d, want %d", task.Name, b.T, task.TgtLen)
				}
				checkBatch(t, task, task.Train, b, nil)
			}
			cov := covered{}
			for b, err := range task.Batches("valid", 8, o) {
				if err != nil {
					t.Fatal(err)
				}
				checkBatch(t, task, task.Valid, b, cov)
			}
			checkCoverage(t, fmt.Sprintf("%s valid %+v", task.Name, o), task.Valid, cov)
		}
	}
}

// TestPackingKeepsEveryToken: over one epoch of the training stream and over an
// in-order pass, every document position appears exactly once, documents stay in one
// row (except with Concat), and packing needs fewer rows than one document per row.
func TestPackingKeepsEveryToken(t *testing.T) {
	for _, name := range []string{"cedict-docs", "cedict-sft-long-answer"} {
		task, err := Load(name, Options{MaxExamples: 3000, MaxEval: 500})
		if err != nil {
			t.Fatal(err)
		}
		rowsOf := map[Packing]int{}
		for _, pack := range Packings() {
			o := BatchOptions{Pack: pack, PackWindow: 1000}
			if pack == Concat {
				o.TgtLen = 24 // shorter than many documents: they must be split
			}
			const B = 16
			// Epoch 0 of the training stream.
			n0, err := task.numRows("train", task.Train, B, 9, 0, task.TgtLen, o, false)
			if pack == Concat {
				n0, err = task.numRows("train", task.Train, B, 9, 0, 24, o, false)
			}
			if err != nil {
				t.Fatal(err)
			}
			rowsOf[pack] = n0
			cov := covered{}
			for step := 0; step*B < n0; step++ {
				b, err := task.Batch("train", B, 9, step, o)
				if err != nil {
					t.Fatal(err)
				}
				if rest := n0 - step*B; rest < B {
					// The batch spans into epoch 1: keep only epoch 0's rows.
					b.Rows = rest
					for r := rest; r < B; r++ {
						b.TgtLen[r], b.Examples[r], b.Docs[r] = 0, -1, nil
						for p := range b.T {
							i := r*b.T + p
							b.Dec[i], b.Tgt[i], b.Segments[i], b.Positions[i], b.Prompt[i], b.Prefix[i] = 0, 0, 0, 0, 0, 0
						}
					}
					b.Tokens = 0
					for _, n := range b.TgtLen {
						b.Tokens += int(n)
					}
				}
				checkBatch(t, task, task.Train, b, cov)
				if pack != Concat {
					for r := range b.Rows {
						if len(b.Docs[r]) != len(slices.Compact(slices.Clone(b.Docs[r]))) {
							t.Fatalf("%s %s: a document twice in one row: %v", name, pack, b.Docs[r])
						}
					}
				}
			}
			checkCoverage(t, fmt.Sprintf("%s %s train epoch 0", name, pack), task.Train, cov)
			if pack != Concat {
				// Each document in exactly one segment: coverage once per position and
				// segments start at position 0 (checked in checkBatch) imply it; also
				// count segments.
				segs := 0
				for step := 0; step*B < n0; step++ {
					b, _ := task.Batch("train", B, 9, step, o)
					for r := range min(B, n0-step*B) {
						segs += len(b.Docs[r])
					}
				}
				if segs != len(task.Train) {
					t.Fatalf("%s %s: %d segments for %d documents", name, pack, segs, len(task.Train))
				}
			}
			cov = covered{}
			for b, err := range task.Batches("test", B, o) {
				if err != nil {
					t.Fatal(err)
				}
				checkBatch(t, task, task.Test, b, cov)
			}
			checkCoverage(t, fmt.Sprintf("%s %s test", name, pack), task.Test, cov)
		}
		t.Logf("%s: rows per epoch %v (T %d)", name, rowsOf, task.TgtLen)
		if rowsOf[FirstFit] >= rowsOf[NoPacking] || rowsOf[BestFitDecreasing] >= rowsOf[NoPacking] {
			t.Errorf("%s: packing did not reduce rows: %v", name, rowsOf)
		}
		if rowsOf[BestFitDecreasing] > rowsOf[FirstFit] {
			t.Errorf("%s: best-fit-decreasing used more rows than first-fit: %v", name, rowsOf)
		}
	}
}

// TestBatchIsPureFunction: a batch depends only on (split, batch size, seed, step,
// options), not on what was asked before; epochs are fresh permutations.
func TestBatchIsPureFunction(t *testing.T) {
	for _, c := range []struct {
		name string
		o    BatchOptions
	}{{"reverse", BatchOptions{}}, {"reverse", BatchOptions{Bucket: 3}}, {"cedict-docs", BatchOptions{Pack: BestFitDecreasing, PackWindow: 300}}, {"cedict-docs", BatchOptions{Pack: Concat}}} {
		task, err := Load(c.name, Options{MaxExamples: 1000, TrainSize: 1000, MaxEval: 50})
		if err != nil {
			t.Fatal(err)
		}
		const B, step = 32, 77 // several epochs in
		fresh := task.clone()
		want, err := fresh.Batch("train", B, 11, step, c.o)
		if err != nil {
			t.Fatal(err)
		}
		for s := range step + 1 {
			got, err := task.Batch("train", B, 11, s, c.o)
			if err != nil {
				t.Fatal(err)
			}
			if s == step && !reflect.DeepEqual(got, want) {
				t.Fatalf("%s %+v: batch %d after iterating differs from a fresh one", c.name, c.o, step)
			}
		}
		other, _ := task.Batch("train", B, 12, step, c.o)
		if reflect.DeepEqual(other.Dec, want.Dec) {
			t.Fatalf("%s %+v: seeds 11 and 12 give the same batch", c.name, c.o)
		}
		if want.Epoch == 0 {
			t.Fatalf("%s: step %d still in epoch 0", c.name, step)
		}
	}
	// Unpacked stream: every epoch is a permutation of the split, a different one.
	task, _ := Load("copy", Options{TrainSize: 96, ValidSize: 10, TestSize: 10})
	var epochs [2][]int32
	for step := range 6 {
		b, _ := task.Batch("train", 32, 1, step, BatchOptions{})
		epochs[step/3] = append(epochs[step/3], b.Examples...)
	}
	for e, order := range epochs {
		sorted := slices.Sorted(slices.Values(order))
		for i, x := range sorted {
			if int(x) != i {
				t.Fatalf("epoch %d is not a permutation of 0..95: %v", e, sorted)
			}
		}
	}
	if slices.Equal(epochs[0], epochs[1]) {
		t.Fatal("epochs 0 and 1 have the same order")
	}
}

func TestBucketing(t *testing.T) {
	task, err := Load("copy", Options{MinLen: 1, MaxLen: 40, VocabSize: 30, TrainSize: 1000, ValidSize: 10, TestSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	spread := func(o BatchOptions) float64 {
		sum := 0
		for step := range 31 {
			b, err := task.Batch("train", 32, 4, step, o)
			if err != nil {
				t.Fatal(err)
			}
			sum += int(slices.Max(b.SrcLen) - slices.Min(b.SrcLen))
		}
		return float64(sum) / 31
	}
	plain, bucketed := spread(BatchOptions{}), spread(BatchOptions{Bucket: 8})
	if bucketed > plain/3 {
		t.Errorf("bucketing: mean length spread per batch %.1f, without %.1f; want much smaller", bucketed, plain)
	}
	// One bucketed epoch: 1000 - 1000%32 = 992 distinct examples.
	seen := map[int32]bool{}
	for step := range 31 {
		b, _ := task.Batch("train", 32, 4, step, BatchOptions{Bucket: 8})
		for _, e := range b.Examples {
			seen[e] = true
		}
	}
	if len(seen) != 992 {
		t.Errorf("one bucketed epoch saw %d distinct examples, want 992", len(seen))
	}
}

// TestSFTLayout: prompt spans, SEP, and that the tokens built piece by piece equal
// Tokenize of the texts (for CEDICT SFT and docs).
func TestSFTLayout(t *testing.T) {
	for _, name := range []string{"cedict-sft", "cedict-docs"} {
		task, err := Load(name, Options{MaxExamples: 4000, MaxEval: 10})
		if err != nil {
			t.Fatal(err)
		}
		v := task.Vocab
		longPrompt, longAnswer := 0, 0
		for _, e := range task.Train {
			var want []string
			if name == "cedict-sft" {
				want = append(append(Tokenize(e.SourceText), SepToken), Tokenize(e.TargetText)...)
				if e.PromptLen != len(Tokenize(e.SourceText))+1 || e.Target[e.PromptLen-1] != int32(v.SEP) {
					t.Fatalf("%s: PromptLen %d for prompt %q", name, e.PromptLen, e.SourceText)
				}
				if e.PromptLen > len(e.Target)-e.PromptLen {
					longPrompt++
				} else {
					longAnswer++
				}
			} else {
				want = Tokenize(e.TargetText)
				if e.PromptLen != 0 {
					t.Fatalf("docs example with PromptLen %d", e.PromptLen)
				}
			}
			if got := v.Decode(e.Target); !slices.Equal(got, want) {
				t.Fatalf("%s %s: tokens %q, Tokenize of the texts %q", name, e.Origin, got, want)
			}
		}
		if name == "cedict-sft" && (longPrompt < len(task.Train)/3 || longAnswer < len(task.Train)/5) {
			t.Errorf("cedict-sft: %d long-prompt and %d long-answer examples of %d", longPrompt, longAnswer, len(task.Train))
		}
	}
}

func TestTokenCounts(t *testing.T) {
	task, err := Load("cedict-pinyin", Options{})
	if err != nil {
		t.Fatal(err)
	}
	counts := task.TokenCounts()
	var sum, want int64
	for _, e := range task.Train {
		want += int64(len(e.Target))
	}
	for _, c := range counts {
		sum += c
	}
	if sum != want || len(counts) != task.Vocab.Size() {
		t.Fatalf("TokenCounts sums to %d over %d ids, the training targets have %d tokens over %d ids", sum, len(counts), want, task.Vocab.Size())
	}
	if counts[task.Vocab.ID("cheng2")] == 0 || counts[task.Vocab.PAD] != 0 {
		t.Fatal("cheng2 never counted, or PAD counted")
	}
	// Ids are ordered by decreasing training frequency.
	for id := textFirstData + 1; id < len(counts); id++ {
		if counts[id] > counts[id-1] {
			t.Fatalf("id %d (%q) is more frequent than id %d", id, task.Vocab.Token(id), id-1)
		}
	}
	if src := task.SourceTokenCounts(); src[task.SrcVocab.ID("程")] == 0 {
		t.Fatal("SourceTokenCounts: 程 never counted")
	}
}

func TestSharedVocab(t *testing.T) {
	tsv, _, _ := userFiles(t)
	for _, shared := range []bool{false, true} {
		task, err := Load(tsv, Options{SharedVocab: shared})
		if err != nil {
			t.Fatal(err)
		}
		if (task.SrcVocab == task.Vocab) != shared {
			t.Fatalf("SharedVocab %v: SrcVocab == Vocab is %v", shared, task.SrcVocab == task.Vocab)
		}
		// "word3 字3 <TAB> answer number 3": "3"-free, but "answer" is target-only and
		// "word3" source-only; with a shared vocabulary both encode in either.
		b, err := task.Batch("train", 4, 0, 0, BatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		checkBatch(t, task, task.Train, b, nil)
		if got := task.Vocab.Has("word3"); got != shared {
			t.Fatalf("SharedVocab %v: decoder vocabulary has the source word: %v", shared, got)
		}
	}
}

// TestConcurrentBatches: Batch from several goroutines gives what a single caller
// gets (run with -race to check the caches' locking).
func TestConcurrentBatches(t *testing.T) {
	task, err := Load("cedict-docs", Options{MaxExamples: 500, MaxEval: 10})
	if err != nil {
		t.Fatal(err)
	}
	o := BatchOptions{Pack: FirstFit}
	want := make([]Batch, 40)
	for s := range want {
		want[s], _ = task.clone().Batch("train", 16, 2, s, o)
	}
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			for s := g; s < len(want); s += 2 {
				b, err := task.Batch("train", 16, 2, s, o)
				if err == nil && !reflect.DeepEqual(b, want[s]) {
					err = fmt.Errorf("step %d differs", s)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
