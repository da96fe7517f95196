package layers

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/layers/internal/fast"
	"github.com/masklab/masklab/pkg/mask"
)

// Block families accepted by Arch.Family.
const (
	// FamilyLlama is the Llama family's block (Llama, Qwen2, Qwen3, Mistral): pre-norm
	// RMSNorm, rotary positions, grouped-query attention, a SwiGLU MLP, no biases unless
	// asked, a final RMSNorm and an output projection without bias.
	FamilyLlama = "llama"
	// FamilyGPT2 is GPT-2's block: pre-norm LayerNorm with offsets, learned positions, a
	// fused query/key/value projection, a GELU MLP, biases everywhere, a final LayerNorm
	// and the output tied to the token embeddings.
	FamilyGPT2 = "gpt2"
)

// Activations accepted by Arch.Activation.
const (
	ActSiLU     = "silu"      // x·sigmoid(x), Llama's SwiGLU gate (Hugging Face "silu")
	ActGELUTanh = "gelu_tanh" // GPT-2's tanh approximation (Hugging Face "gelu_new", "gelu_pytorch_tanh")
	ActGELU     = "gelu"      // the exact, erf-based GELU
	ActReLU     = "relu"
)

// Arch makes Config describe a pretrained decoder-only LM of a known family (see
// Config.Arch) instead of masklab's own blocks. Config keeps its meaning for the rest:
// Vocab, DModel (hidden_size), Heads, FF (intermediate_size), DecLayers, Tied,
// LayerNormEps (RMSNorm's or LayerNorm's epsilon), RotaryBase (rope_theta), MaxLen
// (GPT-2's learned positions), Dropout, Self (the attention mask: every masklab mask
// applies) and Score. Positions must be "rotary" for the Llama family, "learned" for GPT-2.
//
// Variables keep masklab's names (pkg/hf maps Hugging Face's tensor names onto them):
//
//	embedding/embeddings [V,D]                          token embeddings
//	tgt_positions/embeddings [MaxLen,D]                 GPT-2's learned positions
//	decoder/layer_L/self/norm/{rms,layer}_normalization  pre-attention norm
//	decoder/layer_L/self/MultiHeadAttention/{query,key,value,output}/dense/{weights,biases}
//	    .../qkv/{weights_qkv,biases_q,biases_k,biases_v} (GPT-2's fused projection)
//	    .../{query,key}_norm/rms_normalization/gain      Qwen3's per-head norms
//	decoder/layer_L/ffn/norm/...                         pre-MLP norm
//	decoder/layer_L/ffn/{gate,up,down}/dense/...         SwiGLU MLP (llama)
//	decoder/layer_L/ffn/{hidden,output}/dense/...        GELU MLP (gpt2)
//	decoder/final_norm/...                               final norm
//	output/dense/weights [D,V]                           untied output projection (no bias)
//
// Dense weights are [in, out] (Hugging Face's Linear stores [out, in]).
type Arch struct {
	Family     string // FamilyLlama or FamilyGPT2
	KVHeads    int    // key/value heads (grouped-query attention); 0 means Heads
	HeadDim    int    // width of one head; 0 means DModel/Heads
	Activation string // MLP activation; "" means silu (llama) or gelu_tanh (gpt2)

	QKVBias bool // llama: biases on the query, key and value projections (Qwen2; Llama's attention_bias)
	OutBias bool // llama: a bias on the attention output projection (Llama's attention_bias)
	MLPBias bool // llama: biases in the MLP (Llama's mlp_bias)
	QKNorm  bool // llama: RMSNorm over each head's queries and keys before RoPE (Qwen3)

	Rope RopeScaling // llama: the RoPE frequency scaling (none, linear, llama3)

	// Window > 0 restricts the layers Sliding marks (all of them when Sliding is nil) to
	// a sliding window: a query sees itself and the Window-1 keys before it (Hugging
	// Face's sliding_window, as transformers' masking_utils applies it: key > query -
	// window). It is Self & window(Window-1) in masklab's mask algebra, so a packed row
	// with "causal & doc" keeps it within each document.
	Window  int
	Sliding []bool
}

