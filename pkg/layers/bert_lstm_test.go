package layers_test

import (
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
)

// The article's LSTM decoder with attention on a BERT encoder, under the cross mask
// "pad & band(1)".
func ExampleBertLSTM() {
	cross, err := mask.ParseAttention("pad & band(1)")
	if err != nil {
		panic(err)
	}
	enc := layers.BertConfig{Vocab: 40, DModel: 8, Heads: 2, FF: 16, Layers: 2, MaxLen: 16, TypeVocab: 2, LayerNormEps: 1e-12}
	dec := layers.Config{Kind: layers.KindLSTM, Vocab: 12, DModel: 8, DecLayers: 1, Cross: cross}
	exec, err := model.NewExec(backend.Must(), model.NewStore(), func(scope *model.Scope, src, srcLen, tgt *graph.Node) (*graph.Node, *graph.Node) {
		res, err := layers.BertLSTM(scope, enc, dec, layers.Inputs{Src: src, SrcLen: srcLen, Dec: tgt}, nil, true)
		if err != nil {
			panic(err)
		}
		return res.Logits, res.Attention[len(res.Attention)-1].Weights
	})
	if err != nil {
		panic(err)
	}
	out, err := exec.Exec([][]int32{{2, 9, 17, 5, 3}}, []int32{4}, [][]int32{{1, 4, 6, 8}})
	if err != nil {
		panic(err)
	}
	fmt.Println("logits", out[0].Shape())
	for _, row := range out[1].Value().([][][][]float32)[0][0] {
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
	// logits (Float32)[1, 4, 12]
	// ##...
	// ###..
	// .###.
	// ..##.
}
