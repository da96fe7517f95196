package layers

import (
	"fmt"
	"math"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/attention"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/layers/internal/fast"
)

// forceCore makes the layers take the attention.Core path even on a backend without a
// fused attention op (GoMLX then runs Core's decomposed version): for the test that
// the Core path's mask, bias and empty-row handling give the same numbers.
var forceCore = false

// floatDType is the dtype of every model here.
const floatDType = dtypes.Float32

// maskedScore is the additive bias of a forbidden (query, key) pair. It is finite, so a
// fully masked row stays finite (and is zeroed afterwards); exp(score - max) of a
// forbidden entry underflows to exactly 0 whenever the row allows some key, so the
// result equals a true masked softmax bit for bit.
const maskedScore = -1e9

// Mask is a boolean attention mask prepared once per forward pass and shared by every
// layer and head that uses it: Allowed is bool [B,1|H,Q,K] (true = may attend), as
// returned by mask.Env.Build.
type Mask struct {
	Allowed  *graph.Node // bool [B,1|H,Q,K]
	bias     *graph.Node // float32 [B,1|H,Q,K]: 0 where allowed, maskedScore where not
	rowValid *graph.Node // float32 [B,1|H,Q,1]: 1 where the query row allows some key
	// heads caches forHeads's results by dtype and head count, so layers of the same
	// width share one broadcast.
	heads map[headsKey]*maskHeads
}

// maxHeadBroadcast bounds the elements of a bias that forHeads broadcasts over the heads
// (16 MB of float32): above it the [B,H,Q,K] copy would cost a score tensor's memory
// (268 MB for one 4,096-token row with 4 heads), and long rows take the block-sparse path
// where they can anyway.
const maxHeadBroadcast = 1 << 22

type headsKey struct {
	dt dtypes.DType
	h  int
}

type maskHeads struct {
	base                  *graph.Node // the bias in the dtype, before the broadcast
	bias, rowValid, biasT *graph.Node
}

// forHeads returns the mask's bias and row indicator for scores of dtype dt with h heads,
// broadcast over the heads once for every layer that asks ([B,h,Q,K], [B,h,Q,1]), and the
// bias's transpose [B,h,K,Q] on demand (fast.Bias.T). The Go backend adds a [B,1,Q,K]
// operand to [B,h,Q,K] scores through its generic broadcast, 4x slower than a same-shape
// addition (docs/performance.md, kernel table), and every layer did that twice a step.
func (m *Mask) forHeads(dt dtypes.DType, h int) (fast.Bias, *graph.Node) {
	d := m.bias.Shape().Dimensions
	if d[1] != 1 || h == 1 || d[0]*h*d[2]*d[3] > maxHeadBroadcast {
		bias, rowValid := m.inDType(dt)
		return fast.Bias{X: bias}, rowValid
	}
	key := headsKey{dt, h}
	c := m.heads[key]
	if c == nil {
		bias, rowValid := m.inDType(dt)
		c = &maskHeads{
			base:     bias,
			bias:     materialize(graph.BroadcastToDims(bias, d[0], h, d[2], d[3])),
			rowValid: materialize(graph.BroadcastToDims(rowValid, d[0], h, d[2], 1)),
		}
		if m.heads == nil {
			m.heads = map[headsKey]*maskHeads{}
		}
		m.heads[key] = c
	}
	t := func() *graph.Node {
		if c.biasT == nil {
			c.biasT = materialize(graph.BroadcastToDims(graph.TransposeAllAxes(c.base, 0, 1, 3, 2), d[0], h, d[3], d[2]))
		}
		return c.biasT
	}
	return fast.Bias{X: c.bias, T: t}, c.rowValid
}

// materialize keeps a broadcast a tensor of its own: the Go backend's
// ImplicitBroadcastFusion pass hands a BroadcastInDim's input straight to the binary
// operation that uses it, which turns forHeads's same-shape additions back into the slow
// broadcasting ones (compute v0.1.14, passes/implicitbroadcast.go). The barrier stops
// that pass and costs nothing at run time: it passes its owned input buffer through.
// Other backends (XLA) fuse the broadcast into the addition themselves, so there the
// broadcast is left as it is.
func materialize(x *graph.Node) *graph.Node {
	if !isGoBackend(x.Graph()) {
		return x
	}
	return graph.OptimizationBarrier(x)
}

