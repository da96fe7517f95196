package report

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/masklab/masklab/pkg/experiments"
)

// runSweep plans and trains the sweep file at sweepPath into dir, as "masklab sweep" does.
func runSweep(t *testing.T, sweepPath, dir string) experiments.SweepResult {
	t.Helper()
	p, err := experiments.PrepareSweep(sweepPath, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := experiments.RunSweep(context.Background(), p, dir, experiments.SweepOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// The report of a sweep with a diverging cell says how many seeds diverged.
func TestReportOfDivergedSweep(t *testing.T) {
	sweep := writeSweep(t, strings.Replace(tinySweep, `masks.input: [none, "partial(2)"]`, `optim.lr: [0.01, 1.0e+30]`, 1)+"\n")
	sweep2 := strings.Replace(readFile(t, sweep), `baseline: "masks.input=none"`, `baseline: "optim.lr=0.01"`, 1)
	os.WriteFile(sweep, []byte(strings.Replace(sweep2, "optim: {lr: 0.01, warmup_steps: 4}", "optim: {lr: 0.01, warmup_steps: 0, clip_norm: 0}", 1)), 0o644)
	dir := filepath.Join(t.TempDir(), "sw")
	if res := runSweep(t, sweep, dir); res.Diverged != 2 || res.Trained != 2 {
		t.Fatalf("result %+v, want 2 trained and 2 diverged", res)
	}
	rep, err := Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	if md := string(rep.Markdown()); !strings.Contains(md, "diverged") {
		t.Fatalf("report does not mention the diverged seeds:\n%s", md)
	}
}

// The report draws every stage of a sweep with a pre-training and a fine-tuning stage:
// the pre-training stage, which logs no completion loss and decodes nothing, with
// valid_loss curves and valid_acc bars.
func TestReportOfStagedSweep(t *testing.T) {
	sweep := writeSweep(t, stagedSweep)
	dir := filepath.Join(t.TempDir(), "sw")
	if res := runSweep(t, sweep, dir); res.Trained != 3 {
		t.Fatalf("result %+v, want 3 runs trained", res)
	}
	rep, err := Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	figs, err := rep.Figures()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"curves_pre", "bars_pre", "curves_sft", "bars_sft"} {
		if figs[k] == nil {
			t.Errorf("report figures %v: no %s", slices.Sorted(maps.Keys(figs)), k)
		}
	}
	// Teacher-forced and free-running metrics side by side, per fine-tuning cell.
	if _, err := rep.MetricBars("sft", "valid_completion_acc", "valid_exact"); err != nil {
		t.Errorf("MetricBars: %v", err)
	}
	if _, err := rep.MetricBars("pre", "valid_exact"); err == nil || !strings.Contains(err.Error(), "valid_acc") {
		t.Errorf("MetricBars of a metric the stage lacks: error %v, want one listing valid_acc", err)
	}
	if _, err := rep.GroupedBars("sft", "valid_completion_loss", "masks.loss"); err != nil {
		t.Errorf("GroupedBars: %v", err)
	}
	cats, series, err := rep.groupedSeries("sft", "valid_completion_loss", "masks.loss")
	if err != nil || !slices.Equal(cats, []string{"masks.loss=all", "masks.loss=completion"}) || len(series) != 1 || len(series[0].Values) != 2 {
		t.Fatalf("groupedSeries: categories %v, series %+v, err %v", cats, series, err)
	}
	for i, cell := range []string{"masks.loss=all", "masks.loss=completion"} {
		for _, c := range rep.Cells {
			if c.Stage == "sft" && c.Cell == cell {
				want := rep.finals[cellKey("sft", cell)][1]["final_valid_completion_loss"]
				if got := series[0].Values[i]; len(got) != 1 || got[0] != want {
					t.Errorf("groupedSeries %s: %v, want [%g]", cell, got, want)
				}
			}
		}
	}
	if _, err := rep.GroupedBars("sft", "valid_completion_loss", "task.size"); err == nil || !strings.Contains(err.Error(), "masks.loss") {
		t.Errorf("GroupedBars by an axis that is not there: error %v, want one naming the axes", err)
	}
	if !rep.spec.LogY {
		t.Error("report: log_y of the sweep file was lost on the way through the manifest")
	}
	if rep.stageCurve["pre"] != "valid_loss" || rep.stageCurve["sft"] != "valid_completion_loss" {
		t.Errorf("curve metrics by stage %v, want valid_loss for pre and valid_completion_loss for sft", rep.stageCurve)
	}
}
