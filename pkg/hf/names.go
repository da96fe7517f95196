package hf

import (
	"fmt"
	"strings"
)

// Tensor is one tensor of a checkpoint: its Hugging Face name and shape, and the masklab
// variables (pkg/layers' names, see layers.Arch) that hold its values. The mapping is
// one to one but for GPT-2's fused c_attn.bias, which masklab keeps as three biases.
type Tensor struct {
	Name  string // Hugging Face name, e.g. "model.layers.0.self_attn.q_proj.weight"
	Shape []int  // its shape in the checkpoint

	// Vars are the masklab variable paths (under the model's scope) holding it. More than
	// one: the tensor is their concatenation along its last axis.
	Vars []string

	// Transpose: the tensor is [out, in] (torch.nn.Linear) and its variable [in, out]
	// (masklab's dense layers). GPT-2's Conv1D weights are [in, out] already.
	Transpose bool
}

// VarShape returns the shape of variable i of t.
func (t Tensor) VarShape(i int) []int {
	s := append([]int(nil), t.Shape...)
	if t.Transpose {
		s[0], s[1] = s[1], s[0]
	}
	s[len(s)-1] /= len(t.Vars)
	return s
}

// basePrefix returns the prefix of the base model's tensors ("model." for the Llama
// family, "transformer." for GPT-2): a checkpoint saved from the base model (GPT2Model,
// LlamaModel; the original gpt2 files) lacks it.
func (c *Config) basePrefix() string {
	if c.Family() == "gpt2" {
		return "transformer."
	}
	return "model."
}

// Tensors lists the checkpoint tensors the config's model has, in the order of the
// model's state_dict (the order save_pretrained shards them in), with the names and
// shapes a CausalLM's save_pretrained writes.
func (c *Config) Tensors() []Tensor {
	var ts []Tensor
	add := func(name string, shape []int, transpose bool, vars ...string) {
		ts = append(ts, Tensor{Name: name, Shape: shape, Vars: vars, Transpose: transpose})
	}
	D, V, I := c.Hidden, c.Vocab, c.Intermediate
	layer := func(l int) string { return fmt.Sprintf("/decoder/layer_%d", l) }
	attn := func(l int) string { return layer(l) + "/self/MultiHeadAttention" }
	if c.Family() == "gpt2" {
		p := "transformer."
		add(p+"wte.weight", []int{V, D}, false, "/embedding/embeddings")
		add(p+"wpe.weight", []int{c.MaxPositions, D}, false, "/tgt_positions/embeddings")
		for l := range c.Layers {
			h := fmt.Sprintf("%sh.%d.", p, l)
			ln := func(name, scope string) {
				add(h+name+".weight", []int{D}, false, layer(l)+scope+"/layer_normalization/gain")
				add(h+name+".bias", []int{D}, false, layer(l)+scope+"/layer_normalization/offset")
			}
			ln("ln_1", "/self/norm")
			add(h+"attn.c_attn.weight", []int{D, 3 * D}, false, attn(l)+"/qkv/weights_qkv")
			add(h+"attn.c_attn.bias", []int{3 * D}, false, attn(l)+"/qkv/biases_q", attn(l)+"/qkv/biases_k", attn(l)+"/qkv/biases_v")
			add(h+"attn.c_proj.weight", []int{D, D}, false, attn(l)+"/output/dense/weights")
			add(h+"attn.c_proj.bias", []int{D}, false, attn(l)+"/output/dense/biases")
			ln("ln_2", "/ffn/norm")
			add(h+"mlp.c_fc.weight", []int{D, I}, false, layer(l)+"/ffn/hidden/dense/weights")
			add(h+"mlp.c_fc.bias", []int{I}, false, layer(l)+"/ffn/hidden/dense/biases")
			add(h+"mlp.c_proj.weight", []int{I, D}, false, layer(l)+"/ffn/output/dense/weights")
			add(h+"mlp.c_proj.bias", []int{D}, false, layer(l)+"/ffn/output/dense/biases")
		}
		add(p+"ln_f.weight", []int{D}, false, "/decoder/final_norm/layer_normalization/gain")
		add(p+"ln_f.bias", []int{D}, false, "/decoder/final_norm/layer_normalization/offset")
		return ts
	}
	H, KV, dh := c.Heads, c.KVHeads, c.HeadDim
	rms := "/rms_normalization/gain"
	linear := func(name string, out, in int, bias bool, scope string) {
		add(name+".weight", []int{out, in}, true, scope+"/dense/weights")
		if bias {
			add(name+".bias", []int{out}, false, scope+"/dense/biases")
		}
	}
	add("model.embed_tokens.weight", []int{V, D}, false, "/embedding/embeddings")
	for l := range c.Layers {
		p := fmt.Sprintf("model.layers.%d.", l)
		linear(p+"self_attn.q_proj", H*dh, D, c.QKVBias, attn(l)+"/query")
		linear(p+"self_attn.k_proj", KV*dh, D, c.QKVBias, attn(l)+"/key")
		linear(p+"self_attn.v_proj", KV*dh, D, c.QKVBias, attn(l)+"/value")
		linear(p+"self_attn.o_proj", D, H*dh, c.OutBias, attn(l)+"/output")
		if c.QKNorm {
			add(p+"self_attn.q_norm.weight", []int{dh}, false, attn(l)+"/query_norm"+rms)
			add(p+"self_attn.k_norm.weight", []int{dh}, false, attn(l)+"/key_norm"+rms)
		}
		linear(p+"mlp.gate_proj", I, D, c.MLPBias, layer(l)+"/ffn/gate")
		linear(p+"mlp.up_proj", I, D, c.MLPBias, layer(l)+"/ffn/up")
		linear(p+"mlp.down_proj", D, I, c.MLPBias, layer(l)+"/ffn/down")
		add(p+"input_layernorm.weight", []int{D}, false, layer(l)+"/self/norm"+rms)
		add(p+"post_attention_layernorm.weight", []int{D}, false, layer(l)+"/ffn/norm"+rms)
	}
	add("model.norm.weight", []int{D}, false, "/decoder/final_norm"+rms)
	if !c.Tied {
		add("lm_head.weight", []int{V, D}, true, "/output/dense/weights")
	}
	return ts
}

// ignorable reports whether a tensor the model does not use may be left unread: buffers
// older transformers versions saved (GPT-2's causal-mask attn.bias and attn.masked_bias,
// RoPE's inv_freq) and lm_head.weight when the output is tied to the embeddings.
func (c *Config) ignorable(name string) bool {
	switch {
	case c.Tied && name == "lm_head.weight":
		return true
	case c.Family() == "gpt2" && (strings.HasSuffix(name, ".attn.bias") || strings.HasSuffix(name, ".attn.masked_bias")):
		return true
	case strings.HasSuffix(name, ".rotary_emb.inv_freq"):
		return true
	}
	return false
}