// PrepareMask converts a bool mask [B,1|H,Q,K] into the additive bias and row
// indicator used by the attention layers. Build it once per forward pass.
func PrepareMask(allowed *graph.Node) (*Mask, error) {
	if allowed == nil {
		return nil, nil
	}
	if allowed.DType() != dtypes.Bool || allowed.Rank() != 4 {
		return nil, fmt.Errorf("layers: attention mask must be bool [B,1|H,Q,K], got %s", allowed.Shape())
	}
	g := allowed.Graph()
	zero := graph.ScalarZero(g, floatDType)
	neg := graph.Scalar(g, floatDType, maskedScore)
	bias := graph.Where(allowed, graph.BroadcastToShape(zero, shapes.Make(floatDType, allowed.Shape().Dimensions...)),
		graph.BroadcastToShape(neg, shapes.Make(floatDType, allowed.Shape().Dimensions...)))
	// 1 where the row allows some key: the count of allowed keys capped at 1 (the Go
	// backend sums rows in SIMD at ~9 ns a row; its row max costs ~280 ns a row).
	rowValid := graph.MinScalar(graph.ReduceAndKeep(graph.ConvertDType(allowed, floatDType), graph.ReduceSum, -1), 1)
	return &Mask{Allowed: allowed, bias: bias, rowValid: rowValid}, nil
}

// inDType returns the mask's additive bias and row indicator in dtype dt, the dtype of
// the attention scores: the float32 ones PrepareMask built, or ones built from Allowed
// for a model computing in float64, bfloat16 or float16. The bias of a forbidden pair is
// maskedScore, or the dtype's lowest finite value where maskedScore is out of its range
// (float16: -65504), so a fully masked row stays finite there too.
func (m *Mask) inDType(dt dtypes.DType) (bias, rowValid *graph.Node) {
	if dt == m.bias.DType() {
		return m.bias, m.rowValid
	}
	g := m.Allowed.Graph()
	dims := m.Allowed.Shape().Dimensions
	neg := graph.ConvertDType(graph.Scalar(g, dtypes.Float64, math.Max(maskedScore, -maxFinite(dt))), dt)
	bias = graph.Where(m.Allowed, graph.BroadcastToShape(graph.ScalarZero(g, dt), shapes.Make(dt, dims...)),
		graph.BroadcastToShape(neg, shapes.Make(dt, dims...)))
	return bias, graph.ConvertDType(m.rowValid, dt)
}

// maxFinite is the largest finite value of a float dtype.
func maxFinite(dt dtypes.DType) float64 {
	switch dt {
	case dtypes.Float16:
		return 65504
	case dtypes.BFloat16:
		return 3.3895313892515355e38
	case dtypes.Float32:
		return math.MaxFloat32
	}
	return math.MaxFloat64
}

// AttentionBuilder configures one multi-head attention layer; create it with
// MultiHeadAttention, chain the With* options and finish with Done or DoneWithWeights.
// Variables live under scope/MultiHeadAttention/{query,key,value,output}/dense (or
// .../qkv with WithFusedQKV), as in GoMLX's attention.MultiHeadAttention.
type AttentionBuilder struct {
	scope             *model.Scope
	query, key, value *graph.Node
	heads, headDim    int
	outputDim         int
	mask              *Mask
	sparse            *SparseMask // block-sparse form of the mask (sparse.go); used when it can be
	bias              *graph.Node
	score             func(scores *graph.Node) *graph.Node
	dropoutRate       float64
	training          bool
	qPos, kPos        *graph.Node
	rotaryBase        float64
	fusedQKV          bool
	fusion            bool
	ext               attentionOptions // GQA, projection biases, head norms, RoPE frequencies (attention_options.go)
	err               error
}

