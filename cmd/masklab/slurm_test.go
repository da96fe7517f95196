package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tinySweep writes a 2-run sweep (1 cell x 2 seeds) of a model small enough to train in
// a second, and returns its path.
func tinySweep(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tiny.yaml")
	err := os.WriteFile(path, []byte(`name: tiny
base:
  task: {name: reverse, vocab: 12, min_len: 3, max_len: 5, train_size: 100, max_eval: 16}
  model: {layers: 1, d_model: 8, heads: 2, ff: 16}
  train: {steps: 4, batch_size: 8, log_every: 2, checkpoint_every: 2}
  eval: {every: 0, batches: 1, greedy_examples: 4}
seeds: [1, 2]
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// fakeMasklab returns an executable standing in for the masklab binary of the tasks (the
// test binary lives in a go-build directory, which masklab slurm refuses).
func fakeMasklab(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "masklab")
	if err := os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSlurmUsageErrors(t *testing.T) {
	sweep := tinySweep(t)
	out := t.TempDir()
	code, _, stderr := runCLI("slurm", sweep, "--out", out)
	if code != 2 || !strings.Contains(stderr, "temporary go-build directory") {
		t.Errorf("from a go-build binary without --masklab: exit %d, stderr %q", code, stderr)
	}
	bin := fakeMasklab(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"slurm", sweep}, "--out DIR is required"},
		{[]string{"slurm", "--out", out}, "want one sweep file, got 0"},
		{[]string{"slurm", sweep, sweep, "--out", out}, "want one sweep file, got 2"},
		{[]string{"slurm", sweep, "--out", out, "--time", "2h"}, `time "2h" is not a Slurm time limit`},
		{[]string{"slurm", sweep, "--out", out, "--max-parallel", "-1"}, "max-parallel must be >= 0, got -1"},
		{[]string{"slurm", sweep, "--out", out, "--extra-sbatch", "--array=1-3"}, "would override masklab's own --array"},
		{[]string{"slurm", sweep, "--out", out, "--masklab", "/nonexistent/masklab"}, "--masklab /nonexistent/masklab: not an executable file"},
		{[]string{"slurm", sweep, "--out", out, "--set", "model.layerz=2"}, "model.layerz"},
		{[]string{"slurm", sweep, "--out", out, "--bogus"}, "flag provided but not defined: -bogus"},
	} {
		args := tc.args
		if !strings.Contains(strings.Join(args, " "), "--masklab") {
			args = append(args, "--masklab", bin)
		}
		code, stdout, stderr := runCLI(args...)
		lastLine := strings.TrimSpace(stderr)
		if i := strings.LastIndexByte(lastLine, '\n'); i >= 0 { // the flag package prints the usage first
			lastLine = lastLine[i+1:]
		}
		if code != 2 || !strings.HasPrefix(lastLine, "masklab slurm: ") || !strings.Contains(lastLine, tc.want) {
			t.Errorf("%v: code %d, stderr %q (stdout %q), want exit 2 and one line with %q", tc.args[2:], code, stderr, stdout, tc.want)
		}
	}
	if code, _, _ := runCLI("slurm", "--help"); code != 0 {
		t.Errorf("--help: exit %d, want 0", code)
	}
}

// TestSlurmWriteSubmitAndNothingPending: scripts for every pending run; --submit without
// sbatch is a one-line error that keeps the scripts; once the runs are done (trained by
// masklab sweep), masklab slurm says there is nothing to submit and exits 0.
func TestSlurmWriteSubmitAndNothingPending(t *testing.T) {
	sweep := tinySweep(t)
	out := t.TempDir()
	bin := fakeMasklab(t)
	code, stdout, stderr := runCLI("slurm", sweep, "--out", out, "--cpus", "2", "--partition", "short", "--masklab", bin)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "2 runs: 0 done, 0 diverged, 0 running, 0 failed, 2 pending") {
		t.Errorf("stdout lacks the state counts:\n%s", stdout)
	}
	scripts, _ := filepath.Glob(filepath.Join(out, "slurm", "array-*.sbatch"))
	lists, _ := filepath.Glob(filepath.Join(out, "slurm", "array-*.runs"))
	if len(scripts) != 1 || len(lists) != 1 {
		t.Fatalf("want one array script and run list, got %v %v", scripts, lists)
	}
	list, _ := os.ReadFile(lists[0])
	if ids := strings.Fields(string(list)); len(ids) != 2 {
		t.Errorf("run list %q: want 2 run ids", list)
	}
	script, _ := os.ReadFile(scripts[0])
	for _, want := range []string{"#SBATCH --array=0-1\n", "#SBATCH --cpus-per-task=2\n", "#SBATCH --partition=short\n",
		"#SBATCH --job-name=masklab-tiny\n", "exec " + bin + " sweep " + sweep + " --out " + out} {
		if !strings.Contains(string(script), want) {
			t.Errorf("array script lacks %q:\n%s", want, script)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "manifest.json")); err != nil {
		t.Errorf("no manifest before submission: %v", err)
	}

	t.Setenv("PATH", t.TempDir()) // no sbatch
	code, _, stderr = runCLI("slurm", sweep, "--out", out, "--submit", "--masklab", bin)
	if code != 1 || !strings.Contains(stderr, "sbatch not found") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("--submit without sbatch: exit %d, stderr %q", code, stderr)
	}

	if code, so, se := runCLI("sweep", sweep, "--out", out, "--quiet"); code != 0 {
		t.Fatalf("masklab sweep: exit %d: %s %s", code, so, se)
	}
	before, _ := filepath.Glob(filepath.Join(out, "slurm", "*"))
	code, stdout, stderr = runCLI("slurm", sweep, "--out", out, "--submit", "--masklab", bin)
	if code != 0 || !strings.Contains(stdout, "no pending runs") || !strings.Contains(stdout, "2 done") {
		t.Errorf("all done: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	after, _ := filepath.Glob(filepath.Join(out, "slurm", "*"))
	if len(after) != len(before) {
		t.Errorf("nothing pending, yet files were written: %v -> %v", before, after)
	}
}
