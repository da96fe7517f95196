package hf

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/internal/fsx"
	"github.com/masklab/masklab/pkg/layers"
)

// PEFT's adapter files (peft.utils.constants CONFIG_NAME, SAFETENSORS_WEIGHTS_NAME).
const (
	AdapterConfigFile  = "adapter_config.json"
	AdapterWeightsFile = "adapter_model.safetensors"
)

// adapterKey is the name PEFT's save_pretrained gives an adapter matrix of module m
// (which "A" or "B"): get_peft_model_state_dict's keys of a PeftModelForCausalLM, the
// adapter name ("default") removed, e.g.
// base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight.
func adapterKey(m layers.LoRAModule, which string) string {
	return "base_model.model." + m.Name + ".lora_" + which + ".weight"
}

// adapterTargets is target_modules as PEFT saves it: the targets as given, "all-linear"
// expanded to the module names it matched (as PEFT's _maybe_include_all_linear_layers
// rewrites the config), or the family's default; sorted.
func adapterTargets(m layers.Config, targets []layers.LoRAModule) []string {
	ts := m.LoRA.Targets
	if len(ts) == 0 || slices.Contains(ts, layers.LoRAAllLinear) {
		ts = nil
		for _, t := range targets {
			ts = append(ts, t.Short())
		}
	}
	ts = slices.Clone(ts)
	sort.Strings(ts)
	return slices.Compact(ts)
}

// ExportAdapters writes the LoRA adapters of model m (m.LoRA; its variables in store
// under scope) to dir as PEFT's save_pretrained does for a LoraConfig on ck's model:
// adapter_config.json (task_type CAUSAL_LM, r, lora_alpha, lora_dropout, target_modules,
// fan_in_fan_out for GPT-2's Conv1D layers, base_model_name_or_path ck.Dir, PEFT's
// defaults for the rest) and adapter_model.safetensors (F32; lora_A.weight [r, in],
// lora_B.weight [out, r], PEFT's names; metadata {"format": "pt"}). PEFT's
// PeftModel.from_pretrained(base, dir) loads them; so does LoadAdapters.
func ExportAdapters(dir string, ck *Checkpoint, store *model.Store, scope string, m layers.Config) error {
	if m.LoRA == nil {
		return fmt.Errorf("hf: export adapters: the model has no LoRA adapters")
	}
	targets, err := m.LoRATargets()
	if err != nil {
		return err
	}
	scope = strings.TrimSuffix(scope, "/")
	var entries []stEntry
	for _, t := range targets {
		for _, w := range []struct {
			which   string
			in, out int // the variable's [in, out]; PEFT's weight is its transpose
		}{{"A", t.In, m.LoRA.Rank}, {"B", m.LoRA.Rank, t.Out}} {
			path := scope + t.Scope + "/lora_" + w.which
			v := store.GetVariable(path)
			if v == nil {
				return fmt.Errorf("hf: export adapters: the store has no variable %s (module %s)", path, t.Name)
			}
			if !slices.Equal(v.Shape().Dimensions, []int{w.in, w.out}) || v.Shape().DType != dtypes.Float32 {
				return fmt.Errorf("hf: export adapters: variable %s is %s, module %s needs (Float32)[%d %d]", path, v.Shape(), t.Name, w.in, w.out)
			}
			flat := tensors.MustCopyFlatData[float32](v.MustValue())
			tr := make([]float32, len(flat))
			for i := range w.in {
				for j := range w.out {
					tr[j*w.in+i] = flat[i*w.out+j]
				}
			}
			entries = append(entries, stEntry{Name: adapterKey(t, w.which), DType: F32, Shape: []int{w.out, w.in},
				Data: func(dst []byte) []byte { return appendEncoded(dst, F32, tr) }})
		}
	}
	if err := os.MkdirAll(dir, fsx.DirMode); err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	if err := writeSafetensors(filepath.Join(dir, AdapterWeightsFile), map[string]string{"format": "pt"}, entries); err != nil {
		return err
	}
	base, err := filepath.Abs(ck.Dir)
	if err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	alpha := m.LoRA.Alpha
	if alpha == 0 {
		alpha = layers.DefaultLoRAAlpha
	}
	cfg := map[string]any{
		"alpha_pattern": map[string]any{}, "auto_mapping": nil, "base_model_name_or_path": base, "bias": "none",
		"fan_in_fan_out": m.Arch.Family == layers.FamilyGPT2, "inference_mode": true, "init_lora_weights": true,
		"layers_pattern": nil, "layers_to_transform": nil, "lora_alpha": pyNumber(alpha, false),
		"lora_dropout": pyNumber(m.LoRA.Dropout, true), "modules_to_save": nil, "peft_type": "LORA", "r": m.LoRA.Rank,
		"rank_pattern": map[string]any{}, "revision": nil, "target_modules": adapterTargets(m, targets),
		"task_type": "CAUSAL_LM", "use_dora": false, "use_rslora": false,
	}
	return writeJSON(filepath.Join(dir, AdapterConfigFile), cfg)
}

// pyNumber writes v as Python's json does: an integral value as an int (asFloat false)
// or with ".0" (a float).
func pyNumber(v float64, asFloat bool) json.Number {
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if asFloat && !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return json.Number(s)
}

