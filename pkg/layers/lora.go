package layers

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/layers/internal/fast"
)

// LoRA adds low-rank adapters (Hu et al. 2021) to the linear layers of a pretrained
// decoder (Config.Arch), as PEFT's LoraConfig does: a targeted layer y = x·W + b becomes
//
//	y = x·W + b + (Alpha/Rank) · dropout(x)·A·B
//
// with A [in, Rank] drawn like PEFT's kaiming_uniform_(a=√5) (U(±1/√in), nn.Linear's
// default), B [Rank, out] zeros (so training starts from the pretrained model), and
// dropout on the adapter's input only. With LoRA, Run marks every variable of the model
// non-trainable but the adapters (PEFT's mark_only_lora_as_trainable, bias="none"), so
// that an optimizer that takes the trainable variables updates the adapters alone.
//
// Adapter variables live next to their layer's weights: .../dense/lora_A and
// .../dense/lora_B (.../qkv/lora_{A,B} for GPT-2's fused projection), in masklab's
// [in, out] layout (PEFT stores lora_A.weight [r, in] and lora_B.weight [out, r]).
type LoRA struct {
	Rank    int     // r; must be > 0
	Alpha   float64 // lora_alpha; 0 means PEFT's default, 8
	Dropout float64 // lora_dropout on the adapter's input, in [0, 1)

	// Targets are PEFT target_modules: module names ("q_proj", "v_proj"), matched as PEFT
	// does against each module's full name (equal, or a suffix after a dot:
	// "self_attn.q_proj", "mlp.c_proj"), or LoRAAllLinear. Empty means PEFT's default for
	// the family: q_proj and v_proj (Llama, Qwen2, Qwen3, Mistral), c_attn (GPT-2).
	Targets []string
}

// LoRAConfig is the lora section of a run config (YAML keys omitted at zero, so that a
// config without LoRA keeps its run id), as optim.Config is the optimizer's: Targets is
// comma-separated. Rank 0 is full fine-tuning.
type LoRAConfig struct {
	Rank    int     `yaml:"rank,omitempty"`
	Alpha   float64 `yaml:"alpha,omitempty"`
	Dropout float64 `yaml:"dropout,omitempty"`
	Targets string  `yaml:"targets,omitempty"`
}

// LoRA returns the adapters c asks for; nil for rank 0.
func (c LoRAConfig) LoRA() *LoRA {
	if c.Rank == 0 {
		return nil
	}
	l := &LoRA{Rank: c.Rank, Alpha: c.Alpha, Dropout: c.Dropout}
	for _, t := range strings.Split(c.Targets, ",") {
		if t = strings.TrimSpace(t); t != "" {
			l.Targets = append(l.Targets, t)
		}
	}
	return l
}

// Validate checks c's values, naming the key (lora.*), for a run with (pretrained) or
// without an init_from. The targets are checked against the model (Config.Validate).
func (c LoRAConfig) Validate(pretrained bool) error {
	switch {
	case c.Rank < 0:
		return fmt.Errorf("lora.rank=%d: must be >= 0 (0 = full fine-tuning)", c.Rank)
	case c.Rank == 0 && c != LoRAConfig{}:
		return fmt.Errorf("lora.rank=0: lora.alpha, lora.dropout and lora.targets need lora.rank > 0")
	case c.Rank > 0 && !pretrained:
		return fmt.Errorf("lora.rank=%d: LoRA fine-tunes a pretrained model: set init_from to a Hugging Face checkpoint", c.Rank)
	case c.Rank > 0:
		if err := (Config{LoRA: c.LoRA()}).validateLoRA(); err != nil && !strings.Contains(err.Error(), "init_from") {
			return fmt.Errorf("lora: %w", err)
		}
	}
	return nil
}

// LoRAAllLinear targets every linear layer but the output projection, as PEFT's
// "all-linear" shorthand does.
const LoRAAllLinear = "all-linear"

// DefaultLoRAAlpha is PEFT's default lora_alpha.
const DefaultLoRAAlpha = 8

