package layers

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// attentionOptions are the AttentionBuilder options that pretrained decoders need
// (arch.go): grouped-query attention, projections without biases, per-head q/k norms and
// scaled RoPE frequencies. The zero value is masklab's own attention: as many key/value
// heads as query heads, biases everywhere, no head norms, RoPE frequencies from the base.
type attentionOptions struct {
	kvHeads   int       // key/value heads; 0 means heads
	noQKVBias bool      // no biases on the query, key and value projections
	noOutBias bool      // no bias on the output projection
	headNorm  bool      // RMSNorm over each head's queries and keys, before RoPE
	normEps   float64   // its epsilon
	invFreq   []float64 // RoPE inverse frequencies (len headDim/2); nil: from the base
	cache     *layerKV  // decoding: the layer's key/value cache (kvcache.go); nil: none
}

// WithKVHeads sets the number of key/value heads for grouped-query attention (GQA;
// multi-query attention with 1): the key and value projections are kvHeads*headDim wide
// and query head h attends with key/value head h / (heads/kvHeads), as Hugging Face's
// repeat_kv. heads must be a multiple of kvHeads; 0 means heads (multi-head attention).
func (b *AttentionBuilder) WithKVHeads(kvHeads int) *AttentionBuilder {
	b.ext.kvHeads = kvHeads
	if b.err == nil && kvHeads != 0 && (kvHeads < 0 || b.heads%kvHeads != 0) {
		b.err = fmt.Errorf("layers: attention heads %d are not a multiple of key/value heads %d", b.heads, kvHeads)
	}
	return b
}

// WithProjectionBias chooses whether the query, key and value projections (qkv) and the
// output projection (out) have biases: both by default; Llama has none, Qwen2 only qkv.
func (b *AttentionBuilder) WithProjectionBias(qkv, out bool) *AttentionBuilder {
	b.ext.noQKVBias, b.ext.noOutBias = !qkv, !out
	return b
}

// WithHeadNorm applies an RMSNorm with a learned gain over each head's queries and keys
// (variables query_norm and key_norm, [headDim] each) before the rotary embedding, as
// Qwen3's q_norm and k_norm.
func (b *AttentionBuilder) WithHeadNorm(eps float64) *AttentionBuilder {
	b.ext.headNorm, b.ext.normEps = true, eps
	return b
}

// WithRotaryFreqs applies rotary position embeddings like WithRotary, with the given
// inverse frequencies (headDim/2 of them; RopeScaling.InvFreq computes scaled ones)
// instead of base^(-2i/headDim).
func (b *AttentionBuilder) WithRotaryFreqs(qPos, kPos *graph.Node, invFreq []float64) *AttentionBuilder {
	b.WithRotary(qPos, kPos, 0)
	b.ext.invFreq = invFreq
	if b.err == nil && len(invFreq) != b.headDim/2 {
		b.err = fmt.Errorf("layers: rotary positions need %d inverse frequencies (head dimension %d), got %d", b.headDim/2, b.headDim, len(invFreq))
	}
	return b
}

// kvHeads returns the number of key/value heads.
func (b *AttentionBuilder) kvHeads() int {
	if b.ext.kvHeads > 0 {
		return b.ext.kvHeads
	}
	return b.heads
}

// optionsError reports the options that cannot go together.
func (b *AttentionBuilder) optionsError() error {
	if b.fusedQKV && (b.kvHeads() != b.heads || b.ext.noQKVBias) {
		return fmt.Errorf("layers: a fused QKV projection has as many key/value heads as query heads and biases")
	}
	return nil
}

// positionHeads applies the head norms and the rotary embedding to the queries and keys
// [B,L,H|Hkv,dh], and repeats the key/value heads of grouped-query attention.
// With a key/value cache, the new keys and values go through it (kvcache.go); keys the
// cache already holds (a cross-attention's projected memory) are used as they are.
func (b *AttentionBuilder) positionHeads(scope *model.Scope, q, k, v *graph.Node) (*graph.Node, *graph.Node, *graph.Node) {
	_, _, cached := b.ext.cache.fixed()
	if b.ext.headNorm {
		q = rmsNorm(scope.In("query_norm"), q, b.ext.normEps)
		if !cached {
			k = rmsNorm(scope.In("key_norm"), k, b.ext.normEps)
		}
	}
	if b.qPos != nil {
		freqs := b.ext.invFreq
		if freqs == nil {
			freqs = RopeScaling{}.InvFreq(b.rotaryBase, b.headDim)
		}
		q = rotaryFreqs(q, b.qPos, freqs)
		if !cached {
			k = rotaryFreqs(k, b.kPos, freqs)
		}
	}
	k, v = b.ext.cache.update(k, v)
	if b.ext.cache.grouped(b, false) {
		return q, k, v // attendGrouped groups the query heads instead
	}
	return q, repeatHeads(k, b.heads), repeatHeads(v, b.heads)
}

// repeatHeads repeats each of the Hkv heads of x [B,L,Hkv,dh] heads/Hkv times in a row:
// [B,L,heads,dh] (Hugging Face's repeat_kv, in masklab's [B,L,H,dh] layout).
func repeatHeads(x *graph.Node, heads int) *graph.Node {
	B, L, Hkv, dh := x.Shape().Dim(0), x.Shape().Dim(1), x.Shape().Dim(2), x.Shape().Dim(3)
	if Hkv == heads {
		return x
	}
	x = graph.BroadcastToDims(graph.InsertAxes(x, 3), B, L, Hkv, heads/Hkv, dh)
	return graph.Reshape(x, B, L, heads, dh)
}

