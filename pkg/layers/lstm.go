package layers

import (
	"fmt"
	"math"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/masklab/masklab/pkg/mask"
)

// This file holds the source article's architecture made to train: an LSTM
// encoder over the source, an LSTM decoder over the (possibly corrupted) decoder
// inputs started from the encoder's final state, attention of every decoder state
// over the encoder states (the "interaction" attention, masked by the cross mask; the
// same MultiHeadAttention as the Transformer, one head by default), and an output layer
// on tanh(W [context; decoder state]) as in Luong et al. (2015).
//
// What the article's code got wrong and this one does not: the decoder's initial
// state is the encoder's final state at each example's valid length (not an
// undefined variable); attention runs over the encoder states of the source (not
// over the decoder's own last output); and the loss mask is applied by the caller
// per target token, with the same strategies as the Transformer.
//
// An LSTM is causal by construction: decoder state t is a function of decoder
// inputs 0..t only, so a "self" mask does not apply to it (validateLSTM refuses any
// self mask but causal, with or without pad/qpad, instead of silently ignoring it). The encoder's states at padded source positions are computed
// from the padding tokens, as a Transformer encoder's are; the decoder starts from the
// state at each example's valid length, and only the cross mask (default "pad")
// decides which source positions the attention may read.

func init() { registerKind(KindLSTM, lstmModel) }

// lstmHeads is the number of attention heads of the LSTM model: c.Heads when set, else
// one (the source article's single attention).
func lstmHeads(c Config) int {
	if c.Heads > 0 {
		return c.Heads
	}
	return 1
}

// lstmSelfAtoms are the self-mask atoms an LSTM decoder honours by construction: it is
// causal, and padding keys or queries beyond the valid length change no valid output.
var lstmSelfAtoms = map[string]bool{"causal": true, "pad": true, "qpad": true}

// validateLSTM reports what an LSTM model cannot do with config c: apply a self mask
// other than causal (its decoder is causal by construction: step t sees every input
// 0..t, so a non-causal mask would be silently ignored and a stricter one too), or
// split its attention into heads that do not divide DModel.
func (c Config) validateLSTM() error {
	if !c.Self.IsZero() {
		spec := c.Self.String()
		causal := false
		for _, atom := range strings.Split(spec, "&") {
			atom = strings.TrimSpace(atom)
			if !lstmSelfAtoms[atom] {
				causal = false
				break
			}
			causal = causal || atom == "causal"
		}
		if !causal {
			return fmt.Errorf("layers: an lstm decoder is causal by construction (step t reads every input 0..t) and cannot apply self mask %q; leave self empty or set it to \"causal\"", spec)
		}
	}
	if c.Heads < 0 || (c.Heads > 0 && c.DModel%c.Heads != 0) {
		return fmt.Errorf("layers: lstm attention heads must be 0 (one head) or divide d_model %d, got %d", c.DModel, c.Heads)
	}
	return nil
}

// lstmModel is the "lstm" kind of Forward/Run: Inputs.Src/SrcLen are the source,
// Inputs.Dec the decoder inputs (Inputs.Drop zeroes dropped inputs' embeddings, as in
// the Transformer); the cross mask cfg.Cross is built from DecLen, SrcLen, PrefixLen
// and Segments like the Transformer's. Positions are not used (the recurrence orders
// the tokens) and the self mask must be causal (see validateLSTM).
func lstmModel(scope *model.Scope, cfg Config, in Inputs, wantWeights bool) (*Result, error) {
	if err := cfg.validateLSTM(); err != nil {
		return nil, err
	}
	B, S, T, err := in.normalize(cfg)
	if err != nil {
		return nil, err
	}
	cross, err := buildMask(scope, cfg.Cross, B, lstmHeads(cfg), T, S,
		mask.Side{QueryLen: in.DecLen, KeyLen: in.SrcLen, PrefixLen: in.PrefixLen, QuerySeg: in.Segments, Training: in.Training}, "cross")
	if err != nil {
		return nil, err
	}
	p, err := lstmForward(scope, cfg, in, cross)
	if err != nil {
		return nil, err
	}
	res := &Result{Logits: p.Logits}
	addWeights(res, wantWeights, "cross", 0, p.Weights)
	return res, nil
}

