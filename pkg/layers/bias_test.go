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

// WithBias adds to the scaled scores before the softmax: a bias of 0 / -1e9 equal to a
// causal mask gives the causal layer's output and weights; a large positive bias (1e3)
// on a masked pair does not re-enable it; a finite bias that favours key 0 moves the
// weights towards it.
func TestAttentionAdditiveBias(t *testing.T) {
	const B, Q, D, H = 2, 5, 8, 2
	x := make([]float32, B*Q*D)
	for i := range x {
		x[i] = float32(math.Cos(float64(i) * 0.7))
	}
	// causalBias[q][k] = 0 where k <= q, else -1e9; boost adds 1e3 at (q=0, k=1), a
	// masked pair; favour adds 5 on key 0.
	causalBias := make([]float32, Q*Q)
	boost := make([]float32, Q*Q)
	favour := make([]float32, Q*Q)
	for q := range Q {
		for k := range Q {
			if k > q {
				causalBias[q*Q+k] = -1e9
			}
			if k == 0 {
				favour[q*Q+k] = 5
			}
		}
	}
	boost[0*Q+1] = 1e3
	run := func(useMask bool, bias []float32) (out, w [][][][]float32) {
		t.Helper()
		store := model.NewStore()
		_ = store.SetRNGStateFromSeed(9)
		exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, xn *graph.Node) []*graph.Node {
			g := xn.Graph()
			b := MultiHeadAttention(scope, xn, xn, xn, H, D/H)
			if useMask {
				allowed, err := mask.NewEnv(g, B, H, Q, Q, mask.Side{}).Build(mustParse(t, "causal"))
				if err != nil {
					panic(err)
				}
				b = b.WithBoolMask(allowed)
			}
			if bias != nil {
				b = b.WithBias(graph.Reshape(graph.Const(g, bias), 1, 1, Q, Q))
			}
			o, wt, err := b.DoneWithWeights()
			if err != nil {
				panic(err)
			}
			return []*graph.Node{graph.Reshape(o, B, Q, 1, D), graph.ConvertDType(wt, dtypes.Float32)}
		})
		if err != nil {
			t.Fatal(err)
		}
		res, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, B, Q, D))
		if err != nil {
			t.Fatal(err)
		}
		return res[0].Value().([][][][]float32), res[1].Value().([][][][]float32)
	}
	maxDiff := func(a, b [][][][]float32) float64 {
		m := 0.0
		for i := range a {
			for j := range a[i] {
				for k := range a[i][j] {
					for l := range a[i][j][k] {
						m = max(m, math.Abs(float64(a[i][j][k][l]-b[i][j][k][l])))
					}
				}
			}
		}
		return m
	}
	maskedOut, maskedW := run(true, nil)
	biasOut, biasW := run(false, causalBias)
	if d := maxDiff(maskedOut, biasOut); d > 1e-6 {
		t.Errorf("a causal bias differs from the causal mask by %g in the output", d)
	}
	if d := maxDiff(maskedW, biasW); d > 1e-6 {
		t.Errorf("a causal bias differs from the causal mask by %g in the weights", d)
	}
	_, boostW := run(true, boost)
	for b := range B {
		for h := range H {
			if w := boostW[b][h][0][1]; w != 0 {
				t.Fatalf("a bias of 1e3 re-enabled the masked pair (0,1): weight %g", w)
			}
		}
	}
	_, favW := run(true, favour)
	for b := range B {
		for h := range H {
			for q := 1; q < Q; q++ {
				if !(favW[b][h][q][0] > maskedW[b][h][q][0]) {
					t.Fatalf("a +5 bias on key 0 did not raise its weight at b=%d h=%d q=%d: %g <= %g", b, h, q, favW[b][h][q][0], maskedW[b][h][q][0])
				}
			}
		}
	}
}
