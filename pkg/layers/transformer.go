package layers

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/layers/internal/fast"
	"github.com/masklab/masklab/pkg/mask"
)

// Inputs are one batch as graph nodes. Token ids and lengths are integer nodes; nil
// optional fields take the documented defaults.
type Inputs struct {
	Src    *graph.Node // [B,S] source ids (seq2seq, lstm)
	SrcLen *graph.Node // [B] valid source lengths; nil means S

	Dec    *graph.Node // [B,T] decoder input ids (teacher forcing: BOS + target[:-1])
	DecLen *graph.Node // [B] valid decoder lengths; nil means T

	Segments  *graph.Node // [B,T] document id of each decoder position (packing; masks "doc")
	Positions *graph.Node // [B,T] position of each decoder token; nil means 0..T-1 (restart per document when packing)
	PrefixLen *graph.Node // [B] prefix-LM prefix length (mask "prefix")

	// Drop is an optional bool [B,T]: true zeroes that decoder input's token embedding
	// (input corruption by dropping rather than replacing the id; its position is kept).
	Drop *graph.Node

	// LogitsAt, if set (integer [B]), computes the logits only at that decoder position
	// of each row: Result.Logits is then [B,1,Vocab] (greedy decoding needs one position
	// per row, and the output projection over all T positions dominates its cost).
	LogitsAt *graph.Node

	// Memory, if set, is the encoder output [B,S,DModel] of a seq2seq model computed by
	// Encode on the same Src and SrcLen: the encoder is not rebuilt (greedy decoding
	// encodes each source once, not at every step).
	Memory *graph.Node

	// Sparse, if set, runs the decoder self-attention block-sparse: the graph inputs of
	// the batch's plan of Config.Self (PlanDecoderSelf). Layers that need the dense scores
	// (attention weights asked for, a score modification, an Arch's sliding-window
	// layers) keep the dense mask.
	Sparse *SparseInputs

	// Cache, if set, runs the decoder's positions against a key/value cache (decoding
	// one token per step without recomputing the prefix; see KVCache).
	Cache *KVCache

	Training bool // dropout and random masks are active only when true
}

// AttentionWeights are one attention layer's weights, for pictures.
type AttentionWeights struct {
	Block   string      // "encoder", "self" (decoder self-attention) or "cross"
	Layer   int         // 0-based layer index within the block
	Weights *graph.Node // [B,H,Q,K]
}

// Result is what Run returns.
type Result struct {
	Logits    *graph.Node        // [B,T,Vocab] ([B,1,Vocab] with Inputs.LogitsAt)
	Attention []AttentionWeights // filled only when requested
}

// modelFn builds a model of one kind; lstm.go registers "lstm".
type modelFn func(scope *model.Scope, cfg Config, in Inputs, wantWeights bool) (*Result, error)

var kinds = map[string]modelFn{
	KindSeq2Seq: transformerModel,
	KindDecoder: transformerModel,
}

// registerKind registers the builder of a model kind (used by other files of this package).
func registerKind(kind string, fn modelFn) { kinds[kind] = fn }

// Forward builds the model described by cfg on scope and returns the logits
// [B,T,Vocab]. Variables are created on first use (GoMLX initialises them when the
// graph first runs) and reused afterwards.
func Forward(scope *model.Scope, cfg Config, in Inputs) (*graph.Node, error) {
	r, err := Run(scope, cfg, in, false)
	if err != nil {
		return nil, err
	}
	return r.Logits, nil
}

// Run is Forward that can also return every layer's attention weights.
func Run(scope *model.Scope, cfg Config, in Inputs, wantWeights bool) (res *Result, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	fn := kinds[cfg.Kind]
	if cfg.Arch != nil {
		fn = archModel
	}
	if fn == nil {
		return nil, fmt.Errorf("layers: model kind %q is not built into this binary", cfg.Kind)
	}
	if in.Dec != nil {
		VariablesAsParameters(in.Dec.Graph())
	}
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("layers: building %s model: %v", cfg.Kind, r)
		}
	}()
	return fn(scope, cfg, in, wantWeights)
}

