package plots

import (
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// LegendPos says where a figure's legend goes. The zero value, LegendAuto, picks
// the inside corner that covers the fewest data points.
type LegendPos int

const (
	LegendAuto LegendPos = iota
	LegendTopRight
	LegendTopLeft
	LegendBottomRight
	LegendBottomLeft
	// LegendNone draws no legend.
	LegendNone
)

// placeLegend puts p's legend in a corner: pos, or for LegendAuto the corner whose
// box (about 45% of the width, and a height growing with the entries) holds the
// fewest of pts. Call it after every plotter has been added.
func placeLegend(p *plot.Plot, pos LegendPos, pts []plotter.XY, logY bool, entries int) {
	if pos == LegendAuto {
		pos = emptiestCorner(p, pts, logY, entries)
	}
	p.Legend.Top = pos == LegendTopRight || pos == LegendTopLeft
	p.Legend.Left = pos == LegendTopLeft || pos == LegendBottomLeft
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(-4), vg.Points(-2)
	if p.Legend.Left {
		p.Legend.XOffs = vg.Points(4)
	}
	if !p.Legend.Top {
		p.Legend.YOffs = vg.Points(2)
	}
}

func emptiestCorner(p *plot.Plot, pts []plotter.XY, logY bool, entries int) LegendPos {
	norm := func(v, lo, hi float64, log bool) float64 {
		if log {
			if v <= 0 || lo <= 0 {
				return 0
			}
			v, lo, hi = math.Log(v), math.Log(lo), math.Log(hi)
		}
		if hi <= lo {
			return 0.5
		}
		return (v - lo) / (hi - lo)
	}
	w := 0.45
	h := math.Min(0.6, 0.05+0.085*float64(entries))
	best, bestN := LegendTopRight, math.MaxInt
	for _, pos := range []LegendPos{LegendTopRight, LegendTopLeft, LegendBottomRight, LegendBottomLeft} {
		n := 0
		for _, pt := range pts {
			x := norm(pt.X, p.X.Min, p.X.Max, false)
			y := norm(pt.Y, p.Y.Min, p.Y.Max, logY)
			inX := x >= 1-w
			if pos == LegendTopLeft || pos == LegendBottomLeft {
				inX = x <= w
			}
			inY := y >= 1-h
			if pos == LegendBottomRight || pos == LegendBottomLeft {
				inY = y <= h
			}
			if inX && inY {
				n++
			}
		}
		if n < bestN {
			best, bestN = pos, n
		}
	}
	return best
}
