package report_test

import (
	"fmt"
	"log"

	"github.com/masklab/masklab/pkg/plots"
	"github.com/masklab/masklab/pkg/report"
)

// The two intervals of masklab over five seeds' final accuracy: the tables' seeded
// bootstrap interval (Summarize), and the figures' Student-t interval (MeanInterval).
func ExampleSummarize() {
	acc := []float64{0.71, 0.74, 0.69, 0.75, 0.72}
	s := report.Summarize(acc, 1)
	fmt.Printf("table:  %.3f ± %.3f, bootstrap 95%% CI [%.3f, %.3f] over %d seeds\n", s.Mean, s.Std, s.CILow, s.CIHigh, s.N)
	m, lo, hi, n := report.MeanInterval(acc, report.CI95)
	fmt.Printf("figure: %.3f, Student-t 95%% CI [%.3f, %.3f] over %d seeds\n", m, lo, hi, n)
	// Output:
	// table:  0.722 ± 0.024, bootstrap 95% CI [0.702, 0.740] over 5 seeds
	// figure: 0.722, Student-t 95% CI [0.692, 0.752] over 5 seeds
}

// Loss curves over three seeds: Bands computes each strategy's mean and 95% CI at every
// step, and plots.LossCurves draws them.
func ExampleBands() {
	steps := []float64{0, 100, 200, 300}
	series := []report.Series{
		{Label: "self: causal", Runs: []report.Run{
			{Seed: 1, X: steps, Y: []float64{4.0, 2.1, 1.2, 0.9}},
			{Seed: 2, X: steps, Y: []float64{4.1, 2.3, 1.3, 1.0}},
			{Seed: 3, X: steps, Y: []float64{3.9, 2.0, 1.1, 0.8}},
		}},
		{Label: "self: causal & window(4)", Runs: []report.Run{
			{Seed: 1, X: steps, Y: []float64{4.0, 2.6, 1.8, 1.4}},
			{Seed: 2, X: steps, Y: []float64{4.2, 2.8, 1.9, 1.5}},
			{Seed: 3, X: steps, Y: []float64{3.9, 2.5, 1.7, 1.3}},
		}},
	}
	curves, err := report.Bands(series, report.CI95, 0)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := plots.LossCurves(curves, plots.CurveOptions{Title: "Validation loss", YLabel: "cross-entropy"}); err != nil {
		log.Fatal(err)
	}
	b := curves[0].Band
	fmt.Printf("step 300: mean %.2f, 95%% CI [%.2f, %.2f] over %d seeds\n", b.Mean[3], b.Lo[3], b.Hi[3], b.N[3])
	// Output: step 300: mean 0.90, 95% CI [0.65, 1.15] over 3 seeds
}

// The loss by position of two seeds of a packed model minus the unpacked model of the same
// seed (PairedSeries), summarized over seeds (Bands): below 0, packing helped there.
func ExamplePairedSeries() {
	unpacked := report.Series{Label: "unpacked", Runs: []report.Run{
		{Seed: 1, X: []float64{0, 1, 2}, Y: []float64{7.0, 5.0, 4.0}},
		{Seed: 2, X: []float64{0, 1, 2}, Y: []float64{7.2, 5.1, 4.1}},
	}}
	packed := report.Series{Label: "packed", Runs: []report.Run{
		{Seed: 1, X: []float64{0, 1, 2}, Y: []float64{6.5, 4.8, 4.0}},
		{Seed: 2, X: []float64{0, 1, 2}, Y: []float64{6.8, 5.0, 4.1}},
	}}
	diffs := report.PairedSeries([]report.Series{packed}, unpacked)
	curves, err := report.Bands(diffs, report.NoInterval, 0)
	if err != nil {
		log.Fatal(err)
	}
	for i, x := range curves[0].Band.X {
		fmt.Printf("position %.0f: Δ %+.2f\n", x, curves[0].Band.Mean[i])
	}
	fmt.Println(report.CurveSeedsCaption(curves, "mean"), report.SpansOrders(curves))
	// Output:
	// position 0: Δ -0.45
	// position 1: Δ -0.15
	// position 2: Δ +0.00
	// 2 seeds, mean false
}
