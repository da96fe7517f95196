package plots

import (
	"image"
	"image/color"
	"math"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/recorder"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// A band without points, or with edges that do not match its points, is an error.
func TestLossCurvesBandErrors(t *testing.T) {
	for _, b := range []Band{
		{},
		{X: []float64{1, 2}, Mean: []float64{1}},
		{X: []float64{1, 2}, Mean: []float64{1, 1}, Lo: []float64{0, 0}},
		{X: []float64{1, 2}, Mean: []float64{1, 1}, Lo: []float64{0}, Hi: []float64{2}},
	} {
		if _, err := LossCurves([]Curve{{Label: "bad", Band: b}}, CurveOptions{}); err == nil {
			t.Errorf("band %+v: no error", b)
		}
	}
	if _, err := LossCurves(nil, CurveOptions{}); err == nil {
		t.Error("no curves: no error")
	}
}

// pixel returns the PNG colour at data point (x, y) of p drawn into the canvas
// area (of a figure of the given size).
func pixel(img image.Image, p *plot.Plot, area draw.Canvas, size Size, x, y float64) color.RGBA {
	da := p.DataCanvas(area)
	trX, trY := p.Transforms(&da)
	px := int(float64(trX(x)) / 72 * DPI)
	py := int(float64(size.Height-trY(y)) / 72 * DPI)
	r, g, b, a := img.At(px, py).RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)}
}

func colourNear(a, b color.RGBA, tol int) bool {
	return abs(int(a.R)-int(b.R)) <= tol && abs(int(a.G)-int(b.G)) <= tol && abs(int(a.B)-int(b.B)) <= tol
}

func fullCanvas(size Size) draw.Canvas {
	return padded(draw.NewCanvas(&recorder.Canvas{}, size.Width, size.Height))
}

// The plotted band of seeds 1..5 (constant over steps) spans their CI: mean 3 and
// half-width 1.9632432, as report's TestMeanIntervalHandComputed computes it.
func TestLossCurvesPlottedBand(t *testing.T) {
	const h = 1.9632432
	b := Band{X: []float64{0, 100, 200}, Mean: []float64{3, 3, 3}, Lo: []float64{3 - h, 3 - h, 3 - h}, Hi: []float64{3 + h, 3 + h, 3 + h}}
	p, err := LossCurves([]Curve{{Label: "constant", Band: b}}, CurveOptions{YMin: 0, YMax: 6, Legend: LegendBottomRight})
	if err != nil {
		t.Fatal(err)
	}
	size := SingleColumn
	img := saveAll(t, p, reviewDir(t), "values_band", size)
	c := fullCanvas(size)
	line := Palette[0]
	if got := pixel(img, p, c, size, 100, 3); !colourNear(got, line, 40) {
		t.Errorf("mean line at y=3: pixel %v, want series colour %v", got, line)
	}
	tint := pixel(img, p, c, size, 100, 4.5) // inside the band (upper edge 4.963)
	if colourNear(tint, color.RGBA{255, 255, 255, 255}, 8) || colourNear(tint, line, 40) {
		t.Errorf("inside the band at y=4.5: pixel %v, want a light tint of %v", tint, line)
	}
	if got := pixel(img, p, c, size, 100, 5.3); !colourNear(got, color.RGBA{255, 255, 255, 255}, 8) {
		t.Errorf("above the band at y=5.3: pixel %v, want white", got)
	}
	if got := pixel(img, p, c, size, 100, 0.7); !colourNear(got, color.RGBA{255, 255, 255, 255}, 8) {
		t.Errorf("below the band at y=0.7: pixel %v, want white", got)
	}
}

