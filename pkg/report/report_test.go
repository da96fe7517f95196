package report

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/masklab/masklab/internal/fsx"
	"github.com/masklab/masklab/pkg/experiments"
)

// tinySweep and stagedSweep are pkg/experiments' test sweeps (its testdata): two cells
// of the reverse task with two seeds, and a pre-training stage with a fine-tuning one.
var tinySweep, stagedSweep = readTestdata("tiny-sweep.yaml"), readTestdata("staged-sweep.yaml")

func readTestdata(name string) string {
	b, err := os.ReadFile(filepath.Join("..", "experiments", "testdata", name))
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

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fakeDone writes the summary and metrics of a finished run without training it.
func fakeDone(t *testing.T, runDir string, acc float64) {
	t.Helper()
	final := map[string]float64{"valid_acc": acc, "valid_loss": 1 - acc}
	if err := fsx.WriteJSONAtomic(filepath.Join(runDir, experiments.SummaryFile), &experiments.Summary{Status: experiments.StatusDone, Step: 32, Final: final, Best: final}); err != nil {
		t.Fatal(err)
	}
	lines := fmt.Sprintf("{\"step\":16,\"valid_loss\":%g}\n{\"step\":32,\"valid_loss\":%g}\n", 1.5-acc, 1-acc)
	if err := os.WriteFile(filepath.Join(runDir, experiments.MetricsFile), []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The report over seeds: mean, sample std, a seeded bootstrap CI inside the data's
// range and the same on every build, paired differences against the baseline, and
// labels that say which interval each output shows. No finished run is an error.
func TestReportStatistics(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sweep")
	p, err := experiments.PrepareSweep(writeSweep(t, strings.Replace(tinySweep, "seeds: [1, 2]", "seeds: [1, 2, 3]", 1)), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Write(dir, filepath.Join(dir, "fig")); err == nil || !strings.Contains(err.Error(), "no finished run") {
		t.Fatalf("report of an untrained sweep: err = %v", err)
	}
	acc := map[string]float64{}
	for _, r := range p.Runs {
		a := 0.5 + 0.1*float64(r.Seed) // none: 0.6 0.7 0.8
		if r.Cell != p.Baseline {
			a += 0.05 * float64(r.Seed) // partial(2): 0.65 0.8 0.95 (paired Δ 0.05 0.1 0.15)
		}
		acc[r.ID] = a
		fakeDone(t, experiments.RunDir(dir, r.ID), a)
	}
	files, err := Write(dir, filepath.Join(dir, "fig"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3+2*3 { // csv, md, tex; curves and bars in png, svg, pdf
		t.Errorf("wrote %d files: %v", len(files), files)
	}
	rows, err := csv.NewReader(bytes.NewReader([]byte(readFile(t, filepath.Join(dir, "fig", "report.csv"))))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	num := func(row []string, name string) float64 {
		v, err := strconv.ParseFloat(row[col[name]], 64)
		if err != nil {
			t.Fatalf("column %s: %v", name, err)
		}
		return v
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-3 }
	seen := 0
	for _, row := range rows[1:] {
		if row[col["metric"]] != "valid_acc" {
			continue
		}
		seen++
		m, sd, lo, hi := num(row, "final_mean"), num(row, "final_std"), num(row, "final_ci_low"), num(row, "final_ci_high")
		if row[col["cell"]] == p.Baseline {
			if !near(m, 0.7) || !near(sd, 0.1) || row[col["diff_vs_baseline_mean"]] != "" {
				t.Errorf("baseline row %v", row)
			}
			if lo < 0.6-1e-9 || hi > 0.8+1e-9 || !(lo < m && m < hi) {
				t.Errorf("baseline bootstrap CI [%g, %g] not inside [0.6, 0.8] around %g", lo, hi, m)
			}
			continue
		}
		if !near(m, 0.8) || !near(sd, 0.15) || !near(num(row, "diff_vs_baseline_mean"), 0.1) {
			t.Errorf("partial(2) row %v", row)
		}
		if dlo, dhi := num(row, "diff_ci_low"), num(row, "diff_ci_high"); dlo < 0.05-1e-9 || dhi > 0.15+1e-9 || dlo >= dhi {
			t.Errorf("paired difference CI [%g, %g] not inside [0.05, 0.15]", dlo, dhi)
		}
	}
	if seen != 2 {
		t.Fatalf("%d valid_acc rows in\n%v", seen, rows)
	}
	// Seeded: building the report again gives the same intervals.
	again, err := Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.CSV(), []byte(readFile(t, filepath.Join(dir, "fig", "report.csv")))) {
		t.Error("a second report differs: the bootstrap is not seeded")
	}
	md := readFile(t, filepath.Join(dir, "fig", "report.md"))
	for _, want := range []string{"bootstrap 95% CI", "Student-t 95% intervals", "Δ +0.1 ["} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	if tex := readFile(t, filepath.Join(dir, "fig", "report.tex")); !strings.Contains(tex, `\toprule`) || !strings.Contains(tex, `$\pm$`) {
		t.Errorf("report.tex:\n%s", tex)
	}
}

// With few seeds the figures do not mislead: bands and error bars stay inside the
// metric's range (a loss >= 0, an accuracy <= 1), every legend says n, and the report
// warns that the intervals of cells with fewer than 3 seeds are ranges.
func TestFewSeedsDoNotMislead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sweep")
	p, err := experiments.PrepareSweep(writeSweep(t, tinySweep), dir, nil) // 2 seeds
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range p.Runs {
		// Accuracies 0.95 and 0.55: the Student-t interval of 2 values reaches far past 1,
		// and the loss band (1 - acc, 1.5 - acc) far below 0.
		fakeDone(t, experiments.RunDir(dir, r.ID), 0.55+0.4*float64(r.Seed-1))
	}
	rep, err := Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	if w := rep.Warnings(); len(w) != 1 || !strings.Contains(w[0], "fewer than 3") || !strings.Contains(w[0], "[min, max]") {
		t.Errorf("warnings %q", w)
	}
	if md := string(rep.Markdown()); !strings.Contains(md, "**Warning:**") {
		t.Errorf("the Markdown table does not carry the warning:\n%s", md)
	}
	// The figures' data: what Figures draws, clipped.
	var series []Series
	var bars []BarSeries
	for _, c := range rep.Cells {
		runs := rep.curves[cellKey(c.Stage, c.Cell)]
		series = append(series, Series{Label: withN(c.Cell, len(runs)), Runs: runs})
		var vals []float64
		for _, seed := range c.Seeds {
			vals = append(vals, rep.finals[cellKey(c.Stage, c.Cell)][seed]["final_valid_acc"])
		}
		bars = append(bars, BarSeries{Label: c.Cell, Values: [][]float64{vals}})
	}
	curves, err := Bands(series, CI95, 0)
	if err != nil {
		t.Fatal(err)
	}
	unclipped := curves[0].Band.Lo[len(curves[0].Band.Lo)-1]
	ClipCurves("valid_loss", curves)
	for _, c := range curves {
		if !strings.HasSuffix(c.Label, "(n=2)") {
			t.Errorf("legend label %q does not say n", c.Label)
		}
		for i := range c.Band.Lo {
			if c.Band.Lo[i] < 0 {
				t.Errorf("%s: loss band reaches %g < 0", c.Label, c.Band.Lo[i])
			}
		}
	}
	if unclipped >= 0 {
		t.Fatalf("the test data should give a band below 0 before clipping, got %g", unclipped)
	}
	stats := BarStats(bars, CI95)
	if stats[0].Stats[0].Hi <= 1 {
		t.Fatalf("the test data should give an error bar above 1 before clipping, got %g", stats[0].Stats[0].Hi)
	}
	ClipBars([]string{"valid_acc"}, stats)
	for _, s := range stats {
		if st := s.Stats[0]; st.Hi > 1 || st.Lo < 0 {
			t.Errorf("%s: accuracy error bar [%g, %g] outside [0, 1]", s.Label, st.Lo, st.Hi)
		}
	}
	// And the figures themselves are drawn from clipped data (Figures runs the same path).
	if _, err := rep.Figures(); err != nil {
		t.Fatal(err)
	}
}

// A cell whose spec contains "|" (window(8) | sink(4)) stays one cell of the Markdown table.
func TestMarkdownEscapesPipes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sweep")
	p, err := experiments.PrepareSweep(writeSweep(t, strings.NewReplacer(`masks.input: [none, "partial(2)"]`, `masks.self: ["causal & pad", "causal & pad & (window(2) | sink(1))"]`,
		`baseline: "masks.input=none"`, `baseline: "masks.self=causal & pad"`).Replace(tinySweep)), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range p.Runs {
		fakeDone(t, experiments.RunDir(dir, r.ID), 0.5+0.1*float64(r.Seed))
	}
	rep, err := Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(rep.Markdown()), "\n")
	header := ""
	for _, line := range lines {
		if strings.HasPrefix(line, "| stage") {
			header = line
		}
		if strings.HasPrefix(line, "| ") && strings.Contains(line, "sink(1)") {
			if got, want := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|"), strings.Count(header, "|"); got != want {
				t.Errorf("row has %d cell separators, the header %d: %s", got, want, line)
			}
		}
	}
	if header == "" {
		t.Fatalf("no table header in:\n%s", rep.Markdown())
	}
}

// Paired differences across two sweeps pair the same seed of the same cell, leave out a
// seed done in one sweep only (rather than pairing seed 3 with seed 2), and name the
// cells there are when asked for one that is not.
func TestPairedValuesAcrossSweeps(t *testing.T) {
	sweep := writeSweep(t, strings.Replace(tinySweep, "seeds: [1, 2]", "seeds: [1, 2, 3]", 1))
	build := func(name string, acc func(seed int64) float64, skip int64) *Report {
		dir := filepath.Join(t.TempDir(), name)
		p, err := experiments.PrepareSweep(sweep, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Runs {
			if r.Seed != skip {
				fakeDone(t, experiments.RunDir(dir, r.ID), acc(r.Seed))
			}
		}
		rep, err := Build(dir)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	a := build("a", func(s int64) float64 { return 0.5 + 0.1*float64(s) }, 0)  // 0.6 0.7 0.8
	b := build("b", func(s int64) float64 { return 0.4 + 0.05*float64(s) }, 2) // 0.45 (0.5 not done) 0.55
	cell := a.Cells[0].Cell
	d, err := PairedValues(a, b, "", cell, "valid_acc")
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{0.15, 0.25}; len(d) != 2 || math.Abs(d[0]-want[0]) > 1e-12 || math.Abs(d[1]-want[1]) > 1e-12 {
		t.Errorf("paired differences %v, want %v (seeds 1 and 3)", d, want)
	}
	if fv, _ := b.FinalValues("", cell, "valid_acc"); len(fv) != 2 {
		t.Errorf("FinalValues of b = %v, want the two done seeds", fv)
	}
	if _, err := PairedValues(a, b, "", "masks.input=nope", "valid_acc"); err == nil || !strings.Contains(err.Error(), cell) {
		t.Errorf("unknown cell: err = %v, want one listing %q", err, cell)
	}
}