// MultiHeadAttention starts an attention layer: query [B,Q,Dq], key and value [B,K,Dk]
// (the same node for self-attention), heads heads of headDim each. The output has the
// query's width unless WithOutputDim says otherwise.
func MultiHeadAttention(scope *model.Scope, query, key, value *graph.Node, heads, headDim int) *AttentionBuilder {
	b := &AttentionBuilder{scope: scope, query: query, key: key, value: value, heads: heads, headDim: headDim, fusion: true}
	switch {
	case query == nil || key == nil || value == nil:
		b.err = fmt.Errorf("layers: attention needs query, key and value nodes")
	case query.Rank() != 3 || key.Rank() != 3 || value.Rank() != 3:
		b.err = fmt.Errorf("layers: attention wants rank-3 [B,L,D] inputs, got query %s, key %s, value %s",
			query.Shape(), key.Shape(), value.Shape())
	case key.Shape().Dim(0) != query.Shape().Dim(0) || key.Shape().Dim(1) != value.Shape().Dim(1) || key.Shape().Dim(0) != value.Shape().Dim(0):
		b.err = fmt.Errorf("layers: attention inputs disagree on batch or key length: query %s, key %s, value %s",
			query.Shape(), key.Shape(), value.Shape())
	case heads <= 0 || headDim <= 0:
		b.err = fmt.Errorf("layers: attention needs heads > 0 and headDim > 0, got %d and %d", heads, headDim)
	default:
		b.outputDim = query.Shape().Dim(-1)
		VariablesAsParameters(query.Graph())
	}
	return b
}

// WithMask sets the prepared boolean mask (see PrepareMask); nil means attend everywhere.
func (b *AttentionBuilder) WithMask(m *Mask) *AttentionBuilder {
	b.mask = m
	return b
}

// WithBoolMask prepares and sets a bool [B,1|H,Q,K] mask. Prefer PrepareMask + WithMask
// when several layers share the mask.
func (b *AttentionBuilder) WithBoolMask(allowed *graph.Node) *AttentionBuilder {
	m, err := PrepareMask(allowed)
	if err != nil && b.err == nil {
		b.err = err
	}
	b.mask = m
	return b
}

// WithBias adds a float additive bias broadcastable to [B,H,Q,K] to the scaled scores
// (ALiBi, relative positions). A masked pair gets maskedScore (-1e9) added as well, so
// a bias well below 1e9 in magnitude (any ALiBi or relative-position bias) never
// re-enables it; a bias near +1e9 would.
func (b *AttentionBuilder) WithBias(bias *graph.Node) *AttentionBuilder {
	b.bias = bias
	return b
}

// WithScore sets a score modification, prepared once per forward pass (by
// mask.Env.BuildScore, as the models do): a function of the scaled scores [B,H,Q,K] applied before the
// mask, so a pair the mask forbids stays forbidden whatever it returns. nil changes
// nothing. A layer with one always takes the explicit path (the fused kernel cannot
// apply a transform of the scores).
func (b *AttentionBuilder) WithScore(score func(scores *graph.Node) *graph.Node) *AttentionBuilder {
	b.score = score
	return b
}

// WithDropout applies dropout with the given rate to the attention weights when training.
func (b *AttentionBuilder) WithDropout(rate float64, training bool) *AttentionBuilder {
	b.dropoutRate, b.training = rate, training
	return b
}

// WithRotary applies rotary position embeddings (RoPE, half-split rotation) to queries
// and keys, with per-example positions qPos [B,Q] and kPos [B,K] (int) and base
// frequency base (10000 in the RoFormer paper).
func (b *AttentionBuilder) WithRotary(qPos, kPos *graph.Node, base float64) *AttentionBuilder {
	b.qPos, b.kPos, b.rotaryBase = qPos, kPos, base
	if b.headDim%2 != 0 && b.err == nil {
		b.err = fmt.Errorf("layers: rotary positions need an even head dimension, got %d", b.headDim)
	}
	return b
}

// WithFusedQKV projects query, key and value with one [D, 3*H*headDim] matmul
// (variables qkv/weights_qkv, qkv/biases_{q,k,v}, as GoMLX's UseQKVProjection). Only
// for self-attention (query, key and value the same node).
func (b *AttentionBuilder) WithFusedQKV(fused bool) *AttentionBuilder {
	b.fusedQKV = fused
	if fused && (b.query != b.key || b.key != b.value) && b.err == nil {
		b.err = fmt.Errorf("layers: fused QKV projection needs self-attention (query, key and value the same node)")
	}
	return b
}

// WithOutputDim sets the width of the output projection.
func (b *AttentionBuilder) WithOutputDim(d int) *AttentionBuilder {
	b.outputDim = d
	return b
}

// WithFusion allows (default) or forbids GoMLX's fused attention.Core path, used only
// when the backend has a fused scaled-dot-product-attention op (XLA), no weights are
// requested and no dropout is active. The pure-Go backend always takes the explicit
// path (see hasFusedAttention).
func (b *AttentionBuilder) WithFusion(enabled bool) *AttentionBuilder {
	b.fusion = enabled
	return b
}

