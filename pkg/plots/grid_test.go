package plots

import (
	"math"
	"testing"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/recorder"
)

func maskOf(n int, f func(q, k int) bool) [][]bool {
	g := make([][]bool, n)
	for q := range g {
		g[q] = make([]bool, n)
		for k := range g[q] {
			g[q][k] = f(q, k)
		}
	}
	return g
}

// softmaxRows makes causal attention weights peaked on a diagonal offset by shift.
func softmaxRows(n, shift int, temp float64) [][]float64 {
	w := make([][]float64, n)
	for q := range w {
		w[q] = make([]float64, n)
		sum := 0.0
		for k := 0; k <= q; k++ {
			d := float64(q - shift - k)
			w[q][k] = math.Exp(-d * d / temp)
			sum += w[q][k]
		}
		for k := range w[q] {
			w[q][k] /= sum
		}
	}
	return w
}

// galleryPanels are masklab masks, titled with their specs (pkg/mask's meanings).
func galleryPanels() []MaskPanel {
	const n = 10
	return []MaskPanel{
		{Title: "causal", Grid: maskOf(n, func(q, k int) bool { return k <= q })},
		{Title: "causal & window(2)", Grid: maskOf(n, func(q, k int) bool { return k <= q && q-k <= 2 })},
		{Title: "prefix (P = 4)", Grid: maskOf(n, func(q, k int) bool { return k <= q || k < 4 })},
		{Title: "causal & doc", Grid: maskOf(n, func(q, k int) bool { return k <= q && (q < 6) == (k < 6) })},
		{Title: "causal & chunk(4)", Grid: maskOf(n, func(q, k int) bool { return k <= q && q/4 == k/4 })},
		{Title: "causal & dilated(2)", Grid: maskOf(n, func(q, k int) bool { return k <= q && (q-k)%2 == 0 })},
	}
}

func TestMaskGalleryFiles(t *testing.T) {
	dir := reviewDir(t)
	g, err := MaskGallery("Decoder self-attention masks", galleryPanels(), 3)
	if err != nil {
		t.Fatal(err)
	}
	saveAll(t, g, dir, "mask_gallery", g.SizeFor(DoubleColumn.Width))
}

func TestAttentionFiles(t *testing.T) {
	dir := reviewDir(t)
	src := []string{"<s>", "我", "爱", "北京", "天安门", "。", "</s>"}
	h, err := AttentionHeatmap(softmaxRows(len(src), 1, 1.5), src, src, "自注意力 layer 1, head 2")
	if err != nil {
		t.Fatal(err)
	}
	saveAll(t, h, dir, "attention_zh", h.SizeFor(SingleColumn.Width))

	tgt := []string{"<s>", "I", "love", "Beijing", "Tiananmen", ".", "</s>", "<pad>"}
	var layers [][][][]float64
	for l := range 2 {
		var heads [][][]float64
		for hd := range 4 {
			heads = append(heads, softmaxRows(len(tgt), (l+hd)%3, 0.5+float64(hd)))
		}
		layers = append(layers, heads)
	}
	g, err := AttentionLayers("Decoder self-attention, all layers and heads", layers, tgt, tgt)
	if err != nil {
		t.Fatal(err)
	}
	saveAll(t, g, dir, "attention_layers", g.SizeFor(DoubleColumn.Width))
	_ = vg.Inch
}

func TestLongSequenceHeatmap(t *testing.T) {
	const n = 64
	labels := make([]string, n)
	for i := range labels {
		labels[i] = []string{"the", "model", "attends", "to", "北京", "tokens"}[i%6]
	}
	h, err := AttentionHeatmap(softmaxRows(n, 2, 8), labels, labels, "64 tokens: every 2nd label shown")
	if err != nil {
		t.Fatal(err)
	}
	saveAll(t, h, reviewDir(t), "attention_long", h.SizeFor(DoubleColumn.Width*0.7))
}

func TestCJKLegendAndCategories(t *testing.T) {
	curves := paperCurves()[:2]
	curves[0].Label = "因果掩码 (causal)"
	curves[1].Label = "前缀 prefix(4)"
	p, err := LossCurves(curves, CurveOptions{Title: "中文图例 / Chinese legend", YLabel: "交叉熵"})
	if err != nil {
		t.Fatal(err)
	}
	saveAll(t, p, reviewDir(t), "curves_cjk", SingleColumn)
	cats := []string{"小", "中", "大"}
	var bs []BarSeries
	for i := range 6 {
		v := make([]BarStat, len(cats))
		for c := range cats {
			m := float64(c+1) * (1 + 0.1*float64(i))
			v[c] = BarStat{Mean: m, Lo: 0.75 * m, Hi: 1.25 * m, N: 3}
		}
		bs = append(bs, BarSeries{Label: "strategy " + string(rune('A'+i)), Stats: v})
	}
	b, err := Bars(cats, bs, BarOptions{Title: "Six strategies x three sizes", XLabel: "数据量", YLabel: "BLEU"})
	if err != nil {
		t.Fatal(err)
	}
	saveAll(t, b, reviewDir(t), "bars_cjk_six", DoubleColumn)
}

