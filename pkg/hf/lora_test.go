package hf

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
)

// readAll reads every tensor of a safetensors file as float32.
func readAll(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	sf, err := readHeader(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]float32{}
	for name, st := range sf.Tensors {
		v := make([]float32, numel(st.Shape))
		if _, err := readFloat32(f, sf, st, v, nil, nil); err != nil {
			t.Fatal(err)
		}
		out[name] = v
	}
	return out
}

// PEFT adapter files written by an independent PyTorch script (testdata/make_lora.py, as
// PEFT names and lays them out) load into masklab's adapters; merged by layers.MergeLoRA
// and exported, the targeted weights equal PyTorch's merge (W + transpose(B·A,
// fan_in_fan_out)·alpha/r) within float32 rounding, and every other tensor is the base's;
// written back by ExportAdapters, the adapter files are the script's, byte for byte.
func TestLoRAAdaptersMergeAsPEFT(t *testing.T) {
	for _, name := range []string{"qwen2", "gpt2"} {
		t.Run(name, func(t *testing.T) {
			ck, store, err := Load(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			m := ck.Config.Model(mask.Causal)
			fix := filepath.Join("testdata", "lora-"+name)
			l, err := LoadAdapters(fix, store, "", m)
			if err != nil {
				t.Fatal(err)
			}
			m.LoRA = l
			merged, err := layers.MergeLoRA(store, "", m)
			if err != nil {
				t.Fatal(err)
			}
			out := t.TempDir()
			if err := Export(out, ck.Config, merged, "", ExportOptions{DType: F32}); err != nil {
				t.Fatal(err)
			}
			got := readAll(t, filepath.Join(out, WeightsFile))
			want := readAll(t, filepath.Join(fix, "merged.safetensors"))
			if err := Export(filepath.Join(out, "base"), ck.Config, store, "", ExportOptions{DType: F32}); err != nil {
				t.Fatal(err)
			}
			orig := readAll(t, filepath.Join(out, "base", WeightsFile))
			for k, g := range got {
				w, ok := want[k]
				if !ok {
					w = orig[k]
				}
				d, changed := 0.0, 0.0
				for i := range g {
					d = max(d, math.Abs(float64(g[i]-w[i])))
					changed = max(changed, math.Abs(float64(g[i]-orig[k][i])))
				}
				if d > 1e-6 {
					t.Errorf("%s differs from PyTorch's merge by %g", k, d)
				}
				if ok && changed < 1e-3 {
					t.Errorf("%s: the merge did not change it", k)
				}
			}
			if len(want) != map[string]int{"qwen2": 14, "gpt2": 8}[name] {
				t.Fatalf("fixture has %d merged tensors", len(want))
			}
			back := t.TempDir()
			if err := ExportAdapters(back, ck, store, "", m); err != nil {
				t.Fatal(err)
			}
			a, _ := os.ReadFile(filepath.Join(fix, AdapterWeightsFile))
			b, _ := os.ReadFile(filepath.Join(back, AdapterWeightsFile))
			if !bytes.Equal(a, b) {
				t.Errorf("ExportAdapters' %s differs from the PEFT-layout fixture's", AdapterWeightsFile)
			}
			var ca, cb map[string]any
			ja, _ := os.ReadFile(filepath.Join(fix, AdapterConfigFile))
			jb, _ := os.ReadFile(filepath.Join(back, AdapterConfigFile))
			if json.Unmarshal(ja, &ca) != nil || json.Unmarshal(jb, &cb) != nil {
				t.Fatal("adapter_config.json does not parse")
			}
			if !strings.HasSuffix(cb["base_model_name_or_path"].(string), "/testdata/"+name) {
				t.Errorf("base_model_name_or_path %v", cb["base_model_name_or_path"])
			}
			ca["base_model_name_or_path"], cb["base_model_name_or_path"] = "", ""
			sa, _ := json.Marshal(ca)
			sb, _ := json.Marshal(cb)
			if string(sa) != string(sb) {
				t.Errorf("adapter_config.json:\n got %s\nwant %s", sb, sa)
			}
		})
	}
}

func TestLoRAAdaptersBadFiles(t *testing.T) {
	ck, store, err := Load(filepath.Join("testdata", "qwen2"))
	if err != nil {
		t.Fatal(err)
	}
	m := ck.Config.Model(mask.Causal)
	fix := filepath.Join("testdata", "lora-qwen2")
	weights, _ := os.ReadFile(filepath.Join(fix, AdapterWeightsFile))
	config, _ := os.ReadFile(filepath.Join(fix, AdapterConfigFile))
	for _, c := range []struct {
		edit func(cfg map[string]any)
		want string
	}{
		{func(cfg map[string]any) { cfg["use_dora"] = true }, "use_dora=true: masklab implements plain LoRA"},
		{func(cfg map[string]any) { cfg["target_modules"] = []any{"q_proj", "qkv"} }, `LoRA target "qkv" matches no module of this llama model; its linear modules are q_proj, k_proj`},
		{func(cfg map[string]any) { cfg["target_modules"] = []any{"q_proj"} }, "tensor(s) that target_modules [q_proj] of this llama do not explain"},
		{func(cfg map[string]any) { cfg["r"] = 8 }, "has shape [4 32], want [8 32] (r=8)"},
		{func(cfg map[string]any) { cfg["peft_type"] = "IA3" }, `peft_type must be "LORA"`},
		{func(cfg map[string]any) { cfg["target_modules"] = ".*proj" }, "a regular expression"},
	} {
		var cfg map[string]any
		if err := json.Unmarshal(config, &cfg); err != nil {
			t.Fatal(err)
		}
		c.edit(cfg)
		dir := t.TempDir()
		data, _ := json.Marshal(cfg)
		os.WriteFile(filepath.Join(dir, AdapterConfigFile), data, 0o644)
		os.WriteFile(filepath.Join(dir, AdapterWeightsFile), weights, 0o644)
		if _, err := LoadAdapters(dir, store, "", m); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one containing %q", err, c.want)
		}
	}
}