// headDim returns the width of one attention head.
func (c Config) headDim() int {
	if c.Arch != nil && c.Arch.HeadDim > 0 {
		return c.Arch.HeadDim
	}
	if c.Heads == 0 {
		return 0
	}
	return c.DModel / c.Heads
}

// activation returns the MLP activation's name.
func (a *Arch) activation() string {
	switch {
	case a.Activation != "":
		return a.Activation
	case a.Family == FamilyGPT2:
		return ActGELUTanh
	}
	return ActSiLU
}

// SlidingLayer reports whether layer l uses the sliding window.
func (a *Arch) SlidingLayer(l int) bool {
	return a.Window > 0 && (a.Sliding == nil || (l < len(a.Sliding) && a.Sliding[l]))
}

// validateArch is Validate for a Config with an Arch (after defaults).
func (c Config) validateArch() error {
	a := c.Arch
	switch {
	case c.Kind != KindDecoder:
		return fmt.Errorf("layers: a %s block builds a decoder-only model (kind %q), got kind %q", a.Family, KindDecoder, c.Kind)
	case c.Vocab < 2:
		return fmt.Errorf("layers: vocab must be >= 2, got %d", c.Vocab)
	case c.DModel <= 0 || c.Heads <= 0 || c.FF <= 0 || c.DecLayers < 1:
		return fmt.Errorf("layers: d_model, heads, ff and decoder layers must be > 0, got %d, %d, %d, %d", c.DModel, c.Heads, c.FF, c.DecLayers)
	case a.HeadDim < 0 || (a.HeadDim == 0 && c.DModel%c.Heads != 0):
		return fmt.Errorf("layers: head dimension %d: set it, or make d_model %d a multiple of heads %d", a.HeadDim, c.DModel, c.Heads)
	case a.KVHeads < 0 || (a.KVHeads > 0 && c.Heads%a.KVHeads != 0):
		return fmt.Errorf("layers: heads %d must be a multiple of key/value heads %d", c.Heads, a.KVHeads)
	case c.PostLN:
		return fmt.Errorf("layers: a %s block is pre-norm; post-LN is not one of its options", a.Family)
	case c.Dropout < 0 || c.Dropout >= 1:
		return fmt.Errorf("layers: dropout must be in [0, 1), got %g", c.Dropout)
	case a.Window < 0:
		return fmt.Errorf("layers: sliding window must be >= 0, got %d", a.Window)
	case a.Sliding != nil && len(a.Sliding) != c.DecLayers:
		return fmt.Errorf("layers: sliding-window layers list %d entries for %d layers", len(a.Sliding), c.DecLayers)
	case c.LayerNormEps < 0:
		return fmt.Errorf("layers: norm epsilon must be >= 0, got %g", c.LayerNormEps)
	}
	switch a.activation() {
	case ActSiLU, ActGELUTanh, ActGELU, ActReLU:
	default:
		return fmt.Errorf("layers: activation must be one of %s, %s, %s, %s; got %q", ActSiLU, ActGELUTanh, ActGELU, ActReLU, a.Activation)
	}
	switch a.Family {
	case FamilyLlama:
		if c.Positions != PosRotary {
			return fmt.Errorf("layers: a llama block takes rotary positions, got positions %q", c.Positions)
		}
		if c.headDim()%2 != 0 {
			return fmt.Errorf("layers: rotary positions need an even head dimension, got %d", c.headDim())
		}
		return a.Rope.Validate()
	case FamilyGPT2:
		switch {
		case c.Positions != PosLearned:
			return fmt.Errorf("layers: a gpt2 block takes learned positions, got positions %q", c.Positions)
		case a.KVHeads != 0 && a.KVHeads != c.Heads, a.HeadDim != 0 && a.HeadDim*c.Heads != c.DModel:
			return fmt.Errorf("layers: a gpt2 block has heads*head_dim = d_model and no grouped-query attention")
		case !c.Tied:
			return fmt.Errorf("layers: a gpt2 block ties the output projection to the token embeddings (tied)")
		case a.QKNorm || a.Rope.Type != "" || a.Window > 0:
			return fmt.Errorf("layers: q/k norms, RoPE scaling and sliding windows are llama-family options, not gpt2's")
		case c.MaxLen < 1:
			return fmt.Errorf("layers: max_len must be >= 1, got %d", c.MaxLen)
		}
		return nil
	}
	return fmt.Errorf("layers: block family must be %q or %q; got %q", FamilyLlama, FamilyGPT2, a.Family)
}