// Scaling is the factor of the adapters' product: Alpha/Rank (PEFT's scaling, without
// use_rslora).
func (l *LoRA) Scaling() float64 {
	alpha := l.Alpha
	if alpha == 0 {
		alpha = DefaultLoRAAlpha
	}
	return alpha / float64(l.Rank)
}

// LoRAModule is one linear layer of a pretrained decoder that adapters may target.
type LoRAModule struct {
	// Name is the module's name in the Hugging Face model, as PEFT matches and saves it:
	// "model.layers.0.self_attn.q_proj", "transformer.h.0.attn.c_attn".
	Name string
	// Scope is the masklab scope of its weights, relative to the model's scope:
	// "/decoder/layer_0/self/MultiHeadAttention/query/dense" (adapters: Scope+"/lora_A").
	Scope string
	// In and Out are the layer's widths (for GPT-2's c_attn, Out is 3·d_model).
	In, Out int
	// FanInFanOut is true for GPT-2's Conv1D layers (weights stored [in, out]), PEFT's
	// fan_in_fan_out.
	FanInFanOut bool
}

// Short is the module's last name component ("q_proj"), PEFT's target name.
func (m LoRAModule) Short() string { return m.Name[strings.LastIndexByte(m.Name, '.')+1:] }

// LoRAModules lists the linear layers of an Arch model in the order of its state_dict
// (the candidates of LoRAAllLinear). Other models have none.
func (c Config) LoRAModules() []LoRAModule {
	c = c.WithDefaults()
	a := c.Arch
	if a == nil {
		return nil
	}
	var ms []LoRAModule
	add := func(name, scope string, in, out int, conv bool) {
		ms = append(ms, LoRAModule{Name: name, Scope: scope, In: in, Out: out, FanInFanOut: conv})
	}
	D, F, dh := c.DModel, c.FF, c.headDim()
	for l := range c.DecLayers {
		ls := fmt.Sprintf("/decoder/layer_%d", l)
		attn := ls + "/self/MultiHeadAttention"
		if a.Family == FamilyGPT2 {
			h := fmt.Sprintf("transformer.h.%d.", l)
			add(h+"attn.c_attn", attn+"/qkv", D, 3*D, true)
			add(h+"attn.c_proj", attn+"/output/dense", D, D, true)
			add(h+"mlp.c_fc", ls+"/ffn/hidden/dense", D, F, true)
			add(h+"mlp.c_proj", ls+"/ffn/output/dense", F, D, true)
			continue
		}
		kv := c.Heads
		if a.KVHeads > 0 {
			kv = a.KVHeads
		}
		p := fmt.Sprintf("model.layers.%d.", l)
		add(p+"self_attn.q_proj", attn+"/query/dense", D, c.Heads*dh, false)
		add(p+"self_attn.k_proj", attn+"/key/dense", D, kv*dh, false)
		add(p+"self_attn.v_proj", attn+"/value/dense", D, kv*dh, false)
		add(p+"self_attn.o_proj", attn+"/output/dense", c.Heads*dh, D, false)
		add(p+"mlp.gate_proj", ls+"/ffn/gate/dense", D, F, false)
		add(p+"mlp.up_proj", ls+"/ffn/up/dense", D, F, false)
		add(p+"mlp.down_proj", ls+"/ffn/down/dense", F, D, false)
	}
	return ms
}

