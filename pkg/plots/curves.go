package plots

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Band is a line with an interval around it: at each X (increasing), the Mean and the
// interval [Lo, Hi], computed by the caller (package report computes them across seeds).
// Lo and Hi are nil for a line without a band.
type Band struct {
	X, Mean, Lo, Hi []float64
	// N[i] is how many values the statistics at X[i] summarize (not drawn; may be nil).
	N []int
}

// Curve is one labelled line of LossCurves with its band.
type Curve struct {
	Label string
	Band  Band
}

// CurveOptions configures LossCurves. The zero value draws linear axes and the legend
// in the corner with the least data.
type CurveOptions struct {
	Title, XLabel, YLabel string // XLabel defaults to "step", YLabel to "loss"
	// LogY draws the y axis on a log scale (values must be > 0; band edges at or
	// below 0 are clipped to half the smallest positive value).
	LogY bool
	// YMin and YMax fix the y range when YMax > YMin (otherwise it is automatic).
	YMin, YMax float64
	// Legend places the legend (default LegendAuto: the emptiest corner).
	Legend LegendPos
}

// LossCurves draws one line per curve (its Mean at each X) with its band shaded
// around it (when it has one), coloured from Palette with distinct dash patterns, and
// a legend of curve labels. It draws the values it is given: package report computes
// the means and intervals across seeds (report.Bands).
func LossCurves(curves []Curve, opts CurveOptions) (*plot.Plot, error) {
	if len(curves) == 0 {
		return nil, fmt.Errorf("loss curves %q: no curves", opts.Title)
	}
	xl, yl := opts.XLabel, opts.YLabel
	if xl == "" {
		xl = "step"
	}
	if yl == "" {
		yl = "loss"
	}
	p := newPlot(opts.Title, xl, yl)
	p.Add(gridLines())
	bands := make([]Band, len(curves))
	minPos := math.Inf(1)
	for i, s := range curves {
		b := s.Band
		if err := b.check(); err != nil {
			return nil, fmt.Errorf("loss curves %q: curve %q: %w", opts.Title, s.Label, err)
		}
		for j, m := range b.Mean {
			if opts.LogY && m <= 0 {
				return nil, fmt.Errorf("loss curves %q: curve %q: mean %v at x=%v cannot be drawn on a log scale", opts.Title, s.Label, m, b.X[j])
			}
			if m > 0 {
				minPos = math.Min(minPos, m)
			}
			if b.Lo != nil && b.Lo[j] > 0 {
				minPos = math.Min(minPos, b.Lo[j])
			}
		}
		bands[i] = b
	}
	labels := make([]string, len(curves))
	for i, s := range curves {
		labels[i] = s.Label
		if labels[i] == "" {
			labels[i] = fmt.Sprintf("series %d", i+1)
		}
	}
	labels = legendLabels(p, labels)
	for i, b := range bands {
		col := Color(i)
		var fill *plotter.Polygon
		if b.Lo != nil && len(b.X) > 1 {
			ring := make(plotter.XYs, 0, 2*len(b.X))
			for j := range b.X {
				ring = append(ring, plotter.XY{X: b.X[j], Y: clipLog(b.Lo[j], opts.LogY, minPos)})
			}
			for j := len(b.X) - 1; j >= 0; j-- {
				ring = append(ring, plotter.XY{X: b.X[j], Y: clipLog(b.Hi[j], opts.LogY, minPos)})
			}
			poly, err := plotter.NewPolygon(ring)
			if err != nil {
				return nil, fmt.Errorf("loss curves %q: band of %q: %w", opts.Title, labels[i], err)
			}
			poly.Color = withAlpha(col, 0x38)
			poly.LineStyle.Width = 0
			fill = poly
			p.Add(poly)
		}
		pts := make(plotter.XYs, len(b.X))
		for j := range b.X {
			pts[j] = plotter.XY{X: b.X[j], Y: b.Mean[j]}
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return nil, fmt.Errorf("loss curves %q: line of %q: %w", opts.Title, labels[i], err)
		}
		line.Color = col
		line.Width = LineWidth
		line.Dashes = Dashes(i)
		p.Add(line)
		if len(pts) == 1 {
			// A line through one point draws nothing: a run evaluated once (a quick-mode
			// smoke run) is a dot.
			dot, err := plotter.NewScatter(pts)
			if err != nil {
				return nil, fmt.Errorf("loss curves %q: point of %q: %w", opts.Title, labels[i], err)
			}
			dot.GlyphStyle.Color = col
			dot.GlyphStyle.Shape = draw.CircleGlyph{}
			dot.GlyphStyle.Radius = 2.5 * LineWidth
			p.Add(dot)
		}
		switch {
		case opts.Legend == LegendNone:
		case fill != nil:
			p.Legend.Add(labels[i], fill, line)
		default:
			p.Legend.Add(labels[i], line)
		}
	}
	if opts.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = logTicks{}
	}
	if opts.YMax > opts.YMin {
		p.Y.Min, p.Y.Max = opts.YMin, opts.YMax
	}
	var pts []plotter.XY
	for _, b := range bands {
		for j := range b.X {
			pts = append(pts, plotter.XY{X: b.X[j], Y: b.Mean[j]})
			if b.Lo != nil {
				pts = append(pts, plotter.XY{X: b.X[j], Y: b.Lo[j]}, plotter.XY{X: b.X[j], Y: b.Hi[j]})
			}
		}
	}
	placeLegend(p, opts.Legend, pts, opts.LogY, len(curves))
	return p, nil
}

// check says what is wrong with a band that cannot be drawn.
func (b Band) check() error {
	if len(b.X) == 0 {
		return fmt.Errorf("no points")
	}
	if len(b.Mean) != len(b.X) {
		return fmt.Errorf("%d x values but %d means", len(b.X), len(b.Mean))
	}
	if (b.Lo == nil) != (b.Hi == nil) || (b.Lo != nil && (len(b.Lo) != len(b.X) || len(b.Hi) != len(b.X))) {
		return fmt.Errorf("%d x values but %d lower and %d upper band edges (give both, or neither for no band)", len(b.X), len(b.Lo), len(b.Hi))
	}
	return nil
}

// legendLabels resolves the fonts of legend entries (one style for all of them)
// and returns the labels to draw.
func legendLabels(p *plot.Plot, labels []string) []string {
	out := make([]string, len(labels))
	for i, l := range labels {
		r := resolveText(l, escapeUncovered)
		out[i] = r.text
		if r.font.Typeface == cjkTypeface {
			p.Legend.TextStyle.Font = withFace(p.Legend.TextStyle.Font, r.font)
		}
	}
	return out
}

// clipLog keeps band edges drawable on a log axis.
func clipLog(v float64, logY bool, minPos float64) float64 {
	if logY && v <= 0 {
		return minPos / 2
	}
	return v
}

// withAlpha returns c with alpha a (premultiplied, as image/color requires).
func withAlpha(c color.RGBA, a uint8) color.RGBA {
	f := float64(a) / 255
	return color.RGBA{uint8(float64(c.R) * f), uint8(float64(c.G) * f), uint8(float64(c.B) * f), a}
}

// gridLines returns faint horizontal grid lines.
func gridLines() *plotter.Grid {
	g := plotter.NewGrid()
	g.Vertical.Color = nil
	g.Horizontal = draw.LineStyle{Color: color.Gray{Y: 0xDD}, Width: vg.Points(0.4)}
	return g
}
