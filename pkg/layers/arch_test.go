package layers

import (
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/mask"
)

func llamaConfig() Config {
	return Config{Kind: KindDecoder, Vocab: 13, DModel: 16, Heads: 4, FF: 24, DecLayers: 2, Positions: PosRotary,
		Arch: &Arch{Family: FamilyLlama, KVHeads: 2}}
}

func TestArchValidate(t *testing.T) {
	for _, c := range []struct {
		change func(c *Config)
		want   string
	}{
		{func(c *Config) { c.Arch.Family = "gemma" }, `block family must be "llama" or "gpt2"; got "gemma"`},
		{func(c *Config) { c.Kind = KindSeq2Seq }, `decoder-only model`},
		{func(c *Config) { c.Arch.KVHeads = 3 }, "multiple of key/value heads 3"},
		{func(c *Config) { c.Positions = PosLearned }, `takes rotary positions, got positions "learned"`},
		{func(c *Config) { c.Arch.HeadDim = 5 }, "even head dimension, got 5"},
		{func(c *Config) { c.Arch.Rope = RopeScaling{Type: "yarn", Factor: 2} }, `got "yarn"`},
		{func(c *Config) { c.Arch.Rope = RopeScaling{Type: RopeLinear} }, "factor > 0"},
		{func(c *Config) { c.Arch.Window, c.Arch.Sliding = 4, []bool{true} }, "1 entries for 2 layers"},
		{func(c *Config) { c.Arch.Activation = "mish" }, `got "mish"`},
		{func(c *Config) { c.PostLN = true }, "pre-norm"},
		{func(c *Config) { c.Arch.Family, c.Arch.KVHeads, c.Positions, c.Tied = FamilyGPT2, 0, PosLearned, false }, "ties the output projection"},
	} {
		cfg := llamaConfig()
		a := *cfg.Arch
		cfg.Arch = &a
		c.change(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one containing %q", err, c.want)
		}
	}
	if err := llamaConfig().Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

// Grouped-query attention is multi-head attention whose key/value heads are repeated:
// a model with 2 key/value heads gives the logits of the same model with 4 whose key
// and value weights repeat each head twice in a row (query head h uses kv head h/2).
func TestGroupedQueryAttentionRepeatsHeads(t *testing.T) {
	self := mask.And(mask.Causal, mask.Pad)
	gqa := llamaConfig()
	gqa.Self = self
	mha := gqa
	mha.Arch = &Arch{Family: FamilyLlama}
	ids := [][]int32{{1, 5, 7, 2, 9, 11}}
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(3); err != nil {
		t.Fatal(err)
	}
	run := func(cfg Config) [][][]float32 {
		exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, x *graph.Node) *graph.Node {
			y, err := Forward(scope, cfg, Inputs{Dec: x})
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
		return out[0].Value().([][][]float32)
	}
	want := run(gqa)
	// Widen the key and value weights [16, 2*4] to [16, 4*4], repeating each head.
	for l := range 2 {
		for _, kv := range []string{"key", "value"} {
			path := "/decoder/layer_" + string(rune('0'+l)) + "/self/MultiHeadAttention/" + kv + "/dense/weights"
			v := store.GetVariable(path)
			w := v.MustValue().Value().([][]float32)
			wide := make([][]float32, len(w))
			for i, row := range w {
				for h := range 4 {
					wide[i] = append(wide[i], row[(h/2)*4:(h/2)*4+4]...)
				}
			}
			if err := store.DeleteVariable(path); err != nil {
				t.Fatal(err)
			}
			store.VariableWithValue(path, wide)
		}
	}
	got := run(mha)
	for i := range want[0] {
		for j := range want[0][i] {
			if d := got[0][i][j] - want[0][i][j]; d > 1e-5 || d < -1e-5 {
				t.Fatalf("logit [%d][%d]: %g with repeated heads, %g with grouped-query attention", i, j, got[0][i][j], want[0][i][j])
			}
		}
	}
}
