package hf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Checkpoint is an opened Hugging Face checkpoint directory: its config and where each
// of its model's tensors is stored (file, dtype, offsets), every name and shape checked
// against the config. Open reads only headers; Load reads the weights.
type Checkpoint struct {
	Dir    string
	Config *Config

	// Files are the weight files (names relative to Dir): model.safetensors, or the
	// shards model.safetensors.index.json lists, sorted.
	Files []string
	// Sharded is true when the weights come through model.safetensors.index.json, whose
	// "metadata" object is IndexMetadata.
	Sharded       bool
	IndexMetadata map[string]any

	// Prefixless is true for a checkpoint saved from the base model (GPT2Model, the
	// original gpt2 files): its names lack "transformer." / "model.".
	Prefixless bool

	tensors []Tensor           // the model's tensors, canonical names, state_dict order
	stored  map[string]*stored // canonical name -> where it is stored
	headers map[string]*stFile // file name -> header
}

// stored is where one tensor is.
type stored struct {
	file string // relative to Dir
	st   *stTensor
}

// Open reads dir's config.json (and generation_config.json) and the headers of its
// weights (model.safetensors, or the shards of model.safetensors.index.json), and checks
// that every tensor the config's model needs is there with the shape the config implies
// and a loadable dtype (F32, F16, BF16), and that no unknown tensor is. A PyTorch .bin
// checkpoint is refused with the command that converts it.
func Open(dir string) (*Checkpoint, error) {
	c, err := ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	ck := &Checkpoint{Dir: dir, Config: c, stored: map[string]*stored{}, headers: map[string]*stFile{}}
	where, err := ck.readWeightHeaders()
	if err != nil {
		return nil, err
	}
	return ck, ck.match(where)
}

// readWeightHeaders finds the weight files and reads their headers; it returns, for
// every stored tensor name, its file.
func (ck *Checkpoint) readWeightHeaders() (map[string]string, error) {
	dir := ck.Dir
	where := map[string]string{}
	single := filepath.Join(dir, WeightsFile)
	index := filepath.Join(dir, IndexFile)
	switch _, err := os.Stat(single); {
	case err == nil:
		ck.Files = []string{WeightsFile}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("hf: %w", err)
	default:
		raw, err := readJSON(index)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, missingWeights(dir)
		}
		if err != nil {
			return nil, err
		}
		ck.Sharded = true
		if md, ok := raw["metadata"].(map[string]any); ok {
			ck.IndexMetadata = md
		}
		wm, ok := raw["weight_map"].(map[string]any)
		if !ok || len(wm) == 0 {
			return nil, errorf(index, "key \"weight_map\" must map tensor names to file names, got %s", show(raw["weight_map"]))
		}
		files := map[string]bool{}
		for name, f := range wm {
			file, ok := f.(string)
			if !ok || file == "" || file != filepath.Base(file) || !isSafetensorsName(file) {
				return nil, errorf(index, "weight_map[%q] must name a .safetensors file in the directory, got %s", name, show(f))
			}
			where[name] = file
			files[file] = true
		}
		for f := range files {
			ck.Files = append(ck.Files, f)
		}
		sort.Strings(ck.Files)
	}
	for _, f := range ck.Files {
		h, err := readHeader(filepath.Join(dir, f))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && ck.Sharded {
				return nil, fmt.Errorf("hf: %s lists %s, which is missing", index, f)
			}
			return nil, err
		}
		ck.headers[f] = h
		if !ck.Sharded {
			for name := range h.Tensors {
				where[name] = f
			}
		}
	}
	if ck.Sharded {
		for name, f := range where {
			if ck.headers[f].Tensors[name] == nil {
				return nil, fmt.Errorf("hf: %s says tensor %q is in %s, whose header does not have it", index, name, f)
			}
		}
	}
	return where, nil
}

// missingWeights explains a directory without safetensors weights.
func missingWeights(dir string) error {
	for _, bin := range []string{"pytorch_model.bin", "pytorch_model.bin.index.json", "model.pt", "tf_model.h5", "flax_model.msgpack"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err == nil {
			return fmt.Errorf("hf: %s has %s but no %s: masklab reads safetensors weights only (a pickle checkpoint runs code when loaded). "+
				"Convert it where transformers is installed: python -c 'import sys; from transformers import AutoModelForCausalLM as M; "+
				"M.from_pretrained(sys.argv[1]).save_pretrained(sys.argv[1], safe_serialization=True)' %s",
				dir, bin, WeightsFile, dir)
		}
	}
	return fmt.Errorf("hf: %s has neither %s nor %s", dir, WeightsFile, IndexFile)
}

