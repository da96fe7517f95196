package report

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/masklab/masklab/pkg/experiments"
	"github.com/masklab/masklab/pkg/plots"
)

// fakeReport is the report of the tiny sweep with 3 seeds faked done: valid_acc of
// none 0.6 0.7 0.8, of partial(2) 0.65 0.8 0.95 (paired Δ 0.05 0.1 0.15).
func fakeReport(t *testing.T) (*Report, *experiments.Plan) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "sweep")
	p, err := experiments.PrepareSweep(writeSweep(t, strings.Replace(tinySweep, "seeds: [1, 2]", "seeds: [1, 2, 3]", 1)), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range p.Runs {
		a := 0.5 + 0.1*float64(r.Seed)
		if r.Cell != p.Baseline {
			a += 0.05 * float64(r.Seed)
		}
		fakeDone(t, experiments.RunDir(dir, r.ID), a)
	}
	rep, err := Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	return rep, p
}

func close9(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// A metric measured outside the runs enters the tables with its paired differences,
// and the differences can be taken against another cell.
func TestAddMetricAndWithBaseline(t *testing.T) {
	rep, p := fakeReport(t)
	other := "masks.input=partial(2)"
	values := map[RunKey]float64{}
	for _, r := range p.Runs {
		v := 10 * float64(r.Seed) // none: 10 20 30
		if r.Cell == other {
			v += 3 // Δ 3 in every seed
		}
		values[RunKey{r.Stage, r.Cell, r.Seed}] = v
	}
	if err := rep.AddMetric("wall_seconds", values); err != nil {
		t.Fatal(err)
	}
	var base, cand *Cell
	for _, c := range rep.Cells {
		if c.Cell == p.Baseline {
			base = c
		} else {
			cand = c
		}
	}
	if st := base.Final["wall_seconds"]; st.N != 3 || !close9(st.Mean, 20) || !(st.CILow >= 10 && st.CIHigh <= 30) {
		t.Errorf("baseline wall_seconds %+v, want mean 20 over 3 seeds with a CI inside [10, 30]", st)
	}
	if d := cand.Diff["wall_seconds"]; d.N != 3 || !close9(d.Mean, 3) || !close9(d.CILow, 3) || !close9(d.CIHigh, 3) {
		t.Errorf("paired Δ wall_seconds %+v, want 3 [3, 3] over 3 pairs", d)
	}
	if b := cand.Best["wall_seconds"]; b.N != 0 {
		t.Errorf("an added metric has a best value: %+v", b)
	}
	if !slices.Contains(rep.Metrics, "wall_seconds") || !strings.Contains(string(rep.Markdown()), "wall_seconds") || !strings.Contains(string(rep.CSV()), "wall_seconds") {
		t.Error("the added metric is missing from the metrics or the tables")
	}
	// Errors: the metric again, a cell or seed the report does not have.
	if err := rep.AddMetric("wall_seconds", nil); err == nil {
		t.Error("adding a metric twice: no error")
	}
	if err := rep.AddMetric("x", map[RunKey]float64{{"main", "masks.input=full", 1}: 1}); err == nil || !strings.Contains(err.Error(), "masks.input=full") {
		t.Errorf("a cell the report lacks: error %v", err)
	}
	if err := rep.AddMetric("y", map[RunKey]float64{{"main", p.Baseline, 9}: 1}); err == nil || !strings.Contains(err.Error(), "seed 9") {
		t.Errorf("a seed the report lacks: error %v", err)
	}

	// Against partial(2): none's Δ is the negation, partial(2) has none.
	rev, err := rep.WithBaseline(other)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rev.Cells {
		d, ok := c.Diff["valid_acc"]
		switch c.Cell {
		case other:
			if ok {
				t.Errorf("the new baseline has a Δ: %+v", d)
			}
		default:
			if !ok || d.N != 3 || !close9(d.Mean, -0.1) {
				t.Errorf("Δ valid_acc of %s against %s: %+v, want -0.1", c.Cell, other, d)
			}
		}
	}
	if d := cand.Diff["valid_acc"]; !close9(d.Mean, 0.1) {
		t.Errorf("WithBaseline changed the original report: Δ %+v", d)
	}
	if !strings.Contains(string(rev.Markdown()), "`"+other+"`") {
		t.Error("the copy's table does not name its baseline")
	}
	if _, err := rep.WithBaseline("masks.input=full"); err == nil || !strings.Contains(err.Error(), "partial(2)") {
		t.Errorf("WithBaseline of a missing cell: error %v, want one listing the cells", err)
	}

	// Stages, cells and the bars of the differences.
	if s := rep.Stages(); !slices.Equal(s, []string{"main"}) {
		t.Errorf("Stages = %v", s)
	}
	if s := rep.StagesWith("valid_acc"); !slices.Equal(s, []string{"main"}) {
		t.Errorf("StagesWith(valid_acc) = %v", s)
	}
	if s := rep.StagesWith("valid_completion_loss"); len(s) != 0 {
		t.Errorf("StagesWith(valid_completion_loss) = %v, want none", s)
	}
	cells := rep.StageCells("main")
	if !slices.Equal(cells, []string{p.Baseline, other}) {
		t.Errorf("StageCells = %v", cells)
	}
	bars, err := rep.DiffBars("valid_acc", rep.Stages(), append(cells, "masks.input=full"))
	if err != nil {
		t.Fatal(err)
	}
	b := bars[0].Stats
	if len(bars) != 1 || bars[0].Label != "main" || len(b) != 3 {
		t.Fatalf("DiffBars = %+v", bars)
	}
	if b[0].Mean != 0 || b[0].Lo != 0 || b[0].Hi != 0 || b[0].N != 3 {
		t.Errorf("baseline bar %+v, want 0 without an interval over 3 seeds", b[0])
	}
	if d := cand.Diff["valid_acc"]; !close9(b[1].Mean, d.Mean) || b[1].Lo != d.CILow || b[1].Hi != d.CIHigh || b[1].N != 3 {
		t.Errorf("Δ bar %+v, want the table's bootstrap Δ %+v", b[1], d)
	}
	if b[2].N != 0 {
		t.Errorf("a cell the report lacks drew a bar: %+v", b[2])
	}
	raw, err := rep.StageBars("valid_acc", rep.Stages(), append(cells, "masks.input=full"))
	if err != nil {
		t.Fatal(err)
	}
	if v := raw[0].Values; len(raw) != 1 || len(v) != 3 || !slices.EqualFunc(v[1], []float64{0.65, 0.8, 0.95}, close9) || len(v[2]) != 0 {
		t.Errorf("StageBars = %+v, want partial(2)'s 0.65 0.8 0.95 and a gap", raw)
	}
	if _, err := rep.StageBars("nope", rep.Stages(), cells); err == nil {
		t.Error("StageBars of an unknown metric: no error")
	}
	if _, err := rep.DiffBars("nope", rep.Stages(), cells); err == nil {
		t.Error("DiffBars of an unknown metric: no error")
	}
	if got := SeedsCaption(bars, "bootstrap 95% CI"); got != "3 seeds, bootstrap 95% CI" {
		t.Errorf("SeedsCaption = %q", got)
	}
}

func TestPairedSeriesAndScale(t *testing.T) {
	ref := Series{Label: "ref", Runs: []Run{{Seed: 1, X: []float64{0, 1, 2}, Y: []float64{5, 4, 3}}, {Seed: 2, X: []float64{0, 1}, Y: []float64{6, 5}}}}
	s := Series{Label: "a", Runs: []Run{{Seed: 2, X: []float64{0, 1, 2}, Y: []float64{5, 5, 5}}, {Seed: 3, X: []float64{0}, Y: []float64{1}}}}
	got := PairedSeries([]Series{s}, ref)
	// Seed 2 only (seed 3 has no reference), at the positions both logged.
	if len(got) != 1 || got[0].Label != "a" || len(got[0].Runs) != 1 {
		t.Fatalf("PairedSeries = %+v", got)
	}
	if r := got[0].Runs[0]; r.Seed != 2 || !slices.Equal(r.X, []float64{0, 1}) || !slices.Equal(r.Y, []float64{-1, 0}) {
		t.Errorf("paired run %+v, want seed 2 at x 0, 1 with Δ -1, 0", r)
	}
	curve := func(means ...float64) []plots.Curve {
		return []plots.Curve{{Band: plots.Band{Mean: means, N: []int{5, 5, 4}[:len(means)]}}}
	}
	if SpansOrders(curve(8, 4, 2)) {
		t.Error("losses 8 to 2 span an order of magnitude")
	}
	if !SpansOrders(curve(8, 0.5, 0.4)) {
		t.Error("losses 8 to 0.4 do not span an order of magnitude")
	}
	if SpansOrders(curve(0, -1)) {
		t.Error("no positive mean: spans orders")
	}
	if got := CurveSeedsCaption(curve(8, 4, 2), CI95.String()); got != "4-5 seeds, 95% CI" {
		t.Errorf("CurveSeedsCaption = %q", got)
	}
	one := []plots.Curve{{Band: plots.Band{Mean: []float64{1}, N: []int{1}}}}
	if got := CurveSeedsCaption(one, "95% CI"); got != "1 seed, 95% CI" {
		t.Errorf("CurveSeedsCaption of one seed = %q", got)
	}
}

// Losses, character error rates and times cannot fall below 0; a CER can exceed 1 (a
// model that does not stop writes more than the reference), an accuracy cannot.
func TestMetricRange(t *testing.T) {
	for _, c := range []struct {
		metric string
		lo, hi float64
	}{
		{"valid_loss", 0, math.Inf(1)}, {"unpacked_valid_loss", 0, math.Inf(1)}, {"valid_cer", 0, math.Inf(1)},
		{"wall_seconds", 0, math.Inf(1)}, {"valid_acc", 0, 1}, {"valid_exact", 0, 1}, {"grad_norm", math.Inf(-1), math.Inf(1)},
	} {
		if lo, hi := MetricRange(c.metric); lo != c.lo || hi != c.hi {
			t.Errorf("MetricRange(%s) = [%g, %g], want [%g, %g]", c.metric, lo, hi, c.lo, c.hi)
		}
	}
}

// WithBaseline's copy and the original are independent: a metric added to one is not
// in the other (their metrics, cells and runs' values are not shared).
func TestWithBaselineCopyIsIndependent(t *testing.T) {
	rep, p := fakeReport(t)
	rev, err := rep.WithBaseline("masks.input=partial(2)")
	if err != nil {
		t.Fatal(err)
	}
	values := func(x float64) map[RunKey]float64 {
		out := map[RunKey]float64{}
		for _, r := range p.Runs {
			out[RunKey{r.Stage, r.Cell, r.Seed}] = x * float64(r.Seed)
		}
		return out
	}
	if err := rev.AddMetric("m", values(1)); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(rep.Metrics, "m") || strings.Contains(string(rep.CSV()), ",m,") {
		t.Fatalf("a metric added to the copy is in the original: %v", rep.Metrics)
	}
	for _, c := range rep.Cells {
		if _, ok := c.Final["m"]; ok {
			t.Errorf("cell %s of the original has the copy's metric", c.Cell)
		}
	}
	// The original can add the same metric with its own values, and other metrics
	// after it without overwriting the copy's list.
	if err := rep.AddMetric("m", values(2)); err != nil {
		t.Fatalf("the original cannot add the copy's metric: %v", err)
	}
	if err := rep.AddMetric("n", values(3)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rev.Metrics[len(rev.Metrics)-1:], []string{"m"}) {
		t.Errorf("the copy's metrics became %v", rev.Metrics)
	}
	if a, b := rep.Cells[0].Final["m"].Mean, rev.Cells[0].Final["m"].Mean; close9(a, b) {
		t.Errorf("the copy and the original share the values of m: %v and %v", a, b)
	}
}

// AddMetric checks every key before it writes one: a refused call leaves no value
// behind (here, with the one bad key among six good ones, in random map order).
func TestAddMetricRefusedWritesNothing(t *testing.T) {
	rep, p := fakeReport(t)
	values := map[RunKey]float64{{"main", p.Baseline, 9}: 1}
	for _, r := range p.Runs {
		values[RunKey{r.Stage, r.Cell, r.Seed}] = 1
	}
	for range 5 { // the map order decides when the bad key comes; five tries
		if err := rep.AddMetric("m", values); err == nil {
			t.Fatal("a seed the report lacks: no error")
		}
	}
	if err := rep.AddMetric("m", nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Cells {
		if st := c.Final["m"]; st.N != 0 {
			t.Errorf("cell %s has %d values of m from a refused AddMetric", c.Cell, st.N)
		}
	}
}

// DiffMarkdown gives each Δ with both intervals: the tables' bootstrap one and the
// paired Student-t one (Δ valid_acc 0.05, 0.1, 0.15 over 3 seeds: mean 0.1, s 0.05,
// t(0.975, 2) = 4.3027, so 0.1 ± 0.1242).
func TestDiffMarkdownGivesBothIntervals(t *testing.T) {
	rep, _ := fakeReport(t)
	md := string(rep.DiffMarkdown())
	var cand *Cell
	for _, c := range rep.Cells {
		if c.Cell != rep.Baseline {
			cand = c
		}
	}
	d := cand.Diff["valid_acc"]
	row := "| main | masks.input=partial(2) | valid_acc | 3 | +0.1 | " + fmt.Sprintf("[%+.3g, %+.3g]", d.CILow, d.CIHigh) + " | [-0.0242, +0.224] |"
	if !strings.Contains(md, row) || !strings.Contains(md, "Student-t 95% CI") {
		t.Errorf("DiffMarkdown lacks %q:\n%s", row, md)
	}
	if strings.Contains(md, "| masks.input=none |") {
		t.Errorf("the baseline has a row of differences with itself:\n%s", md)
	}
	rep.Baseline = ""
	if md := rep.DiffMarkdown(); md != nil {
		t.Errorf("a report without a baseline: %q, want nil", md)
	}
}

// BinnedBars: each run's plain mean over the x in each [lo, hi) range, a run without
// points in a bin left out of it, NaN ignored, integer edges labelled as ranges.
func TestBinnedBars(t *testing.T) {
	s := Series{Label: "Δ", Runs: []Run{
		{Seed: 1, X: []float64{0, 1, 2, 3, 4, 9}, Y: []float64{-4, -2, -1, -3, math.NaN(), 7}},
		{Seed: 2, X: []float64{0, 1}, Y: []float64{-2, 0}},
	}}
	labels, bars, err := BinnedBars([]Series{s}, []float64{0, 1, 4, 8})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(labels, []string{"0", "1-3", "4-7"}) {
		t.Errorf("labels %q", labels)
	}
	if len(bars) != 1 || bars[0].Label != "Δ" || len(bars[0].Values) != 3 {
		t.Fatalf("bars %+v", bars)
	}
	want := [][]float64{{-4, -2}, {-2, 0}, nil}
	for b, w := range want {
		if !slices.Equal(bars[0].Values[b], w) {
			t.Errorf("bin %s: %v, want %v (x 9 is past the last edge, x 4 is NaN)", labels[b], bars[0].Values[b], w)
		}
	}
	if l, _, err := BinnedBars(nil, []float64{0, 0.5, 2}); err != nil || !slices.Equal(l, []string{"[0, 0.5)", "[0.5, 2)"}) {
		t.Errorf("fractional edges: %q, %v", l, err)
	}
	for _, bad := range [][]float64{{0}, {0, 0}, {2, 1}, {0, math.Inf(1)}} {
		if _, _, err := BinnedBars([]Series{s}, bad); err == nil {
			t.Errorf("edges %v accepted", bad)
		}
	}
}
