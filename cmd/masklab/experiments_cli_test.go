package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The promised errors of the experiment commands: one line, exit 2 for bad input, the
// key, the value and the closest valid key named.
func TestExperimentCommandErrors(t *testing.T) {
	dir := t.TempDir()
	badCfg := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badCfg, []byte("model:\n  layres: 2\n"), 0o644)
	badSweep := filepath.Join(dir, "sweep.yaml")
	os.WriteFile(badSweep, []byte("name: s\naxes:\n  masks.input: [none, \"spam(0.1, 3)\"]\n"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"train", "--set", "model.layr=3"}, 2, []string{"model.layr", `did you mean "model.layers"`}},
		{[]string{"train", "--set", "optim.lr=fast"}, 2, []string{"optim.lr", "fast", "a number"}},
		{[]string{"train", "--set", "masks.self=causal & windw(2)"}, 2, []string{"masks.self", "windw", "window"}},
		{[]string{"train", badCfg}, 2, []string{"layres", `did you mean "model.layers"`}},
		{[]string{"sweep", badSweep, "--out", filepath.Join(dir, "o")}, 2, []string{"masks.input", "spam", "span"}},
		{[]string{"sweep", badSweep}, 2, []string{"--out"}},
		{[]string{"status", filepath.Join(dir, "nothing")}, 1, []string{"not a sweep directory"}},
		{[]string{"eval"}, 2, []string{"RUN_DIR"}},
		{[]string{"generate", dir}, 2, []string{"--text"}},
		// A diverged single run is a failure scripts can see (exit 1), naming what diverged.
		{[]string{"train", "--quiet", "--out", filepath.Join(dir, "div"), "--set", "task.name=reverse", "--set", "task.train_size=200",
			"--set", "model.d_model=16", "--set", "model.layers=1", "--set", "optim.lr=1e30", "--set", "optim.warmup_steps=0",
			"--set", "optim.clip_norm=0", "--set", "train.steps=10", "--set", "eval.greedy_examples=0"}, 1, []string{"diverged", "at step"}},
		{[]string{"eval", filepath.Join(dir, "div")}, 1, []string{"diverged", "nothing to evaluate"}},
	} {
		var out, errb bytes.Buffer
		code := run(tc.args, &out, &errb)
		msg := errb.String()
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tc.args, code, tc.code, msg)
		}
		if strings.Count(strings.TrimSpace(msg), "\n") != 0 {
			t.Errorf("%v: error is not one line: %q", tc.args, msg)
		}
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%v: stderr %q lacks %q", tc.args, msg, w)
			}
		}
	}
}

func TestPrintDefaults(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"train", "--print-defaults"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, k := range []string{"masks:", "self:", "optim:", "clip_norm:", "seed:"} {
		if !strings.Contains(out.String(), k) {
			t.Errorf("defaults lack %q", k)
		}
	}
}

// "masklab sweep --dry-run" lists every run with its cell, seed, status and estimates, and
// writes nothing; "masklab train --dry-run" likewise for one run.
func TestDryRunWritesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "never")
	var out, errb bytes.Buffer
	if code := run([]string{"sweep", "../../sweeps/quickstart.yaml", "--out", dir, "--dry-run"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("--dry-run created %s", dir)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3+12 {
		t.Fatalf("want a header, 12 runs and a total, got:\n%s", out.String())
	}
	for _, w := range []string{"pending", "masks.input=partial(2)", "MiB", "params", "seed", "12 runs to train"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("dry run lacks %q:\n%s", w, out.String())
		}
	}
	// A misspelt check name in the sweep file is refused by the dry run too.
	bad := filepath.Join(t.TempDir(), "s.yaml")
	os.WriteFile(bad, []byte("name: s\nbase:\n  model: {layers: 1}\ncheck: {allow: [cross-documnt]}\n"), 0o644)
	errb.Reset()
	if code := run([]string{"sweep", bad, "--out", dir, "--dry-run"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), `did you mean "cross-document"`) {
		t.Errorf("dry run of a misspelt check.allow: exit %d, %q", code, errb.String())
	}
	out.Reset()
	if code := run([]string{"train", "--dry-run", "--out", dir, "--set", "task.name=reverse"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "estimated") {
		t.Fatalf("train --dry-run: exit %d, %q %q", code, out.String(), errb.String())
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("train --dry-run created %s", dir)
	}
}

// "masklab sweep --reuse DIR" copies the finished runs of another sweep directory that
// have the same run ids instead of training them; a directory that does not exist
// copies nothing.
func TestSweepReuse(t *testing.T) {
	sweep := "../../pkg/experiments/testdata/tiny-sweep.yaml"
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	sets := []string{"--set", "train.steps=4", "--set", "eval.every=4", "--quiet"}
	var out, errb bytes.Buffer
	if code := run(append([]string{"sweep", sweep, "--out", a}, sets...), &out, &errb); code != 0 {
		t.Fatalf("sweep a: exit %d: %s", code, errb.String())
	}
	out.Reset()
	errb.Reset()
	args := append([]string{"sweep", sweep, "--out", b, "--reuse", filepath.Join(t.TempDir(), "none"), "--reuse", a}, sets...)
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("sweep b: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "reused 4 finished run(s) of "+a) || !strings.Contains(out.String(), "trained 0, already finished 4") {
		t.Errorf("sweep --reuse: stdout %q, stderr %q; want 4 runs reused and none trained", out.String(), errb.String())
	}
}