// match pairs the config's tensors with the stored ones, checking names, shapes and
// dtypes.
func (ck *Checkpoint) match(where map[string]string) error {
	c := ck.Config
	ck.tensors = c.Tensors()
	base := c.basePrefix()
	// A checkpoint saved from the base model has no prefix on any tensor.
	if _, ok := where[ck.tensors[0].Name]; !ok {
		if _, ok := where[strings.TrimPrefix(ck.tensors[0].Name, base)]; ok {
			ck.Prefixless = true
		}
	}
	files := strings.Join(ck.Files, ", ")
	var missing []string
	used := map[string]bool{}
	for _, t := range ck.tensors {
		name := ck.storedName(t.Name)
		f, ok := where[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		used[name] = true
		st := ck.headers[f].Tensors[name]
		if !slices.Equal(st.Shape, t.Shape) {
			return fmt.Errorf("hf: %s: tensor %q has shape %v, but %s (%s) implies %v",
				filepath.Join(ck.Dir, f), name, st.Shape, ConfigFile, c.shapeKeys(), t.Shape)
		}
		switch st.DType {
		case F32, F16, BF16:
		default:
			return fmt.Errorf("hf: %s: tensor %q has dtype %s; masklab loads F32, F16 and BF16 weights", filepath.Join(ck.Dir, f), name, st.DType)
		}
		ck.stored[t.Name] = &stored{file: f, st: st}
	}
	if len(missing) > 0 {
		return fmt.Errorf("hf: %s: %d tensor(s) of the %s that %s describes are missing from %s: %s",
			ck.Dir, len(missing), c.Architecture, ConfigFile, files, listSome(missing))
	}
	var extra []string
	for name := range where {
		if !used[name] && !c.ignorable(name) {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return fmt.Errorf("hf: %s: %s: %d tensor(s) that the %s of %s (%s) does not have: %s",
			ck.Dir, files, len(extra), c.Architecture, ConfigFile, c.shapeKeys(), listSome(extra))
	}
	return nil
}

// storedName returns the name a canonical tensor name has in this checkpoint.
func (ck *Checkpoint) storedName(name string) string {
	if ck.Prefixless {
		return strings.TrimPrefix(name, ck.Config.basePrefix())
	}
	return name
}

// shapeKeys names the config keys that determine the tensor shapes.
func (c *Config) shapeKeys() string {
	if c.Family() == "gpt2" {
		return fmt.Sprintf("vocab_size=%d, n_embd=%d, n_layer=%d, n_inner=%d, n_positions=%d", c.Vocab, c.Hidden, c.Layers, c.Intermediate, c.MaxPositions)
	}
	return fmt.Sprintf("vocab_size=%d, hidden_size=%d, num_hidden_layers=%d, num_attention_heads=%d, num_key_value_heads=%d, head_dim=%d, intermediate_size=%d, tie_word_embeddings=%v",
		c.Vocab, c.Hidden, c.Layers, c.Heads, c.KVHeads, c.HeadDim, c.Intermediate, c.Tied)
}

// listSome quotes up to 5 names and says how many more there are.
func listSome(names []string) string {
	var b strings.Builder
	for i, n := range names {
		if i == 5 {
			fmt.Fprintf(&b, " and %d more", len(names)-5)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", n)
	}
	return b.String()
}

// Tensors lists the checkpoint's model tensors (canonical names, state_dict order).
func (ck *Checkpoint) Tensors() []Tensor { return ck.tensors }

// StoredDType returns the dtype tensor name (canonical) is stored in.
func (ck *Checkpoint) StoredDType(name string) string {
	if s := ck.stored[name]; s != nil {
		return s.st.DType
	}
	return ""
}

// Load reads every tensor into float32 variables of store under scope (a scope path such
// as "/" or "/model"; "" means the root), creating them or writing the values of
// existing ones in place (whose shapes must match). It streams: one tensor's stored
// bytes at a time besides the float32 values. It is LoadOn without a backend.
func (ck *Checkpoint) Load(store *model.Store, scope string) error {
	return ck.LoadOn(nil, store, scope)
}

// LoadOn is Load for a model that be will run: a variable it creates holds its values
// in one of be's shared buffers (the Go backend's; on a backend without them, in host
// memory as Load does), so that the first execution uses them where they are instead of
// copying the whole model into the backend (which, until the host copies are collected,
// makes the resident set twice the model's float32 bytes). A variable that already has
// a float32 value of the right shape (a model initialised before its weights are loaded)
// is written in place, wherever its value lives, instead of being replaced by a copy.
func (ck *Checkpoint) LoadOn(be compute.Backend, store *model.Store, scope string) error {
	scope = strings.TrimSuffix(scope, "/")
	byFile := map[string][]Tensor{}
	for _, t := range ck.tensors {
		f := ck.stored[t.Name].file
		byFile[f] = append(byFile[f], t)
	}
	var buf []byte
	for _, f := range ck.Files {
		ts := byFile[f]
		sort.Slice(ts, func(i, j int) bool { return ck.stored[ts[i].Name].st.Begin < ck.stored[ts[j].Name].st.Begin })
		path := filepath.Join(ck.Dir, f)
		r, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("hf: %w", err)
		}
		for _, t := range ts {
			if buf, err = ck.loadTensor(r, be, store, scope, t, buf); err != nil {
				r.Close()
				return err
			}
		}
		r.Close()
	}
	return nil
}

// loadTensor reads one tensor into its variable(s).
func (ck *Checkpoint) loadTensor(r *os.File, be compute.Backend, store *model.Store, scope string, t Tensor, buf []byte) ([]byte, error) {
	s := ck.stored[t.Name]
	sf := ck.headers[s.file]
	// The tensors the values go to: an existing variable's own value, else a new tensor
	// (in a shared buffer of be when it has them).
	values := make([]*tensors.Tensor, len(t.Vars))
	inPlace := make([]bool, len(t.Vars))
	for i, path := range t.Vars {
		full := scope + path
		shape := shapes.Make(dtypes.Float32, t.VarShape(i)...)
		if v := store.GetVariable(full); v != nil {
			if !v.Shape().Equal(shape) {
				return buf, fmt.Errorf("hf: variable %s is %s, tensor %q gives %s", full, v.Shape(), ck.storedName(t.Name), shape)
			}
			if v.HasValue() {
				cur, err := v.Value()
				if err == nil && cur.Shape().Equal(shape) && cur.CheckValid() == nil {
					values[i], inPlace[i] = cur, true
					continue
				}
			}
		}
		if be != nil {
			tt, err := tensors.FromShapeForBackend(be, 0, shape)
			if err != nil {
				return buf, fmt.Errorf("hf: variable %s: %w", full, err)
			}
			values[i] = tt
		} else {
			values[i] = tensors.FromShape(shape)
		}
	}
	var err error
	if len(t.Vars) == 1 {
		err2 := tensors.MutableFlatData(values[0], func(flat []float32) {
			var put func(int, float32)
			if t.Transpose {
				out, in := t.Shape[0], t.Shape[1]
				put = func(i int, v float32) { flat[(i%in)*out+i/in] = v }
			}
			buf, err = readFloat32(r, sf, s.st, flat, put, buf)
		})
		if err2 != nil {
			return buf, err2
		}
	} else {
		// Split along the last axis (GPT-2's c_attn.bias).
		all := make([]float32, numel(t.Shape))
		if buf, err = readFloat32(r, sf, s.st, all, nil, buf); err == nil {
			splitLast(all, t.Shape, values)
		}
	}
	if err != nil {
		return buf, err
	}
	for i, path := range t.Vars {
		full := scope + path
		if inPlace[i] {
			continue
		}
		if v := store.GetVariable(full); v != nil {
			if err := v.SetValue(values[i]); err != nil {
				return buf, fmt.Errorf("hf: variable %s: %w", full, err)
			}
			continue
		}
		if _, err := store.CreateVariable(full, values[i]); err != nil {
			return buf, fmt.Errorf("hf: variable %s: %w", full, err)
		}
	}
	return buf, nil
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// splitLast splits all (shape) into len(parts) equal parts along the last axis.
func splitLast(all []float32, shape []int, parts []*tensors.Tensor) {
	last := shape[len(shape)-1]
	w := last / len(parts)
	rows := len(all) / last
	for p, t := range parts {
		_ = tensors.MutableFlatData(t, func(flat []float32) {
			for r := range rows {
				copy(flat[r*w:(r+1)*w], all[r*last+p*w:r*last+(p+1)*w])
			}
		})
	}
}

// Load opens dir and loads its weights into a new store (variables under the root
// scope), ready for the model that ck.Config.Model describes.
func Load(dir string) (*Checkpoint, *model.Store, error) {
	ck, err := Open(dir)
	if err != nil {
		return nil, nil, err
	}
	store := model.NewStore()
	if err := ck.Load(store, ""); err != nil {
		return nil, nil, err
	}
	return ck, store, nil
}
