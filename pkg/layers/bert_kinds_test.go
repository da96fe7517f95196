package layers_test

import (
	"slices"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
)

// TestBertKindsForward: Forward of each BERT kind (Config.Bert from WithBert) computes
// what its builder (Bert, Bert2Rnd, Bert2Bert, BertLSTM) does on the same variables, and
// greedy decoding runs on the encoder-decoders.
func TestBertKindsForward(t *testing.T) {
	src, srcLen := [][]int32{{2, 9, 17, 5, 3}, {2, 7, 3, 0, 0}}, []int32{5, 3}
	dec, decLen := [][]int32{{1, 4, 6, 8}, {1, 5, 2, 0}}, []int32{4, 3}
	for _, kind := range layers.BertKinds {
		t.Run(kind, func(t *testing.T) {
			c := layers.Config{Kind: kind, Vocab: 12, SrcVocab: 20, DModel: 8, Heads: 2, FF: 16, EncLayers: 2, DecLayers: 1,
				Self: mask.And(mask.Causal, mask.Pad), Cross: mask.Pad}
			if kind == layers.KindBert {
				c.Self = mask.Pad
			}
			c = c.WithBert()
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			store := model.NewStore()
			run := func(direct bool) []float32 {
				exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, s, sl, d, dl *graph.Node) *graph.Node {
					in := layers.Inputs{Src: s, SrcLen: sl, Dec: d, DecLen: dl}
					var res *layers.Result
					var err error
					switch {
					case !direct:
						var logits *graph.Node
						if kind == layers.KindBert {
							in.Src, in.SrcLen = nil, nil
						}
						logits, err = layers.Forward(scope, c, in)
						res = &layers.Result{Logits: logits}
					case kind == layers.KindBert:
						var br *layers.BertResult
						br, err = layers.Bert(scope.In(layers.BertScope), *c.Bert, layers.BertInputs{IDs: d, Lengths: dl}, false)
						if err == nil {
							res = &layers.Result{Logits: br.Logits}
						}
					case kind == layers.KindBert2Rnd:
						dc := c
						dc.Kind, dc.Bert = layers.KindSeq2Seq, nil
						res, err = layers.Bert2Rnd(scope, *c.Bert, dc, in, nil, false)
					case kind == layers.KindBertLSTM:
						dc := c
						dc.Kind, dc.Bert = layers.KindLSTM, nil
						res, err = layers.BertLSTM(scope, *c.Bert, dc, in, nil, false)
					default:
						res, err = layers.Bert2Bert(scope, *c.Bert, c.BertDecoder(), c.Cross, in, nil, false)
					}
					if err != nil {
						panic(err)
					}
					return res.Logits
				})
				if err != nil {
					t.Fatal(err)
				}
				out, err := exec.Exec(src, srcLen, dec, decLen)
				if err != nil {
					t.Fatal(err)
				}
				return out[0].Value().([][][]float32)[1][1]
			}
			a := run(false)
			n := store.NumVariables()
			if b := run(true); !slices.Equal(a, b) {
				t.Errorf("Forward %v, the builder %v", a, b)
			}
			if store.NumVariables() != n {
				t.Errorf("the builder created %d variables Forward did not", store.NumVariables()-n)
			}
			if kind == layers.KindBert {
				return
			}
			out, err := layers.GreedyDecode(backend.Must(), store, c, layers.GreedyOptions{BOS: 1, EOS: 2, PAD: 0, MaxLen: 6},
				[][]int32{{2, 9, 17, 5, 3}}, nil)
			if err != nil || len(out) != 1 || len(out[0]) == 0 {
				t.Errorf("greedy decoding: %v, %v", out, err)
			}
		})
	}
}

// TestBertPretrainedScales: freezing leaves the encoder's variables out; the scale goes
// to the encoder's and to bert2bert's warm-started decoder but its new cross-attention.
func TestBertPretrainedScales(t *testing.T) {
	store := model.NewStore()
	paths := []string{"/model/bert/embeddings/word/embeddings", "/model/bert_decoder/encoder/layer_0/cross/MultiHeadAttention/query/dense/weights",
		"/model/bert_decoder/encoder/layer_0/self/norm/layer_normalization/gain", "/model/decoder/layer_0/ffn/dense/weights", "/model/bertlike/x"}
	var vars []*model.Variable
	for _, p := range paths {
		vars = append(vars, store.VariableWithValue(p, []float32{1}))
	}
	kept, scales := layers.PretrainedScales(vars, false, 0.1)
	if len(kept) != 5 || !slices.Equal(scales, []float64{0.1, 1, 0.1, 1, 1}) {
		t.Errorf("scales %v", scales)
	}
	kept, scales = layers.PretrainedScales(vars, true, 0)
	if len(kept) != 4 || kept[0].Path() != paths[1] || !slices.Equal(scales, []float64{1, 1, 1, 1}) {
		t.Errorf("frozen: kept %d, scales %v", len(kept), scales)
	}
}