// LoRATargets returns the modules c.LoRA targets (state_dict order), or an error that
// names a target matching no module and lists the model's module names.
func (c Config) LoRATargets() ([]LoRAModule, error) {
	l := c.LoRA
	if l == nil {
		return nil, nil
	}
	all := c.LoRAModules()
	if len(all) == 0 {
		return nil, fmt.Errorf("layers: LoRA adapts a pretrained decoder (Llama, Qwen2, Qwen3, Mistral, GPT-2): set init_from to a Hugging Face checkpoint")
	}
	targets := l.Targets
	if len(targets) == 0 {
		targets = []string{"q_proj", "v_proj"}
		if c.Arch.Family == FamilyGPT2 {
			targets = []string{"c_attn"}
		}
	}
	if slices.Contains(targets, LoRAAllLinear) {
		if len(targets) > 1 {
			return nil, fmt.Errorf("layers: LoRA targets: %q stands alone, got %s", LoRAAllLinear, strings.Join(targets, ","))
		}
		return all, nil
	}
	var out []LoRAModule
	for _, t := range targets {
		found := false
		for _, m := range all {
			if m.Name == t || strings.HasSuffix(m.Name, "."+t) {
				found = true
			}
		}
		if !found {
			var names []string
			for _, m := range all {
				if !slices.Contains(names, m.Short()) {
					names = append(names, m.Short())
				}
			}
			return nil, fmt.Errorf("layers: LoRA target %q matches no module of this %s model; its linear modules are %s (or %s)",
				t, c.Arch.Family, strings.Join(names, ", "), LoRAAllLinear)
		}
	}
	for _, m := range all {
		for _, t := range targets {
			if m.Name == t || strings.HasSuffix(m.Name, "."+t) {
				out = append(out, m)
				break
			}
		}
	}
	return out, nil
}

// validateLoRA checks c.LoRA (nil: nothing to check).
func (c Config) validateLoRA() error {
	l := c.LoRA
	switch {
	case l == nil:
		return nil
	case l.Rank <= 0:
		return fmt.Errorf("layers: LoRA rank must be > 0, got %d", l.Rank)
	case l.Alpha < 0:
		return fmt.Errorf("layers: LoRA alpha must be >= 0 (0: %d), got %g", DefaultLoRAAlpha, l.Alpha)
	case l.Dropout < 0 || l.Dropout >= 1:
		return fmt.Errorf("layers: LoRA dropout must be in [0, 1), got %g", l.Dropout)
	}
	_, err := c.LoRATargets()
	return err
}

// IsLoRAVariable reports whether a variable path is a LoRA adapter's.
func IsLoRAVariable(path string) bool {
	return strings.HasSuffix(path, "/lora_A") || strings.HasSuffix(path, "/lora_B")
}

// loraKey keys a graph's loraState (graph.Graph.AttachState).
type loraKey struct{}

// loraState is what dense and fusedQKV need to add adapters while a model is built on a
// graph: the targeted scopes (full paths) and the settings.
type loraState struct {
	cfg      *LoRA
	scopes   map[string]bool
	training bool
}

// withLoRA arranges for dense and fusedQKV to add cfg.LoRA's adapters to the targeted
// layers of the model built under scope on g, and returns what ends it (it also marks
// the model's variables but the adapters non-trainable).
func withLoRA(scope *model.Scope, cfg Config, g *graph.Graph, training bool) (done func(), err error) {
	if cfg.LoRA == nil {
		return func() {}, nil
	}
	targets, err := cfg.LoRATargets()
	if err != nil {
		return nil, err
	}
	root := strings.TrimSuffix(scope.Scope(), "/")
	st := &loraState{cfg: cfg.LoRA, scopes: map[string]bool{}, training: training}
	for _, m := range targets {
		st.scopes[root+m.Scope] = true
	}
	g.AttachState(loraKey{}, st)
	return func() {
		g.AttachState(loraKey{}, nil)
		for v := range scope.IterVariables() {
			v.SetTrainable(IsLoRAVariable(v.Path()))
		}
	}, nil
}

// loraDelta returns the adapter's term (Alpha/Rank)·dropout(x)·A·B [..., out] of the
// layer whose weights are under scope, or nil when the layer has no adapter.
func loraDelta(scope *model.Scope, x *graph.Node, out int) *graph.Node {
	g := x.Graph()
	st, _ := g.State(loraKey{}).(*loraState)
	if st == nil || !st.scopes[scope.Scope()] {
		return nil
	}
	in, r := x.Shape().Dim(-1), st.cfg.Rank
	a := scope.WithInitializer(uniformInit(scope, 1/math.Sqrt(float64(in)))).
		VariableWithShape("lora_A", shapes.Make(x.DType(), in, r)).NodeValue(g)
	b := scope.WithInitializer(constInit(0)).VariableWithShape("lora_B", shapes.Make(x.DType(), r, out)).NodeValue(g)
	h := dropout(scope.In("lora_dropout"), x, st.cfg.Dropout, st.training)
	return graph.MulScalar(fast.Linear(fast.Linear(h, a, nil), b, nil), st.cfg.Scaling())
}

