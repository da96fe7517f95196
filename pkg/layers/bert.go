package layers

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/layers/internal/fast"
	"github.com/masklab/masklab/pkg/mask"
)

// BertConfig describes a BERT encoder (Devlin et al. 2019): token, learned position and
// token-type embeddings summed and layer-normalised, then post-LN blocks
// (x = LN(x + Attn(x)), x = LN(x + MLP(x))) with an erf GELU MLP; optionally BERT's
// pooler (tanh(dense(first token))) and its masked-LM head (dense, GELU, LayerNorm, then
// the word embeddings transposed plus a bias).
//
// The self-attention is masklab's AttentionBuilder under the mask Mask (mask.Pad, BERT's
// padding mask, when zero), so every encoder mask applies.
//
// Variables (dense weights [in, out]):
//
//	embeddings/word/embeddings [Vocab,D]
//	embeddings/position/embeddings [MaxLen,D]
//	embeddings/token_type/embeddings [TypeVocab,D]
//	embeddings/norm/layer_normalization/{gain,offset}
//	encoder/layer_L/self/MultiHeadAttention/{query,key,value,output}/dense/{weights,biases}
//	encoder/layer_L/self/norm/layer_normalization/{gain,offset}
//	encoder/layer_L/ffn/{hidden,output}/dense/{weights,biases}
//	encoder/layer_L/ffn/norm/layer_normalization/{gain,offset}
//	pooler/dense/{weights,biases}                     (Pooler)
//	mlm/transform/dense/{weights,biases}              (MLM)
//	mlm/norm/layer_normalization/{gain,offset}        (MLM)
//	mlm/biases [Vocab]                                (MLM)
type BertConfig struct {
	Vocab     int // vocab_size
	DModel    int // hidden_size
	Heads     int // num_attention_heads
	FF        int // intermediate_size
	Layers    int // num_hidden_layers
	MaxLen    int // max_position_embeddings
	TypeVocab int // type_vocab_size

	LayerNormEps float64 // layer_norm_eps (BERT: 1e-12)
	Activation   string  // MLP and MLM-head activation; "" means ActGELU (erf)
	Dropout      float64 // dropout on embeddings, residual branches and attention weights (training only)

	Mask mask.Attention // the self-attention mask; zero means mask.Pad

	Pooler bool // build the pooler
	MLM    bool // build the masked-LM head
}

// BertInputs are a BERT forward pass's inputs.
type BertInputs struct {
	IDs       *graph.Node // [B,S] token ids
	TypeIDs   *graph.Node // [B,S] token-type (segment) ids; nil means zeros
	Lengths   *graph.Node // [B] valid lengths (the padding mask's); nil means S
	Positions *graph.Node // [B,S] position ids; nil means 0..S-1
	Training  bool        // dropout and random masks are active only when true
}

// BertResult is what Bert builds.
type BertResult struct {
	Hidden    *graph.Node        // [B,S,D] the last layer's hidden states
	Pooled    *graph.Node        // [B,D] the pooler's output (Pooler)
	Logits    *graph.Node        // [B,S,Vocab] the masked-LM logits (MLM)
	Attention []AttentionWeights // block "encoder", when asked for
}

// withDefaults fills the zero fields that have defaults.
func (c BertConfig) withDefaults() BertConfig {
	if c.Activation == "" {
		c.Activation = ActGELU
	}
	if c.Mask.IsZero() {
		c.Mask = mask.Pad
	}
	return c
}

// Validate reports what is wrong with c.
func (c BertConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Vocab < 2:
		return fmt.Errorf("layers: bert: vocab must be >= 2, got %d", c.Vocab)
	case c.DModel <= 0 || c.Heads <= 0 || c.FF <= 0 || c.Layers < 1:
		return fmt.Errorf("layers: bert: d_model, heads, ff and layers must be > 0, got %d, %d, %d, %d", c.DModel, c.Heads, c.FF, c.Layers)
	case c.DModel%c.Heads != 0:
		return fmt.Errorf("layers: bert: d_model %d must be a multiple of heads %d", c.DModel, c.Heads)
	case c.MaxLen < 1 || c.TypeVocab < 1:
		return fmt.Errorf("layers: bert: max_len and type_vocab must be >= 1, got %d and %d", c.MaxLen, c.TypeVocab)
	case c.Dropout < 0 || c.Dropout >= 1:
		return fmt.Errorf("layers: bert: dropout must be in [0, 1), got %g", c.Dropout)
	case c.LayerNormEps < 0:
		return fmt.Errorf("layers: bert: layer norm epsilon must be >= 0, got %g", c.LayerNormEps)
	}
	switch c.Activation {
	case ActSiLU, ActGELUTanh, ActGELU, ActReLU:
	default:
		return fmt.Errorf("layers: bert: activation must be one of %s, %s, %s, %s; got %q", ActSiLU, ActGELUTanh, ActGELU, ActReLU, c.Activation)
	}
	return nil
}

