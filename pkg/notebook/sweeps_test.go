package notebook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/masklab/masklab/internal/runstore"
	"github.com/masklab/masklab/pkg/experiments"
	"github.com/masklab/masklab/pkg/report"
)

const (
	// pretrainSweep is one cell; stagedSweep's stage pre has the same keys, so the same
	// run ids, and two stages start from it.
	pretrainSweep = `name: pre
base:
  task: {name: reverse, vocab: 12, min_len: 3, max_len: 5, train_size: 200, max_eval: 16}
  model: {kind: seq2seq, layers: 1, d_model: 16, heads: 2, ff: 32}
  train: {steps: 5000, batch_size: 8}
seeds: [1, 2, 3]
`
	stagedSweep = `name: staged
base:
  model: {kind: seq2seq, layers: 1, d_model: 16, heads: 2, ff: 32}
seeds: [1, 2, 3]
baseline: "optim.lr=0.01"
stages:
  - name: pre
    base:
      task: {name: reverse, vocab: 12, min_len: 3, max_len: 5, train_size: 200, max_eval: 16}
      train: {steps: 5000, batch_size: 8}
  - name: tune
    from: pre
    base:
      task: {name: reverse, vocab: 12, min_len: 3, max_len: 5, train_size: 100, max_eval: 16}
      train: {steps: 5000, batch_size: 8}
    axes:
      optim.lr: [0.01, 0.001, 0.0001]
  - name: other
    from: pre
    base:
      task: {name: reverse, vocab: 12, min_len: 3, max_len: 5, train_size: 50, max_eval: 16}
      train: {steps: 5000, batch_size: 8}
    axes:
      optim.lr: [0.01, 0.001]
`
)

