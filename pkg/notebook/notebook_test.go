package notebook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/masklab/masklab/pkg/experiments"
	"github.com/masklab/masklab/pkg/plots"
	"github.com/masklab/masklab/pkg/report"
)

func TestRunSweepQuick(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "sweeps"), 0o755); err != nil {
		t.Fatal(err)
	}
	sweep := `name: nb
base:
  task: {name: reverse, vocab: 12, min_len: 3, max_len: 5, train_size: 200, max_eval: 16}
  model: {kind: seq2seq, layers: 1, d_model: 16, heads: 2, ff: 32}
  train: {steps: 5000, batch_size: 8}
axes:
  masks.input: [none, full]
seeds: [1, 2, 3]
`
	if err := os.WriteFile(filepath.Join(root, "sweeps", "nb.yaml"), []byte(sweep), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MASKLAB_QUICK", "1")
	t.Setenv("MASKLAB_RUNS", filepath.Join(root, "runs"))
	dir, res, err := RunSweep(context.Background(), root, "nb", "eval.greedy_examples=4")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "runs", "nb-quick"); dir != want {
		t.Errorf("dir = %s, want %s", dir, want)
	}
	// Quick mode: one seed per cell, and every run cut to the quick step count.
	if res.Trained != 2 {
		t.Errorf("trained %d runs, want 2 (2 cells x the first seed)", res.Trained)
	}
	m, err := experiments.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range m.Runs {
		s, err := experiments.ReadSummary(experiments.RunDir(dir, r.ID))
		if err != nil {
			t.Fatal(err)
		}
		if s.Status != "done" || s.Step != 20 {
			t.Errorf("run %s (%s): status %s at step %d, want done at step 20", r.ID, r.Cell, s.Status, s.Step)
		}
	}
	// A second call finds everything finished.
	_, res, err = RunSweep(context.Background(), root, "nb", "eval.greedy_examples=4")
	if err != nil {
		t.Fatal(err)
	}
	if res.Trained != 0 || res.Skipped != 2 {
		t.Errorf("second call: trained %d, skipped %d; want 0 and 2", res.Trained, res.Skipped)
	}
	// LoadCell finds a cell's run by name and seed (0: the first finished one).
	for _, c := range []struct {
		cell    string
		seed    int64
		wantErr string
	}{
		{"masks.input=full", 0, ""}, {"masks.input=full", 1, ""},
		{"masks.input=full", 2, "with seed 2"}, {"masks.input=partial(2)", 0, `no cell "masks.input=partial(2)"`},
	} {
		l, err := LoadCell(dir, c.cell, c.seed)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("LoadCell(%q, %d): %v", c.cell, c.seed, err)
		case c.wantErr == "" && l.Config.Masks.Input != "full":
			t.Errorf("LoadCell(%q, %d) loaded a run with masks.input=%s", c.cell, c.seed, l.Config.Masks.Input)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("LoadCell(%q, %d): error %v, want one containing %q", c.cell, c.seed, err, c.wantErr)
		}
	}
	// Evaluation at a padding length longer than in training, per cell and seed.
	series, err := EvaluatePadded(dir, []int{0, 24}, "valid_loss")
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != 2 {
		t.Fatalf("EvaluatePadded: %d series, want 2 (one per cell)", len(series))
	}
	for _, s := range series {
		for c, vs := range s.Values {
			if len(vs) != 1 || math.IsNaN(vs[0]) || vs[0] <= 0 {
				t.Errorf("EvaluatePadded %s, length #%d: values %v, want one positive loss", s.Label, c, vs)
			}
		}
	}
	_, curves, err := EvaluateVariants(dir, [][]string{nil}, "valid_acc", "valid_loss")
	if err != nil {
		t.Fatal(err)
	}
	if len(curves) != 2 || len(curves[0].Runs) != 1 || len(curves[0].Runs[0].X) == 0 {
		t.Errorf("EvaluateVariants by position: %+v, want 2 series with one run each", curves)
	}
	if _, err := EvaluatePadded(dir, []int{0}, "no_such_metric"); err == nil {
		t.Error("EvaluatePadded with an unknown metric: no error")
	}
	// The report's tables go to root/results in full mode only.
	rep, err := report.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	if paths, err := SaveResults(root, "nb", rep); err != nil || paths != nil {
		t.Errorf("SaveResults in quick mode wrote %v, err %v", paths, err)
	}
	t.Setenv("MASKLAB_QUICK", "0")
	paths, err := SaveResults(root, "nb", rep)
	if err != nil || len(paths) != 2 {
		t.Fatalf("SaveResults in full mode: %v, err %v", paths, err)
	}
	if md, err := os.ReadFile(filepath.Join(root, "results", "nb.md")); err != nil || !bytes.Contains(md, []byte("masks.input=full")) {
		t.Errorf("results/nb.md: err %v, text %q", err, md)
	}
	if csv, err := os.ReadFile(filepath.Join(root, "results", "nb.csv")); err != nil || !bytes.Equal(csv, rep.CSV()) {
		t.Errorf("results/nb.csv is not the report's CSV (err %v)", err)
	}
	if _, err := SaveResults(root, "a/b", rep); err == nil {
		t.Error("SaveResults with a directory in the name: no error")
	}
	if d := SweepDir(root, "nb"); strings.HasSuffix(d, "-quick") {
		t.Errorf("full-mode dir %s has the quick suffix", d)
	}
	if _, _, err := RunSweep(context.Background(), root, "missing"); err == nil {
		t.Error("missing sweep file: no error")
	}
}

