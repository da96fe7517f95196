package layers_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/layers"
)

// A random BERT encoder with its pooler and masked-LM head on two sentences of one
// example (token types 0 and 1), the second row padded.
func ExampleBert() {
	cfg := layers.BertConfig{Vocab: 32, DModel: 8, Heads: 2, FF: 16, Layers: 2, MaxLen: 16, TypeVocab: 2,
		LayerNormEps: 1e-12, Pooler: true, MLM: true}
	exec, err := model.NewExec(backend.Must(), model.NewStore(), func(scope *model.Scope, ids, types, lens *graph.Node) []*graph.Node {
		res, err := layers.Bert(scope, cfg, layers.BertInputs{IDs: ids, TypeIDs: types, Lengths: lens}, true)
		if err != nil {
			panic(err)
		}
		return []*graph.Node{res.Hidden, res.Pooled, res.Logits, res.Attention[0].Weights}
	})
	if err != nil {
		panic(err)
	}
	out, err := exec.Exec([][]int32{{2, 5, 3, 7, 3}, {2, 9, 3, 0, 0}}, [][]int32{{0, 0, 0, 1, 1}, {0, 0, 0, 0, 0}}, []int32{5, 3})
	if err != nil {
		panic(err)
	}
	fmt.Println("hidden", out[0].Shape(), "pooled", out[1].Shape(), "logits", out[2].Shape())
	w := out[3].Value().([][][][]float32)[1][0] // the padded row, head 0: [Q][K]
	for _, row := range w[:3] {
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
	// hidden (Float32)[2, 5, 8] pooled (Float32)[2, 8] logits (Float32)[2, 5, 32]
	// ###..
	// ###..
	// ###..
}

// TestBertConfigErrors checks Validate's and Bert's errors.
func TestBertConfigErrors(t *testing.T) {
	ok := layers.BertConfig{Vocab: 32, DModel: 8, Heads: 2, FF: 16, Layers: 1, MaxLen: 4, TypeVocab: 2}
	for _, c := range []struct {
		edit func(*layers.BertConfig)
		want string
	}{
		{func(c *layers.BertConfig) { c.Heads = 3 }, "multiple of heads"},
		{func(c *layers.BertConfig) { c.Vocab = 1 }, "vocab"},
		{func(c *layers.BertConfig) { c.Activation = "tanh" }, "activation"},
		{func(c *layers.BertConfig) { c.TypeVocab = 0 }, "type_vocab"},
	} {
		cfg := ok
		c.edit(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate() = %v, want an error about %q", err, c.want)
		}
	}
	var buildErr error
	exec, err := model.NewExec(backend.Must(), model.NewStore(), func(scope *model.Scope, ids *graph.Node) *graph.Node {
		_, buildErr = layers.Bert(scope, ok, layers.BertInputs{IDs: ids}, false)
		return ids
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.Exec([][]int32{{1, 2, 3, 4, 5}}); err != nil {
		t.Fatal(err)
	}
	if buildErr == nil || !strings.Contains(buildErr.Error(), "max_position_embeddings 4") {
		t.Errorf("a sequence longer than MaxLen: %v", buildErr)
	}
}
