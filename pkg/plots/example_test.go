package plots_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/masklab/masklab/pkg/plots"
)

// Loss curves of two strategies over three seeds, with the 95% CI band, saved as a
// one-column PDF.
func ExampleLossCurves() {
	steps := []float64{0, 100, 200, 300}
	series := []plots.Series{
		{Label: "self: causal", Runs: []plots.Run{
			{Seed: 1, X: steps, Y: []float64{4.0, 2.1, 1.2, 0.9}},
			{Seed: 2, X: steps, Y: []float64{4.1, 2.3, 1.3, 1.0}},
			{Seed: 3, X: steps, Y: []float64{3.9, 2.0, 1.1, 0.8}},
		}},
		{Label: "self: causal & window(4)", Runs: []plots.Run{
			{Seed: 1, X: steps, Y: []float64{4.0, 2.6, 1.8, 1.4}},
			{Seed: 2, X: steps, Y: []float64{4.2, 2.8, 1.9, 1.5}},
			{Seed: 3, X: steps, Y: []float64{3.9, 2.5, 1.7, 1.3}},
		}},
	}
	p, err := plots.LossCurves(series, plots.CurveOptions{Title: "Validation loss", YLabel: "cross-entropy"})
	if err != nil {
		log.Fatal(err)
	}
	dir, _ := os.MkdirTemp("", "plots")
	defer os.RemoveAll(dir)
	if err := plots.Save(p, filepath.Join(dir, "loss.pdf"), plots.SingleColumn); err != nil {
		log.Fatal(err)
	}
	b, _ := plots.ComputeBand(series[0].Runs, plots.CI95, 0)
	fmt.Printf("step 300: mean %.2f, 95%% CI [%.2f, %.2f] over %d seeds\n", b.Mean[3], b.Lo[3], b.Hi[3], b.N[3])
	// Output: step 300: mean 0.90, 95% CI [0.65, 1.15] over 3 seeds
}

// A mask with token labels, sized for one column with square cells.
func ExampleMaskHeatmap() {
	toks := []string{"<s>", "我", "爱", "北京"}
	grid := [][]bool{
		{true, false, false, false},
		{true, true, false, false},
		{true, true, true, false},
		{true, true, true, true},
	}
	h, err := plots.MaskHeatmap(grid, toks, toks, "causal")
	if err != nil {
		log.Fatal(err)
	}
	png, err := plots.Encode(h, "png", h.SizeFor(plots.SingleColumn.Width))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(png[1:4]))
	// Output: PNG
}
