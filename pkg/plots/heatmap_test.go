package plots

import (
	"testing"
)

func causalGrid(n int) [][]bool {
	g := make([][]bool, n)
	for q := range g {
		g[q] = make([]bool, n)
		for k := 0; k <= q; k++ {
			g[q][k] = true
		}
	}
	return g
}

func TestMaskHeatmapFiles(t *testing.T) {
	dir := reviewDir(t)
	toks := []string{"<s>", "the", "cat", "sat", "on", "the", "mat", "</s>"}
	h, err := MaskHeatmap(causalGrid(8), toks, toks, "causal & pad")
	if err != nil {
		t.Fatal(err)
	}
	saveAll(t, h, dir, "mask_causal", SingleColumn.WithHeight(3.2*72))
	zh := []string{"我", "爱", "北京", "天安门", "。"}
	h, err = MaskHeatmap(causalGrid(5), zh, zh, "因果掩码 causal")
	if err != nil {
		t.Fatal(err)
	}
	saveAll(t, h, dir, "mask_chinese", SingleColumn.WithHeight(3.2*72))
}

// Long row labels and short CJK column labels: SizeFor fits the cells to the width
// and the key labels stay horizontal when they fit in their cells.
func TestLongRowLabels(t *testing.T) {
	rows := []string{"none", "full", "partial(2)", "interactive(freq, 0.01)", `interactive(keep, "我 程 序 员")`}
	cols := []string{"<bos>", "我", "是", "一", "个", "程", "序", "员"}
	g := make([][]bool, len(rows))
	for i := range g {
		g[i] = make([]bool, len(cols))
		for j := range g[i] {
			g[i][j] = (i+j)%3 != 0
		}
	}
	h, err := MaskHeatmap(g, rows, cols, "Decoder-input strategies (blue: kept, grey: hidden)")
	if err != nil {
		t.Fatal(err)
	}
	size := h.SizeFor(SingleColumn.Width * 1.3)
	if size.Height > SingleColumn.Width*1.3 {
		t.Errorf("a 5x8 grid should be wider than tall, got %v x %v", size.Width, size.Height)
	}
	saveAll(t, h, reviewDir(t), "mask_long_row_labels", size)
	if h.Plot.X.Tick.Label.Rotation != 0 {
		t.Error("single-character key labels fit their cells and should stay horizontal")
	}
}
