package hf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/internal/fsx"
)

// ExportOptions choose how Export lays out the weights.
type ExportOptions struct {
	// DType is the dtype every tensor is written in: "F32", "F16" or "BF16" (round to
	// nearest even). "" keeps each tensor's dtype in Like, else the config's torch_dtype
	// (F32 when it names none of the three).
	DType string

	// MaxShardBytes > 0 splits the weights into files of at most that many bytes
	// (model-00001-of-0000N.safetensors, in state_dict order as save_pretrained does; a
	// tensor larger than the limit gets a file of its own) with
	// model.safetensors.index.json. 0 writes one model.safetensors, or, with Like, the
	// same files as Like.
	MaxShardBytes int64

	// Like is the checkpoint the weights were loaded from: its tensor names (with or
	// without the base model's prefix), dtypes, shards and file metadata are reused, so
	// that exporting unmodified weights reproduces its files byte for byte.
	Like *Checkpoint
}

// torchDTypes maps safetensors dtypes to config.json's torch_dtype names.
var torchDTypes = map[string]string{F32: "float32", F16: "float16", BF16: "bfloat16"}

// Export writes the model whose config is c and whose variables are in store under scope
// (as Checkpoint.Load made them) to dir as a Hugging Face checkpoint: config.json (every
// key c was read with; torch_dtype set to the weights' dtype when it is one dtype),
// generation_config.json when c has one, and model.safetensors or shards with
// model.safetensors.index.json. Every variable is checked before anything is written;
// weight files of another layout left in dir are removed, so that from_pretrained cannot
// pick stale ones. Files are written atomically (temporary file, fsync, rename).
func Export(dir string, c *Config, store *model.Store, scope string, opts ExportOptions) error {
	scope = strings.TrimSuffix(scope, "/")
	if opts.DType != "" && torchDTypes[opts.DType] == "" {
		return fmt.Errorf("hf: export dtype must be F32, F16 or BF16, got %q", opts.DType)
	}
	if c.Raw == nil {
		return fmt.Errorf("hf: export needs the config.json keys of the model (Config.Raw)")
	}
	like := opts.Like
	if like != nil && like.Config.Family() != c.Family() {
		return fmt.Errorf("hf: export like %s: a %s checkpoint cannot lay out a %s", like.Dir, like.Config.Architecture, c.Architecture)
	}
	defaultDType := F32
	for st, torch := range torchDTypes {
		if torch == c.DType {
			defaultDType = st
		}
	}

	// Resolve every tensor's name, dtype and values' variables before writing.
	type out struct {
		t     Tensor
		name  string
		dtype string
		file  string // set for Like's sharding
		vals  []*model.Variable
		bytes int64
	}
	var outs []*out
	used := map[string]bool{}
	for _, t := range c.Tensors() {
		o := &out{t: t, name: t.Name, dtype: cmpOr(opts.DType, defaultDType)}
		if like != nil {
			o.name = like.storedName(t.Name)
			if s := like.stored[t.Name]; s != nil {
				o.file = s.file
				if opts.DType == "" {
					o.dtype = s.st.DType
				}
			}
		}
		for i, p := range t.Vars {
			v := store.GetVariable(scope + p)
			if v == nil {
				return fmt.Errorf("hf: export: the store has no variable %s (tensor %q)", scope+p, o.name)
			}
			if want := t.VarShape(i); !slices.Equal(v.Shape().Dimensions, want) || v.Shape().DType != dtypes.Float32 {
				return fmt.Errorf("hf: export: variable %s is %s, tensor %q needs (Float32)%v", scope+p, v.Shape(), o.name, want)
			}
			o.vals = append(o.vals, v)
		}
		o.bytes = int64(numel(t.Shape) * dtypeSize[o.dtype])
		used[o.dtype] = true
		outs = append(outs, o)
	}

	// Assign files.
	var files []string
	sharded := false
	switch {
	case opts.MaxShardBytes > 0:
		sharded = true
		var size int64
		n := 0
		for _, o := range outs {
			if n == 0 || (size > 0 && size+o.bytes > opts.MaxShardBytes) {
				n, size = n+1, 0
			}
			o.file = strconv.Itoa(n) // renamed once the count is known
			size += o.bytes
		}
		for _, o := range outs {
			i, _ := strconv.Atoi(o.file)
			o.file = fmt.Sprintf("model-%05d-of-%05d.safetensors", i, n)
		}
		for i := 1; i <= n; i++ {
			files = append(files, fmt.Sprintf("model-%05d-of-%05d.safetensors", i, n))
		}
	case like != nil && like.Sharded:
		sharded = true
		files = like.Files
	default:
		for _, o := range outs {
			o.file = WeightsFile
		}
		files = []string{WeightsFile}
	}

	if err := os.MkdirAll(dir, fsx.DirMode); err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	var total int64
	weightMap := map[string]any{}
	for _, f := range files {
		var entries []stEntry
		for _, o := range outs {
			if o.file != f {
				continue
			}
			o := o
			entries = append(entries, stEntry{Name: o.name, DType: o.dtype, Shape: o.t.Shape, Data: func(dst []byte) []byte {
				return appendEncoded(dst, o.dtype, hfValues(o.t, o.vals))
			}})
			weightMap[o.name] = f
			total += o.bytes
		}
		metadata := map[string]string{"format": "pt"}
		if like != nil {
			if h := like.headers[f]; h != nil {
				metadata = h.Metadata
			}
		}
		if err := writeSafetensors(filepath.Join(dir, f), metadata, entries); err != nil {
			return err
		}
	}
	if sharded {
		md := map[string]any{}
		if like != nil && like.Sharded {
			for k, v := range like.IndexMetadata {
				md[k] = v
			}
		}
		md["total_size"] = json.Number(strconv.FormatInt(total, 10))
		if err := writeJSON(filepath.Join(dir, IndexFile), map[string]any{"metadata": md, "weight_map": weightMap}); err != nil {
			return err
		}
	}
	if err := removeStale(dir, files, sharded); err != nil {
		return err
	}

	raw := c.Raw
	if len(used) == 1 {
		raw = make(map[string]any, len(c.Raw))
		for k, v := range c.Raw {
			raw[k] = v
		}
		for d := range used {
			key := "torch_dtype"
			if _, v5 := raw["dtype"]; v5 {
				key = "dtype"
			}
			raw[key] = torchDTypes[d]
		}
	}
	if err := writeJSON(filepath.Join(dir, ConfigFile), raw); err != nil {
		return err
	}
	if c.Generation != nil {
		if err := writeJSON(filepath.Join(dir, GenerationConfigFile), c.Generation); err != nil {
			return err
		}
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// shardName matches the file names save_pretrained gives shards.
var shardName = regexp.MustCompile(`^model-\d{5}-of-\d{5}\.safetensors$`)

// removeStale removes weight files of another layout than the one just written.
func removeStale(dir string, written []string, sharded bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	for _, e := range entries {
		n := e.Name()
		stale := (n == WeightsFile || shardName.MatchString(n)) && !slices.Contains(written, n)
		stale = stale || (n == IndexFile && !sharded)
		if stale {
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				return fmt.Errorf("hf: removing the stale %w", err)
			}
		}
	}
	return nil
}

// hfValues returns tensor t's values in its Hugging Face layout (row-major), from its
// variables: transposed back, or concatenated along the last axis.
func hfValues(t Tensor, vars []*model.Variable) []float32 {
	out := make([]float32, numel(t.Shape))
	if len(vars) == 1 {
		_ = tensors.ConstFlatData(vars[0].MustValue(), func(flat []float32) {
			if !t.Transpose {
				copy(out, flat)
				return
			}
			o, in := t.Shape[0], t.Shape[1] // var [in, o], flat[j*o+i] = W[i][j]
			for i := range o {
				for j := range in {
					out[i*in+j] = flat[j*o+i]
				}
			}
		})
		return out
	}
	last := t.Shape[len(t.Shape)-1]
	w := last / len(vars)
	rows := len(out) / last
	for p, v := range vars {
		_ = tensors.ConstFlatData(v.MustValue(), func(flat []float32) {
			for r := range rows {
				copy(out[r*last+p*w:r*last+(p+1)*w], flat[r*w:(r+1)*w])
			}
		})
	}
	return out
}

// writeJSON writes v as transformers does (json.dumps(v, indent=2, sort_keys=True) and a
// newline): Go sorts map keys, and json.Number keeps numbers as they were read.
func writeJSON(path string, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("hf: %s: %w", path, err)
	}
	return fsx.WriteFileAtomic(path, b.Bytes())
}
