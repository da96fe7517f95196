package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const checkPacked = `task: {name: cedict-docs, vocab: 1000, max_len: 40, max_examples: 2000, max_eval: 64, tgt_len: 64, packing: first-fit}
model: {kind: decoder, layers: 1, d_model: 16, heads: 2, ff: 32}
masks: {self: "causal & pad"}
train: {batch_size: 8}
`

// masklab check: the exit status for CI, --allow, --json's shape, the picture.
func TestCheckCLI(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "packed.yaml")
	os.WriteFile(cfg, []byte(checkPacked), 0o644)
	pic := filepath.Join(dir, "example.png")
	for _, tc := range []struct {
		args   []string
		code   int
		stdout []string
		stderr string
	}{
		{[]string{"check", cfg, "--model=false", "--color", "never"}, 1,
			[]string{"FAIL     cross-document", "pass     zero-supervision", "example: batch 0 row 0 (a packed row whose documents see each other)", "[completion, trained]", " ‖\n", "FAIL: cross-document"},
			"failed checks in " + cfg},
		{[]string{"check", cfg, "--model=false", "--allow", "cross-document", "--color", "never", "--png", pic}, 0,
			[]string{"allowed  cross-document", "ok (allowed: cross-document)"}, ""},
		{[]string{"check", cfg, "--set", "masks.self=causal & doc & pad", "--batches", "1"}, 0,
			[]string{"1 train batch of 8 rows", "measured on the model (exact audit", "\nok\n"}, ""},
		{[]string{"check", cfg, "--allow", "cross-documents"}, 2, nil, `did you mean "cross-document"`},
		{[]string{"check", cfg, "--color", "sometimes"}, 2, nil, "--color"},
		{[]string{"check"}, 2, nil, "FILE"},
		{[]string{"check", "../../sweeps/quickstart.yaml", "../../sweeps/06-causal-leakage.yaml", "--model=false"}, 0,
			[]string{"sweep quickstart, 4 cells", "sweep 06-causal-leakage, 2 cells", "ok    312f2d86e79e  masks.self=pad (future-leakage allowed)", "ok (allowed: future-leakage)"}, ""},
	} {
		var out, errb bytes.Buffer
		code := run(tc.args, &out, &errb)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tc.args, code, tc.code, errb.String())
		}
		for _, w := range tc.stdout {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%v: stdout lacks %q:\n%s", tc.args, w, out.String())
			}
		}
		if !strings.Contains(errb.String(), tc.stderr) {
			t.Errorf("%v: stderr %q lacks %q", tc.args, errb.String(), tc.stderr)
		}
	}
	f, err := os.Open(pic)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("--png: %v", err)
	}
}

func TestCheckJSON(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "packed.yaml")
	os.WriteFile(cfg, []byte(checkPacked), 0o644)
	var out, errb bytes.Buffer
	if code := run([]string{"check", "--json", "--model=false", cfg}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errb.String())
	}
	var got struct {
		OK     bool `json:"ok"`
		Checks []struct{ Name, Status, Detail string }
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out.String())
	}
	statuses := map[string]string{}
	for _, c := range got.Checks {
		statuses[c.Name] = c.Status
	}
	if got.OK || statuses["cross-document"] != "fail" || statuses["zero-supervision"] != "pass" ||
		statuses["fully-masked-rows"] != "pass" || statuses["degenerate-loss-mask"] != "pass" || statuses["causal-alignment"] != "pass" {
		t.Errorf("ok %v, statuses %v", got.OK, statuses)
	}
}

// masklab sweep runs the cheap checks first and refuses a sweep with a failed one,
// writing nothing; --no-check starts it anyway.
func TestSweepRefusesFailedCheck(t *testing.T) {
	dir := t.TempDir()
	sweep := filepath.Join(dir, "leaky.yaml")
	os.WriteFile(sweep, []byte(`name: leaky
base:
  task: {name: reverse, vocab: 12, min_len: 3, max_len: 5, train_size: 200, max_eval: 16}
  model: {layers: 1, d_model: 16, heads: 2, ff: 32}
  train: {steps: 2, batch_size: 8, log_every: 1, checkpoint_every: 2}
  eval: {every: 0, batches: 1, greedy_examples: 0}
axes:
  masks.self: [pad]
`), 0o644)
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	code := run([]string{"sweep", sweep, "--out", out, "--quiet"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "not starting: masklab check fails in masks.self=pad (future-leakage)") ||
		!strings.Contains(stderr.String(), "--no-check") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused sweep wrote %s", out)
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"sweep", sweep, "--out", out, "--quiet", "--no-check"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "trained 1") {
		t.Errorf("--no-check: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
}
