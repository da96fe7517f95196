package plots

import (
	"math"
	"testing"

	"gonum.org/v1/plot/vg"
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
