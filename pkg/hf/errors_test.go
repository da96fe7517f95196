package hf

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/masklab/masklab/pkg/layers"
)

// copyFixture copies testdata/name into a temporary directory and returns it.
func copyFixture(t testing.TB, name string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("testdata", name)
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// editFile replaces old by new in dir/file (exactly once).
func editFile(t testing.TB, dir, file, old, new string) {
	t.Helper()
	p := filepath.Join(dir, file)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(b), old) != 1 {
		t.Fatalf("%s: %q occurs %d times", file, old, strings.Count(string(b), old))
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Bad inputs are errors that name the file, the key or tensor, and the value.
func TestBadCheckpoints(t *testing.T) {
	for _, c := range []struct {
		name, fixture string
		edit          func(t *testing.T, dir string)
		want          []string
	}{
		{"unknown architecture", "llama", func(t *testing.T, d string) {
			editFile(t, d, ConfigFile, `"LlamaForCausalLM"`, `"GemmaForCausalLM"`)
		}, []string{"config.json", `"GemmaForCausalLM"`, "not supported", "LlamaForCausalLM", "Qwen3ForCausalLM"}},
		{"no architectures", "llama", func(t *testing.T, d string) {
			editFile(t, d, ConfigFile, `"architectures": [`, `"archs": [`)
		}, []string{"config.json", `"architectures"`}},
		{"rope scaling yarn", "llama", func(t *testing.T, d string) {
			editFile(t, d, ConfigFile, `"rope_type": "llama3"`, `"rope_type": "yarn"`)
		}, []string{"config.json", "rope_scaling.rope_type", `"yarn"`, "linear", "llama3"}},
		{"llama3 without its factors", "llama", func(t *testing.T, d string) {
			editFile(t, d, ConfigFile, `"low_freq_factor": 1.0,`, ``)
		}, []string{"config.json", "rope_scaling", "low_freq_factor"}},
		{"malformed JSON", "qwen3", func(t *testing.T, d string) {
			editFile(t, d, ConfigFile, `"head_dim": 16,`, `"head_dim": 16,,`)
		}, []string{"config.json", "malformed JSON at line"}},
		{"string for an integer", "qwen3", func(t *testing.T, d string) {
			editFile(t, d, ConfigFile, `"hidden_size": 32`, `"hidden_size": "32"`)
		}, []string{"config.json", `"hidden_size"`, `"32"`}},
		{"bad eos list", "qwen2", func(t *testing.T, d string) {
			editFile(t, d, GenerationConfigFile, `"eos_token_id": [`, `"eos_token_id": ["x", `)
		}, []string{"generation_config.json", `"eos_token_id"`}},
		{"quantized", "mistral", func(t *testing.T, d string) {
			editFile(t, d, ConfigFile, `"model_type": "mistral",`, `"model_type": "mistral", "quantization_config": {"quant_method": "awq"},`)
		}, []string{"config.json", "quantization_config.quant_method", `"awq"`}},
		{"unsupported activation", "gpt2", func(t *testing.T, d string) {
			editFile(t, d, ConfigFile, `"gelu_new"`, `"mish"`)
		}, []string{"config.json", "activation_function", `"mish"`}},
		{"shape contradicts config", "qwen3", func(t *testing.T, d string) {
			editFile(t, d, ConfigFile, `"num_key_value_heads": 2`, `"num_key_value_heads": 1`)
		}, []string{"model.safetensors", `"model.layers.0.self_attn.k_proj.weight"`, "[32 32]", "[16 32]", "num_key_value_heads=1"}},
		{"more layers than stored", "mistral", func(t *testing.T, d string) {
			editFile(t, d, ConfigFile, `"num_hidden_layers": 2`, `"num_hidden_layers": 3`)
		}, []string{"missing from model.safetensors", `"model.layers.2.`}},
		{"fewer layers than stored", "mistral", func(t *testing.T, d string) {
			editFile(t, d, ConfigFile, `"num_hidden_layers": 2`, `"num_hidden_layers": 1`)
		}, []string{"does not have", `"model.layers.1.`, "num_hidden_layers=1"}},
		{"truncated file", "gpt2", func(t *testing.T, d string) {
			p := filepath.Join(d, WeightsFile)
			st, _ := os.Stat(p)
			if err := os.Truncate(p, st.Size()-100); err != nil {
				t.Fatal(err)
			}
		}, []string{"model.safetensors", "truncated"}},
		{"garbage header length", "gpt2", func(t *testing.T, d string) {
			p := filepath.Join(d, WeightsFile)
			b, _ := os.ReadFile(p)
			binary.LittleEndian.PutUint64(b, 1<<40)
			os.WriteFile(p, b, 0o644)
		}, []string{"model.safetensors", "header length"}},
		{"unsupported dtype", "gpt2", func(t *testing.T, d string) {
			// Same size: F32 [32] becomes I32 [32].
			editFile(t, d, WeightsFile, `"transformer.ln_f.bias":{"dtype":"F32"`, `"transformer.ln_f.bias":{"dtype":"I32"`)
		}, []string{"model.safetensors", `"transformer.ln_f.bias"`, "I32", "F32, F16 and BF16"}},
		{"shard missing", "qwen2", func(t *testing.T, d string) {
			os.Remove(filepath.Join(d, "model-00002-of-00002.safetensors"))
		}, []string{IndexFile, "model-00002-of-00002.safetensors", "missing"}},
		{"index points to the wrong shard", "qwen2", func(t *testing.T, d string) {
			editFile(t, d, IndexFile, `"model.norm.weight": "model-00002-of-00002.safetensors"`, `"model.norm.weight": "model-00001-of-00002.safetensors"`)
		}, []string{IndexFile, `"model.norm.weight"`, "model-00001-of-00002.safetensors"}},
		{"pickle checkpoint", "llama", func(t *testing.T, d string) {
			os.Rename(filepath.Join(d, WeightsFile), filepath.Join(d, "pytorch_model.bin"))
		}, []string{"pytorch_model.bin", "safetensors", "save_pretrained", "safe_serialization=True"}},
		{"no weights", "llama", func(t *testing.T, d string) {
			os.Remove(filepath.Join(d, WeightsFile))
		}, []string{"neither model.safetensors nor model.safetensors.index.json"}},
		{"no config", "llama", func(t *testing.T, d string) {
			os.Remove(filepath.Join(d, ConfigFile))
		}, []string{"config.json", "no such file"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := copyFixture(t, c.fixture)
			c.edit(t, dir)
			_, _, err := Load(dir)
			if err == nil {
				t.Fatal("loaded without error")
			}
			t.Log(err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// The fixtures exercise what they claim: changing the RoPE scaling or the sliding
// window by one moves the logits far beyond the tolerance.
func TestReferenceIsSensitive(t *testing.T) {
	exp := readExpected(t)
	for _, c := range []struct {
		arch, what string
		change     func(cfg *layers.Config)
	}{
		{"llama", "llama3 scaling off", func(cfg *layers.Config) { cfg.Arch.Rope = layers.RopeScaling{} }},
		{"llama", "llama3 treated as linear", func(cfg *layers.Config) { cfg.Arch.Rope.Type = layers.RopeLinear }},
		{"qwen3", "linear scaling off", func(cfg *layers.Config) { cfg.Arch.Rope = layers.RopeScaling{} }},
		{"mistral", "window one longer", func(cfg *layers.Config) { cfg.Arch.Window++ }},
		{"mistral", "window one shorter", func(cfg *layers.Config) { cfg.Arch.Window-- }},
		{"qwen2", "rope theta 1e4", func(cfg *layers.Config) { cfg.RotaryBase = 1e4 }},
	} {
		t.Run(c.arch+"/"+c.what, func(t *testing.T) {
			e := exp[c.arch]
			ck, store, err := Load(filepath.Join("testdata", c.arch))
			if err != nil {
				t.Fatal(err)
			}
			cfg := ck.Config.Model(mustMask(t, "causal & pad"))
			a := *cfg.Arch
			cfg.Arch = &a
			c.change(&cfg)
			ids := e.Sequences[0]
			got := forward(t, store, cfg, batch{ids: [][]int32{ids}, lens: []int32{int32(len(ids))}})
			if d := maxDiff(got[0], e.Logits[0], len(ids), e.Vocab); d < 100*logitTol {
				t.Errorf("max |Δlogit| = %.2g: the fixture does not tell this change apart", d)
			}
		})
	}
}

func TestConfigValues(t *testing.T) {
	c, err := ReadConfig(filepath.Join("testdata", "qwen2"))
	if err != nil {
		t.Fatal(err)
	}
	// generation_config.json wins over config.json for the special tokens.
	if c.BOS != 90 || c.Pad != 91 || len(c.EOS) != 2 || c.EOS[0] != 91 || c.EOS[1] != 92 {
		t.Errorf("bos %d, pad %d, eos %v; want 90, 91, [91 92]", c.BOS, c.Pad, c.EOS)
	}
	if !c.QKVBias || c.OutBias || !c.Tied || c.SlidingWindow != 0 || c.DType != "float16" {
		t.Errorf("qwen2 config: %+v", c)
	}
	m, err := ReadConfig(filepath.Join("testdata", "mistral"))
	if err != nil {
		t.Fatal(err)
	}
	if m.SlidingWindow != 4 || len(m.Sliding) != 2 || !m.Sliding[0] || !m.Sliding[1] || m.Pad != -1 {
		t.Errorf("mistral sliding window %d %v, pad %d", m.SlidingWindow, m.Sliding, m.Pad)
	}
	l, err := ReadConfig(filepath.Join("testdata", "llama"))
	if err != nil {
		t.Fatal(err)
	}
	want := layers.RopeScaling{Type: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 64}
	if l.RopeScaling != want || l.KVHeads != 2 || l.HeadDim != 16 || l.RopeTheta != 500000 {
		t.Errorf("llama rope %+v, kv heads %d, head dim %d, theta %g", l.RopeScaling, l.KVHeads, l.HeadDim, l.RopeTheta)
	}
	// Qwen2's use_sliding_window with max_window_layers: layers from that index on.
	dir := copyFixture(t, "qwen2")
	editFile(t, dir, ConfigFile, `"use_sliding_window": false`, `"use_sliding_window": true`)
	editFile(t, dir, ConfigFile, `"max_window_layers": 2`, `"max_window_layers": 1`)
	q, err := ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if q.SlidingWindow != 256 || q.Sliding[0] || !q.Sliding[1] {
		t.Errorf("qwen2 with use_sliding_window: window %d, layers %v; want 256, [false true]", q.SlidingWindow, q.Sliding)
	}
}

func TestForRun(t *testing.T) {
	c, err := ReadConfig(filepath.Join("testdata", "mistral"))
	if err != nil {
		t.Fatal(err)
	}
	self := mustMask(t, "causal & doc")
	m, err := c.ForRun(layers.Config{Kind: layers.KindDecoder, Vocab: 64, DModel: 8, Self: self, Dropout: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if m.DModel != 32 || m.Vocab != 96 || m.Dropout != 0.1 || m.Self.String() != self.String() || m.Arch.Window != 4 {
		t.Errorf("ForRun: %+v", m)
	}
	if _, err := c.ForRun(layers.Config{Kind: layers.KindDecoder, Vocab: 200}); err == nil || !strings.Contains(err.Error(), "200 ids") {
		t.Errorf("vocabulary too large: %v", err)
	}
	if _, err := c.ForRun(layers.Config{Kind: layers.KindSeq2Seq}); err == nil || !strings.Contains(err.Error(), "decoder-only") {
		t.Errorf("seq2seq: %v", err)
	}
}