// batchInfo checks the shapes of the inputs and fills the defaults.
func (in *Inputs) normalize(cfg Config) (B, S, T int, err error) {
	if in.Dec == nil || in.Dec.Rank() != 2 || !in.Dec.DType().IsInt() {
		return 0, 0, 0, fmt.Errorf("layers: Inputs.Dec must be integer ids [B,T], got %v", shapeOf(in.Dec))
	}
	B, T = in.Dec.Shape().Dim(0), in.Dec.Shape().Dim(1)
	g := in.Dec.Graph()
	if in.DecLen == nil {
		in.DecLen = graph.BroadcastToDims(graph.Scalar(g, dtypes.Int32, T), B)
	}
	if err := checkVec(in.DecLen, "DecLen", B); err != nil {
		return 0, 0, 0, err
	}
	if cfg.Kind != KindDecoder {
		if in.Src == nil || in.Src.Rank() != 2 || !in.Src.DType().IsInt() || in.Src.Shape().Dim(0) != B {
			return 0, 0, 0, fmt.Errorf("layers: %s needs Inputs.Src integer ids [B=%d,S], got %v", cfg.Kind, B, shapeOf(in.Src))
		}
		S = in.Src.Shape().Dim(1)
		if in.SrcLen == nil {
			in.SrcLen = graph.BroadcastToDims(graph.Scalar(g, dtypes.Int32, S), B)
		}
		if err := checkVec(in.SrcLen, "SrcLen", B); err != nil {
			return 0, 0, 0, err
		}
	}
	if in.PrefixLen != nil {
		if err := checkVec(in.PrefixLen, "PrefixLen", B); err != nil {
			return 0, 0, 0, err
		}
	}
	if in.LogitsAt != nil {
		if err := checkVec(in.LogitsAt, "LogitsAt", B); err != nil {
			return 0, 0, 0, err
		}
	}
	if in.Memory != nil {
		if m := in.Memory.Shape(); cfg.Kind != KindSeq2Seq || m.Rank() != 3 || m.Dim(0) != B || m.Dim(1) != S || m.Dim(2) != cfg.DModel {
			return 0, 0, 0, fmt.Errorf("layers: Inputs.Memory must be a seq2seq encoder output [B=%d,S=%d,D=%d], got %s for kind %s", B, S, cfg.DModel, m, cfg.Kind)
		}
	}
	for _, f := range []struct {
		n    *graph.Node
		name string
	}{{in.Segments, "Segments"}, {in.Positions, "Positions"}, {in.Drop, "Drop"}} {
		if f.n != nil && (f.n.Rank() != 2 || f.n.Shape().Dim(0) != B || f.n.Shape().Dim(1) != T) {
			return 0, 0, 0, fmt.Errorf("layers: Inputs.%s must be [B=%d,T=%d], got %s", f.name, B, T, f.n.Shape())
		}
	}
	if in.Drop != nil && in.Drop.DType() != dtypes.Bool {
		return 0, 0, 0, fmt.Errorf("layers: Inputs.Drop must be bool [B,T], got %s", in.Drop.Shape())
	}
	if cfg.Positions == PosLearned && (T > cfg.MaxLen || S > cfg.MaxLen) {
		return 0, 0, 0, fmt.Errorf("layers: sequence length %d exceeds max_len %d of learned positions", max(S, T), cfg.MaxLen)
	}
	if in.Cache != nil {
		if err := in.Cache.normalize(in, cfg, B, T); err != nil {
			return 0, 0, 0, err
		}
	}
	return B, S, T, nil
}

func shapeOf(n *graph.Node) any {
	if n == nil {
		return "nil"
	}
	return n.Shape()
}

func checkVec(n *graph.Node, name string, B int) error {
	if n.Rank() != 1 || n.Shape().Dim(0) != B || !n.DType().IsInt() {
		return fmt.Errorf("layers: Inputs.%s must be integer [B=%d], got %s", name, B, n.Shape())
	}
	return nil
}

