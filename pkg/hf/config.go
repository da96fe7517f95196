package hf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
)

// File names of a Hugging Face checkpoint directory.
const (
	ConfigFile           = "config.json"
	GenerationConfigFile = "generation_config.json"
	WeightsFile          = "model.safetensors"
	IndexFile            = "model.safetensors.index.json"
)

// Architectures lists the Hugging Face model classes masklab loads (config.json's
// "architectures"), with their model_type.
var Architectures = map[string]string{
	"LlamaForCausalLM":   "llama",
	"Qwen2ForCausalLM":   "qwen2",
	"Qwen3ForCausalLM":   "qwen3",
	"MistralForCausalLM": "mistral",
	"GPT2LMHeadModel":    "gpt2",
}

// Config is what masklab reads from a checkpoint's config.json (and
// generation_config.json), in Hugging Face's terms. Every key of the file is kept (Raw),
// so that Export writes back what it read.
type Config struct {
	Architecture string // "LlamaForCausalLM", ...: architectures[0]
	ModelType    string // "llama", "qwen2", "qwen3", "mistral", "gpt2"

	Vocab        int // vocab_size
	Hidden       int // hidden_size (n_embd)
	Layers       int // num_hidden_layers (n_layer)
	Heads        int // num_attention_heads (n_head)
	KVHeads      int // num_key_value_heads (= Heads when absent)
	HeadDim      int // head_dim (= Hidden/Heads when absent or null)
	Intermediate int // intermediate_size (GPT-2: n_inner, 4*n_embd when null)
	MaxPositions int // max_position_embeddings (n_positions)

	NormEps     float64            // rms_norm_eps (layer_norm_epsilon)
	RopeTheta   float64            // rope_theta
	RopeScaling layers.RopeScaling // rope_scaling (none, linear, llama3)
	Activation  string             // hidden_act (activation_function), as the file names it

	QKVBias, OutBias, MLPBias bool // projection biases (Qwen2: q/k/v; Llama: attention_bias, mlp_bias)
	QKNorm                    bool // Qwen3's q_norm and k_norm
	Tied                      bool // tie_word_embeddings

	// SlidingWindow > 0 is the sliding window of the layers Sliding marks (a token sees
	// itself and SlidingWindow-1 tokens before it); 0 when no layer has one.
	SlidingWindow int
	Sliding       []bool

	DType string // torch_dtype (dtype): the dtype the weights were saved in, e.g. "bfloat16"

	// Special token ids: from generation_config.json when it sets them, else config.json;
	// -1 (Pad, BOS) or empty (EOS) when neither does.
	BOS, Pad int
	EOS      []int

	// Generation is generation_config.json's content (nil when the file is absent).
	Generation map[string]any

	// Raw holds every key of config.json (numbers as json.Number), for Export.
	Raw map[string]any
}

// errorf makes a config error that names the file.
func errorf(path, format string, args ...any) error {
	return fmt.Errorf("hf: %s: %s", path, fmt.Sprintf(format, args...))
}

