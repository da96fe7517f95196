package layers_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
)

// BERT2BERT: a BERT encoder and a BERT decoder (causal self-attention, a new
// cross-attention sublayer per layer, the MLM head as output); the source's second row
// is padded, so its cross-attention sees 3 keys.
func ExampleBert2Bert() {
	enc := layers.BertConfig{Vocab: 40, DModel: 8, Heads: 2, FF: 16, Layers: 2, MaxLen: 16, TypeVocab: 2, LayerNormEps: 1e-12}
	dec := enc
	dec.MLM = true
	exec, err := model.NewExec(backend.Must(), model.NewStore(), func(scope *model.Scope, src, srcLen, tgt *graph.Node) []*graph.Node {
		res, err := layers.Bert2Bert(scope, enc, dec, mask.Attention{}, layers.Inputs{Src: src, SrcLen: srcLen, Dec: tgt}, nil, true)
		if err != nil {
			panic(err)
		}
		out := []*graph.Node{res.Logits}
		for _, a := range res.Attention {
			if a.Layer == 0 {
				out = append(out, a.Weights)
			}
		}
		return out // logits, encoder, decoder self, decoder cross weights of layer 0
	})
	if err != nil {
		panic(err)
	}
	out, err := exec.Exec([][]int32{{2, 9, 17, 3, 5}, {2, 8, 3, 0, 0}}, []int32{5, 3}, [][]int32{{1, 4, 6, 8}, {1, 5, 7, 9}})
	if err != nil {
		panic(err)
	}
	fmt.Println("logits", out[0].Shape())
	for i, name := range []string{"decoder self", "decoder cross"} {
		fmt.Println(name + ", row 1, head 0:")
		for _, row := range out[2+i].Value().([][][][]float32)[1][0] {
			for _, v := range row {
				if v > 0 {
					fmt.Print("#")
				} else {
					fmt.Print(".")
				}
			}
			fmt.Println()
		}
	}
	// Output:
	// logits (Float32)[2, 4, 40]
	// decoder self, row 1, head 0:
	// #...
	// ##..
	// ###.
	// ####
	// decoder cross, row 1, head 0:
	// ###..
	// ###..
	// ###..
	// ###..
}

// Bert2Bert's configuration errors.
func TestBert2BertErrors(t *testing.T) {
	enc := layers.BertConfig{Vocab: 40, DModel: 8, Heads: 2, FF: 16, Layers: 1, MaxLen: 16, TypeVocab: 2}
	for _, c := range []struct {
		edit func(*layers.BertConfig)
		want string
	}{
		{func(d *layers.BertConfig) { d.MLM = false }, "MLM"},
		{func(d *layers.BertConfig) { d.DModel, d.Heads = 16, 2 }, "hidden size 16"},
		{func(d *layers.BertConfig) { d.Pooler = true }, "pooler"},
	} {
		dec := enc
		dec.MLM = true
		c.edit(&dec)
		var buildErr error
		exec, err := model.NewExec(backend.Must(), model.NewStore(), func(scope *model.Scope, src, tgt *graph.Node) *graph.Node {
			_, buildErr = layers.Bert2Bert(scope, enc, dec, mask.Attention{}, layers.Inputs{Src: src, Dec: tgt}, nil, false)
			return src
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := exec.Exec([][]int32{{2, 3}}, [][]int32{{1}}); err != nil {
			t.Fatal(err)
		}
		if buildErr == nil || !strings.Contains(buildErr.Error(), c.want) {
			t.Errorf("got %v, want an error about %q", buildErr, c.want)
		}
	}
}
