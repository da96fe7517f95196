package notebook

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/masklab/masklab/internal/runstore"
	"github.com/masklab/masklab/pkg/experiments"
	"github.com/masklab/masklab/pkg/plots"
	"github.com/masklab/masklab/pkg/report"
)

func TestLabelsAndSeries(t *testing.T) {
	l := Labels{"task.packing=none, masks.self=causal & pad": "unpacked"}
	if got := l.All([]string{"task.packing=none, masks.self=causal & pad", "other"}); !slices.Equal(got, []string{"unpacked", "other"}) {
		t.Errorf("All = %q", got)
	}
	curves := l.Curves([]plots.Curve{{Label: "task.packing=none, masks.self=causal & pad"}, {Label: "x"}})
	if curves[0].Label != "unpacked" || curves[1].Label != "x" {
		t.Errorf("Curves = %+v", curves)
	}
	if got := l.Of("pre: task.packing=none, masks.self=causal & pad"); got != "pre: unpacked" {
		t.Errorf("Of of a staged label = %q, want the stage kept", got)
	}
	series := []report.Series{{Label: "a", Runs: []report.Run{{Seed: 1}}}, {Label: "b"}}
	if s, err := SeriesOf(series, "", "a"); err != nil || s.Label != "a" || len(s.Runs) != 1 {
		t.Errorf("SeriesOf(a) = %+v, %v", s, err)
	}
	if s, err := SeriesOf(series, "main", "a"); err != nil || s.Label != "a" {
		t.Errorf("SeriesOf(main, a) = %+v, %v", s, err)
	}
	if _, err := SeriesOf(series, "", "c"); err == nil || !strings.Contains(err.Error(), `"b"`) {
		t.Errorf("SeriesOf(c): error %v, want one listing the cells", err)
	}
	staged := []report.Series{{Label: "s1: a"}, {Label: "s2: a", Runs: []report.Run{{Seed: 2}}}}
	if s, err := SeriesOf(staged, "s2", "a"); err != nil || s.Label != "s2: a" || len(s.Runs) != 1 {
		t.Errorf("SeriesOf(s2, a) = %+v, %v; want stage s2's series", s, err)
	}
}

// In a sweep with several stages the same cell may run in each: EvaluateRuns and
// DocPositionLoss give each stage's cell its own series, labelled "stage: cell" as the
// report labels it, instead of one label twice.
func TestSeriesOfAStagedSweep(t *testing.T) {
	root := writeSweeps(t, map[string]string{"staged": stagedSweep})
	dir := filepath.Join(t.TempDir(), "staged")
	plan, err := experiments.PrepareSweep(filepath.Join(root, "sweeps", "staged.yaml"), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range plan.Runs { // faked done: training is not what is tested
		summary := fmt.Sprintf(`{"status":"done","step":1,"final":{},"best":{},"by_position":{"valid_loss":[%d]},"provenance":{"wall_seconds":1}}`, r.Seed)
		if err := os.WriteFile(filepath.Join(experiments.RunDir(dir, r.ID), runstore.SummaryFile), []byte(summary), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	series, err := DocPositionLoss(dir)
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, s := range series {
		labels = append(labels, s.Label)
	}
	want := []string{"pre: base", "tune: optim.lr=0.01", "tune: optim.lr=0.001", "tune: optim.lr=0.0001", "other: optim.lr=0.01", "other: optim.lr=0.001"}
	if !slices.Equal(labels, want) {
		t.Errorf("labels %q, want %q", labels, want)
	}
	if s, err := SeriesOf(series, "other", "optim.lr=0.01"); err != nil || s.Label != "other: optim.lr=0.01" || len(s.Runs) != 3 {
		t.Errorf("SeriesOf(other, optim.lr=0.01) = %+v, %v", s, err)
	}
}
