package plots

import (
	"math"
	"testing"
)

// synthRuns makes n seeds of a decaying loss with seed-dependent noise.
func synthRuns(n int, rate, floor float64, steps int) []Run {
	runs := make([]Run, n)
	for s := range runs {
		x := make([]float64, steps)
		y := make([]float64, steps)
		for i := range steps {
			x[i] = float64(i * 50)
			noise := 0.08 * math.Sin(float64(i*(s+3))+float64(s))
			y[i] = floor + (4-floor)*math.Exp(-rate*float64(i)) + noise*math.Exp(-0.02*float64(i))
		}
		runs[s] = Run{Seed: s, X: x, Y: y}
	}
	return runs
}

func paperSeries() []Series {
	return []Series{
		{Label: "self: causal", Runs: synthRuns(5, 0.08, 0.4, 60)},
		{Label: "self: causal & window(4)", Runs: synthRuns(5, 0.06, 0.55, 60)},
		{Label: "input: span(0.15, 3)", Runs: synthRuns(5, 0.05, 0.3, 60)},
		{Label: "loss: plw(0.1)", Runs: synthRuns(5, 0.1, 0.7, 60)},
	}
}

func TestLossCurvesFiles(t *testing.T) {
	dir := reviewDir(t)
	p, err := LossCurves(paperSeries(), CurveOptions{Title: "Validation loss (mean, 95% CI over 5 seeds)", YLabel: "cross-entropy"})
	if err != nil {
		t.Fatal(err)
	}
	saveAll(t, p, dir, "curves_ci", SingleColumn)
	p, err = LossCurves(paperSeries(), CurveOptions{Title: "Training loss, log scale, EMA 0.6, min-max", LogY: true, Smoothing: 0.6, Band: MinMax})
	if err != nil {
		t.Fatal(err)
	}
	saveAll(t, p, dir, "curves_log_minmax", DoubleColumn)
}

func TestBarsFiles(t *testing.T) {
	dir := reviewDir(t)
	cats := []string{"1k", "4k", "16k", "64k"}
	mk := func(base float64) [][]float64 {
		v := make([][]float64, len(cats))
		for c := range v {
			for s := range 5 {
				v[c] = append(v[c], base+0.05*float64(c)+0.01*math.Sin(float64(s*7+c)))
			}
		}
		return v
	}
	series := []BarSeries{
		{Label: "causal", Values: mk(0.70)},
		{Label: "prefix-LM", Values: mk(0.74)},
		{Label: "span(0.15, 3)", Values: mk(0.72)},
	}
	p, err := Bars(cats, series, BarOptions{Title: "Token accuracy by training size", XLabel: "training examples", YLabel: "accuracy"})
	if err != nil {
		t.Fatal(err)
	}
	saveAll(t, p, dir, "bars_ci", SingleColumn)
}

// Accuracy rises towards the top right, so the automatic legend must go elsewhere.
func TestAutoLegendAvoidsData(t *testing.T) {
	var series []Series
	for i, s := range paperSeries() {
		var runs []Run
		for _, r := range s.Runs {
			y := make([]float64, len(r.Y))
			for j, v := range r.Y {
				y[j] = 1 - v/4.5
			}
			runs = append(runs, Run{Seed: r.Seed, X: r.X, Y: y})
		}
		series = append(series, Series{Label: s.Label, Runs: runs})
		_ = i
	}
	p, err := LossCurves(series, CurveOptions{Title: "Token accuracy (legend placed automatically)", YLabel: "accuracy"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Legend.Top {
		t.Errorf("legend placed at the top (left=%v), where the rising curves are", p.Legend.Left)
	}
	saveAll(t, p, reviewDir(t), "curves_accuracy_autolegend", SingleColumn)
	p, err = LossCurves(paperSeries(), CurveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Legend.Top || p.Legend.Left {
		t.Errorf("falling losses: legend top=%v left=%v, want top right", p.Legend.Top, p.Legend.Left)
	}
}
