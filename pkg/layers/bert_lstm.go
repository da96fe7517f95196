package layers

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/mask"
)

// BertLSTM builds the source article's set-up with a BERT encoder: the BERT encoder enc
// (variables under scope/bert, e.g. warm-started from bert-base-chinese) reads in.Src
// (token types types, nil for zeros; lengths in.SrcLen), and the article's LSTM decoder
// with attention (dec, kind lstm: its DecLayers, Heads, Dropout, Tied and Cross mask;
// variables as the lstm kind's under scope: tgt_embedding, decoder/layer_i, attention,
// combine, output) reads its states. Every decoder layer starts from
// tanh(W · h[CLS]) (the encoder's first hidden state through a new dense layer, scope
// init_state) and a zero cell: BERT has no recurrent final state to hand over. Each
// decoder state attends over the encoder states the cross mask allows, and the output
// layer reads tanh(W_c [context; state]) as in the lstm kind.
//
// From Inputs it reads Src, SrcLen, Dec, DecLen, Segments and PrefixLen (the cross
// mask's side data), Drop, LogitsAt and Training. dec.DModel must be enc.DModel.
func BertLSTM(scope *model.Scope, enc BertConfig, dec Config, in Inputs, types *graph.Node, wantWeights bool) (res *Result, err error) {
	if dec.Kind != KindLSTM {
		return nil, fmt.Errorf("layers: bert-lstm: the decoder must be the %s kind, got %q", KindLSTM, dec.Kind)
	}
	if dec.DModel != enc.DModel {
		return nil, fmt.Errorf("layers: bert-lstm: the decoder's d_model %d must be the encoder's hidden size %d", dec.DModel, enc.DModel)
	}
	if in.Src == nil || in.Memory != nil {
		return nil, fmt.Errorf("layers: bert-lstm needs Inputs.Src (and computes the memory itself: leave Inputs.Memory nil)")
	}
	dec.SrcVocab, dec.EncLayers = enc.Vocab, 1
	if err := dec.Validate(); err != nil {
		return nil, err
	}
	c := dec.WithDefaults()
	B, S, T, err := in.normalize(c)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("layers: building bert-lstm: %v", r)
		}
	}()
	br, err := Bert(scope.In(BertScope), enc, BertInputs{IDs: in.Src, TypeIDs: types, Lengths: in.SrcLen, Training: in.Training}, wantWeights)
	if err != nil {
		return nil, err
	}
	cross, err := buildMask(scope, c.Cross, B, lstmHeads(c), T, S,
		mask.Side{QueryLen: in.DecLen, KeyLen: in.SrcLen, PrefixLen: in.PrefixLen, QuerySeg: in.Segments, Training: in.Training}, "cross")
	if err != nil {
		return nil, err
	}
	d := c.DModel
	drop := func(x *graph.Node, name string, args ...any) *graph.Node {
		return dropout(scope.In(name, args...), x, c.Dropout, in.Training)
	}
	y, tgtTable := embedding(scope.In("tgt_embedding"), in.Dec, c.Vocab, d)
	if in.Drop != nil {
		y = graph.Where(graph.BroadcastToShape(graph.InsertAxes(in.Drop, -1), y.Shape()), graph.ZerosLike(y), y)
	}
	encStates := br.Hidden
	cls := graph.Reshape(graph.Slice(encStates, graph.AxisRange(), graph.AxisRange(0, 1), graph.AxisRange()), B, d)
	h0 := graph.Tanh(dense(scope.In("init_state"), cls, d, true))
	c0 := graph.ZerosLike(h0)

	ls := scope.WithInitializer(uniformInit(scope, 1/math.Sqrt(float64(d))))
	y = drop(y, "tgt_dropout")
	ds := ls.In("decoder")
	for i := range c.DecLayers {
		y, _, _ = lstmLayer(ds.In("layer_%d", i), y, nil, h0, c0)
		if i < c.DecLayers-1 {
			y = drop(y, "decoder_dropout_%d", i)
		}
	}
	heads := lstmHeads(c)
	context, weights, err := MultiHeadAttention(scope.In("attention"), y, encStates, encStates, heads, d/heads).
		WithMask(cross).WithDropout(c.Dropout, in.Training).DoneWithWeights()
	if err != nil {
		return nil, err
	}
	hidden := drop(graph.Tanh(dense(scope.In("combine"), graph.Concatenate([]*graph.Node{context, y}, -1), d, true)), "output_dropout")
	hidden = atPositions(hidden, in.LogitsAt)
	res = &Result{Attention: br.Attention}
	if c.Tied {
		res.Logits = graph.Einsum("bqd,vd->bqv", hidden, tgtTable)
	} else {
		res.Logits = dense(scope.In("output"), hidden, c.Vocab, true)
	}
	addWeights(res, wantWeights, "cross", 0, weights)
	return res, nil
}