// lstmParts are the nodes of one LSTM forward pass: the input embeddings, the
// attentional hidden states, the attention weights and the logits.
type lstmParts struct {
	SrcEmb, DecEmb *Node // [B, K, D], [B, Q, D]
	Hidden         *Node // [B, Q, D]: attentional hidden state, input of the output layer
	Weights        *Node // [B, H, Q, K]: attention weights (zero where the cross mask forbids)
	Logits         *Node // [B, Q, Vocab] ([B, 1, Vocab] with in.LogitsAt)
}

// lstmForward builds the LSTM encoder-decoder with attention for config c on
// normalized inputs (see Inputs.normalize):
//
//   - in.Src: int [B, K] source tokens; in.SrcLen: int [B] valid source lengths (the
//     decoder starts from the encoder state at it).
//   - in.Dec: int [B, Q] decoder inputs (teacher forcing: BOS + target[:-1], possibly
//     corrupted by the input strategy); in.Drop zeroes dropped inputs' embeddings.
//   - cross: the prepared cross mask ([B, 1|H, Q, K], true = may attend), nil for none.
//
// Variables live under s: src_embedding, tgt_embedding (shared with the output layer
// when c.Tied), encoder/layer_i and decoder/layer_i (GoMLX's lstm variables inputsW,
// recurrentW, biasesW), attention/MultiHeadAttention/..., combine, output.
func lstmForward(s *model.Scope, c Config, in Inputs, cross *Mask) (p lstmParts, err error) {
	c = c.WithDefaults()
	d := c.DModel
	drop := func(x *Node, name string, args ...any) *Node {
		return dropout(s.In(name, args...), x, c.Dropout, in.Training)
	}

	var tgtTable *Node
	p.SrcEmb, _ = embedding(s.In("src_embedding"), in.Src, c.SrcVocab, d)
	p.DecEmb, tgtTable = embedding(s.In("tgt_embedding"), in.Dec, c.Vocab, d)
	y := p.DecEmb
	if in.Drop != nil {
		y = Where(BroadcastToShape(InsertAxes(in.Drop, -1), y.Shape()), ZerosLike(y), y)
	}

	// PyTorch's LSTM initialisation: U(±1/sqrt(hidden)) for every weight and bias.
	ls := s.WithInitializer(uniformInit(s, 1/math.Sqrt(float64(d))))

	// Encoder: a stack of LSTMs; each example's final state is the one at its valid
	// length, so padding reaches the decoder only through the attention.
	x := drop(p.SrcEmb, "src_dropout")
	var encH, encC []*Node // final states per layer: [B, D]
	enc := ls.In("encoder")
	for i := range c.EncLayers {
		all, h, cs := lstmLayer(enc.In("layer_%d", i), x, in.SrcLen, nil, nil)
		x = all
		if i < c.EncLayers-1 {
			x = drop(x, "encoder_dropout_%d", i)
		}
		encH, encC = append(encH, h), append(encC, cs)
	}
	encStates := x

	// Decoder: layer i starts from encoder layer i's final state (the top encoder
	// layer's when the decoder is deeper).
	y = drop(y, "tgt_dropout")
	dec := ls.In("decoder")
	for i := range c.DecLayers {
		j := min(i, c.EncLayers-1)
		y, _, _ = lstmLayer(dec.In("layer_%d", i), y, nil, encH[j], encC[j])
		if i < c.DecLayers-1 {
			y = drop(y, "decoder_dropout_%d", i)
		}
	}
	decStates := y

	// Attention of each decoder state over the encoder states the cross mask allows.
	heads := lstmHeads(c)
	context, weights, err := MultiHeadAttention(s.In("attention"), decStates, encStates, encStates, heads, d/heads).
		WithMask(cross).WithDropout(c.Dropout, in.Training).DoneWithWeights()
	if err != nil {
		return p, err
	}
	p.Weights = weights

	// Attentional hidden state tanh(W_c [context; decoder state]), then the output layer.
	p.Hidden = drop(Tanh(dense(s.In("combine"), Concatenate([]*Node{context, decStates}, -1), d, true)), "output_dropout")
	hidden := atPositions(p.Hidden, in.LogitsAt)
	if c.Tied {
		p.Logits = Einsum("bqd,vd->bqv", hidden, tgtTable)
	} else {
		p.Logits = dense(s.In("output"), hidden, c.Vocab, true)
	}
	return p, nil
}

