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

// BarStat is one bar: the Mean and the error bar [Lo, Hi] around it, over N values
// (seeds). N = 0 leaves a gap; Lo = Hi draws no error bar.
type BarStat struct {
	Mean, Lo, Hi float64
	N            int
}

// BarSeries is one strategy's bars, Stats[c] for category c (e.g. c indexes data sizes),
// computed by the caller (package report computes them across seeds). Label names it in
// the legend.
type BarSeries struct {
	Label string
	Stats []BarStat
}

// BarOptions configures Bars. The zero value draws bars from 0 and the legend in the
// corner with the least data.
type BarOptions struct {
	Title, XLabel, YLabel string
	// YMin and YMax fix the y range when YMax > YMin; otherwise it spans 0 and
	// every bar and error bar.
	YMin, YMax float64
	// Legend places the legend (default LegendAuto: the emptiest corner).
	Legend LegendPos
}

// Bars draws grouped bars: one group per category along x, one bar per series in each
// group (coloured from Palette), each bar its BarStat's mean with its error bar. It draws
// the values it is given: package report computes the means and intervals across seeds
// (report.BarStats). Bars with N = 0 leave a gap.
func Bars(categories []string, series []BarSeries, opts BarOptions) (*plot.Plot, error) {
	if len(categories) == 0 || len(series) == 0 {
		return nil, fmt.Errorf("bars %q: need at least one category and one series, got %d and %d", opts.Title, len(categories), len(series))
	}
	stats := make([][]BarStat, len(series))
	for s, ser := range series {
		if len(ser.Stats) != len(categories) {
			return nil, fmt.Errorf("bars %q: series %q has values for %d categories, want %d", opts.Title, ser.Label, len(ser.Stats), len(categories))
		}
		stats[s] = ser.Stats
	}
	p := newPlot(opts.Title, opts.XLabel, opts.YLabel)
	p.Add(gridLines())
	b := &bars{stats: stats}
	p.Add(b)
	labels := make([]string, len(series))
	for i, s := range series {
		labels[i] = s.Label
		if labels[i] == "" {
			labels[i] = fmt.Sprintf("series %d", i+1)
		}
	}
	labels = legendLabels(p, labels)
	if opts.Legend != LegendNone {
		for i := range series {
			p.Legend.Add(labels[i], barThumb{Color(i)})
		}
	}
	cl, cf := tokenLabels(categories, len(categories), collect(nil))
	p.X.Tick.Marker = labelTicks{labels: cl}
	p.X.Tick.Label.Font = withFace(p.X.Tick.Label.Font, cf)
	p.X.Tick.Length = 0
	p.X.Min, p.X.Max = -0.5, float64(len(categories))-0.5
	if opts.YMax > opts.YMin {
		p.Y.Min, p.Y.Max = opts.YMin, opts.YMax
	}
	// Every bar occupies its column from the base to its top: sample it.
	var pts []plotter.XY
	for s, row := range stats {
		for k, st := range row {
			if st.N == 0 {
				continue
			}
			x0, x1 := b.barX(s, k)
			for _, f := range []float64{0, 0.25, 0.5, 0.75, 1} {
				for _, x := range []float64{x0, x1} {
					pts = append(pts, plotter.XY{X: x, Y: st.Mean * f})
				}
			}
			pts = append(pts, plotter.XY{X: (x0 + x1) / 2, Y: st.Hi})
		}
	}
	placeLegend(p, opts.Legend, pts, false, len(series))
	return p, nil
}

// groupWidth is the share of a category's slot taken by its bars.
const groupWidth = 0.8

// bars is the plotter behind Bars; x is in category units.
type bars struct {
	stats [][]BarStat // [series][category]
}

func (b *bars) barX(s, c int) (lo, hi float64) {
	w := groupWidth / float64(len(b.stats))
	left := float64(c) - groupWidth/2 + float64(s)*w
	return left + 0.06*w, left + 0.94*w
}

// Plot implements plot.Plotter.
func (b *bars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	whisker := draw.LineStyle{Color: color.Black, Width: vg.Points(0.7)}
	base := math.Max(p.Y.Min, 0)
	if p.Y.Max < 0 {
		base = p.Y.Max
	}
	for s, row := range b.stats {
		for k, st := range row {
			if st.N == 0 {
				continue
			}
			x0, x1 := b.barX(s, k)
			rect := vg.Rectangle{
				Min: vg.Point{X: trX(x0), Y: trY(math.Min(base, st.Mean))},
				Max: vg.Point{X: trX(x1), Y: trY(math.Max(base, st.Mean))},
			}
			rect = clipRect(rect, c.Rectangle)
			c.SetColor(Color(s))
			c.Fill(rect.Path())
			if st.Hi > st.Lo {
				// Clipped to a fixed y range (YMin, YMax): an end outside it has no cap.
				xm := trX((x0 + x1) / 2)
				cap := (trX(x1) - trX(x0)) * 0.25
				ylo, yhi := trY(st.Lo), trY(st.Hi)
				if lo, hi := max(ylo, c.Min.Y), min(yhi, c.Max.Y); lo < hi {
					c.StrokeLine2(whisker, xm, lo, xm, hi)
				}
				for _, y := range []vg.Length{ylo, yhi} {
					if y >= c.Min.Y && y <= c.Max.Y {
						c.StrokeLine2(whisker, xm-cap, y, xm+cap, y)
					}
				}
			}
		}
	}
}

// clipRect clips r to bounds (bars whose base is outside a fixed y range).
func clipRect(r, bounds vg.Rectangle) vg.Rectangle {
	r.Min.Y = max(r.Min.Y, bounds.Min.Y)
	r.Max.Y = min(r.Max.Y, bounds.Max.Y)
	if r.Max.Y < r.Min.Y {
		r.Max.Y = r.Min.Y
	}
	return r
}

// DataRange implements plot.DataRanger: all categories, 0, and every interval.
func (b *bars) DataRange() (xmin, xmax, ymin, ymax float64) {
	ymin, ymax = 0, 0
	cats := 0
	for _, row := range b.stats {
		cats = max(cats, len(row))
		for _, st := range row {
			if st.N == 0 {
				continue
			}
			ymin = math.Min(ymin, math.Min(st.Lo, st.Mean))
			ymax = math.Max(ymax, math.Max(st.Hi, st.Mean))
		}
	}
	if ymax == ymin {
		ymax = ymin + 1
	}
	// Headroom above the tallest bar for the legend, one legend row more per series:
	// when every corner has a tall bar (all strategies near 1.0), the legend sits there.
	ymax += (0.25 + 0.045*float64(max(0, len(b.stats)-2))) * (ymax - ymin)
	return -0.5, float64(cats) - 0.5, ymin, ymax
}

// barThumb is the legend swatch of a bar series.
type barThumb struct{ c color.Color }

// Thumbnail implements plot.Thumbnailer.
func (t barThumb) Thumbnail(c *draw.Canvas) {
	c.SetColor(t.c)
	r := c.Rectangle
	h := r.Max.Y - r.Min.Y
	r.Min.Y += h * 0.1
	r.Max.Y -= h * 0.1
	c.Fill(r.Path())
}