// MergeLoRA returns a store holding the model under scope with its adapters merged:
// each targeted layer's weights W [in, out] become W + (Alpha/Rank)·A·B (summed in
// float64, rounded once to float32), as PEFT's merge_and_unload does; the adapters are
// left out and every other variable under scope is shared with store, unchanged. The
// merged model without LoRA computes what the model with its adapters does (up to float
// rounding). cfg.LoRA nil returns store itself.
func MergeLoRA(store *model.Store, scope string, cfg Config) (*model.Store, error) {
	if cfg.LoRA == nil {
		return store, nil
	}
	targets, err := cfg.LoRATargets()
	if err != nil {
		return nil, err
	}
	scope = strings.TrimSuffix(scope, "/")
	weights := map[string]LoRAModule{}
	for _, m := range targets {
		w := m.Scope + "/weights"
		if m.FanInFanOut && strings.HasSuffix(m.Scope, "/qkv") {
			w = m.Scope + "/weights_qkv"
		}
		weights[scope+w] = m
	}
	merged := model.NewStore()
	s := cfg.LoRA.Scaling()
	for v := range store.IterVariables() {
		p := v.Path()
		if !strings.HasPrefix(p, scope+"/") || IsLoRAVariable(p) {
			continue
		}
		val, err := v.Value()
		if err != nil {
			return nil, fmt.Errorf("layers: merging LoRA: %s: %w", p, err)
		}
		if m, ok := weights[p]; ok {
			dir := p[:strings.LastIndexByte(p, '/')]
			if val, err = mergeOne(store, dir, val, m, cfg.LoRA.Rank, s); err != nil {
				return nil, err
			}
		}
		if _, err := merged.CreateVariable(p, val); err != nil {
			return nil, fmt.Errorf("layers: merging LoRA: %s: %w", p, err)
		}
	}
	return merged, nil
}

// mergeOne returns w + s·A·B for the adapters under dir.
func mergeOne(store *model.Store, dir string, w *tensors.Tensor, m LoRAModule, r int, s float64) (*tensors.Tensor, error) {
	get := func(name string, dims ...int) ([]float32, error) {
		v := store.GetVariable(dir + "/" + name)
		if v == nil {
			return nil, fmt.Errorf("layers: merging LoRA: the store has no adapter %s/%s (module %s)", dir, name, m.Name)
		}
		if !slices.Equal(v.Shape().Dimensions, dims) || v.Shape().DType != dtypes.Float32 {
			return nil, fmt.Errorf("layers: merging LoRA: adapter %s/%s is %s, module %s needs (Float32)%v", dir, name, v.Shape(), m.Name, dims)
		}
		t, err := v.Value()
		if err != nil {
			return nil, err
		}
		return tensors.MustCopyFlatData[float32](t), nil
	}
	a, err := get("lora_A", m.In, r)
	if err != nil {
		return nil, err
	}
	b, err := get("lora_B", r, m.Out)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(w.Shape().Dimensions, []int{m.In, m.Out}) || w.DType() != dtypes.Float32 {
		return nil, fmt.Errorf("layers: merging LoRA: weights of module %s are %s, want (Float32)[%d %d]", m.Name, w.Shape(), m.In, m.Out)
	}
	flat := tensors.MustCopyFlatData[float32](w)
	for i := range m.In {
		for o := range m.Out {
			var sum float64
			for k := range r {
				sum += float64(a[i*r+k]) * float64(b[k*m.Out+o])
			}
			flat[i*m.Out+o] = float32(float64(flat[i*m.Out+o]) + s*sum)
		}
	}
	return tensors.FromFlatDataAndDimensions(flat, m.In, m.Out), nil
}
