package experiments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/masklab/masklab/internal/fsx"
)

// tinyConfig is a model and task small enough for a few dozen steps in a second or two.
func tinyConfig(t *testing.T, overrides ...string) *Config {
	t.Helper()
	c := Default()
	base := []string{
		"task.name=reverse", "task.vocab=12", "task.min_len=3", "task.max_len=6", "task.train_size=400", "task.max_eval=32",
		"model.layers=1", "model.d_model=16", "model.heads=2", "model.ff=32",
		"train.steps=20", "train.batch_size=16", "train.log_every=5", "train.checkpoint_every=10",
		"eval.every=10", "eval.batches=1", "eval.greedy_examples=8", "optim.warmup_steps=4", "optim.lr=0.01",
	}
	if err := c.SetAll(append(base, overrides...)); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// A run stopped after a checkpoint and resumed ends with exactly the metrics of an
// uninterrupted run: same metrics.jsonl (no duplicated line), same final metrics.
func TestResumeEqualsUninterrupted(t *testing.T) {
	ctx := context.Background()
	cfg := tinyConfig(t, "masks.input=random(0.2)", "model.dropout=0.1")
	a := filepath.Join(t.TempDir(), "a")
	sa, err := TrainRun(ctx, cfg, a, TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sa.Status != StatusDone || sa.Final["valid_loss"] == 0 {
		t.Fatalf("summary %+v", sa)
	}
	b := filepath.Join(t.TempDir(), "b")
	// Stop after 13 steps: the checkpoint is at 10, lines at 15 would not exist yet;
	// simulate a crash that also left a half-written line. The first part runs with
	// one thread (go:parallelism=1), the rest and the reference with the default
	// (go:parallelism=-1): the thread count does not change the numbers.
	if _, err := TrainRun(ctx, cfg, b, TrainOptions{StopAfter: 13, Backend: "go:parallelism=1"}); !errors.Is(err, ErrStopped) {
		t.Fatalf("want ErrStopped, got %v", err)
	}
	f, _ := os.OpenFile(filepath.Join(b, MetricsFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"step": 14, "train_lo`)
	f.Close()
	sb, err := TrainRun(ctx, cfg, b, TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := readFile(t, filepath.Join(b, MetricsFile)), readFile(t, filepath.Join(a, MetricsFile)); got != want {
		t.Fatalf("resumed metrics differ:\n%s\nuninterrupted:\n%s", got, want)
	}
	if !reflect.DeepEqual(sa.Final, sb.Final) || !reflect.DeepEqual(sa.ByPosition, sb.ByPosition) {
		t.Fatalf("final metrics differ: %v vs %v", sa.Final, sb.Final)
	}
	if sb.Provenance.Resumes != 1 {
		t.Errorf("resumes = %d, want 1", sb.Provenance.Resumes)
	}
	var s Summary
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(b, SummaryFile))), &s); err != nil || s.Provenance.ConfigHash != cfg.Hash() || s.Provenance.Backend == "" ||
		s.Provenance.CPU == "" || s.Provenance.Seed != cfg.Seed || !(s.Provenance.StepsPerSec > 0) {
		// (GoMLX and compute versions are empty here: test binaries carry no module
		// versions; the CLI records them, see TestSweepSurvivesSIGKILL.)
		t.Fatalf("summary.json: %v %+v", err, s.Provenance)
	}
}

func TestDivergedRun(t *testing.T) {
	cfg := tinyConfig(t, "optim.lr=1e30", "optim.warmup_steps=0", "optim.clip_norm=0")
	dir := filepath.Join(t.TempDir(), "run")
	s, err := TrainRun(context.Background(), cfg, dir, TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != StatusDiverged || s.DivergedAt < 1 || s.DivergedAt > cfg.Train.Steps {
		t.Fatalf("status %q at %d, want diverged", s.Status, s.DivergedAt)
	}
	// The summary says what diverged, and metrics.jsonl records the non-finite value as
	// such ("+Inf", "NaN"), not as a huge finite number.
	d := s.Divergence
	if d == nil || d.Step != s.DivergedAt || (d.Metric != "train_loss" && d.Metric != "grad_norm") || (d.Value != "NaN" && d.Value != "+Inf" && d.Value != "-Inf") {
		t.Fatalf("divergence %+v, want the step, the metric and its non-finite value", d)
	}
	lines, err := ReadMetrics(filepath.Join(dir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	last := lines[len(lines)-1]
	if v := last[d.Metric]; !math.IsNaN(v) && !math.IsInf(v, 0) {
		t.Errorf("metrics.jsonl's last line has %s = %g, want it non-finite", d.Metric, v)
	}
	// Evaluating it names the divergence rather than a missing checkpoint.
	if _, err := LoadRun(dir, ""); err == nil || !strings.Contains(err.Error(), "diverged") {
		t.Errorf("LoadRun of a run diverged before its checkpoint: %v, want it to say it diverged", err)
	}
}

// Non-finite metrics round-trip through metrics.jsonl as "NaN", "+Inf", "-Inf".
func TestMetricsNonFiniteRoundTrip(t *testing.T) {
	m := Metrics{"step": 3, "grad_norm": math.Inf(1), "train_loss": math.NaN(), "x": math.Inf(-1), "lr": 0.5}
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"grad_norm":"+Inf"`) || !strings.Contains(string(data), `"train_loss":"NaN"`) {
		t.Errorf("marshalled %s", data)
	}
	var back Metrics
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !math.IsInf(back["grad_norm"], 1) || !math.IsNaN(back["train_loss"]) || !math.IsInf(back["x"], -1) || back["lr"] != 0.5 {
		t.Errorf("round trip gave %v", back)
	}
	if err := json.Unmarshal([]byte(`{"step":"three"}`), &back); err == nil {
		t.Error("a non-numeric metric string was accepted")
	}
}

// Fine-tuning from a run with another model is an error naming the differing keys,
// before any graph is built; dropout may differ.
func TestInitFromNeedsTheSameModel(t *testing.T) {
	from := t.TempDir()
	base := tinyConfig(t)
	if err := fsx.WriteFileAtomic(filepath.Join(from, ConfigFile), base.YAML()); err != nil {
		t.Fatal(err)
	}
	if err := sameArchitecture(tinyConfig(t, "model.dropout=0.2", "task.name=copy"), from); err != nil {
		t.Errorf("same model, other dropout and task: %v", err)
	}
	err := sameArchitecture(tinyConfig(t, "model.d_model=32"), from)
	if err == nil || !strings.Contains(err.Error(), "model.d_model=16 there, 32 here") {
		t.Errorf("err = %v", err)
	}
	if err := sameArchitecture(base, filepath.Join(from, "missing")); err == nil || !strings.Contains(err.Error(), "not a run directory") {
		t.Errorf("missing dir: err = %v", err)
	}
}

// A run directory of another config names the keys that differ; --out naming a file
// says so.
func TestRunDirErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if err := ensureRunDir(dir, tinyConfig(t)); err != nil {
		t.Fatal(err)
	}
	err := ensureRunDir(dir, tinyConfig(t, "train.steps=30"))
	if err == nil || !strings.Contains(err.Error(), `train.steps: "20" there, "30" here`) {
		t.Errorf("err = %v", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	if err := ensureRunDir(file, tinyConfig(t)); err == nil || !strings.Contains(err.Error(), "is a file") {
		t.Errorf("err = %v", err)
	}
}

// A configuration that cannot fit in memory is refused in seconds, before any graph is
// built, naming the estimate and the limit; a model too large to hold likewise; and
// MaxMemory overrides the machine's limit.
func TestOversizedRunIsRefused(t *testing.T) {
	for _, sets := range [][]string{{"train.batch_size=100000000"}, {"model.d_model=65536"}} {
		cfg := tinyConfig(t, sets...)
		start := time.Now()
		_, err := TrainRun(context.Background(), cfg, filepath.Join(t.TempDir(), "run"), TrainOptions{})
		if err == nil || !strings.Contains(err.Error(), "estimated") || !strings.Contains(err.Error(), "limit is") {
			t.Errorf("%v: err = %v, want a refusal naming the estimate and the limit", sets, err)
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("%v: refused after %s, want seconds", sets, d)
		}
	}
	cfg := tinyConfig(t)
	_, err := TrainRun(context.Background(), cfg, filepath.Join(t.TempDir(), "run"), TrainOptions{MaxMemory: 1 << 20})
	if err == nil || !strings.Contains(err.Error(), "--max-memory") {
		t.Errorf("a 1 MiB --max-memory: err = %v, want a refusal naming --max-memory", err)
	}
	e, err := EstimateRun(cfg)
	if err != nil || e.Params <= 0 || e.Bytes < baseBytes || e.Seconds() <= 0 {
		t.Errorf("EstimateRun: %+v, %v", e, err)
	}
}

// Concat packing cuts documents across rows and a continued document keeps counting its
// positions past the row length: evaluation's loss by position within the document
// (valid_loss_doc) covers them instead of indexing past its end.
func TestConcatEvaluatesContinuedDocuments(t *testing.T) {
	cfg := tinyConfig(t, "task.name=poetry-lm", "task.min_len=40", "task.max_len=0", "task.vocab=64", "task.max_examples=200", "task.max_eval=8",
		"model.kind=decoder", "task.packing=concat", "task.tgt_len=16", "train.steps=2", "train.checkpoint_every=2",
		"eval.every=0", "eval.greedy_examples=0", "eval.batches=0")
	s, err := TrainRun(context.Background(), cfg, filepath.Join(t.TempDir(), "run"), TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.ByPosition["valid_loss_doc"]); n <= 16 {
		t.Errorf("valid_loss_doc has %d positions; documents of >= 40 tokens cut into rows of 16 have more", n)
	}
}

// Gradient accumulation: a batch run as 2 or 4 micro-batches gives the updates of one
// pass within float32 rounding, also with masks.loss=completion, where the micro-batches
// hold different numbers of loss-weighted tokens (the loss is normalised over the whole
// batch's weights, not averaged over micro-batch means).
func TestGradAccumEqualsOneBatch(t *testing.T) {
	ctx := context.Background()
	base := []string{"task.name=cedict-sft", "task.min_len=0", "task.max_len=48", "task.vocab=300", "task.tgt_len=64", "task.max_examples=256", "task.max_eval=32", "model.kind=decoder",
		"masks.loss=completion", "train.steps=8", "train.log_every=1", "train.batch_size=8", "eval.every=0", "eval.greedy_examples=0"}
	var ref []Metrics
	for _, k := range []int{1, 2, 4} {
		cfg := tinyConfig(t, append(base, fmt.Sprintf("train.grad_accum=%d", k))...)
		if k == 1 {
			b, err := cfg.Batches("train", 1)
			if err != nil {
				t.Fatal(err)
			}
			// The halves' loss weights differ, or the test would not tell the bug apart.
			var w [2]float32
			for i, x := range b.List[0].Weights {
				w[i*2/len(b.List[0].Weights)] += x
			}
			if w[0] == w[1] {
				t.Fatalf("the first batch's halves have equal loss weights %v", w)
			}
		}
		dir := filepath.Join(t.TempDir(), "run")
		if _, err := TrainRun(ctx, cfg, dir, TrainOptions{}); err != nil {
			t.Fatal(err)
		}
		lines, err := ReadMetrics(filepath.Join(dir, MetricsFile))
		if err != nil {
			t.Fatal(err)
		}
		if k == 1 {
			ref = lines
			continue
		}
		for i, l := range lines {
			for _, key := range []string{"train_loss", "grad_norm", "valid_loss"} {
				a, b := l[key], ref[i][key]
				if math.Abs(a-b) > 1e-5*math.Max(1, math.Abs(b)) {
					t.Errorf("grad_accum %d, step %v: %s %.7f, one pass %.7f", k, l["step"], key, a, b)
				}
			}
		}
	}
	for k, want := range map[int]string{3: "train.grad_accum=3: must be >= 0 and divide train.batch_size=16", -1: "train.grad_accum=-1: must be >= 0"} {
		c := tinyConfig(t)
		c.Train.GradAccum = k
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("grad_accum %d of batch 16: %v", k, err)
		}
	}
	// Zero values of the new keys leave a config's YAML, so run ids, as they were.
	if y := string(tinyConfig(t).YAML()); strings.Contains(y, "grad_accum") || strings.Contains(y, "lora") {
		t.Errorf("default config's YAML names grad_accum or lora:\n%s", y)
	}
}