// buildMask evaluates an attention mask spec once for a whole forward pass.
func buildMask(scope *model.Scope, m mask.Attention, B, H, Q, K int, side mask.Side, what string) (*Mask, error) {
	g := side.QueryLen.Graph()
	side.Uniform = func(s shapes.Shape) *graph.Node { return scope.RandomUniform(g, s) }
	env := mask.NewEnv(g, B, H, Q, K, side)
	allowed, err := env.Build(m)
	if err != nil {
		return nil, fmt.Errorf("layers: %s mask: %w", what, err)
	}
	return PrepareMask(allowed)
}

// buildScore evaluates the decoder self-attention's score modification once for a
// whole forward pass (biases; t5's table, a zero-initialised variable under the scope
// "score"), and returns what each decoder layer applies to its scores; nil for none.
func buildScore(scope *model.Scope, s mask.Score, B, H, Q, K int, side mask.Side) (func(*graph.Node) *graph.Node, error) {
	if s.IsZero() {
		return nil, nil
	}
	g := side.QueryLen.Graph()
	vs := scope.In("score").WithInitializer(constInit(0))
	side.Variable = func(name string, sh shapes.Shape) *graph.Node {
		return vs.VariableWithShape(name, sh).NodeValue(g)
	}
	apply, err := mask.NewEnv(g, B, H, Q, K, side).BuildScore(s)
	if err != nil {
		return nil, fmt.Errorf("layers: self score: %w", err)
	}
	return apply, nil
}

// decoderSelf prepares what every decoder self-attention layer shares: the positions
// (in.Positions, or 0..T-1), the side data of the self mask, and the mask cfg.Self built
// on it, once per forward pass; with in.Sparse, also the sparse mask sp, and the dense
// mask only where a layer needs it (wantWeights, a score modification).
func decoderSelf(scope *model.Scope, cfg Config, in Inputs, B, H, T int, wantWeights bool) (pos *graph.Node, side mask.Side, m *Mask, sp *SparseMask, err error) {
	pos = in.Positions
	if pos == nil {
		pos = graph.BroadcastToDims(graph.Iota(in.Dec.Graph(), shapes.Make(dtypes.Int32, 1, T), 1), B, T)
	}
	side = mask.Side{QueryLen: in.DecLen, KeyLen: in.DecLen, PrefixLen: in.PrefixLen, QuerySeg: in.Segments, Training: in.Training}
	if in.Sparse != nil {
		if in.Cache != nil {
			return nil, side, nil, nil, fmt.Errorf("layers: Inputs.Sparse does not work with a key/value cache")
		}
		if sp, err = in.Sparse.prepare(T); err != nil {
			return nil, side, nil, nil, err
		}
		if !wantWeights && cfg.Score.IsZero() {
			return pos, side, nil, sp, nil
		}
	}
	m, err = decMask(scope, cfg.Self, in, B, H, T, T, true, side, "self")
	return pos, side, m, sp, err
}

