package layers

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/mask"
)

// BertDecoderScope is the scope, under a Bert2Bert model's, of its BERT decoder's
// variables. They have layers.Bert's names (embeddings/..., encoder/layer_L/{self,ffn},
// mlm/...), so the same BERT checkpoint loads there too (pkg/hf:
// BertCheckpoint.Load(store, "/bert_decoder")); each layer's cross-attention
// (encoder/layer_L/cross/...) is new.
const BertDecoderScope = "bert_decoder"

// Bert2Bert builds BERT2BERT (Rothe, Narayan & Severyn 2020): the BERT encoder enc
// (under scope/bert) reads in.Src (token types types, nil for zeros; lengths in.SrcLen)
// and a BERT decoder dec (under scope/bert_decoder) reads in.Dec: BERT's post-LN layers
// with the self-attention mask dec.Mask (zero: "causal & pad"), each followed by a
// cross-attention sublayer on the encoder output (LN(x + CrossAttn(x, memory)), under
// the mask cross; zero: "pad"), and BERT's MLM head (tied to the decoder's word
// embeddings) as the output, so dec.MLM must be true. Warm-starting both from one
// checkpoint leaves only the cross-attention random; dec.Vocab may differ from enc.Vocab
// (another target vocabulary, then the decoder's embeddings start random too).
//
// From Inputs it reads Src, SrcLen, Dec, DecLen, Segments and PrefixLen (the self and
// cross masks' side data), Drop (decoder-input corruption by dropping), LogitsAt and
// Training; the decoder's positions are 0..T-1 (Positions and Memory must be nil).
// Result.Logits are the decoder's [B,T,dec.Vocab]; Attention lists the encoder's, then
// the decoder's self and cross weights.
func Bert2Bert(scope *model.Scope, enc, dec BertConfig, cross mask.Attention, in Inputs, types *graph.Node, wantWeights bool) (*Result, error) {
	switch {
	case !dec.MLM:
		return nil, fmt.Errorf("layers: bert2bert: the decoder's output is its MLM head: set MLM in its config")
	case dec.DModel != enc.DModel:
		return nil, fmt.Errorf("layers: bert2bert: the decoder's hidden size %d must be the encoder's %d", dec.DModel, enc.DModel)
	case in.Src == nil || in.Dec == nil:
		return nil, fmt.Errorf("layers: bert2bert needs Inputs.Src and Inputs.Dec integer ids")
	case in.Memory != nil || in.Positions != nil:
		return nil, fmt.Errorf("layers: bert2bert computes Memory from Src and numbers decoder positions 0..T-1: leave Inputs.Memory and Inputs.Positions nil")
	case dec.Pooler:
		return nil, fmt.Errorf("layers: bert2bert: the decoder has no pooler")
	}
	if dec.Mask.IsZero() {
		dec.Mask = mask.And(mask.Causal, mask.Pad)
	}
	if cross.IsZero() {
		cross = mask.Pad
	}
	er, err := Bert(scope.In(BertScope), enc, BertInputs{IDs: in.Src, TypeIDs: types, Lengths: in.SrcLen, Training: in.Training}, wantWeights)
	if err != nil {
		return nil, err
	}
	g := in.Src.Graph()
	B, S := in.Src.Shape().Dim(0), in.Src.Shape().Dim(1)
	srcLen := in.SrcLen
	if srcLen == nil {
		srcLen = graph.BroadcastToDims(graph.Scalar(g, dtypes.Int32, S), B)
	}
	if in.Dec.Rank() != 2 || in.Dec.Shape().Dim(0) != B {
		return nil, fmt.Errorf("layers: bert2bert: Inputs.Dec must be [B=%d,T], got %s", B, in.Dec.Shape())
	}
	T := in.Dec.Shape().Dim(1)
	for _, f := range []struct {
		n    *graph.Node
		name string
	}{{in.Segments, "Segments"}, {in.Drop, "Drop"}} {
		if f.n != nil && (f.n.Rank() != 2 || f.n.Shape().Dim(0) != B || f.n.Shape().Dim(1) != T) {
			return nil, fmt.Errorf("layers: bert2bert: Inputs.%s must be [B=%d,T=%d], got %s", f.name, B, T, f.n.Shape())
		}
	}
	if in.Drop != nil && in.Drop.DType() != dtypes.Bool {
		return nil, fmt.Errorf("layers: bert2bert: Inputs.Drop must be bool [B,T], got %s", in.Drop.Shape())
	}
	for _, f := range []struct {
		n    *graph.Node
		name string
	}{{in.SrcLen, "SrcLen"}, {in.DecLen, "DecLen"}, {in.PrefixLen, "PrefixLen"}, {in.LogitsAt, "LogitsAt"}} {
		if f.n != nil {
			if err := checkVec(f.n, f.name, B); err != nil {
				return nil, err
			}
		}
	}
	dr, err := bert(scope.In(BertDecoderScope), dec, BertInputs{IDs: in.Dec, Lengths: in.DecLen, Training: in.Training}, bertDecoding{
		segments: in.Segments, prefixLen: in.PrefixLen, memory: er.Hidden, memoryLen: srcLen, cross: cross,
		drop: in.Drop, logitsAt: in.LogitsAt,
	}, wantWeights)
	if err != nil {
		return nil, err
	}
	return &Result{Logits: dr.Logits, Attention: append(er.Attention, dr.Attention...)}, nil
}