// Masks of different shapes and labels: each panel keeps its own axes.
func TestMixedGalleryFiles(t *testing.T) {
	src := []string{"我", "爱", "北京", "。", "<pad>"}
	tgt := []string{"<s>", "I", "love", "Beijing"}
	items := []MaskPanel{
		{Title: "self: causal", Grid: maskOf(4, func(q, k int) bool { return k <= q }), RowLabels: tgt, ColLabels: tgt},
		{Title: "cross: pad & band(1)", Grid: func() [][]bool {
			g := make([][]bool, len(tgt))
			for q := range g {
				g[q] = make([]bool, len(src))
				for k := range src {
					g[q][k] = k < 4 && q-k <= 1 && k-q <= 1
				}
			}
			return g
		}(), RowLabels: tgt, ColLabels: src},
	}
	g, err := MaskGallery("Self- and cross-attention masks of one example", items, 2)
	if err != nil {
		t.Fatal(err)
	}
	if g.shared {
		t.Error("panels of different shapes must not share axes")
	}
	saveAll(t, g, reviewDir(t), "mask_gallery_mixed", DoubleColumn.WithHeight(2.6*72))
}

// alibiHeads is ALiBi's bias -m_h|q-k| for 4 heads (slopes 1/4 ... 1/256).
func alibiHeads(n int) [][][]float64 {
	var out [][][]float64
	for h := range 4 {
		m := math.Pow(2, -8*float64(h+1)/4)
		v := make([][]float64, n)
		for q := range v {
			v[q] = make([]float64, n)
			for k := range v[q] {
				v[q][k] = -m * math.Abs(float64(q-k))
			}
		}
		out = append(out, v)
	}
	return out
}

func TestScoreHeadsFiles(t *testing.T) {
	dir := reviewDir(t)
	causal := maskOf(8, func(q, k int) bool { return k <= q })
	g, err := ScoreHeads("alibi on causal", alibiHeads(8), causal, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	saveAll(t, g, dir, "score_heads", g.SizeFor(DoubleColumn.Width))
	// The scale spans the allowed values only; masked cells are drawn as masked.
	if g.Scale.Min != -1.75 || g.Scale.Max != 0 {
		t.Errorf("scale %+v, want [-1.75, 0] (head 0's farthest allowed pair)", *g.Scale)
	}
	h := g.Panels[0].(*Heatmap)
	if h.cells.colour(0, 7) != MaskBlocked || h.cells.colour(7, 0) == MaskBlocked {
		t.Error("masked and allowed cells are not told apart")
	}
	if g.titles[3] != "head 3" {
		t.Errorf("panel titles %q", g.titles)
	}
	bad := alibiHeads(3)
	bad[1][2][0] = math.NaN()
	for _, tc := range []struct {
		values [][][]float64
		mask   [][]bool
		titles []string
	}{
		{nil, nil, nil},
		{bad, nil, nil},
		{alibiHeads(3), causal, nil},
		{alibiHeads(3), nil, []string{"one"}},
	} {
		if _, err := ScoreHeads("bad", tc.values, tc.mask, tc.titles, 2); err == nil {
			t.Errorf("ScoreHeads accepted %v heads, mask %d rows, titles %q", len(tc.values), len(tc.mask), tc.titles)
		}
	}
	// A NaN where the mask forbids is not drawn, so it is no error.
	if _, err := ScoreHeads("masked NaN", bad, maskOf(3, func(q, k int) bool { return k >= q }), nil, 2); err != nil {
		t.Error(err)
	}
}

// With a fixed y range, error bars that reach past it are clipped to the data area
// instead of being drawn across the title and the axis labels.
func TestBarsClipErrorBarsToAFixedRange(t *testing.T) {
	stats := []BarStat{{Mean: 5.5, Lo: 3, Hi: 8, N: 2}, {Mean: 5.8, Lo: 5.6, Hi: 6, N: 2}}
	p, err := Bars([]string{"a", "b"}, []BarSeries{{Label: "s", Stats: stats}}, BarOptions{YMin: 5, YMax: 6.5})
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder.Canvas
	da := p.DataCanvas(draw.NewCanvas(&rec, vg.Points(300), vg.Points(200)))
	(&bars{stats: [][]BarStat{stats}}).Plot(da, p)
	strokes := 0
	for _, a := range rec.Actions {
		s, ok := a.(*recorder.Stroke)
		if !ok {
			continue
		}
		strokes++
		for _, comp := range s.Path {
			if comp.Pos.Y < da.Min.Y-0.01 || comp.Pos.Y > da.Max.Y+0.01 {
				t.Fatalf("a stroke reaches y=%v outside the data area [%v, %v]", comp.Pos.Y, da.Min.Y, da.Max.Y)
			}
		}
	}
	// The clipped bar: its whisker and no cap; the other: whisker and two caps.
	if strokes != 4 {
		t.Errorf("%d strokes, want 4", strokes)
	}
}
