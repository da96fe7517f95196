package plots

import (
	"fmt"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
)

// CostLine is one line of CostCurves: a cost Y (> 0) at each size X (> 0, increasing).
// Lines of the same Group share a colour; Style picks the dash pattern (e.g. 0 for a
// baseline, 1 for the candidate), so a baseline and its candidate read as a pair.
type CostLine struct {
	Label        string
	Group, Style int
	X, Y         []float64
}

// CostCurves draws cost against size on log-log axes (a cost that grows as size^k is
// a straight line of slope k), with the sizes of the first line as the x ticks: the
// figure of a scaling benchmark, e.g. attention time against sequence length.
func CostCurves(title, xLabel, yLabel string, lines []CostLine) (*plot.Plot, error) {
	if len(lines) == 0 {
		return nil, fmt.Errorf("cost curves %q: no lines", title)
	}
	p := newPlot(title, xLabel, yLabel)
	p.Add(gridLines())
	labels := make([]string, len(lines))
	for i, l := range lines {
		labels[i] = l.Label
	}
	labels = legendLabels(p, labels)
	for i, l := range lines {
		if len(l.X) == 0 || len(l.X) != len(l.Y) {
			return nil, fmt.Errorf("cost curves %q: line %q has %d sizes and %d costs", title, l.Label, len(l.X), len(l.Y))
		}
		pts := make(plotter.XYs, len(l.X))
		for j := range l.X {
			if !(l.X[j] > 0) || !(l.Y[j] > 0) {
				return nil, fmt.Errorf("cost curves %q: line %q: size %v, cost %v cannot be drawn on log axes", title, l.Label, l.X[j], l.Y[j])
			}
			pts[j] = plotter.XY{X: l.X[j], Y: l.Y[j]}
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return nil, fmt.Errorf("cost curves %q: line %q: %w", title, l.Label, err)
		}
		line.Color = Color(l.Group)
		line.Width = LineWidth
		line.Dashes = Dashes(l.Style)
		p.Add(line)
		p.Legend.Add(labels[i], line)
	}
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	var ticks []plot.Tick
	for _, x := range lines[0].X {
		ticks = append(ticks, plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'g', -1, 64)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.Y.Tick.Marker = logTicks{}
	// Costs grow to the right: the top left is where the legend hides nothing.
	placeLegend(p, LegendTopLeft, nil, true, len(lines))
	return p, nil
}