// transformerModel builds the encoder-decoder (seq2seq) or the decoder-only LM.
func transformerModel(scope *model.Scope, cfg Config, in Inputs, wantWeights bool) (*Result, error) {
	B, S, T, err := in.normalize(cfg)
	if err != nil {
		return nil, err
	}
	H := cfg.Heads
	res := &Result{}
	g := in.Dec.Graph()

	// Masks: built once, shared by all layers and heads.
	decPos, selfSide, selfMask, selfSparse, err := decoderSelf(scope, cfg, in, B, H, T, wantWeights)
	if err != nil {
		return nil, err
	}
	selfScore, err := buildScore(scope, cfg.Score, B, H, T, T, selfSide)
	if err != nil {
		return nil, err
	}

	var memory *graph.Node
	var crossMask *Mask
	if cfg.Kind == KindSeq2Seq {
		var encMask *Mask
		if in.Memory == nil { // built before the cross mask, as always (random masks draw in order)
			encMask, err = buildMask(scope, cfg.Enc, B, H, S, S,
				mask.Side{QueryLen: in.SrcLen, KeyLen: in.SrcLen, Training: in.Training}, "encoder")
			if err != nil {
				return nil, err
			}
		}
		crossMask, err = decMask(scope, cfg.Cross, in, B, H, T, S, false,
			mask.Side{QueryLen: in.DecLen, KeyLen: in.SrcLen, PrefixLen: in.PrefixLen, QuerySeg: in.Segments, Training: in.Training}, "cross")
		if err != nil {
			return nil, err
		}
		memory = in.Memory
		if memory == nil {
			if memory, err = encoder(scope, cfg, in, encMask, B, S, res, wantWeights); err != nil {
				return nil, err
			}
		}
	}

	embName := "tgt_embedding"
	if cfg.Kind == KindDecoder {
		embName = "embedding"
	}
	y, table := embedding(scope.In("%s", embName), in.Dec, cfg.Vocab, cfg.DModel)
	if in.Drop != nil {
		y = graph.Where(graph.BroadcastToShape(graph.InsertAxes(in.Drop, -1), y.Shape()), graph.ZerosLike(y), y)
	}
	y = addPositions(scope.In("tgt_positions"), cfg, y, decPos, in.Positions)
	y = dropout(scope.In("tgt_dropout"), y, cfg.Dropout, in.Training)
	ds := scope.In("decoder")
	for l := range cfg.DecLayers {
		ls := ds.In("layer_%d", l)
		var w *graph.Node
		y, w, err = sublayerAttention(ls, "self", cfg, in.Training, y, nil, selfMask, selfSparse, selfScore, decPos, decPos, in.Cache.layer(false, l), wantWeights)
		if err != nil {
			return nil, err
		}
		addWeights(res, wantWeights, "self", l, w)
		if memory != nil {
			y, w, err = sublayerAttention(ls, "cross", cfg, in.Training, y, memory, crossMask, nil, nil, nil, nil, in.Cache.layer(true, l), wantWeights)
			if err != nil {
				return nil, err
			}
			addWeights(res, wantWeights, "cross", l, w)
		}
		y = sublayerFFN(ls, cfg, in.Training, y)
	}
	y = layerNorm(ds.In("final_norm"), y, cfg.LayerNormEps)
	y = atPositions(y, in.LogitsAt)
	os := scope.In("output")
	if cfg.Tied {
		// logits = y · tableᵀ + bias
		bias := os.WithInitializer(constInit(0)).VariableWithShape("biases", shapes.Make(floatDType, cfg.Vocab)).NodeValue(g)
		res.Logits = fast.LinearT(y, table, bias)
	} else {
		res.Logits = dense(os, y, cfg.Vocab, true)
	}
	return res, nil
}

// encoder builds the seq2seq encoder stack on in.Src with the prepared encoder mask
// and returns its output [B,S,DModel].
func encoder(scope *model.Scope, cfg Config, in Inputs, encMask *Mask, B, S int, res *Result, wantWeights bool) (*graph.Node, error) {
	var err error
	g := in.Src.Graph()
	srcPos := graph.BroadcastToDims(graph.Iota(g, shapes.Make(dtypes.Int32, 1, S), 1), B, S)
	x, _ := embedding(scope.In("src_embedding"), in.Src, cfg.SrcVocab, cfg.DModel)
	x = addPositions(scope.In("src_positions"), cfg, x, srcPos, nil)
	x = dropout(scope.In("src_dropout"), x, cfg.Dropout, in.Training)
	es := scope.In("encoder")
	for l := range cfg.EncLayers {
		ls := es.In("layer_%d", l)
		var w *graph.Node
		x, w, err = sublayerAttention(ls, "self", cfg, in.Training, x, nil, encMask, nil, nil, srcPos, srcPos, nil, wantWeights)
		if err != nil {
			return nil, err
		}
		addWeights(res, wantWeights, "encoder", l, w)
		x = sublayerFFN(ls, cfg, in.Training, x)
	}
	return layerNorm(es.In("final_norm"), x, cfg.LayerNormEps), nil
}