// LoadAdapters reads PEFT's adapter files in dir (adapter_config.json and
// adapter_model.safetensors, as save_pretrained writes them for a LoRA on a model m
// describes) into float32 variables of store under scope, in masklab's layout, and
// returns the adapters' settings (for m.LoRA). Options masklab does not implement
// (use_dora, use_rslora, a bias other than "none", modules_to_save, layers_to_transform,
// rank_pattern, alpha_pattern) are errors naming the key, as are missing, unexpected and
// misshapen tensors.
func LoadAdapters(dir string, store *model.Store, scope string, m layers.Config) (*layers.LoRA, error) {
	path := filepath.Join(dir, AdapterConfigFile)
	raw, err := readJSON(path)
	if err != nil {
		return nil, err
	}
	if pt, _ := raw["peft_type"].(string); pt != "LORA" {
		return nil, errorf(path, "peft_type must be \"LORA\", got %s", show(raw["peft_type"]))
	}
	for key, ok := range map[string]func(v any) bool{
		"use_dora":            func(v any) bool { return v == nil || v == false },
		"use_rslora":          func(v any) bool { return v == nil || v == false },
		"bias":                func(v any) bool { return v == nil || v == "none" },
		"modules_to_save":     func(v any) bool { return v == nil },
		"layers_to_transform": func(v any) bool { return v == nil },
		"rank_pattern":        func(v any) bool { mp, _ := v.(map[string]any); return v == nil || len(mp) == 0 },
		"alpha_pattern":       func(v any) bool { mp, _ := v.(map[string]any); return v == nil || len(mp) == 0 },
	} {
		if !ok(raw[key]) {
			return nil, errorf(path, "%s=%s: masklab implements plain LoRA (PEFT's defaults for this key)", key, show(raw[key]))
		}
	}
	num := func(key string) (float64, error) {
		switch v := raw[key].(type) {
		case json.Number:
			return v.Float64()
		case float64:
			return v, nil
		}
		return 0, errorf(path, "key %q must be a number, got %s", key, show(raw[key]))
	}
	l := &layers.LoRA{}
	r, err := num("r")
	if err != nil {
		return nil, err
	}
	l.Rank = int(r)
	if l.Alpha, err = num("lora_alpha"); err != nil {
		return nil, err
	}
	if _, ok := raw["lora_dropout"]; ok {
		if l.Dropout, err = num("lora_dropout"); err != nil {
			return nil, err
		}
	}
	switch t := raw["target_modules"].(type) {
	case []any:
		for _, x := range t {
			s, ok := x.(string)
			if !ok {
				return nil, errorf(path, "target_modules must list module names, got %s", show(x))
			}
			l.Targets = append(l.Targets, s)
		}
	case string:
		if t != layers.LoRAAllLinear {
			return nil, errorf(path, "target_modules=%q: a regular expression; masklab takes a list of module names or %q", t, layers.LoRAAllLinear)
		}
		l.Targets = []string{t}
	default:
		return nil, errorf(path, "target_modules must list module names, got %s", show(raw["target_modules"]))
	}
	m.LoRA = l
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("hf: %s: %w", path, err)
	}
	targets, _ := m.LoRATargets()
	wpath := filepath.Join(dir, AdapterWeightsFile)
	sf, err := readHeader(wpath)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(wpath)
	if err != nil {
		return nil, fmt.Errorf("hf: %w", err)
	}
	defer f.Close()
	scope = strings.TrimSuffix(scope, "/")
	want := map[string]bool{}
	for _, t := range targets {
		for _, w := range []struct {
			which   string
			in, out int
		}{{"A", t.In, l.Rank}, {"B", l.Rank, t.Out}} {
			key := adapterKey(t, w.which)
			want[key] = true
			st := sf.Tensors[key]
			if st == nil {
				return nil, fmt.Errorf("hf: %s has no tensor %q (target_modules %v, r=%d)", wpath, key, l.Targets, l.Rank)
			}
			if !slices.Equal(st.Shape, []int{w.out, w.in}) {
				return nil, fmt.Errorf("hf: %s: tensor %q has shape %v, want [%d %d] (r=%d)", wpath, key, st.Shape, w.out, w.in, l.Rank)
			}
			val := tensors.FromFlatDataAndDimensions(make([]float32, w.in*w.out), w.in, w.out)
			var rerr error
			_ = tensors.MutableFlatData(val, func(flat []float32) { // PEFT's [out, in] into [in, out]
				_, rerr = readFloat32(f, sf, st, flat, func(i int, v float32) { flat[(i%w.in)*w.out+i/w.in] = v }, nil)
			})
			if rerr != nil {
				return nil, rerr
			}
			vpath := scope + t.Scope + "/lora_" + w.which
			if v := store.GetVariable(vpath); v != nil {
				err = v.SetValue(val)
			} else {
				_, err = store.CreateVariable(vpath, val)
			}
			if err != nil {
				return nil, fmt.Errorf("hf: variable %s: %w", vpath, err)
			}
		}
	}
	var extra []string
	for name := range sf.Tensors {
		if !want[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return nil, fmt.Errorf("hf: %s: %d tensor(s) that target_modules %v of this %s do not explain: %s", wpath, len(extra), l.Targets, m.Arch.Family, listSome(extra))
	}
	return l, nil
}
