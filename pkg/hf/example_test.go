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

// Load a checkpoint, then run its model on two documents packed in one row: with
// "causal & doc" and positions restarting per document, each document's logits are those
// of the document alone.
func ExampleLoad() {
	ck, store, err := hf.Load("testdata/qwen3")
	if err != nil {
		panic(err)
	}
	c := ck.Config
	fmt.Printf("%s: %d layers, %d heads (%d key/value), head_dim %d, rope %s x%g, eos %v\n",
		c.Architecture, c.Layers, c.Heads, c.KVHeads, c.HeadDim, c.RopeScaling.Type, c.RopeScaling.Factor, c.EOS)
	self, err := mask.ParseAttention("causal & doc")
	if err != nil {
		panic(err)
	}
	cfg := c.Model(self)
	exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, ids, seg, pos *graph.Node) *graph.Node {
		logits, err := layers.Forward(scope, cfg, layers.Inputs{Dec: ids, Segments: seg, Positions: pos})
		if err != nil {
			panic(err)
		}
		return logits
	})
	if err != nil {
		panic(err)
	}
	out, err := exec.Exec([][]int32{{5, 17, 42, 8, 63}}, [][]int32{{1, 1, 1, 2, 2}}, [][]int32{{0, 1, 2, 0, 1}})
	if err != nil {
		panic(err)
	}
	fmt.Println("logits", out[0].Shape())
	// Output:
	// Qwen3ForCausalLM: 2 layers, 4 heads (2 key/value), head_dim 16, rope linear x2, eos [91]
	// logits (Float32)[1, 5, 96]
}
