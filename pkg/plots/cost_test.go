package plots

import (
	"bytes"
	"image/png"
	"strings"
	"testing"
)

// CostCurves draws a log-log figure, and refuses what log axes cannot show.
func TestCostCurves(t *testing.T) {
	x := []float64{256, 512, 1024}
	p, err := CostCurves("cost", "L", "ms", []CostLine{
		{Label: "dense", Group: 0, Style: 0, X: x, Y: []float64{10, 40, 160}},
		{Label: "sparse", Group: 0, Style: 1, X: x, Y: []float64{10, 12, 14}},
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := Encode(p, "png", DoubleColumn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(data)); err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if got := p.X.Tick.Marker.Ticks(200, 2000); len(got) != 3 || got[2].Label != "1024" {
		t.Errorf("x ticks %v, want the sizes 256, 512, 1024", got)
	}
	for _, bad := range [][]float64{{10, 0, 1}, {10, 20}} {
		_, err := CostCurves("cost", "L", "ms", []CostLine{{Label: "bad", X: x, Y: bad}})
		if err == nil || !strings.Contains(err.Error(), `line "bad"`) {
			t.Errorf("costs %v: error %v, want one naming the line", bad, err)
		}
	}
}
