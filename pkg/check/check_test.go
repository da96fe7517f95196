package check_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/core/graph"

	"github.com/masklab/masklab/pkg/check"
	"github.com/masklab/masklab/pkg/experiments"
	"github.com/masklab/masklab/pkg/mask"
)

// config parses a run config over the defaults.
func config(t testing.TB, yaml string) *experiments.Config {
	t.Helper()
	c, err := experiments.ParseConfig([]byte(yaml), t.Name())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func run(t testing.TB, yaml string, opts check.Options) *check.Report {
	t.Helper()
	r, err := check.Config(config(t, yaml), opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// want checks one result's status and that its detail names every given text.
func want(t *testing.T, r *check.Report, name string, status check.Status, texts ...string) {
	t.Helper()
	res, ok := r.Result(name)
	if !ok {
		t.Fatalf("no %s result in %+v", name, r.Checks)
	}
	if res.Status != status {
		t.Errorf("%s: status %s, want %s (%s)", name, res.Status, status, res.Detail)
	}
	for _, s := range texts {
		if !strings.Contains(res.Detail, s) {
			t.Errorf("%s: detail %q lacks %q", name, res.Detail, s)
		}
	}
}

// allPass checks that every check of a correct set-up passes: no false alarm.
func allPass(t *testing.T, r *check.Report) {
	t.Helper()
	if !r.OK {
		t.Errorf("report not ok: failed %v", r.Failed())
	}
	for _, c := range r.Checks {
		if c.Status != check.Pass {
			t.Errorf("%s: %s (%s), want pass", c.Name, c.Status, c.Detail)
		}
	}
	if len(r.Checks) != len(check.Names) {
		t.Errorf("%d results, want one per check (%d)", len(r.Checks), len(check.Names))
	}
}

// writeFile writes a data file into a temporary directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// qaLines is a {"text"} JSONL file whose documents put an answer after "Answer:".
func qaLines(n int, marker func(i int) string) string {
	var sb strings.Builder
	words := []string{"red", "green", "blue", "black", "white", "grey", "pink", "gold"}
	for i := range n {
		q := words[i%len(words)] + " " + words[(i/len(words))%len(words)]
		line := map[string]string{"text": "Question: what is " + q + " ? " + marker(i) + " " + q + " is " + words[(i+3)%len(words)]}
		data, _ := json.Marshal(line)
		sb.Write(append(data, '\n'))
	}
	return sb.String()
}

const packedLM = `
task: {name: cedict-docs, vocab: 1000, max_len: 40, max_examples: 2000, max_eval: 64, tgt_len: 64, packing: first-fit}
model: {kind: decoder, layers: 2, d_model: 32, heads: 2, ff: 64}
masks: {self: "causal & pad"}
train: {batch_size: 16}
`

// Correct set-ups pass every check: no false alarm.
func TestCorrectSetupsPass(t *testing.T) {
	sftFile := writeFile(t, "sft.jsonl", `{"prompt": "the colour of the sky", "completion": "blue"}
{"prompt": "the colour of grass", "completion": "green"}
{"prompt": "the colour of snow", "completion": "white"}
{"prompt": "the colour of coal", "completion": "black"}
`)
	marked := writeFile(t, "marked.jsonl", qaLines(40, func(int) string { return "Answer:" }))
	for name, yaml := range map[string]string{
		"quickstart": `
task: {name: reverse, vocab: 16, min_len: 4, max_len: 8, train_size: 5000, max_eval: 128}
model: {kind: seq2seq, layers: 1, d_model: 32, heads: 2, ff: 64}
train: {batch_size: 32}`,
		"lstm": `
task: {name: reverse, vocab: 16, min_len: 4, max_len: 8, train_size: 500}
model: {kind: lstm, layers: 1, d_model: 32, heads: 2, ff: 64}
masks: {input: "partial(2)"}
train: {batch_size: 32}`,
		"packed with doc": strings.Replace(packedLM, `"causal & pad"`, `"causal & doc & pad"`, 1),
		"sft completion": `
task: {name: cedict-sft, max_len: 48, max_examples: 2000, max_eval: 64, tgt_len: 64}
model: {kind: decoder, layers: 2, d_model: 32, heads: 2, ff: 64}
masks: {loss: completion}
train: {batch_size: 16}`,
		"sft prefix-LM": `
task: {name: cedict-sft, max_len: 48, max_examples: 2000, max_eval: 64, tgt_len: 64}
model: {kind: decoder, layers: 2, d_model: 32, heads: 2, ff: 64}
masks: {self: "prefix & pad", loss: completion}
train: {batch_size: 16}`,
		"sft packed": `
task: {name: cedict-sft, max_len: 48, max_examples: 2000, max_eval: 64, tgt_len: 128, packing: best-fit-decreasing}
model: {kind: decoder, layers: 2, d_model: 32, heads: 2, ff: 64}
masks: {self: "causal & doc & pad", loss: "plw(0.1)"}
train: {batch_size: 8}`,
		"jsonl prompt/completion": `
task: {name: "jsonl:` + sftFile + `"}
model: {kind: decoder, layers: 1, d_model: 16, heads: 2, ff: 32}
masks: {loss: completion}
train: {batch_size: 2}`,
		"jsonl text with a completion marker": `
task: {name: "jsonl:` + marked + `", completion_marker: "Answer:"}
model: {kind: decoder, layers: 1, d_model: 16, heads: 2, ff: 32}
masks: {loss: completion}
train: {batch_size: 4}`,
	} {
		t.Run(name, func(t *testing.T) {
			allPass(t, run(t, yaml, check.Options{Model: true}))
		})
	}
}

// Packing without "doc": every packed row lets documents see each other, found from the
// mask and measured on the model by the exact audit; allowed, it is reported so.
func TestPackingWithoutDoc(t *testing.T) {
	r := run(t, packedLM, check.Options{Model: true})
	want(t, r, check.CrossDocument, check.Fail, "packed rows depend on another document", "causal & pad", "add & doc",
		"measured on the model (exact audit, 2 layers", "pairs across documents")
	if r.OK {
		t.Error("report ok despite cross-document leakage")
	}
	if r.Example == nil || !strings.Contains(r.Example.Why, "documents see each other") {
		t.Errorf("the example is not the leaking row: %+v", r.Example)
	}
	r = run(t, packedLM, check.Options{Allow: []string{check.CrossDocument}})
	want(t, r, check.CrossDocument, check.Allowed, "(allowed)")
	if !r.OK {
		t.Errorf("allowed failure still fails: %v", r.Failed())
	}
	// poetry-lm as well: longer documents, another tokenizer path.
	r = run(t, `
task: {name: poetry-lm, max_examples: 500, max_eval: 32, max_len: 60, tgt_len: 128, packing: first-fit}
model: {kind: decoder, layers: 1, d_model: 16, heads: 2, ff: 32}
masks: {self: causal}
train: {batch_size: 4}`, check.Options{Batches: 2})
	want(t, r, check.CrossDocument, check.Fail, "masks.self=causal over 1 layer")
}

// A completion marker that never matches leaves every document without a trained
// token (TRL's silent failure); one that misses some lines names the first.
func TestCompletionMarkerNeverMatches(t *testing.T) {
	never := writeFile(t, "never.jsonl", qaLines(40, func(int) string { return "Answer:" }))
	r := run(t, `
task: {name: "jsonl:`+never+`", completion_marker: "### Response:"}
model: {kind: decoder, layers: 1, d_model: 16, heads: 2, ff: 32}
masks: {loss: completion}
train: {batch_size: 4}`, check.Options{})
	want(t, r, check.ZeroSupervision, check.Fail, "16 of 16 documents have no trained token", "never.jsonl:",
		"its prompt covers the whole document", "a completion marker that does not match", "batches [0 1 2 3] have no trained token")
	if r.Example == nil || r.Example.Why != "a document with no trained token" {
		t.Errorf("example %+v, want the document with no trained token", r.Example)
	}

	some := writeFile(t, "some.jsonl", qaLines(40, func(i int) string {
		if i%5 == 3 {
			return "Answr:" // a typo in the data
		}
		return "Answer:"
	}))
	r = run(t, `
task: {name: "jsonl:`+some+`", completion_marker: "Answer:"}
model: {kind: decoder, layers: 1, d_model: 16, heads: 2, ff: 32}
masks: {loss: completion}
train: {batch_size: 8}`, check.Options{})
	want(t, r, check.ZeroSupervision, check.Fail, "documents have no trained token", "some.jsonl:")
	want(t, r, check.DegenerateLossMask, check.Pass)

	// A marker whose tokens the (capped) vocabulary lacks matches nothing, not the first
	// <unk> of a document: every document has a rare word that becomes <unk>.
	rare := writeFile(t, "rare.jsonl", strings.Join(func() []string {
		var lines []string
		for i := range 40 {
			lines = append(lines, fmt.Sprintf(`{"text": "alpha beta gamma rare%d delta epsilon"}`, i))
		}
		return lines
	}(), "\n")+"\n")
	r = run(t, `
task: {name: "jsonl:`+rare+`", completion_marker: "zzz", vocab: 12}
model: {kind: decoder, layers: 1, d_model: 16, heads: 2, ff: 32}
masks: {loss: completion}
train: {batch_size: 4}`, check.Options{})
	want(t, r, check.ZeroSupervision, check.Fail, "have no trained token")
}

var registerOnce sync.Once

// registerLeakyMasks registers two custom masks from Go with bugs a user could write: a
// document mask that lets a document see the earlier ones, and a causal mask that peeks
// one token ahead.
func registerLeakyMasks(t *testing.T) {
	registerOnce.Do(func() {
		for _, err := range []error{
			mask.RegisterAttention("mydoc", "", "same document (buggy: >=)", func(a mask.Args) (mask.Attention, error) {
				return mask.NewAttention("mydoc", func(e *mask.Env) *graph.Node {
					return graph.GreaterOrEqual(e.Need(e.QuerySeg, "segments"), e.Need(e.KeySeg, "segments"))
				}, false, false), a.Count(0, 0)
			}),
			mask.RegisterAttention("peek", "", "causal plus one token ahead (buggy)", func(a mask.Args) (mask.Attention, error) {
				return mask.NewAttention("peek", func(e *mask.Env) *graph.Node {
					return graph.LessOrEqual(e.Key, graph.AddScalar(e.Query, 1))
				}, false, false), a.Count(0, 0)
			}),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
	})
}

// A leaky custom mask registered from Go is caught like a built-in one, on the mask and
// on the model.
func TestLeakyCustomMask(t *testing.T) {
	registerLeakyMasks(t)
	r := run(t, strings.Replace(packedLM, `"causal & pad"`, `"causal & mydoc & pad"`, 1), check.Options{Model: true})
	want(t, r, check.CrossDocument, check.Fail, "causal & mydoc & pad", "measured on the model")
	want(t, r, check.FutureLeakage, check.Pass)

	r = run(t, `
task: {name: reverse, vocab: 16, min_len: 4, max_len: 8, train_size: 500}
model: {kind: seq2seq, layers: 1, d_model: 32, heads: 2, ff: 64}
masks: {self: "peek & pad"}
train: {batch_size: 16}`, check.Options{})
	want(t, r, check.FutureLeakage, check.Fail, "trained positions depend on later inputs", "peek & pad", "depends on input 1")
	want(t, r, check.CrossDocument, check.Pass)
}

const reverseSmall = `
task: {name: reverse, vocab: 16, min_len: 4, max_len: 8, train_size: 500, max_eval: 40}
model: {kind: seq2seq, layers: 1, d_model: 32, heads: 2, ff: 64}
train: {batch_size: 32}
`

// The last evaluation batch of 40 examples in batches of 32 has 24 all-padding rows:
// named, with the model's zero weights and finite gradients verified on them.
func TestAllPaddingRows(t *testing.T) {
	r := run(t, reverseSmall, check.Options{Split: "valid", Batches: 10, Model: true})
	want(t, r, check.FullyMaskedRows, check.Warn, "24 rows are all padding", "batch 1 row 8",
		"verified on this model", "finite logits and gradients: true")
	if !r.OK {
		t.Errorf("all-padding rows fail: %v", r.Failed())
	}
	// The first batch is full: nothing to say.
	r = run(t, reverseSmall, check.Options{Split: "valid", Batches: 1})
	want(t, r, check.FullyMaskedRows, check.Pass, "every query row allows some key")
}

// A mask that leaves a real token nothing to attend to fails, and the model pass shows
// masklab's policy on it: zero weights, finite loss and gradients.
func TestFullyMaskedValidRows(t *testing.T) {
	r := run(t, strings.Replace(reverseSmall, "train: {", `masks: {self: "causal & !window(0) & pad"}
train: {`, 1), check.Options{Model: true})
	want(t, r, check.FullyMaskedRows, check.Fail, "valid query rows of self attention", "query 0", "verified on this model", "all-zero weights")
	// qpad masks padding queries on purpose: named, not a failure.
	r = run(t, strings.Replace(reverseSmall, "train: {", `masks: {self: "causal & pad & qpad"}
train: {`, 1), check.Options{})
	want(t, r, check.FullyMaskedRows, check.Pass, "padding query rows")
}

// Concat packing cuts SFT documents: rows that end inside a prompt train nothing of
// that document, and its completion starts the next row without its prompt.
func TestConcatCutsCompletion(t *testing.T) {
	r := run(t, `
task: {name: cedict-sft, max_len: 48, max_examples: 2000, max_eval: 64, tgt_len: 24, packing: concat}
model: {kind: decoder, layers: 1, d_model: 16, heads: 2, ff: 32}
masks: {self: "causal & doc & pad", loss: completion}
train: {batch_size: 16}`, check.Options{})
	want(t, r, check.ZeroSupervision, check.Fail, "the row ends inside its prompt", "start a row without their prompt", "concat packing")
}

// A loss mask on the completion of a task without prompts trains every token.
func TestDegenerateLossMask(t *testing.T) {
	r := run(t, strings.Replace(packedLM, `"causal & pad"`, `"causal & doc & pad", loss: completion`, 1), check.Options{})
	want(t, r, check.DegenerateLossMask, check.Fail, "no position of these batches is a prompt token", "cedict-docs is lm")
	r = run(t, strings.Replace(packedLM, `"causal & pad"`, `"causal & doc & pad", loss: "plw(0)"`, 1), check.Options{})
	want(t, r, check.DegenerateLossMask, check.Fail, "masks.loss=plw(0)")
}

// Position ids that keep counting across the documents of a packed row are found
// (the batches are edited, as a broken collator would make them).
func TestPositionsMustRestart(t *testing.T) {
	cfg := config(t, strings.Replace(packedLM, `"causal & pad"`, `"causal & doc & pad"`, 1))
	bs, err := cfg.Batches("train", 1)
	if err != nil {
		t.Fatal(err)
	}
	r, err := check.Batches(bs, cfg.Seed, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want(t, r, check.Positions, check.Pass)
	b := &bs.List[0]
	for p := range int(b.TgtLen[0]) {
		b.Positions[p] = int32(p) // one count for the whole row
	}
	r, err = check.Batches(bs, cfg.Seed, check.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want(t, r, check.Positions, check.Fail, "do not restart at 0 with each document", "batch 0 row 0")
}

// Cross-attention masks are causal in one alignment or the other: said, and bottom-right
// with more queries than keys leaves the first queries nothing to see.
func TestCausalAlignment(t *testing.T) {
	base := `
task: {name: cedict-pinyin, max_len: 4, max_examples: 2000, max_eval: 64, src_len: 8, tgt_len: 16}
model: {kind: seq2seq, layers: 1, d_model: 32, heads: 2, ff: 64}
train: {batch_size: 16}
masks: {cross: CROSS}
`
	r := run(t, strings.Replace(base, "CROSS", `"causal & pad"`, 1), check.Options{})
	want(t, r, check.CausalAlignment, check.Warn, "masks.cross=causal & pad is causal, aligned top-left", "Q = 16 target and K = 8 source", "bottom-right (causal_br")
	r = run(t, strings.Replace(base, "CROSS", `"causal_br & pad"`, 1), check.Options{})
	want(t, r, check.CausalAlignment, check.Warn, "aligned bottom-right")
	want(t, r, check.FullyMaskedRows, check.Fail, "valid query rows of cross attention")
	r = run(t, strings.Replace(base, "CROSS", "pad", 1), check.Options{})
	want(t, r, check.CausalAlignment, check.Pass, "masks.cross=pad has no causal part", "masks.self=causal & pad is causal, aligned top-left")
}

// The cross "full" mask lets target tokens attend to source padding: a warning.
func TestPaddingAttended(t *testing.T) {
	r := run(t, `
task: {name: cedict-pinyin, max_len: 4, max_examples: 2000, max_eval: 64}
model: {kind: seq2seq, layers: 1, d_model: 32, heads: 2, ff: 64}
train: {batch_size: 16}
masks: {cross: full}`, check.Options{})
	want(t, r, check.PaddingAttended, check.Warn, "cross attention attend to padding", "add pad")
	if !r.OK {
		t.Errorf("a warning fails the report: %v", r.Failed())
	}
}

// The JSON form is {"ok": bool, "checks": [{"name", "status", "detail"}]} with the
// stable names.
func TestJSON(t *testing.T) {
	r := run(t, packedLM, check.Options{})
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		OK     *bool `json:"ok"`
		Checks []map[string]string
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.OK == nil || *got.OK {
		t.Errorf("ok = %v in %s", got.OK, data)
	}
	names := map[string]string{}
	for _, c := range got.Checks {
		if len(c) != 3 || c["name"] == "" || c["detail"] == "" {
			t.Errorf("check entry %v: want name, status, detail", c)
		}
		names[c["name"]] = c["status"]
	}
	for _, n := range []string{"cross-document", "zero-supervision", "fully-masked-rows", "degenerate-loss-mask", "causal-alignment"} {
		if _, ok := names[n]; !ok {
			t.Errorf("no %q check in %s", n, data)
		}
	}
	if names["cross-document"] != "fail" {
		t.Errorf("cross-document = %q", names["cross-document"])
	}
}

func TestUnknownAllowName(t *testing.T) {
	_, err := check.Config(config(t, reverseSmall), check.Options{Allow: []string{"cross-documents"}})
	if err == nil || !strings.Contains(err.Error(), `did you mean "cross-document"`) {
		t.Errorf("err = %v", err)
	}
}

// A sweep's check: {allow: [...]} applies to every cell; the merged results keep the
// worst status per check.
func TestSweepAllow(t *testing.T) {
	src := `name: s
base:
  task: {name: cedict-docs, vocab: 1000, max_len: 40, max_examples: 2000, max_eval: 64, tgt_len: 64, packing: first-fit}
  model: {kind: decoder, layers: 1, d_model: 16, heads: 2, ff: 32}
  train: {batch_size: 8}
axes:
  masks.self: ["causal & doc & pad", "causal & pad"]
seeds: [1, 2]
`
	sf, err := experiments.ParseSweep([]byte(src), "s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sr, err := check.Sweep(sf, nil, check.Options{Batches: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Cell 0 ("causal & doc & pad") passes, cell 1 leaks.
	if len(sr.Cells) != 2 {
		t.Fatalf("%d cells, want 2", len(sr.Cells))
	}
	if sr.OK || !sr.Cells[0].OK || sr.Cells[1].OK {
		t.Errorf("sweep ok %v, cells %d (%v, %v)", sr.OK, len(sr.Cells), sr.Cells[0].OK, sr.Cells[1].OK)
	}
	if res := sr.Checks[2]; res.Name != check.CrossDocument || res.Status != check.Fail || !strings.Contains(res.Detail, "fail in 1 of 2 cells; masks.self=causal & pad:") {
		t.Errorf("merged %+v", res)
	}
	sf, err = experiments.ParseSweep([]byte(src+"check: {allow: [cross-document]}\n"), "s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if sr, err = check.Sweep(sf, nil, check.Options{Batches: 1}); err != nil {
		t.Fatal(err)
	}
	if !sr.OK || sr.Checks[2].Status != check.Allowed {
		t.Errorf("allowed sweep: ok %v, %+v", sr.OK, sr.Checks[2])
	}
	sf.Check.Allow = []string{"crossdocument"}
	if _, err := check.Sweep(sf, nil, check.Options{}); err == nil || !strings.Contains(err.Error(), "check.allow") {
		t.Errorf("unknown allow name in a sweep: %v", err)
	}
}

// Every sweep of sweeps/ passes: what a sweep leaks on purpose is declared in it and
// reported as allowed.
func TestEverySweepPasses(t *testing.T) {
	if testing.Short() {
		t.Skip("checks every cell of every sweep")
	}
	files, err := filepath.Glob("../../sweeps/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sweeps: %v", err)
	}
	allowed := map[string]bool{}
	for _, f := range files {
		sf, err := experiments.LoadSweep(f)
		if err != nil {
			t.Fatal(err)
		}
		sr, err := check.Sweep(sf, nil, check.Options{Batches: 2})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !sr.OK {
			for _, c := range sr.Cells {
				if !c.OK {
					t.Errorf("%s: cell %s fails %v", f, c.Cell, c.Failed())
				}
			}
		}
		for _, c := range sr.Checks {
			if c.Status == check.Allowed {
				allowed[filepath.Base(f)+" "+c.Name] = true
			}
		}
	}
	for _, k := range []string{"05-packing.yaml cross-document", "packing.yaml cross-document", "06-causal-leakage.yaml future-leakage"} {
		if !allowed[k] {
			t.Errorf("%s is not reported as allowed (%v)", k, allowed)
		}
	}
}

// BenchmarkQuickstart times masklab check on the quickstart configuration (its first
// cell, 4 batches) without the model: what masklab sweep runs before training.
func BenchmarkQuickstart(b *testing.B) {
	sf, err := experiments.LoadSweep("../../sweeps/quickstart.yaml")
	if err != nil {
		b.Fatal(err)
	}
	plan, err := experiments.PlanSweep(sf, nil)
	if err != nil {
		b.Fatal(err)
	}
	cfg := plan.Runs[0].Config
	for b.Loop() {
		r, err := check.Config(cfg, check.Options{})
		if err != nil || !r.OK {
			b.Fatalf("%v %v", err, r)
		}
	}
}