// ReadConfig reads dir's config.json and, when present, generation_config.json.
// Unknown architectures, unsupported options (rope_scaling other than none, linear or
// llama3; quantized weights; GPT-2's attention variants) and malformed values are errors
// that name the file, the key and the value, and say what is supported.
func ReadConfig(dir string) (*Config, error) {
	path := filepath.Join(dir, ConfigFile)
	raw, err := readJSON(path)
	if err != nil {
		return nil, err
	}
	c, err := parseConfig(path, raw)
	if err != nil {
		return nil, err
	}
	gpath := filepath.Join(dir, GenerationConfigFile)
	gen, err := readJSON(gpath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		c.Generation = gen
		k := keys{path: gpath, m: gen}
		if v, ok := gen["bos_token_id"]; ok && v != nil {
			if c.BOS, err = k.intOr("bos_token_id", -1); err != nil {
				return nil, err
			}
		}
		if v, ok := gen["pad_token_id"]; ok && v != nil {
			if c.Pad, err = k.intOr("pad_token_id", -1); err != nil {
				return nil, err
			}
		}
		if v, ok := gen["eos_token_id"]; ok && v != nil {
			if c.EOS, err = k.intList("eos_token_id"); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// readJSON reads a JSON object, numbers kept as json.Number.
func readJSON(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("hf: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line := 1 + bytes.Count(b[:min(int(se.Offset), len(b))], []byte("\n"))
			return nil, errorf(path, "malformed JSON at line %d (byte %d): %v", line, se.Offset, err)
		}
		return nil, errorf(path, "not a JSON object: %v", err)
	}
	if dec.More() {
		return nil, errorf(path, "malformed JSON: more than one value")
	}
	return m, nil
}

// keys reads typed values of a JSON object, with errors naming file, key and value.
type keys struct {
	path string
	m    map[string]any
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// has reports whether key is present and not null.
func (k keys) has(key string) bool { v, ok := k.m[key]; return ok && v != nil }

// int returns a required integer >= minimum.
func (k keys) int(key string, minimum int) (int, error) {
	if !k.has(key) {
		return 0, errorf(k.path, "key %q is missing (an integer >= %d)", key, minimum)
	}
	v, err := k.intOr(key, 0)
	if err == nil && v < minimum {
		err = errorf(k.path, "key %q must be an integer >= %d, got %d", key, minimum, v)
	}
	return v, err
}

// intOr returns an optional integer (def when absent or null).
func (k keys) intOr(key string, def int) (int, error) {
	v, ok := k.m[key]
	if !ok || v == nil {
		return def, nil
	}
	n, isNum := v.(json.Number)
	if isNum {
		if i, err := n.Int64(); err == nil && i >= math.MinInt32 && i <= math.MaxInt32 {
			return int(i), nil
		}
		if f, err := n.Float64(); err == nil && f == math.Trunc(f) && math.Abs(f) <= math.MaxInt32 {
			return int(f), nil
		}
	}
	return 0, errorf(k.path, "key %q must be an integer, got %s", key, show(v))
}

// float returns an optional number (def when absent or null).
func (k keys) float(key string, def float64) (float64, error) {
	v, ok := k.m[key]
	if !ok || v == nil {
		return def, nil
	}
	if n, isNum := v.(json.Number); isNum {
		if f, err := n.Float64(); err == nil {
			return f, nil
		}
	}
	return 0, errorf(k.path, "key %q must be a number, got %s", key, show(v))
}

// bool returns an optional boolean (def when absent or null).
func (k keys) bool(key string, def bool) (bool, error) {
	v, ok := k.m[key]
	if !ok || v == nil {
		return def, nil
	}
	if b, isBool := v.(bool); isBool {
		return b, nil
	}
	return false, errorf(k.path, "key %q must be true or false, got %s", key, show(v))
}

// str returns an optional string (def when absent or null).
func (k keys) str(key, def string) (string, error) {
	v, ok := k.m[key]
	if !ok || v == nil {
		return def, nil
	}
	if s, isStr := v.(string); isStr {
		return s, nil
	}
	return "", errorf(k.path, "key %q must be a string, got %s", key, show(v))
}

// intList returns an integer or a list of integers as a list (nil when absent or null).
func (k keys) intList(key string) ([]int, error) {
	v, ok := k.m[key]
	if !ok || v == nil {
		return nil, nil
	}
	list, isList := v.([]any)
	if !isList {
		i, err := k.intOr(key, 0)
		if err != nil {
			return nil, errorf(k.path, "key %q must be an integer or a list of integers, got %s", key, show(v))
		}
		return []int{i}, nil
	}
	out := make([]int, len(list))
	for i, x := range list {
		sub := keys{path: k.path, m: map[string]any{key: x}}
		n, err := sub.intOr(key, 0)
		if err != nil || x == nil {
			return nil, errorf(k.path, "key %q must be an integer or a list of integers, got %s", key, show(v))
		}
		out[i] = n
	}
	return out, nil
}

// sub returns the object under key (nil when absent or null).
func (k keys) sub(key string) (*keys, error) {
	v, ok := k.m[key]
	if !ok || v == nil {
		return nil, nil
	}
	m, isObj := v.(map[string]any)
	if !isObj {
		return nil, errorf(k.path, "key %q must be an object or null, got %s", key, show(v))
	}
	return &keys{path: k.path, m: m}, nil
}

// supportedArchitectures lists Architectures' keys, sorted.
func supportedArchitectures() string {
	names := make([]string, 0, len(Architectures))
	for a := range Architectures {
		names = append(names, a)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// parseConfig reads config.json's keys.
func parseConfig(path string, raw map[string]any) (*Config, error) {
	k := keys{path: path, m: raw}
	c := &Config{Raw: raw, BOS: -1, Pad: -1}
	archs, ok := raw["architectures"].([]any)
	if !ok || len(archs) == 0 {
		return nil, errorf(path, "key \"architectures\" must list the model class (one of %s), got %s", supportedArchitectures(), show(raw["architectures"]))
	}
	c.Architecture, _ = archs[0].(string)
	mt, known := Architectures[c.Architecture]
	if !known {
		hint := ""
		if slices.Contains(BertArchitectures, c.Architecture) {
			hint = " (a BERT encoder: open it with hf.OpenBert)"
		}
		return nil, errorf(path, "architectures[0] = %s is not supported; masklab loads %s%s", show(archs[0]), supportedArchitectures(), hint)
	}
	var err error
	if c.ModelType, err = k.str("model_type", mt); err != nil {
		return nil, err
	}
	if c.ModelType != mt {
		return nil, errorf(path, "model_type %q does not match architectures[0] %q (model_type %q)", c.ModelType, c.Architecture, mt)
	}
	if q, _ := k.sub("quantization_config"); q != nil {
		method, _ := q.str("quant_method", "?")
		return nil, errorf(path, "quantization_config.quant_method = %q: quantized checkpoints are not supported; masklab loads F32, F16 and BF16 weights", method)
	}
	if c.DType, err = k.str("torch_dtype", ""); err != nil {
		return nil, err
	}
	if c.DType == "" {
		if c.DType, err = k.str("dtype", ""); err != nil { // transformers v5
			return nil, err
		}
	}
	if c.ModelType == "gpt2" {
		err = c.parseGPT2(k)
	} else {
		err = c.parseLlama(k)
	}
	if err != nil {
		return nil, err
	}
	if c.BOS, err = k.intOr("bos_token_id", -1); err != nil {
		return nil, err
	}
	if c.Pad, err = k.intOr("pad_token_id", -1); err != nil {
		return nil, err
	}
	if c.EOS, err = k.intList("eos_token_id"); err != nil {
		return nil, err
	}
	return c, nil
}

// parseLlama reads the keys of LlamaConfig, Qwen2Config, Qwen3Config and MistralConfig.
func (c *Config) parseLlama(k keys) (err error) {
	for _, f := range []struct {
		key string
		dst *int
	}{{"vocab_size", &c.Vocab}, {"hidden_size", &c.Hidden}, {"num_hidden_layers", &c.Layers},
		{"num_attention_heads", &c.Heads}, {"intermediate_size", &c.Intermediate}} {
		if *f.dst, err = k.int(f.key, 1); err != nil {
			return err
		}
	}
	if c.KVHeads, err = k.intOr("num_key_value_heads", c.Heads); err != nil {
		return err
	}
	if c.KVHeads < 1 || c.Heads%c.KVHeads != 0 {
		return errorf(k.path, "num_attention_heads %d must be a multiple of num_key_value_heads %d", c.Heads, c.KVHeads)
	}
	if c.HeadDim, err = k.intOr("head_dim", 0); err != nil {
		return err
	}
	if c.HeadDim == 0 {
		if c.Hidden%c.Heads != 0 {
			return errorf(k.path, "hidden_size %d is not a multiple of num_attention_heads %d, and head_dim is not set", c.Hidden, c.Heads)
		}
		c.HeadDim = c.Hidden / c.Heads
	}
	if c.HeadDim < 2 || c.HeadDim%2 != 0 {
		return errorf(k.path, "head_dim must be a positive even integer (rotary positions), got %d", c.HeadDim)
	}
	maxPos := map[string]int{"llama": 2048, "qwen2": 32768, "qwen3": 32768, "mistral": 4096 * 32}[c.ModelType]
	if c.MaxPositions, err = k.intOr("max_position_embeddings", maxPos); err != nil {
		return err
	}
	if c.NormEps, err = k.float("rms_norm_eps", 1e-6); err != nil {
		return err
	}
	if c.Activation, err = k.str("hidden_act", "silu"); err != nil {
		return err
	}
	if _, err := activation(k.path, "hidden_act", c.Activation); err != nil {
		return err
	}
	if c.Tied, err = k.bool("tie_word_embeddings", false); err != nil {
		return err
	}
	if err := c.parseRope(k); err != nil {
		return err
	}
	switch c.ModelType {
	case "qwen2":
		c.QKVBias = true // Qwen2Attention: q/k/v with bias, o_proj without
	case "llama", "qwen3":
		bias, err := k.bool("attention_bias", false)
		if err != nil {
			return err
		}
		c.QKVBias, c.OutBias = bias, bias
		c.QKNorm = c.ModelType == "qwen3"
	}
	if c.ModelType == "llama" {
		if c.MLPBias, err = k.bool("mlp_bias", false); err != nil {
			return err
		}
	}
	return c.parseSliding(k)
}

// parseRope reads rope_theta and rope_scaling (transformers v4), or rope_parameters (v5).
func (c *Config) parseRope(k keys) error {
	var err error
	if c.RopeTheta, err = k.float("rope_theta", 10000); err != nil {
		return err
	}
	key := "rope_scaling"
	sc, err := k.sub(key)
	if err != nil {
		return err
	}
	if rp, err := k.sub("rope_parameters"); err != nil {
		return err
	} else if rp != nil {
		key, sc = "rope_parameters", rp
		if c.RopeTheta, err = rp.float("rope_theta", c.RopeTheta); err != nil {
			return err
		}
	}
	if !(c.RopeTheta > 0) {
		return errorf(k.path, "rope_theta must be > 0, got %g", c.RopeTheta)
	}
	if sc == nil {
		return nil
	}
	typ, err := sc.str("rope_type", "")
	if err != nil {
		return err
	}
	if typ == "" {
		if typ, err = sc.str("type", ""); err != nil {
			return err
		}
	}
	r := layers.RopeScaling{}
	switch typ {
	case "default", "":
		return nil
	case layers.RopeLinear, layers.RopeLlama3:
		r.Type = typ
	default:
		return errorf(k.path, "%s.rope_type = %q is not supported; masklab supports none, %q and %q", key, typ, layers.RopeLinear, layers.RopeLlama3)
	}
	if r.Factor, err = sc.float("factor", 0); err != nil {
		return err
	}
	if typ == layers.RopeLlama3 {
		if r.LowFreqFactor, err = sc.float("low_freq_factor", 0); err != nil {
			return err
		}
		if r.HighFreqFactor, err = sc.float("high_freq_factor", 0); err != nil {
			return err
		}
		if r.OriginalMaxPositions, err = sc.intOr("original_max_position_embeddings", 0); err != nil {
			return err
		}
	}
	if err := r.Validate(); err != nil {
		return errorf(k.path, "%s: %v", key, strings.TrimPrefix(err.Error(), "layers: "))
	}
	c.RopeScaling = r
	return nil
}

// parseSliding reads which layers use a sliding window: layer_types when present
// (newer configs), else Mistral's sliding_window (every layer), or Qwen2/Qwen3's
// use_sliding_window with max_window_layers (layers from that index on).
func (c *Config) parseSliding(k keys) error {
	window, err := k.intOr("sliding_window", 0)
	if err != nil {
		return err
	}
	sliding := make([]bool, c.Layers)
	if v, ok := k.m["layer_types"]; ok && v != nil {
		list, isList := v.([]any)
		if !isList || len(list) != c.Layers {
			return errorf(k.path, "key \"layer_types\" must list %d layer types (num_hidden_layers), got %s", c.Layers, show(v))
		}
		for i, t := range list {
			switch t {
			case "full_attention":
			case "sliding_attention":
				sliding[i] = true
			default:
				return errorf(k.path, "layer_types[%d] = %s is not supported; masklab supports \"full_attention\" and \"sliding_attention\"", i, show(t))
			}
		}
	} else {
		switch c.ModelType {
		case "mistral":
			for i := range sliding {
				sliding[i] = window > 0
			}
		case "qwen2", "qwen3":
			use, err := k.bool("use_sliding_window", false)
			if err != nil {
				return err
			}
			from, err := k.intOr("max_window_layers", c.Layers)
			if err != nil {
				return err
			}
			for i := range sliding {
				sliding[i] = use && window > 0 && i >= from
			}
		}
	}
	if !slices.Contains(sliding, true) {
		return nil
	}
	if window < 1 {
		return errorf(k.path, "sliding-window layers need sliding_window >= 1, got %s", show(k.m["sliding_window"]))
	}
	c.SlidingWindow, c.Sliding = window, sliding
	return nil
}

// parseGPT2 reads GPT2Config's keys.
func (c *Config) parseGPT2(k keys) (err error) {
	for _, f := range []struct {
		key string
		dst *int
	}{{"vocab_size", &c.Vocab}, {"n_embd", &c.Hidden}, {"n_layer", &c.Layers}, {"n_head", &c.Heads}, {"n_positions", &c.MaxPositions}} {
		if *f.dst, err = k.int(f.key, 1); err != nil {
			return err
		}
	}
	if c.Hidden%c.Heads != 0 {
		return errorf(k.path, "n_embd %d is not a multiple of n_head %d", c.Hidden, c.Heads)
	}
	c.KVHeads, c.HeadDim = c.Heads, c.Hidden/c.Heads
	if c.Intermediate, err = k.intOr("n_inner", 4*c.Hidden); err != nil {
		return err
	}
	if c.NormEps, err = k.float("layer_norm_epsilon", 1e-5); err != nil {
		return err
	}
	if c.Activation, err = k.str("activation_function", "gelu_new"); err != nil {
		return err
	}
	if _, err := activation(k.path, "activation_function", c.Activation); err != nil {
		return err
	}
	if c.Tied, err = k.bool("tie_word_embeddings", true); err != nil {
		return err
	}
	if !c.Tied {
		return errorf(k.path, "tie_word_embeddings = false: masklab's GPT-2 ties lm_head to wte (as GPT2LMHeadModel does by default)")
	}
	for key, want := range map[string]bool{"scale_attn_weights": true, "scale_attn_by_inverse_layer_idx": false} {
		v, err := k.bool(key, want)
		if err != nil {
			return err
		}
		if v != want {
			return errorf(k.path, "%s = %v is not supported (masklab's GPT-2 has %s = %v)", key, v, key, want)
		}
	}
	c.QKVBias, c.OutBias, c.MLPBias = true, true, true
	return nil
}

// activation maps a Hugging Face activation name onto layers'.
func activation(path, key, name string) (string, error) {
	switch name {
	case "silu", "swish":
		return layers.ActSiLU, nil
	case "gelu_new", "gelu_pytorch_tanh", "gelu_fast":
		return layers.ActGELUTanh, nil
	case "gelu":
		return layers.ActGELU, nil
	case "relu":
		return layers.ActReLU, nil
	}
	return "", errorf(path, "%s = %q is not supported; masklab supports silu, gelu, gelu_new (gelu_pytorch_tanh) and relu", key, name)
}

// Family returns the layers block family of the architecture.
func (c *Config) Family() string {
	if c.ModelType == "gpt2" {
		return layers.FamilyGPT2
	}
	return layers.FamilyLlama
}

// Model returns the pkg/layers configuration of the checkpoint's model, with self as its
// decoder self-attention mask (the zero mask means causal & pad; a packed row wants
// "causal & doc"). Dropout is 0 (a run sets its own).
func (c *Config) Model(self mask.Attention) layers.Config {
	act, _ := activation("", "", c.Activation)
	a := &layers.Arch{
		Family: c.Family(), KVHeads: c.KVHeads, HeadDim: c.HeadDim, Activation: act,
		QKVBias: c.QKVBias, OutBias: c.OutBias, MLPBias: c.MLPBias, QKNorm: c.QKNorm,
		Rope: c.RopeScaling, Window: c.SlidingWindow, Sliding: c.Sliding,
	}
	if self.IsZero() {
		self = mask.And(mask.Causal, mask.Pad)
	}
	cfg := layers.Config{
		Kind: layers.KindDecoder, Vocab: c.Vocab, DModel: c.Hidden, Heads: c.Heads, FF: c.Intermediate,
		DecLayers: c.Layers, Tied: c.Tied, MaxLen: c.MaxPositions, LayerNormEps: c.NormEps,
		RotaryBase: c.RopeTheta, Self: self, Arch: a,
	}
	if a.Family == layers.FamilyGPT2 {
		cfg.Positions = layers.PosLearned
		a.Rope, a.Window, a.Sliding = layers.RopeScaling{}, 0, nil
	} else {
		cfg.Positions = layers.PosRotary
	}
	return cfg
}
