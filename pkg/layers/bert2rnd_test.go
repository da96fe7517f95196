package layers_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
)

// bert2rndConfigs are a tiny BERT encoder and a Transformer decoder over another
// vocabulary, with a banded cross-attention mask.
func bert2rndConfigs(t testing.TB) (layers.BertConfig, layers.Config) {
	cross, err := mask.ParseAttention("pad & band(1)")
	if err != nil {
		t.Fatal(err)
	}
	enc := layers.BertConfig{Vocab: 40, DModel: 8, Heads: 2, FF: 16, Layers: 2, MaxLen: 16, TypeVocab: 2, LayerNormEps: 1e-12}
	dec := layers.Config{Kind: layers.KindSeq2Seq, Vocab: 12, DModel: 8, Heads: 2, DecLayers: 1, Cross: cross}
	return enc, dec
}

// BERT2RND: a BERT encoder (random here; pkg/hf loads a checkpoint under "/bert") and
// a Transformer decoder reading it through a banded cross-attention mask.
func ExampleBert2Rnd() {
	cross, err := mask.ParseAttention("pad & band(1)")
	if err != nil {
		panic(err)
	}
	enc := layers.BertConfig{Vocab: 40, DModel: 8, Heads: 2, FF: 16, Layers: 2, MaxLen: 16, TypeVocab: 2, LayerNormEps: 1e-12}
	dec := layers.Config{Kind: layers.KindSeq2Seq, Vocab: 12, DModel: 8, Heads: 2, DecLayers: 1, Cross: cross}
	exec, err := model.NewExec(backend.Must(), model.NewStore(), func(scope *model.Scope, src, srcLen, tgt *graph.Node) (*graph.Node, *graph.Node) {
		res, err := layers.Bert2Rnd(scope, enc, dec, layers.Inputs{Src: src, SrcLen: srcLen, Dec: tgt}, nil, true)
		if err != nil {
			panic(err)
		}
		return res.Logits, res.Attention[len(res.Attention)-1].Weights // the decoder's cross-attention
	})
	if err != nil {
		panic(err)
	}
	out, err := exec.Exec([][]int32{{2, 9, 17, 5, 3}}, []int32{5}, [][]int32{{1, 4, 6, 8}})
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
	// ..###
}

// TestBert2RndPaddingAndVariables: tokens past the source length change nothing (the
// encoder's padding mask and the cross-attention's "pad"), the encoder's variables are
// under "/bert", and bad configurations are errors.
func TestBert2RndPaddingAndVariables(t *testing.T) {
	enc, dec := bert2rndConfigs(t)
	store := model.NewStore()
	exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, src, srcLen, tgt *graph.Node) *graph.Node {
		res, err := layers.Bert2Rnd(scope, enc, dec, layers.Inputs{Src: src, SrcLen: srcLen, Dec: tgt}, nil, false)
		if err != nil {
			panic(err)
		}
		return res.Logits
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := exec.Exec([][]int32{{2, 9, 17, 3, 0, 0}}, []int32{4}, [][]int32{{1, 4, 6}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := exec.Exec([][]int32{{2, 9, 17, 3, 30, 31}}, []int32{4}, [][]int32{{1, 4, 6}})
	if err != nil {
		t.Fatal(err)
	}
	la, lb := a[0].Value().([][][]float32), b[0].Value().([][][]float32)
	for i := range la[0] {
		for j := range la[0][i] {
			if math.Abs(float64(la[0][i][j]-lb[0][i][j])) > 1e-6 {
				t.Fatalf("padding tokens changed logit [%d][%d]: %g vs %g", i, j, la[0][i][j], lb[0][i][j])
			}
		}
	}
	var bert, other int
	for v := range store.IterVariables() {
		switch {
		case strings.HasPrefix(v.Path(), "/bert/"):
			bert++
		case strings.HasPrefix(v.Path(), "/encoder/"), strings.HasPrefix(v.Path(), "/src_"):
			t.Errorf("a masklab encoder variable %s was created", v.Path())
		default:
			other++
		}
	}
	if bert == 0 || other == 0 {
		t.Errorf("%d variables under /bert, %d elsewhere", bert, other)
	}

	for _, c := range []struct {
		edit func(*layers.Config)
		want string
	}{
		{func(d *layers.Config) { d.DModel = 16 }, "d_model 16"},
		{func(d *layers.Config) { d.Kind = layers.KindDecoder }, "seq2seq"},
	} {
		d := dec
		c.edit(&d)
		var buildErr error
		exec, err := model.NewExec(backend.Must(), model.NewStore(), func(scope *model.Scope, src, tgt *graph.Node) *graph.Node {
			_, buildErr = layers.Bert2Rnd(scope, enc, d, layers.Inputs{Src: src, Dec: tgt}, nil, false)
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
