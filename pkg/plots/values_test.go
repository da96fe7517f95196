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

// Hand-computed: values 1..5 have mean 3, sample sd sqrt(2.5) = 1.5811388,
// t(0.975, df 4) = 2.7764451, so the 95% CI half-width is
// 2.7764451 * 1.5811388 / sqrt(5) = 1.9632432.
func TestSummarizeHandComputed(t *testing.T) {
	vals := []float64{3, 1, 5, 2, 4}
	m, lo, hi, n := Summarize(vals, CI95)
	if n != 5 || !near(m, 3, 1e-12) || !near(lo, 3-1.9632432, 1e-6) || !near(hi, 3+1.9632432, 1e-6) {
		t.Errorf("CI95 of 1..5 = (%v, %v, %v, n=%d), want (3, 1.0367568, 4.9632432, 5)", m, lo, hi, n)
	}
	if m, lo, hi, _ := Summarize(vals, MinMax); m != 3 || lo != 1 || hi != 5 {
		t.Errorf("MinMax = (%v, %v, %v), want (3, 1, 5)", m, lo, hi)
	}
	if _, lo, hi, _ := Summarize(vals, StdDev); !near(lo, 3-1.5811388, 1e-6) || !near(hi, 3+1.5811388, 1e-6) {
		t.Errorf("StdDev band = (%v, %v), want 3 ± 1.5811388", lo, hi)
	}
	// Diverged seeds (NaN, Inf) are skipped; one value has no spread.
	if m, lo, hi, n := Summarize([]float64{math.NaN(), 2, math.Inf(1)}, CI95); n != 1 || m != 2 || lo != 2 || hi != 2 {
		t.Errorf("one finite value: (%v, %v, %v, n=%d), want (2, 2, 2, 1)", m, lo, hi, n)
	}
	if _, _, _, n := Summarize(nil, CI95); n != 0 {
		t.Errorf("no values: n = %d", n)
	}
	for df, want := range map[int]float64{1: 12.7062047, 4: 2.7764451, 9: 2.2621572, 1000: 1.9623391} {
		if got := TCritical95(df); !near(got, want, 1e-6) {
			t.Errorf("TCritical95(%d) = %v, want %v", df, got, want)
		}
	}
}

func TestComputeBand(t *testing.T) {
	// Three seeds; seed 2 stops after x=20 and has a NaN at x=10.
	runs := []Run{
		{Seed: 0, X: []float64{0, 10, 20, 30}, Y: []float64{4, 3, 2, 1}},
		{Seed: 1, X: []float64{0, 10, 20, 30}, Y: []float64{6, 5, 4, 3}},
		{Seed: 2, X: []float64{0, 10, 20}, Y: []float64{5, math.NaN(), 3}},
	}
	b, err := ComputeBand(runs, MinMax, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := Band{
		X: []float64{0, 10, 20, 30}, Mean: []float64{5, 4, 3, 2},
		Lo: []float64{4, 3, 2, 1}, Hi: []float64{6, 5, 4, 3}, N: []int{3, 2, 3, 2},
	}
	for i := range want.X {
		if b.X[i] != want.X[i] || b.Mean[i] != want.Mean[i] || b.Lo[i] != want.Lo[i] || b.Hi[i] != want.Hi[i] || b.N[i] != want.N[i] {
			t.Errorf("band[%d] = x %v mean %v [%v, %v] n %d; want x %v mean %v [%v, %v] n %d", i,
				b.X[i], b.Mean[i], b.Lo[i], b.Hi[i], b.N[i], want.X[i], want.Mean[i], want.Lo[i], want.Hi[i], want.N[i])
		}
	}
	// CI at x=0 over {4, 6, 5}: mean 5, sd 1, half-width t(0.975,2)=4.3026527 / sqrt(3).
	b, _ = ComputeBand(runs, CI95, 0)
	if h := 4.3026527 / math.Sqrt(3); !near(b.Lo[0], 5-h, 1e-6) || !near(b.Hi[0], 5+h, 1e-6) {
		t.Errorf("CI at x=0 = [%v, %v], want 5 ± %v", b.Lo[0], b.Hi[0], h)
	}
	if _, err := ComputeBand([]Run{{X: []float64{1, 2}, Y: []float64{1}}}, CI95, 0); err == nil {
		t.Error("mismatched X/Y lengths should be an error")
	}
	if _, err := ComputeBand(runs, CI95, 1); err == nil {
		t.Error("smoothing 1 should be an error")
	}
}

func TestEMA(t *testing.T) {
	// alpha 0.5, debiased: 1, (0.25+1)/0.75, (0.625+1.5)/0.875.
	got := EMA([]float64{1, 2, 3}, 0.5)
	want := []float64{1, 1.25 / 0.75, 2.125 / 0.875}
	for i := range want {
		if !near(got[i], want[i], 1e-12) {
			t.Errorf("EMA[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	if got := EMA([]float64{2, 7}, 0); got[0] != 2 || got[1] != 7 {
		t.Errorf("EMA alpha 0 = %v, want the input", got)
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

// The plotted band of seeds 1..5 (constant over steps) spans the hand-computed CI.
func TestLossCurvesPlottedBand(t *testing.T) {
	var runs []Run
	for s := 1; s <= 5; s++ {
		runs = append(runs, Run{Seed: s, X: []float64{0, 100, 200}, Y: []float64{float64(s), float64(s), float64(s)}})
	}
	p, err := LossCurves([]Series{{Label: "constant", Runs: runs}}, CurveOptions{YMin: 0, YMax: 6, Legend: LegendBottomRight})
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

func TestBarsPlottedValues(t *testing.T) {
	series := []BarSeries{
		{Label: "a", Values: [][]float64{{1, 2, 3}, {4, 4, 4}}},
		{Label: "b", Values: [][]float64{{2, 2, 2}, {1, 3, 5}}},
	}
	stats, err := BarStats(2, series, CI95)
	if err != nil {
		t.Fatal(err)
	}
	// {1,2,3}: mean 2, sd 1, half-width t(0.975,2)/sqrt(3) = 2.4841377.
	if st := stats[0][0]; !near(st.Mean, 2, 1e-12) || !near(st.Hi-st.Mean, 2.4841377, 1e-6) || st.N != 3 {
		t.Errorf("stats[a][0] = %+v, want mean 2 ± 2.4841377 over 3", st)
	}
	p, err := Bars([]string{"small", "large"}, series, BarOptions{Interval: NoInterval, Legend: LegendNone})
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