// archModel builds the decoder-only LM that cfg.Arch describes.
func archModel(scope *model.Scope, cfg Config, in Inputs, wantWeights bool) (*Result, error) {
	a := cfg.Arch
	B, _, T, err := in.normalize(cfg)
	if err != nil {
		return nil, err
	}
	H := cfg.Heads
	res := &Result{}
	loraDone, err := withLoRA(scope, cfg, in.Dec.Graph(), in.Training)
	if err != nil {
		return nil, err
	}
	defer loraDone()

	// Masks: built once, shared by the layers (full-attention and sliding-window ones).
	pos, side, fullMask, fullSparse, err := decoderSelf(scope, cfg, in, B, H, T, wantWeights)
	if err != nil {
		return nil, err
	}
	var slidingMask *Mask
	for l := range cfg.DecLayers {
		if a.SlidingLayer(l) {
			slidingMask, err = decMask(scope, mask.And(cfg.Self, mask.Window(a.Window-1)), in, B, H, T, T, true, side, "self (sliding window)")
			if err != nil {
				return nil, err
			}
			break
		}
	}
	score, err := buildScore(scope, cfg.Score, B, H, T, T, side)
	if err != nil {
		return nil, err
	}

	var invFreq []float64
	if a.Family == FamilyLlama {
		invFreq = a.Rope.InvFreq(cfg.RotaryBase, cfg.headDim())
	}
	norm := func(s *model.Scope, x *graph.Node) *graph.Node {
		if a.Family == FamilyGPT2 {
			return layerNorm(s, x, cfg.LayerNormEps)
		}
		return rmsNorm(s, x, cfg.LayerNormEps)
	}

	y, table := embedding(scope.In("embedding"), in.Dec, cfg.Vocab, cfg.DModel)
	if in.Drop != nil {
		y = graph.Where(graph.BroadcastToShape(graph.InsertAxes(in.Drop, -1), y.Shape()), graph.ZerosLike(y), y)
	}
	if a.Family == FamilyGPT2 {
		y = addPositions(scope.In("tgt_positions"), cfg, y, pos, pos)
	}
	y = dropout(scope.In("tgt_dropout"), y, cfg.Dropout, in.Training)
	ds := scope.In("decoder")
	for l := range cfg.DecLayers {
		ls := ds.In("layer_%d", l)
		m, sp := fullMask, fullSparse
		if a.SlidingLayer(l) {
			m, sp = slidingMask, nil
		}
		// Attention block: x + Attn(Norm(x)).
		s := ls.In("self")
		h := norm(s.In("norm"), y)
		b := MultiHeadAttention(s, h, h, h, H, cfg.headDim()).WithOutputDim(cfg.DModel).
			WithMask(m).WithSparse(sp).WithScore(score).WithDropout(cfg.Dropout, in.Training).withCache(in.Cache.layer(false, l))
		if a.Family == FamilyGPT2 {
			b = b.WithFusedQKV(true)
		} else {
			b = b.WithKVHeads(a.KVHeads).WithProjectionBias(a.QKVBias, a.OutBias).WithRotaryFreqs(pos, pos, invFreq)
			if a.QKNorm {
				b = b.WithHeadNorm(cfg.LayerNormEps)
			}
		}
		var out, w *graph.Node
		out, w, err = b.build(wantWeights)
		if err != nil {
			return nil, err
		}
		addWeights(res, wantWeights, "self", l, w)
		y = graph.Add(y, dropout(s.In("dropout"), out, cfg.Dropout, in.Training))

		// MLP block: x + MLP(Norm(x)).
		f := ls.In("ffn")
		h = norm(f.In("norm"), y)
		if a.Family == FamilyGPT2 {
			h = activate(a.activation(), dense(f.In("hidden"), h, cfg.FF, true))
			h = dropout(f.In("hidden_dropout"), h, cfg.Dropout, in.Training)
			h = dense(f.In("output"), h, cfg.DModel, true)
		} else {
			gate := activate(a.activation(), dense(f.In("gate"), h, cfg.FF, a.MLPBias))
			h = graph.Mul(gate, dense(f.In("up"), h, cfg.FF, a.MLPBias))
			h = dropout(f.In("hidden_dropout"), h, cfg.Dropout, in.Training)
			h = dense(f.In("down"), h, cfg.DModel, a.MLPBias)
		}
		y = graph.Add(y, dropout(f.In("dropout"), h, cfg.Dropout, in.Training))
	}
	y = norm(ds.In("final_norm"), y)
	y = atPositions(y, in.LogitsAt)
	if cfg.Tied {
		res.Logits = fast.LinearT(y, table, nil)
	} else {
		res.Logits = dense(scope.In("output"), y, cfg.Vocab, false)
	}
	return res, nil
}

