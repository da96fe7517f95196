package experiments

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tinySweep is the test sweep (testdata/tiny-sweep.yaml, shared with pkg/report's tests):
// two cells of the reverse task, two seeds.
var tinySweep = readTestdata("tiny-sweep.yaml")

// stagedSweep is a pre-training stage and a fine-tuning stage with two cells
// (testdata/staged-sweep.yaml, shared with pkg/report's tests).
var stagedSweep = readTestdata("staged-sweep.yaml")

func readTestdata(name string) string {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		panic(err)
	}
	return string(b)
}

func writeSweep(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sweep.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// killDelay is the time attempt i of TestSweepSurvivesSIGKILL runs before its SIGKILL:
// uniform in (0, whole/5] for the first two attempts, then in (0, whole*(i-1)/3].
func killDelay(rng *rand.Rand, whole time.Duration, i int) time.Duration {
	limit := whole / 5
	if i >= 2 {
		limit = whole * time.Duration(i-1) / 3
	}
	return time.Duration(1 + rng.Int64N(int64(max(limit, time.Millisecond))))
}

func runSweepInProcess(t *testing.T, sweepPath, dir string) SweepResult {
	t.Helper()
	p, err := PrepareSweep(sweepPath, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := RunSweep(context.Background(), p, dir, SweepOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// A sweep killed with SIGKILL at random moments and re-run completes with every run
// exactly once, the same metrics line for line, and the same final metrics as a sweep that
// was never interrupted (the killed sweep runs 2 workers, the reference 1: the number of
// workers does not change the numbers either).
func TestSweepSurvivesSIGKILL(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "masklab")
	build := exec.Command("go", "build", "-o", bin, "github.com/masklab/masklab/cmd/masklab")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the CLI: %v\n%s", err, out)
	}
	sweep := writeSweep(t, tinySweep)
	ref := filepath.Join(t.TempDir(), "ref")
	t0 := time.Now()
	runSweepInProcess(t, sweep, ref)
	// The kill delays scale with the time the whole sweep takes here (1 worker), so that
	// a fast backend or machine is interrupted as often as a slow one: the first two
	// attempts are killed within a fifth of it (with 2 workers and a process to start,
	// neither can finish), later ones wait longer so that the sweep makes progress.
	whole := time.Since(t0)

	dir := filepath.Join(t.TempDir(), "killed")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	kills := 0
	for i := 0; i < 15; i++ {
		cmd := exec.Command(bin, "sweep", sweep, "--out", dir, "--quiet", "--workers", "2")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("sweep run %d: %v\n%s", i, err, out.String())
			}
		case <-time.After(killDelay(rng, whole, i)):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
			kills++
			continue
		}
		break
	}
	// Finish (or confirm) the sweep.
	out, err := exec.Command(bin, "sweep", sweep, "--out", dir, "--quiet").CombinedOutput()
	if err != nil {
		t.Fatalf("final sweep: %v\n%s", err, out)
	}
	t.Logf("killed %d times; final: %s", kills, strings.TrimSpace(string(out)))
	if kills < 2 {
		t.Errorf("only %d kills: the test did not interrupt the sweep enough", kills)
	}

	p, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(runsDir(dir))
	if len(ents) != len(p.Runs) || len(p.Runs) != 4 {
		t.Fatalf("%d run dirs for %d planned runs", len(ents), len(p.Runs))
	}
	for _, r := range p.Runs {
		got := readFile(t, filepath.Join(RunDir(dir, r.ID), MetricsFile))
		want := readFile(t, filepath.Join(RunDir(ref, r.ID), MetricsFile))
		if got != want {
			t.Errorf("run %s (%s seed %d): metrics differ after kills:\n%s\nwant:\n%s", r.ID, r.Cell, r.Seed, got, want)
		}
		if _, err := os.Stat(filepath.Join(RunDir(dir, r.ID), LockFile)); err == nil {
			t.Errorf("run %s: lock left behind", r.ID)
		}
		// Trained by the CLI binary, which carries its module versions.
		if s, err := ReadSummary(RunDir(dir, r.ID)); err != nil || s.Provenance.GoMLX == "" || s.Provenance.Compute == "" || s.Provenance.Commit == "" {
			t.Errorf("run %s: provenance lacks versions: %v %+v", r.ID, err, s)
		}
	}
	if states, _ := States(dir); CountStates(states)[StatusDone] != 4 {
		t.Fatalf("states: %v", CountStates(states))
	}
	// The same final and best metrics, to the bit: what pkg/report's tables are built from.
	for _, r := range p.Runs {
		a, errA := ReadSummary(RunDir(ref, r.ID))
		b, errB := ReadSummary(RunDir(dir, r.ID))
		if errA != nil || errB != nil || a.Status != b.Status || !maps.Equal(a.Final, b.Final) || !maps.Equal(a.Best, b.Best) {
			t.Fatalf("run %s: summaries differ (%v, %v):\n%+v\nvs\n%+v", r.ID, errA, errB, a, b)
		}
	}
	// The pending list is empty and a re-run trains nothing.
	if ids := PendingRuns(dir, p); len(ids) != 0 {
		t.Fatalf("pending after completion: %v", ids)
	}
}

