package layers_test

import (
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
)

// A decoder-only LM on two packed documents: the self mask is a spec string, the
// positions restart per document, and Run also returns each layer's attention weights.
func ExampleRun() {
	self, err := mask.ParseAttention("causal & doc")
	if err != nil {
		panic(err)
	}
	cfg := layers.Config{Kind: layers.KindDecoder, Vocab: 16, DModel: 8, Heads: 2, DecLayers: 1, Self: self}
	exec, err := model.NewExec(backend.Must(), model.NewStore(), func(scope *model.Scope, ids, seg, pos *graph.Node) (*graph.Node, *graph.Node) {
		res, err := layers.Run(scope, cfg, layers.Inputs{Dec: ids, Segments: seg, Positions: pos}, true)
		if err != nil {
			panic(err)
		}
		return res.Logits, res.Attention[0].Weights
	})
	if err != nil {
		panic(err)
	}
	out, err := exec.Exec([][]int32{{1, 5, 6, 1, 7}}, [][]int32{{1, 1, 1, 2, 2}}, [][]int32{{0, 1, 2, 0, 1}})
	if err != nil {
		panic(err)
	}
	fmt.Println("logits", out[0].Shape())
	w := out[1].Value().([][][][]float32)[0][0] // example 0, head 0: [Q][K]
	for _, row := range w {
		for _, v := range row {
			if v > 0 {
				fmt.Print("#")
			} else {
				fmt.Print(".")
			}
		}
		fmt.Println()
	}
	// Output:
	// logits (Float32)[1, 5, 16]
	// #....
	// ##...
	// ###..
	// ...#.
	// ...##
}
