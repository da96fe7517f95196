package layers

import (
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// BertScope is the scope, under a Bert2Rnd model's, of its BERT encoder's variables:
// load a pretrained BERT there (pkg/hf: BertCheckpoint.Load(store, "/bert")).
const BertScope = "bert"

// Bert2Rnd builds BERT2RND (Rothe, Narayan & Severyn 2020, "Leveraging Pre-trained
// Checkpoints for Sequence Generation Tasks"): the BERT encoder enc (variables under
// scope/bert, warm-started from a checkpoint or random) reads in.Src (with token types
// types, nil for zeros, and lengths in.SrcLen), and masklab's Transformer decoder dec
// (kind seq2seq, variables where Run puts them: tgt_embedding, decoder/..., output)
// reads its output through cross-attention. Every decoder self-attention mask,
// cross-attention mask (dec.Cross), score modification and decoder-input strategy
// (in.Drop, in.Dec) applies as in Run; enc.Mask is the encoder's mask (dec.Enc is not
// used). dec.SrcVocab and dec.EncLayers are taken from enc; dec.DModel must be
// enc.DModel.
//
// The Result's Attention has the encoder's weights (block "encoder") before the
// decoder's, when asked for.
//
// Training: to freeze the encoder, leave the variables under /bert out of the
// optimizer's (their gradients are then not computed into the update); for separate
// learning rates (a small one for the pretrained encoder), pkg/optim's AdamWScaled takes
// a multiplier per variable.
func Bert2Rnd(scope *model.Scope, enc BertConfig, dec Config, in Inputs, types *graph.Node, wantWeights bool) (*Result, error) {
	if dec.Kind != KindSeq2Seq || dec.Arch != nil {
		return nil, fmt.Errorf("layers: bert2rnd: the decoder must be masklab's %s Transformer, got kind %q", KindSeq2Seq, dec.Kind)
	}
	if dec.DModel != enc.DModel {
		return nil, fmt.Errorf("layers: bert2rnd: the decoder's d_model %d must be the encoder's hidden size %d", dec.DModel, enc.DModel)
	}
	if in.Memory != nil {
		return nil, fmt.Errorf("layers: bert2rnd: Inputs.Memory is computed from Inputs.Src; leave it nil (or call Bert and Run yourself)")
	}
	if in.Src == nil {
		return nil, fmt.Errorf("layers: bert2rnd needs Inputs.Src integer ids [B,S]")
	}
	dec.SrcVocab, dec.EncLayers = enc.Vocab, enc.Layers
	if err := dec.Validate(); err != nil {
		return nil, err
	}
	br, err := Bert(scope.In(BertScope), enc, BertInputs{IDs: in.Src, TypeIDs: types, Lengths: in.SrcLen, Training: in.Training}, wantWeights)
	if err != nil {
		return nil, err
	}
	in.Memory = br.Hidden
	res, err := Run(scope, dec, in, wantWeights)
	if err != nil {
		return nil, err
	}
	res.Attention = append(br.Attention, res.Attention...)
	return res, nil
}