// A diverging cell is recorded as diverged and the sweep finishes its other runs.
func TestSweepGoesOnAfterDivergence(t *testing.T) {
	sweep := writeSweep(t, strings.Replace(tinySweep, `masks.input: [none, "partial(2)"]`, `optim.lr: [0.01, 1.0e+30]`, 1)+"\n")
	sweep2 := strings.Replace(readFile(t, sweep), `baseline: "masks.input=none"`, `baseline: "optim.lr=0.01"`, 1)
	os.WriteFile(sweep, []byte(strings.Replace(sweep2, "optim: {lr: 0.01, warmup_steps: 4}", "optim: {lr: 0.01, warmup_steps: 0, clip_norm: 0}", 1)), 0o644)
	dir := filepath.Join(t.TempDir(), "sw")
	res := runSweepInProcess(t, sweep, dir)
	if res.Diverged != 2 || res.Trained != 2 {
		t.Fatalf("result %+v, want 2 trained and 2 diverged", res)
	}
	states, err := States(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := CountStates(states)
	if c[StatusDone] != 2 || c[StatusDiverged] != 2 {
		t.Fatalf("states %v", c)
	}
	// Re-running skips everything, diverged runs included. (pkg/report's tests check
	// that the report of such a sweep counts the diverged seeds.)
	res = runSweepInProcess(t, sweep, dir)
	if res.Skipped != 4 {
		t.Fatalf("re-run: %+v", res)
	}
}

func TestPlanSweepErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"name: x\naxes:\n  masks.input: [none, spam(1)]\n", "spam"},
		{"name: x\naxes:\n  model.layer: [1, 2]\n", `did you mean "model.layers"`},
		{"name: x\nbaseline: nope\naxes:\n  model.layers: [1, 2]\n", "baseline"},
		{"name: x\nbase: {model: {layerz: 2}}\n", "layerz"},
		{"name: x\nstages:\n  - {name: ft, from: pre}\n", "not defined before"},
		{"name: x\naxs:\n  model.layers: [1, 2]\n", `line 2: unknown key "axs"; did you mean "axes"?`},
		{"name: x\nstages:\n  - {name: a, frm: b}\n", `unknown key "frm"; did you mean "from"?`},
		{"name: x\naxes:\n  model.layers: [1, two]\n", `bad value for model.layers: want an integer, got "two"`},
		{"name: x\naxes:\n  model.layers: [1, 2.5]\n", `bad value for model.layers: want an integer, got "2.5"`},
		{"name: x\nbase:\n  model:\n    layerz: 2\n", `line 4: unknown key "model.layerz"`},
	} {
		sf, err := ParseSweep([]byte(tc.yaml), "x.yaml")
		if err == nil {
			_, err = PlanSweep(sf, nil)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to mention %q", tc.yaml, err, tc.want)
		}
	}
}

