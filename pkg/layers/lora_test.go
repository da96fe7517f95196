package layers

import (
	"math"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/mask"
)

func gpt2Config() Config {
	return Config{Kind: KindDecoder, Vocab: 13, DModel: 16, Heads: 4, FF: 24, DecLayers: 2, Positions: PosLearned,
		Tied: true, MaxLen: 16, Arch: &Arch{Family: FamilyGPT2}}
}

// loraLogits runs cfg on store (under /model) and returns the logits.
func loraLogits(t *testing.T, store *model.Store, cfg Config, ids [][]int32) []float32 {
	t.Helper()
	exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, x *graph.Node) *graph.Node {
		y, err := Forward(scope.In("model"), cfg, Inputs{Dec: x})
		if err != nil {
			panic(err)
		}
		return y
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(ids)
	if err != nil {
		t.Fatal(err)
	}
	return tensors.MustCopyFlatData[float32](out[0])
}

func maxDiff32(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

// A LoRA model starts as its base model (B = 0), computes x·W + s·x·A·B once B is
// trained, and that is what the model with merged weights computes, for the Llama
// family's separate projections and GPT-2's fused c_attn and Conv1D layers alike.
func TestLoRAForwardEqualsMergedWeights(t *testing.T) {
	for _, base := range []Config{llamaConfig(), gpt2Config()} {
		t.Run(base.Arch.Family, func(t *testing.T) {
			base.Self = mask.And(mask.Causal, mask.Pad)
			lora := base
			lora.LoRA = &LoRA{Rank: 3, Alpha: 6, Targets: []string{LoRAAllLinear}}
			store := model.NewStore()
			if err := store.SetRNGStateFromSeed(5); err != nil {
				t.Fatal(err)
			}
			ids := [][]int32{{1, 5, 7, 2, 9, 11}, {3, 4, 12, 0, 6, 8}}
			want := loraLogits(t, store, base, ids)
			if got := loraLogits(t, store, lora, ids); maxDiff32(got, want) != 0 {
				t.Fatalf("with B = 0 the LoRA model differs from its base by %g", maxDiff32(got, want))
			}
			n := 0
			for v := range store.IterVariables() {
				if isLoRA := IsLoRAVariable(v.Path()); isLoRA != v.Trainable && strings.HasPrefix(v.Path(), "/model/") {
					t.Errorf("%s: trainable %v, want %v (only adapters train)", v.Path(), v.Trainable, isLoRA)
				}
				if strings.HasSuffix(v.Path(), "/lora_B") {
					n++
					// B as if trained: deterministic values of size ~0.1.
					dims := v.Shape().Dimensions
					vals := make([]float32, dims[0]*dims[1])
					for i := range vals {
						vals[i] = float32(math.Sin(float64(i*7+n))) / 10
					}
					if err := v.SetValue(tensors.FromFlatDataAndDimensions(vals, dims...)); err != nil {
						t.Fatal(err)
					}
				}
				if strings.HasSuffix(v.Path(), "/lora_A") && v.Shape().Dim(1) != 3 {
					t.Errorf("%s is %s, want [in, 3]", v.Path(), v.Shape())
				}
			}
			if want := len(lora.LoRAModules()); n != want || want != 2*map[string]int{FamilyLlama: 7, FamilyGPT2: 4}[base.Arch.Family] {
				t.Fatalf("%d adapters, want one per linear module (%d)", n, want)
			}
			adapted := loraLogits(t, store, lora, ids)
			if maxDiff32(adapted, want) < 1e-3 {
				t.Fatalf("trained adapters change nothing")
			}
			merged, err := MergeLoRA(store, "/model", lora)
			if err != nil {
				t.Fatal(err)
			}
			for v := range merged.IterVariables() {
				if IsLoRAVariable(v.Path()) {
					t.Errorf("merged store keeps %s", v.Path())
				}
			}
			if err := merged.SetRNGStateFromSeed(5); err != nil {
				t.Fatal(err)
			}
			got := loraLogits(t, merged, base, ids)
			if d := maxDiff32(got, adapted); d > 2e-5 {
				t.Errorf("merged model's logits differ from the LoRA model's by %g", d)
			}
			// Generation (with the key/value cache where the model allows it) runs the
			// adapters: its logits are the merged model's.
			gen := func(store *model.Store, cfg Config) [][][]float32 {
				g, err := NewGenerator(backend.Must(), store, cfg, GenerateOptions{BOS: 1, EOS: 2, PAD: 0, MaxNewTokens: 4, MaxLen: 12, Scope: "/model", KeepLogits: true})
				if err != nil {
					t.Fatal(err)
				}
				res, err := g.Generate(nil, [][]int32{{1, 5, 7}, {1, 9}})
				if err != nil {
					t.Fatal(err)
				}
				return res.Logits
			}
			a, b := gen(store, lora), gen(merged, base)
			if len(a) < 2 || len(a) != len(b) {
				t.Fatalf("generation kept %d and %d steps of logits", len(a), len(b))
			}
			for i := range a {
				for j := range a[i] {
					if d := maxDiff32(a[i][j], b[i][j]); d > 2e-5 {
						t.Fatalf("generation step %d row %d: the LoRA model's logits differ from the merged model's by %g", i, j, d)
					}
				}
			}
		})
	}
}

func TestLoRATargetsAndValidate(t *testing.T) {
	for _, c := range []struct {
		cfg     Config
		targets []string
		want    []string // module names, or the error's text
		err     bool
	}{
		{llamaConfig(), nil, []string{"model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj", "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"}, false},
		{gpt2Config(), nil, []string{"transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn"}, false},
		{gpt2Config(), []string{"mlp.c_proj"}, []string{"transformer.h.0.mlp.c_proj", "transformer.h.1.mlp.c_proj"}, false},
		{gpt2Config(), []string{"c_proj"}, []string{"transformer.h.0.attn.c_proj", "transformer.h.0.mlp.c_proj", "transformer.h.1.attn.c_proj", "transformer.h.1.mlp.c_proj"}, false},
		{llamaConfig(), []string{"layers.1.mlp.down_proj"}, []string{"model.layers.1.mlp.down_proj"}, false},
		{llamaConfig(), []string{"q_proj", "qproj"}, []string{`LoRA target "qproj" matches no module of this llama model; its linear modules are q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj (or all-linear)`}, true},
		{gpt2Config(), []string{"q_proj"}, []string{"c_attn, c_proj, c_fc"}, true},
		{llamaConfig(), []string{"all-linear", "q_proj"}, []string{`"all-linear" stands alone`}, true},
	} {
		cfg := c.cfg
		cfg.LoRA = &LoRA{Rank: 2, Targets: c.targets}
		ms, err := cfg.LoRATargets()
		verr := cfg.Validate()
		if c.err {
			if err == nil || !strings.Contains(err.Error(), c.want[0]) || verr == nil {
				t.Errorf("targets %v: error %v (Validate: %v), want one containing %q", c.targets, err, verr, c.want[0])
			}
			continue
		}
		var names []string
		for _, m := range ms {
			names = append(names, m.Name)
		}
		if err != nil || verr != nil || strings.Join(names, " ") != strings.Join(c.want, " ") {
			t.Errorf("targets %v: %v, %v (Validate: %v); want %v", c.targets, names, err, verr, c.want)
		}
	}
	bad := []struct {
		l    LoRA
		want string
	}{
		{LoRA{Rank: 0}, "rank must be > 0"},
		{LoRA{Rank: 2, Alpha: -1}, "alpha must be >= 0"},
		{LoRA{Rank: 2, Dropout: 1}, "dropout must be in [0, 1)"},
	}
	for _, b := range bad {
		cfg := llamaConfig()
		cfg.LoRA = &b.l
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%+v: error %v, want %q", b.l, err, b.want)
		}
	}
	own := Config{Kind: KindDecoder, Vocab: 13, DModel: 16, Heads: 4, DecLayers: 1, LoRA: &LoRA{Rank: 2}}
	if err := own.Validate(); err == nil || !strings.Contains(err.Error(), "init_from to a Hugging Face checkpoint") {
		t.Errorf("LoRA on masklab's own blocks: %v", err)
	}
	for _, c := range []struct {
		c          LoRAConfig
		pretrained bool
		want       string
	}{
		{LoRAConfig{}, false, ""},
		{LoRAConfig{Rank: 4, Targets: "q_proj, v_proj"}, true, ""},
		{LoRAConfig{Rank: -1}, true, "lora.rank=-1: must be >= 0"},
		{LoRAConfig{Alpha: 16}, true, "lora.rank=0: lora.alpha, lora.dropout and lora.targets need lora.rank > 0"},
		{LoRAConfig{Rank: 4}, false, "lora.rank=4: LoRA fine-tunes a pretrained model: set init_from"},
		{LoRAConfig{Rank: 4, Dropout: 1.5}, true, "lora: layers: LoRA dropout must be in [0, 1), got 1.5"},
	} {
		err := c.c.Validate(c.pretrained)
		if (c.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.c, err, c.want)
		}
	}
	if l := (LoRAConfig{Rank: 4, Targets: "q_proj, v_proj,"}).LoRA(); strings.Join(l.Targets, "|") != "q_proj|v_proj" {
		t.Errorf("targets %q", l.Targets)
	}
	if s := (&LoRA{Rank: 4}).Scaling(); s != 2 {
		t.Errorf("default scaling %g, want PEFT's 8/4", s)
	}
}

// The footprint of a LoRA model counts the adapters as its trainable parameters,
// r·(in+out) per targeted module, and the base as frozen.
func TestLoRAFootprint(t *testing.T) {
	cfg := llamaConfig()
	full := cfg.Footprint(2, 0, 8)
	cfg.LoRA = &LoRA{Rank: 4}
	f := cfg.Footprint(2, 0, 8)
	// q_proj: 16 -> 16; v_proj: 16 -> 8 (2 key/value heads of 4); two layers.
	if want := int64(2 * 4 * ((16 + 16) + (16 + 8))); f.Params != want || f.Frozen != full.Params {
		t.Errorf("LoRA footprint: %d trainable, %d frozen; want %d and %d", f.Params, f.Frozen, want, full.Params)
	}
}
