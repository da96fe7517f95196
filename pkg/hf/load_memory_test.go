package hf

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/layers"
)

// The memory tests count the bytes the Go heap hands out (runtime.MemStats.TotalAlloc)
// while loading, not time: they fail when loading makes another copy of the model (the
// file read whole, a converted copy beside the variables, the backend copying the
// weights on first use), whatever the machine's speed.

// memCheckpoint writes a Llama checkpoint of 2.2M parameters (8.8 MB in float32) in BF16
// with Export, and returns its directory, its float32 bytes and the stored bytes of its
// largest tensor (what Load may hold besides the float32 values).
func memCheckpoint(t *testing.T) (dir string, f32, maxStored int64) {
	t.Helper()
	dir = t.TempDir()
	cfg := map[string]any{
		"architectures": []string{"LlamaForCausalLM"}, "model_type": "llama", "hidden_act": "silu",
		"hidden_size": 256, "intermediate_size": 512, "num_attention_heads": 4, "num_key_value_heads": 2,
		"num_hidden_layers": 2, "vocab_size": 2048, "max_position_embeddings": 64, "rms_norm_eps": 1e-5,
		"rope_theta": 10000.0, "tie_word_embeddings": false, "bos_token_id": 1, "eos_token_id": 2,
	}
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	store := model.NewStore()
	k := 0
	for _, tn := range c.Tensors() {
		n := int64(numel(tn.Shape))
		f32 += 4 * n
		maxStored = max(maxStored, 2*n)
		for i, p := range tn.Vars {
			v := tensors.FromShape(shapes.Make(dtypes.Float32, tn.VarShape(i)...))
			tensors.MutableFlatData(v, func(flat []float32) {
				for j := range flat {
					k++
					flat[j] = float32(k%97-48) / 256
				}
			})
			if _, err := store.CreateVariable(p, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := Export(dir, c, store, "", ExportOptions{DType: BF16}); err != nil {
		t.Fatal(err)
	}
	return dir, f32, maxStored
}

// allocated returns the heap bytes f allocates.
func allocated(f func()) int64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return int64(b.TotalAlloc - a.TotalAlloc)
}

// slack covers what loading allocates besides weights: the tensor list, variable
// bookkeeping, scratch of the reader (a few KB for this model).
const slack = 256 << 10

// Load streams: it allocates the float32 values plus one tensor's stored bytes, not the
// file or a second float32 copy.
func TestLoadStreams(t *testing.T) {
	dir, f32, maxStored := memCheckpoint(t)
	ck, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	store := model.NewStore()
	var loadErr error
	got := allocated(func() { loadErr = ck.Load(store, "") })
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	t.Logf("Load allocated %d bytes for %d float32 bytes (largest stored tensor %d)", got, f32, maxStored)
	if got < f32 || got > f32+maxStored+slack {
		t.Errorf("Load allocated %d bytes; want the float32 weights (%d) plus at most one stored tensor (%d) and %d", got, f32, maxStored, slack)
	}
	// Loading into the existing variables writes their values in place.
	got = allocated(func() { loadErr = ck.Load(store, "") })
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	if got > maxStored+slack {
		t.Errorf("Load into existing variables allocated %d bytes; want at most one stored tensor (%d) and %d", got, maxStored, slack)
	}
}

// LoadOn puts the weights into the backend's shared buffers: the first execution does not
// copy the model again (it copies Load's host values), and the logits are Load's.
func TestLoadOnBackendHasNoSecondCopy(t *testing.T) {
	be := backend.Must()
	if !be.HasSharedBuffers() {
		t.Skipf("backend %s has no shared buffers", be.Name())
	}
	dir, f32, maxStored := memCheckpoint(t)
	ck, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ck.Config.Model(mustMask(t, "causal"))
	// run loads the checkpoint into a new store and runs the model once (compiling it,
	// the same work for both loads), returning the bytes allocated and the logits.
	run := func(load func(*model.Store) error) (int64, []float32) {
		var out []*tensors.Tensor
		var runErr error
		n := allocated(func() {
			store := model.NewStore()
			if runErr = load(store); runErr != nil {
				return
			}
			ex, err := model.NewExec(be, store, func(scope *model.Scope, ids *graph.Node) *graph.Node {
				logits, err := layers.Forward(scope, cfg, layers.Inputs{Dec: ids})
				if err != nil {
					panic(err)
				}
				return logits
			})
			if err != nil {
				runErr = err
				return
			}
			out, runErr = ex.Exec([][]int32{{1, 7, 300, 2000}})
		})
		if runErr != nil {
			t.Fatal(runErr)
		}
		return n, tensors.MustCopyFlatData[float32](out[0])
	}
	load := func(store *model.Store) error { return ck.Load(store, "") }
	loadOn := func(store *model.Store) error { return ck.LoadOn(be, store, "") }
	run(loadOn) // warm the backend's buffer pools and caches for both measurements
	hostN, hostLogits := run(load)
	onN, onLogits := run(loadOn)
	t.Logf("load and run: Load %d bytes, LoadOn %d bytes (float32 weights %d)", hostN, onN, f32)
	if saved := hostN - onN; saved < f32*3/4 {
		t.Errorf("Load then run allocated %d bytes, LoadOn then run %d: LoadOn saved %d, want about the float32 weights (%d): the backend copies the weights again",
			hostN, onN, saved, f32)
	}
	for i := range hostLogits {
		if hostLogits[i] != onLogits[i] {
			t.Fatalf("logit %d: %g after LoadOn, %g after Load", i, onLogits[i], hostLogits[i])
		}
	}
	// The variables hold their values in the backend's buffers; loading again writes
	// them in place.
	store := model.NewStore()
	if err := ck.LoadOn(be, store, ""); err != nil {
		t.Fatal(err)
	}
	v := store.GetVariable(ck.Tensors()[0].Vars[0])
	before := v.MustValue()
	if !before.IsShared() {
		t.Errorf("%s's value is not in a shared buffer", v.Path())
	}
	if n := allocated(func() { err = ck.LoadOn(be, store, "") }); err != nil || n > maxStored+slack {
		t.Errorf("LoadOn into loaded variables: %d bytes allocated (want at most %d), error %v", n, maxStored+slack, err)
	}
	if v.MustValue() != before {
		t.Errorf("LoadOn replaced %s's value instead of writing it in place", v.Path())
	}
}