// Every shipped sweep plans: its keys, values and mask strings are valid.
func TestShippedSweepsPlan(t *testing.T) {
	files, _ := filepath.Glob("../../sweeps/*.yaml")
	if len(files) < 2 {
		t.Fatalf("sweeps: %v", files)
	}
	for _, f := range files {
		sf, err := LoadSweep(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		p, err := PlanSweep(sf, nil)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		t.Logf("%s: %d runs in stages %v", filepath.Base(f), len(p.Runs), p.Stages)
	}
}

// A fine-tuning stage starts each of its cells from the pre-training run of the same
// seed, which is trained once and shared.
func TestStagesFineTuneFromSharedCheckpoint(t *testing.T) {
	sweep := writeSweep(t, stagedSweep)
	dir := filepath.Join(t.TempDir(), "sw")
	p, err := PrepareSweep(sweep, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Runs) != 3 {
		t.Fatalf("%d runs, want 1 pre + 2 sft", len(p.Runs))
	}
	// A fine-tuning run cannot start before its pre-training run is done.
	var ft *PlannedRun
	for _, r := range p.Runs {
		if r.Stage == "sft" {
			ft = r
			break
		}
	}
	if _, _, err := RunOne(context.Background(), p, dir, ft.ID, SweepOptions{}); err == nil || !strings.Contains(err.Error(), ft.From) {
		t.Fatalf("fine-tuning before pre-training: err = %v", err)
	}
	res, err := RunSweep(context.Background(), p, dir, SweepOptions{})
	if err != nil || res.Trained != 3 {
		t.Fatalf("res %+v err %v", res, err)
	}
	pre := map[int64]string{}
	for _, r := range p.Runs {
		if r.Stage == "pre" {
			pre[r.Seed] = r.ID
		}
	}
	for _, r := range p.Runs {
		if r.Stage != "sft" {
			continue
		}
		if r.From != pre[r.Seed] || r.Config.InitFrom != pre[r.Seed] {
			t.Errorf("run %s seed %d starts from %q, want %q", r.ID, r.Seed, r.From, pre[r.Seed])
		}
		s, err := ReadSummary(RunDir(dir, r.ID))
		if err != nil || s.Status != StatusDone {
			t.Fatalf("run %s: %v %+v", r.ID, err, s)
		}
		if _, ok := s.Final["valid_completion_loss"]; !ok {
			t.Errorf("run %s: no completion loss in %v", r.ID, s.Final)
		}
	}
	// (pkg/report's tests draw the report of this sweep, every stage of it.)
}

// A sweep directory keeps the runs of an earlier plan with other seeds (a sweep
// extended with more seeds), but a changed sweep file supersedes the old run of each
// (stage, cell, seed) it plans again, so the report never counts a seed twice.
func TestManifestMergeSupersedesChangedRuns(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sw")
	sweep := func(steps int, seeds string) string {
		return writeSweep(t, fmt.Sprintf(`
name: merge
base:
  task: {name: reverse, vocab: 12, min_len: 3, max_len: 5, train_size: 100, max_eval: 8}
  model: {kind: seq2seq, layers: 1, d_model: 16, heads: 2, ff: 32}
  train: {steps: %d, batch_size: 8}
axes:
  masks.input: [none, full]
seeds: %s
`, steps, seeds))
	}
	ids := func(p *Plan) map[string]bool {
		m := map[string]bool{}
		for _, r := range p.Runs {
			m[r.ID] = true
		}
		return m
	}
	a, err := PrepareSweep(sweep(10, "[1, 2]"), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	// More seeds: the old runs stay.
	b, err := PrepareSweep(sweep(10, "[3]"), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(m); len(got) != 6 || !maps.Equal(got, mergeSets(ids(a), ids(b))) {
		t.Fatalf("after adding seed 3: %d runs %v, want the 4 of the first plan and 2 new", len(got), got)
	}
	// More steps for seeds 1-3: every old run is superseded.
	c, err := PrepareSweep(sweep(12, "[1, 2, 3]"), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m, err = ReadManifest(dir); err != nil {
		t.Fatal(err)
	}
	if got := ids(m); !maps.Equal(got, ids(c)) {
		t.Fatalf("after changing the steps: runs %v, want exactly the new plan's %v", got, ids(c))
	}
}

func mergeSets(a, b map[string]bool) map[string]bool {
	m := maps.Clone(a)
	maps.Copy(m, b)
	return m
}