// activate applies the named activation.
func activate(name string, x *graph.Node) *graph.Node {
	switch name {
	case ActGELUTanh:
		// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
		inner := graph.MulScalar(graph.Add(x, graph.MulScalar(graph.Mul(x, graph.Square(x)), 0.044715)), math.Sqrt(2/math.Pi))
		return graph.Mul(graph.MulScalar(x, 0.5), graph.AddScalar(graph.Tanh(inner), 1))
	case ActGELU:
		return graph.Mul(graph.MulScalar(x, 0.5), graph.AddScalar(graph.Erf(graph.MulScalar(x, 1/math.Sqrt2)), 1))
	case ActReLU:
		return relu(x)
	}
	return graph.Mul(x, graph.Sigmoid(x))
}

// archFootprint is Footprint for an Arch model: its parameters exactly, its activations
// and arithmetic as Footprint counts them for masklab's blocks, with the widths of
// grouped-query attention and of the SwiGLU MLP's three matrices.
func (c Config) archFootprint(batch, tgtLen int) Footprint {
	a := c.Arch
	B, T := int64(batch), int64(tgtLen)
	D, F, V := int64(c.DModel), int64(c.FF), int64(c.Vocab)
	H, dh := int64(c.Heads), int64(c.headDim())
	KV := int64(c.Heads)
	if a.KVHeads > 0 {
		KV = int64(a.KVHeads)
	}
	var f Footprint
	var fwd float64
	matmul := func(rows, in, out int64) { fwd += 2 * float64(rows) * float64(in) * float64(out) }
	b := func(on bool, n int64) int64 {
		if on {
			return n
		}
		return 0
	}
	gpt2 := a.Family == FamilyGPT2
	norm := D // RMSNorm's gain; LayerNorm adds an offset
	if gpt2 {
		norm = 2 * D
	}
	f.Params = V * D
	if gpt2 {
		f.Params += int64(c.MaxLen) * D
	}
	qkv := (H + 2*KV) * dh
	for range c.DecLayers {
		f.Params += 2*norm + D*qkv + b(a.QKVBias || gpt2, qkv) + H*dh*D + b(a.OutBias || gpt2, D) + b(a.QKNorm, 2*dh)
		if gpt2 {
			f.Params += 2*D*F + F + D
			matmul(B*T, D, 2*F)
		} else {
			f.Params += 3*D*F + b(a.MLPBias, 2*F+D)
			matmul(B*T, D, 3*F)
		}
		f.Activations += B*T*(qkv+2*D) + 4*B*H*T*T + B*T*(3*F+4*D)
		matmul(B*T, D, qkv+H*dh)
		fwd += 4 * float64(B*T) * float64(T) * float64(H*dh)
	}
	f.Params += norm
	if !c.Tied {
		f.Params += D * V
	}
	f.Activations += B*T*D*2 + 4*B*T*V
	matmul(B*T, D, V)
	f.FLOPs = 3 * fwd
	if targets, err := c.LoRATargets(); err == nil && c.LoRA != nil {
		f.Frozen, f.Params = f.Params, 0
		for _, m := range targets {
			f.Params += int64(c.LoRA.Rank) * int64(m.In+m.Out)
		}
	}
	return f
}