// A merged LoRA model exported with DType "" keeps the base checkpoint's layout (F16,
// the same shards and names, as PEFT's merge_and_unload + save_pretrained keeps a
// model's dtype): the merged weights are PyTorch's merge rounded once to float16.
func TestLoRAMergedExportKeepsTheBaseDType(t *testing.T) {
	ck, store, err := Load(filepath.Join("testdata", "qwen2"))
	if err != nil {
		t.Fatal(err)
	}
	m := ck.Config.Model(mask.Causal)
	fix := filepath.Join("testdata", "lora-qwen2")
	if m.LoRA, err = LoadAdapters(fix, store, "", m); err != nil {
		t.Fatal(err)
	}
	merged, err := layers.MergeLoRA(store, "", m)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := ExportFineTuned(out, ck, merged, "", ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	ck2, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ck2.Files, ",") != strings.Join(ck.Files, ",") || !ck2.Sharded {
		t.Errorf("files %v, want the base's %v", ck2.Files, ck.Files)
	}
	for _, ts := range ck.Tensors() {
		if a, b := ck.StoredDType(ts.Name), ck2.StoredDType(ts.Name); a != b || a != F16 {
			t.Errorf("%s: %s, base %s", ts.Name, b, a)
		}
	}
	want := readAll(t, filepath.Join(fix, "merged.safetensors"))
	got := map[string][]float32{}
	for _, f := range ck2.Files {
		for k, v := range readAll(t, filepath.Join(out, f)) {
			got[k] = v
		}
	}
	for k, w := range want {
		for i := range w {
			// One float16 rounding: half an ulp, 2^-11 relative (subnormals: 2^-25).
			if d := math.Abs(float64(got[k][i] - w[i])); d > math.Max(math.Abs(float64(w[i]))/2048, 1.0/(1<<25)) {
				t.Fatalf("%s[%d] = %g, PyTorch's merge %g", k, i, got[k][i], w[i])
			}
		}
	}
}