// Bars reach their means: of {1,2,3}, {4,4,4} and {2,2,2}, {1,3,5} (no error bars).
func TestBarsPlottedValues(t *testing.T) {
	bar := func(m float64) BarStat { return BarStat{Mean: m, Lo: m, Hi: m, N: 3} }
	series := []BarSeries{
		{Label: "a", Stats: []BarStat{bar(2), bar(4)}},
		{Label: "b", Stats: []BarStat{bar(2), bar(3)}},
	}
	stats := [][]BarStat{series[0].Stats, series[1].Stats}
	p, err := Bars([]string{"small", "large"}, series, BarOptions{Legend: LegendNone})
	if err != nil {
		t.Fatal(err)
	}
	size := SingleColumn
	img := saveAll(t, p, reviewDir(t), "values_bars", size)
	c := fullCanvas(size)
	b := &bars{stats: stats}
	for s := range 2 {
		for k := range 2 {
			x0, x1 := b.barX(s, k)
			mean := stats[s][k].Mean
			if got := pixel(img, p, c, size, (x0+x1)/2, mean/2); !colourNear(got, Palette[s], 10) {
				t.Errorf("bar %d/%d at half its height: pixel %v, want %v", s, k, got, Palette[s])
			}
			if got := pixel(img, p, c, size, (x0+x1)/2, mean+0.3); colourNear(got, Palette[s], 60) {
				t.Errorf("bar %d/%d above its mean %v: pixel %v is still the bar colour", s, k, mean, got)
			}
		}
	}
	if _, err := Bars([]string{"x"}, series, BarOptions{}); err == nil {
		t.Error("series with 2 categories for 1 category name should be an error")
	}
}

func TestHeatmapPlottedCells(t *testing.T) {
	grid := [][]bool{{true, false, false}, {true, true, false}, {false, true, true}}
	h, err := MaskHeatmap(grid, nil, []string{"a", "b", "c"}, "band")
	if err != nil {
		t.Fatal(err)
	}
	size := h.SizeFor(SingleColumn.Width)
	img := saveAll(t, h, reviewDir(t), "values_mask", size)
	area := h.plotArea(fullCanvas(size))
	for q := range grid {
		for k := range grid[q] {
			want := MaskBlocked
			if grid[q][k] {
				want = MaskAllowed
			}
			// Row 0 is drawn at the top (y = rows-1).
			if got := pixel(img, h.Plot, area, size, float64(k), float64(len(grid)-1-q)); !colourNear(got, want, 6) {
				t.Errorf("mask cell [%d][%d]: pixel %v, want %v", q, k, got, want)
			}
		}
	}

	w := [][]float64{{1, 0}, {0.25, 0.75}}
	a, err := AttentionHeatmap(w, []string{"x", "y"}, []string{"x", "y"}, "attn")
	if err != nil {
		t.Fatal(err)
	}
	size = a.SizeFor(SingleColumn.Width)
	img = saveAll(t, a, reviewDir(t), "values_attention", size)
	area = a.plotArea(fullCanvas(size))
	for q := range w {
		for k := range w[q] {
			want := a.Scale.At(w[q][k])
			if got := pixel(img, a.Plot, area, size, float64(k), float64(len(w)-1-q)); !colourNear(got, want, 6) {
				t.Errorf("attention cell [%d][%d] = %v: pixel %v, want %v", q, k, w[q][k], got, want)
			}
		}
	}
	if got, want := a.Scale.At(0), viridis[0]; got != want {
		t.Errorf("scale at 0 = %v, want %v", got, want)
	}
	if got, want := a.Scale.At(1), viridis[len(viridis)-1]; got != want {
		t.Errorf("scale at max = %v, want %v", got, want)
	}
}

func TestHeatmapErrors(t *testing.T) {
	if _, err := MaskHeatmap([][]bool{{true}, {true, false}}, nil, nil, "ragged"); err == nil {
		t.Error("ragged grid should be an error")
	}
	if _, err := MaskHeatmap(nil, nil, nil, "empty"); err == nil {
		t.Error("empty grid should be an error")
	}
	if _, err := MaskHeatmap([][]bool{{true}}, []string{"a", "b"}, nil, "labels"); err == nil {
		t.Error("label count mismatch should be an error")
	}
	if _, err := AttentionHeatmap([][]float64{{math.NaN()}}, nil, nil, "nan"); err == nil {
		t.Error("NaN weight should be an error")
	}
	h, _ := MaskHeatmap([][]bool{{true}}, nil, nil, "one")
	if _, err := Encode(h, "gif", SingleColumn); err == nil {
		t.Error("unknown format should be an error")
	}
	if err := Save(h, t.TempDir()+"/x.jpeg", SingleColumn); err == nil {
		t.Error("unknown extension should be an error")
	}
	if _, err := Encode(h, "png", Size{Width: vg.Inch}); err == nil {
		t.Error("zero height should be an error")
	}
}