// Done builds the layer and returns its output [B,Q,outputDim].
func (b *AttentionBuilder) Done() (*graph.Node, error) {
	out, _, err := b.build(false)
	return out, err
}

// DoneWithWeights builds the layer and also returns the attention weights [B,H,Q,K]
// (rows of forbidden-only queries are all zero).
func (b *AttentionBuilder) DoneWithWeights() (out, weights *graph.Node, err error) {
	return b.build(true)
}

// build reads project → rotary → attend → output.
func (b *AttentionBuilder) build(wantWeights bool) (out, weights *graph.Node, err error) {
	if b.err != nil {
		return nil, nil, b.err
	}
	defer func() {
		if r := recover(); r != nil {
			out, weights, err = nil, nil, fmt.Errorf("layers: attention in scope %q: %v", b.scope.Scope(), r)
		}
	}()
	if err := b.checkMask(); err != nil {
		return nil, nil, err
	}
	if err := b.checkSparse(wantWeights); err != nil {
		return nil, nil, err
	}
	scope := b.scope.In("MultiHeadAttention")
	if err := b.optionsError(); err != nil {
		return nil, nil, err
	}
	q, k, v := b.project(scope)
	q, k, v = b.positionHeads(scope, q, k, v)
	if b.ext.cache.grouped(b, wantWeights) { // decoding with grouped-query attention (kvcache.go)
		out = b.attendGrouped(scope, q, k, v)
	} else {
		out, weights = b.attend(scope, q, k, v, wantWeights)
	}
	out = dense(scope.In("output"), out, b.outputDim, !b.ext.noOutBias)
	return out, weights, nil
}

// checkMask checks that the mask fits [B,1|H,Q,K].
func (b *AttentionBuilder) checkMask() error {
	m := b.mask
	if m == nil {
		return nil
	}
	B, Q, K, H := b.query.Shape().Dim(0), b.query.Shape().Dim(1), b.ext.cache.keyLen(b.key.Shape().Dim(1)), b.heads
	d := m.Allowed.Shape().Dimensions
	if (d[0] != B && d[0] != 1) || (d[1] != 1 && d[1] != H) || d[2] != Q || d[3] != K {
		return fmt.Errorf("layers: attention mask %s does not fit [B=%d,1|H=%d,Q=%d,K=%d]", m.Allowed.Shape(), B, H, Q, K)
	}
	return nil
}

// project returns the queries, keys and values [B,L,H,dh].
func (b *AttentionBuilder) project(scope *model.Scope) (q, k, v *graph.Node) {
	B, Q, K := b.query.Shape().Dim(0), b.query.Shape().Dim(1), b.key.Shape().Dim(1)
	H, dh := b.heads, b.headDim
	if b.fusedQKV {
		q, k, v = fusedQKV(scope.In("qkv"), b.query, H*dh)
	} else {
		bias, Hkv := !b.ext.noQKVBias, b.kvHeads()
		q = dense(scope.In("query"), b.query, H*dh, bias)
		if k, v, ok := b.ext.cache.fixed(); ok { // cross-attention memory projected once (kvcache.go)
			return graph.Reshape(q, B, Q, H, dh), k, v
		}
		k = dense(scope.In("key"), b.key, Hkv*dh, bias)
		v = dense(scope.In("value"), b.value, Hkv*dh, bias)
	}
	return graph.Reshape(q, B, Q, H, dh), graph.Reshape(k, B, K, k.Shape().Dim(-1)/dh, dh), graph.Reshape(v, B, K, v.Shape().Dim(-1)/dh, dh)
}