func writeSweeps(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "sweeps"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(root, "sweeps", name+".yaml"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// A staged sweep whose first stage is another sweep's cell reuses that sweep's
// finished runs instead of training them; quick mode keeps the stages and axis values
// it is told to; the results, wall times and positions come from the runs.
func TestRunSweepWithReuseAndQuickCuts(t *testing.T) {
	root := writeSweeps(t, map[string]string{"pre": pretrainSweep, "staged": stagedSweep})
	t.Setenv("MASKLAB_QUICK", "1")
	t.Setenv("MASKLAB_RUNS", filepath.Join(root, "runs"))
	ctx := context.Background()
	pre, err := RunSweepWith(ctx, root, "pre", SweepOptions{Quick: Quick{Set: []string{"train.steps=6", "eval.every=6"}}})
	if err != nil {
		t.Fatal(err)
	}
	if pre.Result.Trained != 1 {
		t.Fatalf("pre: %+v, want one run trained", pre.Result)
	}
	o := SweepOptions{
		Quick: Quick{Set: []string{"train.steps=6", "eval.every=6"}, Stages: []string{"tune"}, Values: map[string][]string{"optim.lr": {"0.01", "0.001"}}},
		Reuse: []string{"pre", "missing"},
	}
	r, err := RunSweepWith(ctx, root, "staged", o)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := experiments.ReadManifest(r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var stages, cells []string
	for _, run := range plan.Runs {
		stages = append(stages, run.Stage)
		cells = append(cells, run.Cell)
	}
	// Quick: seed 1, stage other cut, lr 0.0001 cut; pre kept because tune starts from it.
	if !slices.Equal(stages, []string{"pre", "tune", "tune"}) || !slices.Equal(cells, []string{"base", "optim.lr=0.01", "optim.lr=0.001"}) {
		t.Fatalf("quick plan: stages %v, cells %v", stages, cells)
	}
	preID := plan.Runs[0].ID
	if !slices.Equal(r.Reused, []string{preID}) || r.Result.Trained != 2 || r.Result.Skipped != 1 {
		t.Errorf("staged: reused %v, %+v; want %s reused, 2 trained, 1 skipped", r.Reused, r.Result, preID)
	}
	if from, err := os.ReadFile(filepath.Join(experiments.RunDir(r.Dir, preID), runstore.ReusedFile)); err != nil || !strings.Contains(string(from), filepath.Join("pre-quick", "runs", preID)) {
		t.Errorf("the reused run does not say where it came from: %q, %v", from, err)
	}
	// Everything done: nothing copied or trained again.
	if r2, err := RunSweepWith(ctx, root, "staged", o); err != nil || len(r2.Reused) != 0 || r2.Result.Trained != 0 {
		t.Errorf("second call: %+v, %v", r2, err)
	}

	// Wall time and loss by position per run, keyed for the report.
	rep, err := report.Build(r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	wall, err := WallSeconds(r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(wall) != 3 {
		t.Errorf("WallSeconds: %v, want 3 runs", wall)
	}
	if err := rep.AddMetric("wall_seconds", wall); err != nil {
		t.Fatal(err)
	}
	vals, curves, err := EvaluateRuns(r.Dir, []string{"task.max_eval=8"}, "valid_loss", "valid_loss")
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != 3 || len(curves) != 3 || len(curves[1].Runs) != 1 || len(curves[1].Runs[0].X) == 0 {
		t.Errorf("EvaluateRuns: %d values, curves %+v", len(vals), curves)
	}
	// The evaluations are kept in the run directories: a second call reads them back
	// (the same numbers), and a damaged file is evaluated again.
	kept, err := filepath.Glob(filepath.Join(r.Dir, "runs", "*", evalCachePrefix+"*.json"))
	if err != nil || len(kept) != 3 {
		t.Fatalf("kept evaluations %v, %v; want one per run", kept, err)
	}
	if err := os.WriteFile(kept[0], []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	vals2, curves2, err := EvaluateRuns(r.Dir, []string{"task.max_eval=8"}, "valid_loss", "valid_loss")
	if err != nil || !maps.Equal(vals, vals2) || fmt.Sprint(curves) != fmt.Sprint(curves2) {
		t.Errorf("EvaluateRuns again: %v %v, %v; want %v %v", vals2, curves2, err, vals, curves)
	}
	// A kept evaluation counts only for the config and masklab commit it was computed
	// with: one from another commit, or one kept under the sets alone (as before the
	// commit entered the key), is not read back.
	planned, err := experiments.ReadManifest(r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	run := experiments.RunDir(r.Dir, planned.Runs[1].ID)
	key := report.RunKey{Stage: planned.Runs[1].Stage, Cell: planned.Runs[1].Cell, Seed: planned.Runs[1].Seed}
	kept, _ = filepath.Glob(filepath.Join(run, evalCachePrefix+"*.json"))
	data, err := os.ReadFile(kept[0])
	if err != nil {
		t.Fatal(err)
	}
	var c evalCache
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	c.Metrics["valid_loss"], c.Commit = 123, "another-commit"
	h := sha256.Sum256([]byte("task.max_eval=8"))
	for _, path := range []string{kept[0], filepath.Join(run, evalCachePrefix+hex.EncodeToString(h[:6])+".json")} {
		data, _ := json.Marshal(c)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if v, _, err := EvaluateRuns(r.Dir, []string{"task.max_eval=8"}, "valid_loss", ""); err != nil || v[key] != vals[key] {
		t.Errorf("EvaluateRuns read an evaluation kept by another commit: %v, %v; want %v", v[key], err, vals[key])
	}
	if other, _, err := EvaluateRuns(r.Dir, nil, "valid_loss", ""); err != nil || maps.Equal(other, vals) {
		t.Errorf("EvaluateRuns without the override: %v, %v; want other values than with max_eval=8 (%v)", other, err, vals)
	}
	if err := rep.AddMetric("valid_loss_8", vals); err != nil {
		t.Fatal(err)
	}
	pos, err := DocPositionLoss(r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(pos) != 3 || pos[2].Label != "tune: optim.lr=0.001" || len(pos[2].Runs[0].Y) == 0 {
		t.Errorf("DocPositionLoss: %+v", pos)
	}

	// Results: nothing in quick mode, the tables with the added metrics in full mode.
	if paths, err := SaveResults(root, "staged", rep); err != nil || paths != nil {
		t.Errorf("quick mode: SaveResults wrote %v, %v", paths, err)
	}
	t.Setenv("MASKLAB_QUICK", "0")
	paths, err := SaveResults(root, "staged", rep, []byte("## More\n"))
	if err != nil || len(paths) != 2 {
		t.Fatalf("full mode: SaveResults wrote %v, %v", paths, err)
	}
	md, err := os.ReadFile(filepath.Join(root, "results", "staged.md"))
	if err != nil || !strings.Contains(string(md), "| stage | cell | seeds | valid_acc |") || !strings.Contains(string(md), "| wall_seconds | valid_loss_8 |") || !strings.HasSuffix(string(md), "\n\n## More\n") {
		t.Errorf("results/staged.md: %s, %v", md, err)
	}
	if _, err := SaveResults(root, "a/b", rep); err == nil {
		t.Error("SaveResults with a directory in the name: no error")
	}
	t.Setenv("MASKLAB_QUICK", "1")

	// Cuts that name what the sweep does not have are errors.
	for _, q := range []Quick{{Stages: []string{"tune", "nope"}}, {Values: map[string][]string{"optim.lr": {"0.01", "0.5"}}}} {
		if _, _, err := prepareSweep(root, "staged", SweepOptions{Quick: q}); err == nil || !strings.Contains(err.Error(), "quick mode keeps") {
			t.Errorf("prepareSweep with %+v: error %v", q, err)
		}
	}
}

// ReuseRuns compares two runs' configs as a sweep does (the config hash, without the
// backend): a source run trained on another backend is reused; one whose config.yaml
// differs in a key of the hash is not, with a warning, and the rest of the sweep is
// reused all the same.
func TestReuseRunsComparesConfigsByHash(t *testing.T) {
	sweep := "../experiments/testdata/tiny-sweep.yaml"
	from, dir := filepath.Join(t.TempDir(), "from"), filepath.Join(t.TempDir(), "dir")
	plan, err := experiments.PrepareSweep(sweep, from, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := experiments.PrepareSweep(sweep, dir, nil); err != nil {
		t.Fatal(err)
	}
	// Fake finished runs in from (training is not what is tested): a summary and metrics.
	for _, r := range plan.Runs {
		run := experiments.RunDir(from, r.ID)
		for name, data := range map[string]string{
			runstore.SummaryFile: `{"status":"done","step":32,"final":{"valid_loss":1},"best":{},"provenance":{"wall_seconds":3}}`,
			runstore.MetricsFile: `{"step":32,"valid_loss":1}` + "\n",
		} {
			if err := os.WriteFile(filepath.Join(run, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	otherBackend, edited := plan.Runs[0], plan.Runs[1]
	c := otherBackend.Config.Clone()
	c.Backend = "go"
	if err := os.WriteFile(filepath.Join(experiments.RunDir(from, otherBackend.ID), runstore.ConfigFile), c.YAML(), 0o644); err != nil {
		t.Fatal(err)
	}
	c = edited.Config.Clone()
	if err := c.Set("optim.lr", "0.5"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(experiments.RunDir(from, edited.ID), runstore.ConfigFile), c.YAML(), 0o644); err != nil {
		t.Fatal(err)
	}
	var warn strings.Builder
	ids, err := ReuseRuns(dir, from, &warn)
	if err != nil {
		t.Fatalf("ReuseRuns: %v", err)
	}
	var want []string
	for _, r := range plan.Runs {
		if r != edited {
			want = append(want, r.ID)
		}
	}
	if !slices.Equal(ids, want) {
		t.Errorf("reused %v, want %v (all but the edited run %s)", ids, want, edited.ID)
	}
	if w := warn.String(); !strings.Contains(w, "not reusing run "+edited.ID) || strings.Count(w, "\n") != 1 {
		t.Errorf("warnings %q, want one line about run %s", w, edited.ID)
	}
	if state, _, _ := runstore.StateOf(experiments.RunDir(dir, edited.ID)); state != runstore.StatusPending {
		t.Errorf("the edited run is %s in dir, want pending (to be trained)", state)
	}
}