// Encode builds the encoder of a seq2seq model alone (in.Src, in.SrcLen, in.Training)
// and returns its output [B,S,DModel], for Inputs.Memory.
func Encode(scope *model.Scope, cfg Config, in Inputs) (mem *graph.Node, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if cfg.Kind != KindSeq2Seq {
		return nil, fmt.Errorf("layers: Encode needs a seq2seq model, got kind %q", cfg.Kind)
	}
	if in.Src == nil || in.Src.Rank() != 2 || !in.Src.DType().IsInt() {
		return nil, fmt.Errorf("layers: Encode needs Inputs.Src integer ids [B,S], got %v", shapeOf(in.Src))
	}
	VariablesAsParameters(in.Src.Graph())
	B, S := in.Src.Shape().Dim(0), in.Src.Shape().Dim(1)
	if in.SrcLen == nil {
		in.SrcLen = graph.BroadcastToDims(graph.Scalar(in.Src.Graph(), dtypes.Int32, S), B)
	}
	if err := checkVec(in.SrcLen, "SrcLen", B); err != nil {
		return nil, err
	}
	if cfg.Positions == PosLearned && S > cfg.MaxLen {
		return nil, fmt.Errorf("layers: source length %d exceeds max_len %d of learned positions", S, cfg.MaxLen)
	}
	defer func() {
		if r := recover(); r != nil {
			mem, err = nil, fmt.Errorf("layers: building %s encoder: %v", cfg.Kind, r)
		}
	}()
	encMask, err := buildMask(scope, cfg.Enc, B, cfg.Heads, S, S,
		mask.Side{QueryLen: in.SrcLen, KeyLen: in.SrcLen, Training: in.Training}, "encoder")
	if err != nil {
		return nil, err
	}
	return encoder(scope, cfg, in, encMask, B, S, nil, false)
}

// atPositions returns y [B,T,D] at position at[b] of each row b, as [B,1,D]; y itself
// when at is nil.
func atPositions(y, at *graph.Node) *graph.Node {
	if at == nil {
		return y
	}
	g := y.Graph()
	B, D := y.Shape().Dim(0), y.Shape().Dim(2)
	rows := graph.Iota(g, shapes.Make(dtypes.Int32, B, 1), 0)
	pos := graph.Reshape(graph.ConvertDType(at, dtypes.Int32), B, 1)
	return graph.Reshape(graph.Gather(y, graph.Concatenate([]*graph.Node{rows, pos}, -1)), B, 1, D)
}

// addWeights appends a layer's attention weights w to res when they were asked for (res
// may be nil when they were not).
func addWeights(res *Result, want bool, block string, layer int, w *graph.Node) {
	if want && w != nil {
		res.Attention = append(res.Attention, AttentionWeights{Block: block, Layer: layer, Weights: w})
	}
}

// sublayerAttention is one residual attention block, pre-LN (x + Attn(LN(x))) or
// post-LN (LN(x + Attn(x))). memory nil means self-attention; score (nil: none) is the
// prepared score modification; cache (nil: none) the layer's key/value cache; sp (nil:
// none) the block-sparse mask.
func sublayerAttention(scope *model.Scope, name string, cfg Config, training bool, x, memory *graph.Node,
	m *Mask, sp *SparseMask, score func(*graph.Node) *graph.Node, qPos, kPos *graph.Node, cache *layerKV, wantWeights bool) (*graph.Node, *graph.Node, error) {
	s := scope.In("%s", name)
	h := x
	if !cfg.PostLN {
		h = layerNorm(s.In("norm"), x, cfg.LayerNormEps)
	}
	kv := h
	if memory != nil {
		kv = memory
	}
	b := MultiHeadAttention(s, h, kv, kv, cfg.Heads, cfg.DModel/cfg.Heads).
		WithMask(m).WithSparse(sp).WithScore(score).WithDropout(cfg.Dropout, training).withCache(cache)
	if memory == nil && cfg.FusedQKV {
		b = b.WithFusedQKV(true)
	}
	if memory == nil && cfg.Positions == PosRotary {
		b = b.WithRotary(qPos, kPos, cfg.RotaryBase)
	}
	var out, w *graph.Node
	var err error
	out, w, err = b.build(wantWeights)
	if err != nil {
		return nil, nil, err
	}
	out = dropout(s.In("dropout"), out, cfg.Dropout, training)
	x = graph.Add(x, out)
	if cfg.PostLN {
		x = layerNorm(s.In("norm"), x, cfg.LayerNormEps)
	}
	return x, w, nil
}