// lstmLayer runs one LSTM layer over x [B, T, F] and returns every hidden state
// [B, T, H] and the final hidden and cell states [B, H], with H = F. It is GoMLX's
// ml/layers/lstm cell (same variables inputsW [1,4,H,F], recurrentW [1,4,H,H],
// biasesW [1,8,H] and gate order input, output, forget, cell), unrolled here because
// the final state must be taken per example: when lengths (int [B]) is given, the
// final states are those after each example's last valid step (h0, c0 for length 0).
// The states of padded steps are still computed, from the padding tokens: what reads
// them is decided by the cross mask, as in the Transformer. h0, c0 [B, H] default to
// zeros.
func lstmLayer(s *model.Scope, x, lengths, h0, c0 *Node) (all, finalH, finalC *Node) {
	g := x.Graph()
	dtype := x.DType()
	b, t, f := x.Shape().Dim(0), x.Shape().Dim(1), x.Shape().Dim(2)
	hd := f
	inputsW := s.VariableWithShape("inputsW", shapes.Make(dtype, 1, 4, hd, f)).NodeValue(g)
	recurrentW := s.VariableWithShape("recurrentW", shapes.Make(dtype, 1, 4, hd, hd)).NodeValue(g)
	biasesW := s.VariableWithShape("biasesW", shapes.Make(dtype, 1, 8, hd)).NodeValue(g)

	// Input projections of every step at once, with both biases: [B, T, 4, H].
	bias := Add(Slice(biasesW, AxisRange(), AxisRange(0, 4)), Slice(biasesW, AxisRange(), AxisRange(4, 8)))
	projX := Add(Einsum("btf,nhf->btnh", x, Reshape(inputsW, 4, hd, f)), Reshape(bias, 1, 1, 4, hd))
	recW := Reshape(recurrentW, 4, hd, hd)

	h, c := h0, c0
	if h == nil {
		h = Zeros(g, shapes.Make(dtype, b, hd))
	}
	if c == nil {
		c = Zeros(g, shapes.Make(dtype, b, hd))
	}
	finalH, finalC = h, c
	var lens *Node
	if lengths != nil {
		lens = Reshape(ConvertDType(lengths, dtypes.Int32), b, 1)
	}
	states := make([]*Node, t)
	for i := range t {
		proj := Add(Squeeze(Slice(projX, AxisRange(), AxisElem(i)), 1), Einsum("bj,nhj->bnh", h, recW)) // [B, 4, H]
		gate := func(n int) *Node { return Squeeze(Slice(proj, AxisRange(), AxisElem(n)), 1) }
		in, out, forget, cand := Sigmoid(gate(0)), Sigmoid(gate(1)), Sigmoid(gate(2)), Tanh(gate(3))
		c = Add(Mul(forget, c), Mul(in, cand))
		h = Mul(out, Tanh(c))
		states[i] = h
		if lens != nil {
			valid := BroadcastToDims(LessThan(Scalar(g, dtypes.Int32, i), lens), b, hd)
			finalH, finalC = Where(valid, h, finalH), Where(valid, c, finalC)
		}
	}
	if lens == nil {
		finalH, finalC = h, c
	}
	return Stack(states, 1), finalH, finalC
}