// Bert builds the BERT encoder that cfg describes on in, under scope; wantWeights also
// returns each layer's attention weights.
func Bert(scope *model.Scope, cfg BertConfig, in BertInputs, wantWeights bool) (res *BertResult, err error) {
	return bert(scope, cfg, in, bertDecoding{}, wantWeights)
}

// bertDecoding is what a BERT stack used as a decoder (BERT2BERT) adds: the self mask's
// side data, the encoder output read by a cross-attention sublayer after each
// self-attention one (scope cross, post-LN), dropped input embeddings, and logits at one
// position.
type bertDecoding struct {
	segments, prefixLen *graph.Node // the self mask's side data
	memory              *graph.Node // [B,S,D] the encoder output; nil: no cross-attention
	memoryLen           *graph.Node // [B] its valid lengths
	cross               mask.Attention
	drop                *graph.Node // bool [B,T]: zero these input embeddings
	logitsAt            *graph.Node // [B]: the MLM logits at this position only
}

// bert builds the BERT stack, an encoder or (with dec.memory) a decoder.
func bert(scope *model.Scope, cfg BertConfig, in BertInputs, dec bertDecoding, wantWeights bool) (res *BertResult, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if in.IDs == nil || in.IDs.Rank() != 2 || !in.IDs.DType().IsInt() {
		return nil, fmt.Errorf("layers: bert needs BertInputs.IDs integer ids [B,S], got %v", shapeOf(in.IDs))
	}
	g := in.IDs.Graph()
	VariablesAsParameters(g)
	B, S := in.IDs.Shape().Dim(0), in.IDs.Shape().Dim(1)
	if S > cfg.MaxLen {
		return nil, fmt.Errorf("layers: bert: length %d exceeds max_position_embeddings %d", S, cfg.MaxLen)
	}
	for _, n := range []struct {
		node *graph.Node
		name string
	}{{in.TypeIDs, "TypeIDs"}, {in.Positions, "Positions"}} {
		if n.node != nil && (n.node.Rank() != 2 || !n.node.DType().IsInt() || n.node.Shape().Dim(0) != B || n.node.Shape().Dim(1) != S) {
			return nil, fmt.Errorf("layers: bert: BertInputs.%s must be integer [B=%d,S=%d], got %s", n.name, B, S, n.node.Shape())
		}
	}
	if in.Lengths == nil {
		in.Lengths = graph.BroadcastToDims(graph.Scalar(g, dtypes.Int32, S), B)
	}
	if err := checkVec(in.Lengths, "Lengths", B); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("layers: building bert: %v", r)
		}
	}()
	m, err := buildMask(scope, cfg.Mask, B, cfg.Heads, S, S,
		mask.Side{QueryLen: in.Lengths, KeyLen: in.Lengths, PrefixLen: dec.prefixLen, QuerySeg: dec.segments, Training: in.Training}, "bert")
	if err != nil {
		return nil, err
	}
	var crossMask *Mask
	selfBlock := "encoder"
	if dec.memory != nil {
		selfBlock = "self"
		crossMask, err = buildMask(scope, dec.cross, B, cfg.Heads, S, dec.memory.Shape().Dim(1),
			mask.Side{QueryLen: in.Lengths, KeyLen: dec.memoryLen, PrefixLen: dec.prefixLen, QuerySeg: dec.segments, Training: in.Training}, "cross")
		if err != nil {
			return nil, err
		}
	}

	res = &BertResult{}
	es := scope.In("embeddings")
	// Embedding tables start as BERT's do (N(0, 0.02²), initializer_range), so that the
	// tied MLM logits start small; dense layers as PyTorch's nn.Linear.
	table := es.In("word").WithInitializer(normalInit(es, 0.02)).
		VariableWithShape("embeddings", shapes.Make(floatDType, cfg.Vocab, cfg.DModel)).NodeValue(g)
	x := graph.Gather(table, graph.InsertAxes(in.IDs, -1))
	if dec.drop != nil {
		x = graph.Where(graph.BroadcastToShape(graph.InsertAxes(dec.drop, -1), x.Shape()), graph.ZerosLike(x), x)
	}
	pos := in.Positions
	if pos == nil {
		pos = graph.BroadcastToDims(graph.Iota(g, shapes.Make(dtypes.Int32, 1, S), 1), B, S)
	}
	posTable := es.In("position").WithInitializer(normalInit(es, 0.02)).
		VariableWithShape("embeddings", shapes.Make(floatDType, cfg.MaxLen, cfg.DModel)).NodeValue(g)
	x = graph.Add(x, graph.Gather(posTable, graph.InsertAxes(graph.ConvertDType(pos, dtypes.Int32), -1)))
	types := in.TypeIDs
	if types == nil {
		types = graph.Zeros(g, shapes.Make(dtypes.Int32, B, S))
	}
	typeTable := es.In("token_type").WithInitializer(normalInit(es, 0.02)).
		VariableWithShape("embeddings", shapes.Make(floatDType, cfg.TypeVocab, cfg.DModel)).NodeValue(g)
	x = graph.Add(x, graph.Gather(typeTable, graph.InsertAxes(graph.ConvertDType(types, dtypes.Int32), -1)))
	x = layerNorm(es.In("norm"), x, cfg.LayerNormEps)
	x = dropout(es.In("dropout"), x, cfg.Dropout, in.Training)

	enc := scope.In("encoder")
	for l := range cfg.Layers {
		ls := enc.In("layer_%d", l)
		s := ls.In("self")
		b := MultiHeadAttention(s, x, x, x, cfg.Heads, cfg.DModel/cfg.Heads).
			WithMask(m).WithDropout(cfg.Dropout, in.Training)
		var out, w *graph.Node
		out, w, err = b.build(wantWeights)
		if err != nil {
			return nil, err
		}
		if wantWeights && w != nil {
			res.Attention = append(res.Attention, AttentionWeights{Block: selfBlock, Layer: l, Weights: w})
		}
		x = layerNorm(s.In("norm"), graph.Add(x, dropout(s.In("dropout"), out, cfg.Dropout, in.Training)), cfg.LayerNormEps)

		if dec.memory != nil {
			c := ls.In("cross")
			b := MultiHeadAttention(c, x, dec.memory, dec.memory, cfg.Heads, cfg.DModel/cfg.Heads).
				WithMask(crossMask).WithDropout(cfg.Dropout, in.Training)
			out, w, err = b.build(wantWeights)
			if err != nil {
				return nil, err
			}
			if wantWeights && w != nil {
				res.Attention = append(res.Attention, AttentionWeights{Block: "cross", Layer: l, Weights: w})
			}
			x = layerNorm(c.In("norm"), graph.Add(x, dropout(c.In("dropout"), out, cfg.Dropout, in.Training)), cfg.LayerNormEps)
		}

		f := ls.In("ffn")
		h := activate(cfg.Activation, dense(f.In("hidden"), x, cfg.FF, true))
		h = dense(f.In("output"), h, cfg.DModel, true)
		x = layerNorm(f.In("norm"), graph.Add(x, dropout(f.In("dropout"), h, cfg.Dropout, in.Training)), cfg.LayerNormEps)
	}
	res.Hidden = x
	if cfg.Pooler {
		first := graph.Reshape(graph.Slice(x, graph.AxisRange(), graph.AxisRange(0, 1), graph.AxisRange()), B, cfg.DModel)
		res.Pooled = graph.Tanh(dense(scope.In("pooler"), first, cfg.DModel, true))
	}
	if cfg.MLM {
		ms := scope.In("mlm")
		h := activate(cfg.Activation, dense(ms.In("transform"), atPositions(x, dec.logitsAt), cfg.DModel, true))
		h = layerNorm(ms.In("norm"), h, cfg.LayerNormEps)
		bias := ms.WithInitializer(constInit(0)).VariableWithShape("biases", shapes.Make(floatDType, cfg.Vocab)).NodeValue(g)
		res.Logits = fast.LinearT(h, table, bias)
	}
	return res, nil
}

// Params returns the number of parameters of the model cfg describes.
func (c BertConfig) Params() int64 {
	D, F, V := int64(c.DModel), int64(c.FF), int64(c.Vocab)
	n := (V+int64(c.MaxLen)+int64(c.TypeVocab))*D + 2*D
	n += int64(c.Layers) * (4*D*D + 4*D + 2*D + D*F + F + F*D + D + 2*D)
	if c.Pooler {
		n += D*D + D
	}
	if c.MLM {
		n += D*D + D + 2*D + V
	}
	return n
}