// sublayerFFN is the residual feed-forward block: Linear(d, ff) -> ReLU -> Linear(ff, d).
func sublayerFFN(scope *model.Scope, cfg Config, training bool, x *graph.Node) *graph.Node {
	s := scope.In("ffn")
	h := x
	if !cfg.PostLN {
		h = layerNorm(s.In("norm"), x, cfg.LayerNormEps)
	}
	h = relu(dense(s.In("hidden"), h, cfg.FF, true))
	h = dropout(s.In("hidden_dropout"), h, cfg.Dropout, training)
	h = dense(s.In("output"), h, cfg.DModel, true)
	h = dropout(s.In("dropout"), h, cfg.Dropout, training)
	x = graph.Add(x, h)
	if cfg.PostLN {
		x = layerNorm(s.In("norm"), x, cfg.LayerNormEps)
	}
	return x
}

// addPositions adds sinusoidal or learned position vectors to x [B,L,d] (rotary
// positions are applied inside attention instead; none adds nothing). explicit is the caller's
// positions node, nil when positions are 0..L-1 (then a slice of the table is used).
func addPositions(scope *model.Scope, cfg Config, x, pos, explicit *graph.Node) *graph.Node {
	g := x.Graph()
	L, d := x.Shape().Dim(1), x.Shape().Dim(2)
	var table *graph.Node
	switch cfg.Positions {
	case PosRotary, PosNone:
		return x
	case PosLearned:
		table = scope.WithInitializer(normalInit(scope, 1)).
			VariableWithShape("embeddings", shapes.Make(floatDType, cfg.MaxLen, d)).NodeValue(g)
	default:
		table = graph.Const(g, SinusoidalTable(max(cfg.MaxLen, L), d))
	}
	if explicit == nil {
		p := graph.Slice(table, graph.AxisRange(0, L), graph.AxisRange())
		return graph.Add(x, graph.InsertAxes(p, 0))
	}
	// Clamp so that a position beyond the table cannot index out of range.
	p := graph.Clamp(graph.Scalar(g, dtypes.Int32, 0), graph.ConvertDType(pos, dtypes.Int32),
		graph.Scalar(g, dtypes.Int32, table.Shape().Dim(0)-1))
	return graph.Add(x, graph.Gather(table, graph.InsertAxes(p, -1)))
}

// SinusoidalTable returns the fixed position table [n][d] of "Attention Is All You
// Need", computed in float64 like the PyTorch reference: PE[p, 2i] = sin(p /
// 10000^(2i/d)), PE[p, 2i+1] = cos(p / 10000^(2i/d)).
func SinusoidalTable(n, d int) [][]float32 {
	t := make([][]float32, n)
	for p := range n {
		row := make([]float32, d)
		for i := 0; i < d; i += 2 {
			div := math.Exp(float64(i) * (-math.Log(10000.0) / float64(d)))
			row[i] = float32(math.Sin(float64(p) * div))
			if i+1 < d {
				row[i+1] = float32(math.Cos(float64(p) * div))
			}
		}
		t[p] = row
	}
	return t
}

// reluSelect selects relu's formulation (the benchmarks compare both).
var reluSelect = true

// relu is max(x, 0) written as a select, whose gradient is one select (GoMLX's Max
// gradient builds sign indicators and a reduction).
func relu(x *graph.Node) *graph.Node {
	if !reluSelect {
		return graph.Max(x, graph.ZerosLike(x))
	}
	zeros := graph.ZerosLike(x)
	return graph.Where(graph.GreaterThan(x, zeros), x, zeros)
}