// rotaryFreqs rotates x [B,L,H,dh] by its positions pos [B,L] with the given inverse
// frequencies (half-split RoPE: the first half of each head pairs with the second half,
// Hugging Face's rotate_half). The angles are float32 position × float32 frequency, as
// in Hugging Face's float32 computation.
func rotaryFreqs(x, pos *graph.Node, invFreq []float64) *graph.Node {
	g := x.Graph()
	B, L, dh := x.Shape().Dim(0), x.Shape().Dim(1), x.Shape().Dim(3)
	half := dh / 2
	freqs := make([]float32, half)
	for i, f := range invFreq {
		freqs[i] = float32(f)
	}
	p := graph.Reshape(graph.ConvertDType(pos, x.DType()), B, L, 1, 1)
	angle := graph.Mul(p, graph.Reshape(graph.ConvertDType(graph.Const(g, freqs), x.DType()), 1, 1, 1, half)) // [B,L,1,half]
	cos, sin := graph.Cos(angle), graph.Sin(angle)
	x1 := graph.Slice(x, graph.AxisRange(), graph.AxisRange(), graph.AxisRange(), graph.AxisRange(0, half))
	x2 := graph.Slice(x, graph.AxisRange(), graph.AxisRange(), graph.AxisRange(), graph.AxisRange(half, dh))
	return graph.Concatenate([]*graph.Node{
		graph.Sub(graph.Mul(x1, cos), graph.Mul(x2, sin)),
		graph.Add(graph.Mul(x1, sin), graph.Mul(x2, cos)),
	}, 3)
}

// RopeScaling is a rule that rescales RoPE's frequencies for longer contexts, as
// Hugging Face's rope_scaling: none (Type ""), "linear" (positions divided by Factor)
// or "llama3" (Llama 3.1's: long wavelengths divided by Factor, short ones kept, a
// smooth blend between).
type RopeScaling struct {
	Type                 string  // "" (none), "linear" or "llama3"
	Factor               float64 // linear, llama3: the context extension factor (> 0)
	LowFreqFactor        float64 // llama3: wavelengths above OriginalMaxPositions/LowFreqFactor are divided by Factor
	HighFreqFactor       float64 // llama3: wavelengths below OriginalMaxPositions/HighFreqFactor are kept
	OriginalMaxPositions int     // llama3: the context length the model was trained with
}

// Rope scaling types.
const (
	RopeLinear = "linear"
	RopeLlama3 = "llama3"
)

// Validate reports a scaling rule that cannot be applied, naming the field.
func (r RopeScaling) Validate() error {
	switch r.Type {
	case "":
		return nil
	case RopeLinear, RopeLlama3:
		if !(r.Factor > 0) {
			return fmt.Errorf("layers: rope scaling %s needs factor > 0, got %g", r.Type, r.Factor)
		}
	default:
		return fmt.Errorf("layers: rope scaling must be none, %q or %q; got %q", RopeLinear, RopeLlama3, r.Type)
	}
	if r.Type == RopeLlama3 && (r.OriginalMaxPositions <= 0 || !(r.LowFreqFactor > 0) || !(r.HighFreqFactor > r.LowFreqFactor)) {
		return fmt.Errorf("layers: rope scaling llama3 needs original_max_position_embeddings > 0 and high_freq_factor > low_freq_factor > 0, got %d, %g, %g",
			r.OriginalMaxPositions, r.HighFreqFactor, r.LowFreqFactor)
	}
	return nil
}

// InvFreq returns RoPE's dim/2 inverse frequencies for base frequency base under the
// rule, computed in float64 (Hugging Face's _compute_default_rope_parameters,
// _compute_linear_scaling_rope_parameters and _compute_llama3_parameters).
func (r RopeScaling) InvFreq(base float64, dim int) []float64 {
	inv := make([]float64, dim/2)
	for i := range inv {
		inv[i] = math.Pow(base, -2*float64(i)/float64(dim))
	}
	switch r.Type {
	case RopeLinear:
		for i := range inv {
			inv[i] /= r.Factor
		}
	case RopeLlama3:
		old := float64(r.OriginalMaxPositions)
		lowWavelen, highWavelen := old/r.LowFreqFactor, old/r.HighFreqFactor
		for i, f := range inv {
			switch wavelen := 2 * math.Pi / f; {
			case wavelen < highWavelen: // high frequency: kept
			case wavelen > lowWavelen: // low frequency: interpolated
				inv[i] = f / r.Factor
			default: // between: a smooth blend
				smooth := (old/wavelen - r.LowFreqFactor) / (r.HighFreqFactor - r.LowFreqFactor)
				inv[i] = (1-smooth)*f/r.Factor + smooth*f
			}
		}
	}
	return inv
}

// rmsNorm is Llama's RMSNorm over the last axis, x / sqrt(mean(x²) + eps) · gain, with
// the variable scope/rms_normalization/gain (initialised to 1).
func rmsNorm(scope *model.Scope, x *graph.Node, eps float64) *graph.Node {
	scope = scope.In("rms_normalization")
	g := x.Graph()
	d := x.Shape().Dim(-1)
	gain := scope.WithInitializer(constInit(1)).VariableWithShape("gain", shapes.Make(x.DType(), d)).NodeValue(g)
	ms := graph.ReduceAndKeep(graph.Square(x), graph.ReduceMean, -1)
	y := graph.Div(x, graph.Sqrt(graph.AddScalar(ms, eps))) // (GoMLX has no gradient for Rsqrt)
	dims := make([]int, x.Rank())
	for i := range dims {
		dims[i] = 1
	}
	dims[len(dims)-1] = d
	return graph.Mul(y, graph.Reshape(gain, dims...))
}
