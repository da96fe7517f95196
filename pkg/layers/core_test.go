package layers

import (
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/mask"
)

// The attention.Core path (XLA's fused kernel; on the Go backend GoMLX's decomposed
// Core) gives the same output as our own attention, for self- and cross-attention with
// a mask that leaves a row fully masked and an additive bias.
func TestCorePathMatchesOwnAttention(t *testing.T) {
	const B, Q, K, D, H = 2, 4, 5, 8, 2
	xq := make([]float32, B*Q*D)
	xkv := make([]float32, B*K*D)
	for i := range xq {
		xq[i] = float32(math.Sin(float64(i) * 0.3))
	}
	for i := range xkv {
		xkv[i] = float32(math.Cos(float64(i) * 0.2))
	}
	bias := make([]float32, Q*K)
	for i := range bias {
		bias[i] = float32(i%3) * 0.5
	}
	for _, tc := range []struct {
		name, spec string
		self       bool
		klen       []int32
	}{
		{"self causal & pad", "causal & pad", true, []int32{3, 0}}, // example 1: every row fully masked
		{"cross pad", "pad", false, []int32{5, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(core bool) []float32 {
				forceCore = core
				defer func() { forceCore = false }()
				store := model.NewStore()
				_ = store.SetRNGStateFromSeed(4)
				exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, q, kv, klen *graph.Node) *graph.Node {
					g := q.Graph()
					if tc.self {
						kv = q
					}
					k := kv.Shape().Dim(1)
					allowed, err := mask.NewEnv(g, B, H, Q, k, mask.Side{KeyLen: klen}).Build(mustParse(t, tc.spec))
					if err != nil {
						panic(err)
					}
					bb := graph.Slice(graph.Reshape(graph.Const(g, bias), 1, 1, Q, K), graph.AxisRange(), graph.AxisRange(), graph.AxisRange(), graph.AxisRange(0, k))
					out, err := MultiHeadAttention(scope, q, kv, kv, H, D/H).WithBoolMask(allowed).WithBias(bb).Done()
					if err != nil {
						panic(err)
					}
					return graph.ConvertDType(out, dtypes.Float32)
				})
				if err != nil {
					t.Fatal(err)
				}
				res, err := exec.Exec(tensors.FromFlatDataAndDimensions(xq, B, Q, D), tensors.FromFlatDataAndDimensions(xkv, B, K, D), tc.klen)
				if err != nil {
					t.Fatal(err)
				}
				return tensors.MustCopyFlatData[float32](res[0])
			}
			own, core := run(false), run(true)
			for i := range own {
				if d := math.Abs(float64(own[i] - core[i])); d > 1e-5 || math.IsNaN(float64(core[i])) {
					t.Fatalf("element %d: own %g, Core path %g", i, own[i], core[i])
				}
			}
		})
	}
}

// On the pure-Go backend the layers take their own attention path even though the
// backend has a fused attention op (compute v0.1.14): GoMLX's gradient of that op
// recomputes the decomposed attention, and a training step is slower for it.
func TestGoBackendTakesOwnAttentionPath(t *testing.T) {
	g := graph.NewGraph(backend.Must(), "probe")
	if hasFusedAttention(g) {
		t.Fatalf("backend %q (%s) would take attention.Core", g.Backend().Name(), g.Backend().String())
	}
}
