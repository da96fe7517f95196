package hf_test

import (
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/hf"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
)

// Load a BertForMaskedLM checkpoint and run it on a right-padded batch under BERT's
// padding mask: the last hidden states and the masked-LM logits.
func ExampleLoadBert() {
	b, store, err := hf.LoadBert("testdata/bert-mlm")
	if err != nil {
		panic(err)
	}
	c := b.Config
	fmt.Printf("%s: %d layers, %d heads, hidden %d, pooler %v, MLM head %v\n", c.Architecture, c.Layers, c.Heads, c.Hidden, b.Pooler, b.MLM)
	cfg := b.Model(mask.Pad)
	exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, ids, types, lens *graph.Node) (*graph.Node, *graph.Node) {
		res, err := layers.Bert(scope, cfg, layers.BertInputs{IDs: ids, TypeIDs: types, Lengths: lens}, false)
		if err != nil {
			panic(err)
		}
		return res.Hidden, res.Logits
	})
	if err != nil {
		panic(err)
	}
	out, err := exec.Exec([][]int32{{2, 5, 9, 3}, {2, 7, 3, 0}}, [][]int32{{0, 0, 0, 0}, {0, 0, 0, 0}}, []int32{4, 3})
	if err != nil {
		panic(err)
	}
	fmt.Println("hidden", out[0].Shape(), "logits", out[1].Shape())
	// Output:
	// BertForMaskedLM: 2 layers, 4 heads, hidden 16, pooler false, MLM head true
	// hidden (Float32)[2, 4, 16] logits (Float32)[2, 4, 48]
}
