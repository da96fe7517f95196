package hf

import (
	"math"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/optim"
)

// Greedy decoding of a loaded checkpoint (layers.Greedy: logits at the last filled
// position of a fixed buffer) continues each prompt with the argmax of the full forward
// pass on the sequence so far, step by step: the sliding window and learned positions
// decode as they score.
func TestGreedyDecoding(t *testing.T) {
	exp := readExpected(t)
	for _, name := range []string{"mistral", "gpt2", "qwen3"} {
		t.Run(name, func(t *testing.T) {
			e := exp[name]
			ck, store, err := Load(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			cfg := ck.Config.Model(mustMask(t, "causal & pad"))
			const maxLen = 12
			prompts := [][]int32{e.Sequences[0][:3], e.Sequences[2][:2]}
			out, err := layers.GreedyDecode(backend.Must(), store, cfg, layers.GreedyOptions{BOS: 1, EOS: -1, PAD: 0, MaxLen: maxLen}, nil, prompts)
			if err != nil {
				t.Fatal(err)
			}
			for r, p := range prompts {
				seq := slices.Clone(p)
				for len(seq) <= maxLen {
					logits := forward(t, store, cfg, batch{ids: [][]int32{seq}, lens: []int32{int32(len(seq))}})
					seq = append(seq, argmax(logits[0][len(seq)-1]))
				}
				if want := seq[len(p):]; !slices.Equal(out[r], want) {
					t.Errorf("row %d: greedy %v, step-by-step argmax %v", r, out[r], want)
				}
			}
		})
	}
}

func argmax(xs []float32) int32 {
	best := 0
	for i, x := range xs {
		if x > xs[best] {
			best = i
		}
	}
	return int32(best)
}

// Full fine-tuning of a loaded checkpoint: every loaded tensor is trainable; 40 AdamW
// steps on two documents packed in one row ("causal & doc & pad", positions restarting
// per document) with a completion-only loss (the first 3 tokens of each document are
// the prompt) bring the loss down; the trained weights export (F32) and reload to the
// trained model's logits exactly.
func TestFineTuneAndExport(t *testing.T) {
	exp := readExpected(t)
	e := exp["qwen2"]
	ck, err := Open(filepath.Join("testdata", "qwen2"))
	if err != nil {
		t.Fatal(err)
	}
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(1); err != nil {
		t.Fatal(err)
	}
	if err := ck.Load(store, "/model"); err != nil {
		t.Fatal(err)
	}
	before := map[string][]float32{}
	for v := range store.IterVariables() {
		if v.DType() == dtypes.Float32 {
			before[v.Path()] = tensors.MustCopyFlatData[float32](v.MustValue())
		}
	}
	cfg := ck.Config.Model(mustMask(t, "causal & doc & pad"))
	cfg.Dropout = 0.1

	// The packed row: documents 1 and 2, then 3 padding positions.
	s1, s2 := e.Sequences[1], e.Sequences[2]
	n := len(s1) + len(s2)
	T := n + 3
	ids, labels, seg, pos := make([]int32, T), make([]int32, T), make([]int32, T), make([]int32, T)
	weights := make([]float32, T)
	for i, doc := range [][]int32{s1, s2} {
		off := 0
		if i == 1 {
			off = len(s1)
		}
		for j, tok := range doc {
			ids[off+j], seg[off+j], pos[off+j] = tok, int32(i+1), int32(j)
			if j+1 < len(doc) {
				labels[off+j] = doc[j+1]
				if j+1 >= 3 { // the label is a completion token
					weights[off+j] = 1
				}
			}
		}
	}
	oc := optim.Config{LR: 3e-3, Schedule: "constant", Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: 0.01, ClipNorm: 1}
	var trained []*model.Variable
	exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, x, l, w, s, p, lr *graph.Node) *graph.Node {
		layers.VariablesAsParameters(x.Graph())
		mscope := scope.In("model")
		B := x.Shape().Dim(0)
		lens := graph.BroadcastToDims(graph.Scalar(x.Graph(), dtypes.Int32, n), B)
		logits, err := layers.Forward(mscope, cfg, layers.Inputs{Dec: x, DecLen: lens, Segments: s, Positions: p, Training: true})
		if err != nil {
			panic(err)
		}
		loss := layers.WeightedCrossEntropy(logits, l, w)
		var vars []*model.Variable
		for v := range mscope.IterVariables() {
			if v.Trainable && v.InUseByGraph(loss.Graph()) {
				vars = append(vars, v)
			}
		}
		sort.Slice(vars, func(i, j int) bool { return vars[i].Path() < vars[j].Path() })
		nodes := make([]*graph.Node, len(vars))
		for i, v := range vars {
			nodes[i] = v.NodeValue(loss.Graph())
		}
		optim.AdamW(scope, oc, vars, graph.Gradient(loss, nodes...), lr)
		trained = vars
		return loss
	})
	if err != nil {
		t.Fatal(err)
	}
	var first, last float64
	for step := range 40 {
		out, err := exec.Exec([][]int32{ids}, [][]int32{labels}, [][]float32{weights}, [][]int32{seg}, [][]int32{pos}, float32(oc.LR))
		if err != nil {
			t.Fatal(err)
		}
		loss := float64(out[0].Value().(float32))
		if step == 0 {
			first = loss
		}
		last = loss
	}
	t.Logf("completion loss %.3f -> %.3f in 40 steps", first, last)
	if !(last < first/3) || math.IsNaN(last) {
		t.Errorf("loss %.3f -> %.3f: fine-tuning did not learn", first, last)
	}
	if len(trained) != len(before) {
		t.Errorf("%d variables trained, %d loaded", len(trained), len(before))
	}
	for _, v := range trained {
		if slices.Equal(before[v.Path()], tensors.MustCopyFlatData[float32](v.MustValue())) {
			t.Errorf("%s did not change", v.Path())
		}
	}

	// Export the fine-tuned weights and reload them: the same logits, bit for bit.
	dir := t.TempDir()
	if err := Export(dir, ck.Config, store, "/model", ExportOptions{DType: F32}); err != nil {
		t.Fatal(err)
	}
	ck2, store2, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	eval := ck.Config.Model(mustMask(t, "causal & pad"))
	x := batch{ids: [][]int32{s1}, lens: []int32{int32(len(s1))}}
	exec2, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, ids, lens *graph.Node) *graph.Node {
		logits, err := layers.Forward(scope.In("model"), eval, layers.Inputs{Dec: ids, DecLen: lens})
		if err != nil {
			panic(err)
		}
		return logits
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec2.Exec(x.ids, x.lens)
	if err != nil {
		t.Fatal(err)
	}
	want := out[0].Value().([][][]float32)
	got := forward(t, store2, ck2.Config.Model(mustMask(t, "causal & pad")), x)
	for i := range s1 {
		if !slices.Equal(got[0][i], want[0][i]) {
			t.Fatalf("position %d: the reloaded export's logits differ from the fine-tuned model's", i)
		}
	}
	if d := maxDiff(got[0], e.Logits[1], len(s1), e.Vocab); d < 1e-2 {
		t.Errorf("the fine-tuned model's logits equal the original's (max |Δ| %.2g)", d)
	}
}