// attend returns the attended values [B,Q,H*dh] and, on the explicit path, the weights
// [B,H,Q,K]. It takes XLA's fused kernel (attention.Core) when the backend has one worth
// taking (see hasFusedAttention) and nothing needs the weights or dropout; otherwise the
// explicit path of the fast package.
func (b *AttentionBuilder) attend(scope *model.Scope, q, k, v *graph.Node, wantWeights bool) (out, weights *graph.Node) {
	scale := 1 / math.Sqrt(float64(b.headDim))
	dropoutActive := b.training && b.dropoutRate > 0
	g := b.query.Graph()
	if b.useSparse(wantWeights) {
		return fast.AttendBlocks(q, k, v, scale, b.sparse.m, b.dropoutFn(scope)), nil
	}
	if b.fusion && !wantWeights && !dropoutActive && b.score == nil && (hasFusedAttention(g) || forceCore) {
		return b.attendFused(q, k, v, scale), nil
	}
	var biases []fast.Bias
	var rowValid *graph.Node
	if b.mask != nil {
		var bias fast.Bias
		bias, rowValid = b.mask.forHeads(q.DType(), q.Shape().Dim(2))
		biases = append(biases, bias)
	}
	biases = append(biases, fast.Bias{X: b.bias})
	return fast.Attend(q, k, v, scale, b.score, biases, rowValid, b.dropoutFn(scope))
}

// dropoutFn returns the dropout of the attention weights, nil when it is not active.
func (b *AttentionBuilder) dropoutFn(scope *model.Scope) func(*graph.Node) *graph.Node {
	if !b.training || b.dropoutRate <= 0 {
		return nil
	}
	return func(w *graph.Node) *graph.Node { return dropout(scope.In("dropout"), w, b.dropoutRate, true) }
}

// attendFused runs attention.Core (BSHD layout, bool mask [B,Q,1|H,K]); rows with no
// allowed key are zero, whatever the kernel gives.
func (b *AttentionBuilder) attendFused(q, k, v *graph.Node, scale float64) *graph.Node {
	g := q.Graph()
	B, Q, H, dh := q.Shape().Dim(0), q.Shape().Dim(1), q.Shape().Dim(2), q.Shape().Dim(3)
	opts := attention.CoreOptions{Scale: scale, AttentionBias: b.bias}
	if b.mask != nil {
		opts.AttentionMask = graph.TransposeAllAxes(b.mask.Allowed, 0, 2, 1, 3)
	}
	o, _ := attention.Core(q, k, v, attention.LayoutBSHD, opts)
	if b.mask != nil {
		valid := graph.TransposeAllAxes(b.mask.rowValid, 0, 2, 1, 3) // [B,Q,1|H,1]
		o = graph.Where(graph.BroadcastToShape(graph.GreaterThan(valid, graph.ScalarZero(g, valid.DType())), o.Shape()), o, graph.ZerosLike(o))
	}
	return graph.Reshape(o, B, Q, H*dh)
}

// fusedQKV projects x [B,L,D] to query, key and value [B,L,width] with one matmul.
func fusedQKV(scope *model.Scope, x *graph.Node, width int) (q, k, v *graph.Node) {
	g := x.Graph()
	in := x.Shape().Dim(-1)
	init := scope.WithInitializer(uniformInit(scope, 1/math.Sqrt(float64(in))))
	w := init.VariableWithShape("weights_qkv", shapes.Make(x.DType(), in, 3*width)).NodeValue(g)
	bq := init.VariableWithShape("biases_q", shapes.Make(x.DType(), width)).NodeValue(g)
	bk := init.VariableWithShape("biases_k", shapes.Make(x.DType(), width)).NodeValue(g)
	bv := init.VariableWithShape("biases_v", shapes.Make(x.DType(), width)).NodeValue(g)
	q, k, v = attention.QKVProjection(x, w, bq, bk, bv, width, width)
	if d := loraDelta(scope, x, 3*width); d != nil { // LoRA on GPT-2's c_attn
		parts := graph.Split(d, -1, 3)
		q, k, v = graph.Add(q, parts[0]), graph.Add(k, parts[1]), graph.Add(v, parts[2])
	}
	return q, k, v
}

// hasFusedAttention reports whether g's backend has a fused attention op worth taking
// for training: XLA's (cuDNN on CUDA). The pure-Go backend's fused op is not taken,
// because GoMLX differentiates it by recomputing the decomposed attention, which makes a
// training step slower than the explicit path (measured in docs/performance.md).
func hasFusedAttention(g *graph.Graph) bool {
	return !isGoBackend(g) && g.Backend().Capabilities().Operations[compute.OpTypeFusedScaledDotProductAttention]
}

// isGoBackend reports whether g runs on GoMLX's pure-Go backend, whose Name is
// "Go Backend" and whose String is the registered name "go".
func isGoBackend(g *graph.Graph) bool {
	b := g.Backend()
	return b.Name() == "go" || b.String() == "go"
}
