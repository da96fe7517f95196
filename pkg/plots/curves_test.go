package plots

import (
	"bytes"
	"image/png"
	"math"
	"testing"
)

// synthBand makes a decaying loss with a band that narrows over steps: the kind of
// curve that package report computes across seeds (plots only draws it).
func synthBand(rate, floor, width float64, steps int) Band {
	var b Band
	for i := range steps {
		m := floor + (4-floor)*math.Exp(-rate*float64(i)) + 0.03*math.Sin(float64(3*i))*math.Exp(-0.02*float64(i))
		h := width * (0.3 + math.Exp(-0.03*float64(i)))
		b.X = append(b.X, float64(i*50))
		b.Mean = append(b.Mean, m)
		b.Lo = append(b.Lo, m-h)
		b.Hi = append(b.Hi, m+h)
		b.N = append(b.N, 5)
	}
	return b
}

func paperCurves() []Curve {
	return []Curve{
		{Label: "self: causal", Band: synthBand(0.08, 0.4, 0.06, 60)},
		{Label: "self: causal & window(4)", Band: synthBand(0.06, 0.55, 0.06, 60)},
		{Label: "input: span(0.15, 3)", Band: synthBand(0.05, 0.3, 0.06, 60)},
		{Label: "loss: plw(0.1)", Band: synthBand(0.1, 0.7, 0.06, 60)},
	}
}

func TestLossCurvesFiles(t *testing.T) {
	dir := reviewDir(t)
	p, err := LossCurves(paperCurves(), CurveOptions{Title: "Validation loss (mean, 95% CI over 5 seeds)", YLabel: "cross-entropy"})
	if err != nil {
		t.Fatal(err)
	}
	saveAll(t, p, dir, "curves_ci", SingleColumn)
	wide := paperCurves()
	for i := range wide {
		wide[i].Band = synthBand(0.05+0.01*float64(i), 0.3+0.1*float64(i), 0.25, 60)
	}
	p, err = LossCurves(wide, CurveOptions{Title: "Training loss, log scale, wide bands", LogY: true})
	if err != nil {
		t.Fatal(err)
	}
	saveAll(t, p, dir, "curves_log_minmax", DoubleColumn)
}

func TestBarsFiles(t *testing.T) {
	dir := reviewDir(t)
	cats := []string{"1k", "4k", "16k", "64k"}
	mk := func(base float64) []BarStat {
		v := make([]BarStat, len(cats))
		for c := range v {
			m := base + 0.05*float64(c)
			v[c] = BarStat{Mean: m, Lo: m - 0.012, Hi: m + 0.012, N: 5}
		}
		return v
	}
	series := []BarSeries{
		{Label: "causal", Stats: mk(0.70)},
		{Label: "prefix-LM", Stats: mk(0.74)},
		{Label: "span(0.15, 3)", Stats: mk(0.72)},
	}
	p, err := Bars(cats, series, BarOptions{Title: "Token accuracy by training size", XLabel: "training examples", YLabel: "accuracy"})
	if err != nil {
		t.Fatal(err)
	}
	saveAll(t, p, dir, "bars_ci", SingleColumn)
}

// Accuracy rises towards the top right, so the automatic legend must go elsewhere.
func TestAutoLegendAvoidsData(t *testing.T) {
	var curves []Curve
	for _, c := range paperCurves() {
		b := Band{X: c.Band.X}
		for j := range c.Band.X {
			b.Mean = append(b.Mean, 1-c.Band.Mean[j]/4.5)
			b.Lo = append(b.Lo, 1-c.Band.Hi[j]/4.5)
			b.Hi = append(b.Hi, 1-c.Band.Lo[j]/4.5)
		}
		curves = append(curves, Curve{Label: c.Label, Band: b})
	}
	p, err := LossCurves(curves, CurveOptions{Title: "Token accuracy (legend placed automatically)", YLabel: "accuracy"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Legend.Top {
		t.Errorf("legend placed at the top (left=%v), where the rising curves are", p.Legend.Left)
	}
	saveAll(t, p, reviewDir(t), "curves_accuracy_autolegend", SingleColumn)
	p, err = LossCurves(paperCurves(), CurveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Legend.Top || p.Legend.Left {
		t.Errorf("falling losses: legend top=%v left=%v, want top right", p.Legend.Top, p.Legend.Left)
	}
}

// A curve with one point (a run evaluated once) is drawn as a dot, since a line through
// one point draws nothing: without a legend, the curve's colour appears in the image only
// through the dot.
func TestLossCurvesSinglePointIsADot(t *testing.T) {
	one := Band{X: []float64{10}, Mean: []float64{8.4}, N: []int{1}}
	p, err := LossCurves([]Curve{{Label: "a", Band: one}}, CurveOptions{Title: "t", Legend: LegendNone})
	if err != nil {
		t.Fatal(err)
	}
	data, err := Encode(p, "png", SingleColumn)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	want := Color(0)
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if uint8(r>>8) == want.R && uint8(g>>8) == want.G && uint8(bl>>8) == want.B {
				n++
			}
		}
	}
	if n < 10 {
		t.Errorf("a one-point curve left %d pixels of its colour, want a dot", n)
	}
}
