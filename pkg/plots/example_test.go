package plots_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/masklab/masklab/pkg/plots"
)

// Loss curves of two strategies, each its mean over seeds with a 95% CI band, saved as
// a one-column PDF. Package plots draws the values it is given; report.Bands computes
// them from the runs of each seed.
func ExampleLossCurves() {
	steps := []float64{0, 100, 200, 300}
	curves := []plots.Curve{
		{Label: "self: causal", Band: plots.Band{X: steps,
			Mean: []float64{4.0, 2.13, 1.2, 0.9},
			Lo:   []float64{3.75, 1.86, 0.95, 0.65},
			Hi:   []float64{4.25, 2.41, 1.45, 1.15}}},
		{Label: "self: causal & window(4)", Band: plots.Band{X: steps,
			Mean: []float64{4.03, 2.63, 1.8, 1.4},
			Lo:   []float64{3.65, 2.25, 1.55, 1.15},
			Hi:   []float64{4.41, 3.01, 2.05, 1.65}}},
	}
	p, err := plots.LossCurves(curves, plots.CurveOptions{Title: "Validation loss (mean, 95% CI over 3 seeds)", YLabel: "cross-entropy"})
	if err != nil {
		log.Fatal(err)
	}
	dir, _ := os.MkdirTemp("", "plots")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "loss.pdf")
	if err := plots.Save(p, path, plots.SingleColumn); err != nil {
		log.Fatal(err)
	}
	pdf, _ := os.ReadFile(path)
	fmt.Println(string(pdf[:4]))
	// Output: %PDF
}

// Final accuracy of two strategies at two data sizes, each bar a mean over seeds with
// its error bar (report.BarStats computes them from each seed's value).
func ExampleBars() {
	series := []plots.BarSeries{
		{Label: "causal", Stats: []plots.BarStat{{Mean: 0.71, Lo: 0.68, Hi: 0.74, N: 3}, {Mean: 0.80, Lo: 0.78, Hi: 0.82, N: 3}}},
		{Label: "prefix", Stats: []plots.BarStat{{Mean: 0.75, Lo: 0.70, Hi: 0.80, N: 3}, {Mean: 0.83, Lo: 0.80, Hi: 0.86, N: 3}}},
	}
	p, err := plots.Bars([]string{"1k", "4k"}, series, plots.BarOptions{Title: "Token accuracy", XLabel: "training examples", YLabel: "accuracy"})
	if err != nil {
		log.Fatal(err)
	}
	svg, err := plots.Encode(p, "svg", plots.SingleColumn)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Contains(string(svg), "<svg"))
	// Output: true
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
