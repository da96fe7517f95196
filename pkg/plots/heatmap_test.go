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
