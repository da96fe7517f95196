package hf

import (
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
)

// LoadBert → ExportBert of an unmodified checkpoint reproduces its files byte for byte.
func TestBertExportReproducesCheckpoint(t *testing.T) {
	for _, name := range []string{"bert", "bert-mlm"} {
		t.Run(name, func(t *testing.T) {
			src := filepath.Join("testdata", name)
			b, store, err := LoadBert(src)
			if err != nil {
				t.Fatal(err)
			}
			dst := t.TempDir()
			if err := ExportBert(dst, b, store, "", ""); err != nil {
				t.Fatal(err)
			}
			sameFiles(t, src, dst)
		})
	}
}

// A BERT masklab built (random weights) exports as a BertForMaskedLM and reloads to the
// same hidden states, pooled output and MLM logits.
func TestBertExportFromScratch(t *testing.T) {
	cfg := layers.BertConfig{Vocab: 30, DModel: 8, Heads: 2, FF: 12, Layers: 2, MaxLen: 10, TypeVocab: 2,
		LayerNormEps: 1e-12, Pooler: true, MLM: true}
	store := model.NewStore()
	ids, types, lens := [][]int32{{2, 7, 9, 3}, {2, 5, 3, 0}}, [][]int32{{0, 0, 1, 1}, {0, 0, 0, 0}}, []int32{4, 3}
	before := runBert(t, store, cfg, ids, types, lens)
	layout, err := NewBertLayout(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := ExportBert(dir, layout, store, "/", ""); err != nil {
		t.Fatal(err)
	}
	b, loaded, err := LoadBert(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b.Config.Architecture != "BertForMaskedLM" || b.Prefix != "bert." || !b.Pooler || !b.MLM {
		t.Fatalf("reloaded as %s (prefix %q, pooler %v, MLM %v)", b.Config.Architecture, b.Prefix, b.Pooler, b.MLM)
	}
	after := runBert(t, loaded, b.Model(mask.Attention{}), ids, types, lens)
	for i := range ids {
		for _, c := range []struct {
			what      string
			got, want [][]float32
		}{{"hidden", after.hidden[i], before.hidden[i]}, {"logits", after.logits[i], before.logits[i]}, {"pooled", after.pooled[i : i+1], before.pooled[i : i+1]}} {
			for r := range c.want {
				for j := range c.want[r] {
					if c.got[r][j] != c.want[r][j] {
						t.Fatalf("row %d %s[%d][%d]: %g after export, %g before", i, c.what, r, j, c.got[r][j], c.want[r][j])
					}
				}
			}
		}
	}
}