// A paper figure is written (PNG and PDF under root/figures) only in full mode.
func TestSavePaperFigure(t *testing.T) {
	root := t.TempDir()
	p, err := plots.Bars([]string{"a"}, []plots.BarSeries{{Label: "x", Stats: []plots.BarStat{{Mean: 2, Lo: 1, Hi: 3, N: 3}}}}, plots.BarOptions{Title: "t"})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("MASKLAB_QUICK", "1")
	if paths, err := SavePaperFigure(root, "fig", p, plots.SingleColumn); err != nil || paths != nil {
		t.Fatalf("quick mode: wrote %v, err %v", paths, err)
	}
	if _, err := os.Stat(filepath.Join(root, "figures")); !os.IsNotExist(err) {
		t.Fatalf("quick mode created figures/: %v", err)
	}
	t.Setenv("MASKLAB_QUICK", "")
	paths, err := SavePaperFigure(root, "fig", p, plots.SingleColumn)
	if err != nil || len(paths) != 2 {
		t.Fatalf("full mode: wrote %v, err %v", paths, err)
	}
	png, err := os.ReadFile(filepath.Join(root, "figures", "fig.png"))
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("fig.png: %d bytes, err %v", len(png), err)
	}
	pdf, err := os.ReadFile(filepath.Join(root, "figures", "fig.pdf"))
	if err != nil || !bytes.HasPrefix(pdf, []byte("%PDF")) {
		t.Errorf("fig.pdf: %d bytes, err %v", len(pdf), err)
	}
	if _, err := SavePaperFigure(root, "../x", p, plots.SingleColumn); err == nil {
		t.Error("a name with a directory: no error")
	}
}

// Must, Must2 and Must0 pass values through and panic with the error.
func TestMust(t *testing.T) {
	if v := Must(42, nil); v != 42 {
		t.Errorf("Must(42, nil) = %v", v)
	}
	if a, b := Must2("a", 2, nil); a != "a" || b != 2 {
		t.Errorf("Must2 = %v, %v", a, b)
	}
	Must0(nil)
	boom := errors.New("boom")
	for name, f := range map[string]func(){
		"Must":  func() { Must(0, boom) },
		"Must2": func() { Must2(0, 0, boom) },
		"Must0": func() { Must0(boom) },
	} {
		func() {
			defer func() {
				if r := recover(); r != boom {
					t.Errorf("%s: recovered %v, want the error", name, r)
				}
			}()
			f()
		}()
	}
}

func TestChangeFrom(t *testing.T) {
	bars := []report.BarSeries{
		{Label: "a", Values: [][]float64{{5, 6}, {4.5, 6.5}, {5, 5}}},
		{Label: "b", Values: [][]float64{{1}, {2, 3}}},
	}
	got := ChangeFrom(bars, 0)
	want := [][][]float64{{{0, 0}, {-0.5, 0.5}, {0, -1}}, {{0}, {}}}
	for i := range want {
		if got[i].Label != bars[i].Label || fmt.Sprint(got[i].Values) != fmt.Sprint(want[i]) {
			t.Errorf("ChangeFrom %s = %v, want %v", bars[i].Label, got[i].Values, want[i])
		}
	}
	if bars[0].Values[1][0] != 4.5 {
		t.Error("ChangeFrom changed its input")
	}
}

// MASKLAB_WORKERS sets the runs a notebook's sweep trains at once; a value that is not
// a positive integer is an error naming the variable.
func TestWorkers(t *testing.T) {
	for _, c := range []struct {
		v    string
		want int
		bad  bool
	}{{"", 1, false}, {"2", 2, false}, {"0", 0, true}, {"two", 0, true}} {
		t.Setenv(WorkersEnv, c.v)
		n, err := Workers()
		if c.bad != (err != nil) || n != c.want || (err != nil && !strings.Contains(err.Error(), WorkersEnv)) {
			t.Errorf("%s=%q: %d, %v", WorkersEnv, c.v, n, err)
		}
	}
}
