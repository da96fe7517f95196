package fast

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/masklab/masklab/pkg/backend"
)

// matmul and addBias give graph.DotGeneral's and graph.Add's values and, through their
// own gradients, GoMLX's gradients up to rounding: for Linear layers ([B,T,in] x [in,out],
// with both ways of computing the weight gradient: transposing the input or the output
// gradient) and for both attention products ([B,H,Q,dh] x [B,H,K,dh] contracting dh, and
// [B,H,Q,K] x [B,H,K,dh] contracting K).
func TestMatmulGradientsMatchGoMLX(t *testing.T) {
	for _, c := range []struct {
		lhs, rhs     []int
		batch        int
		contractLast bool
		bias         bool
	}{
		{[]int{3, 5, 4}, []int{4, 6}, 0, false, true},           // Linear, out > in: transposes the input
		{[]int{3, 5, 8}, []int{8, 2}, 0, false, true},           // Linear, out < in: transposes the output gradient
		{[]int{2, 3, 5, 4}, []int{2, 3, 7, 4}, 2, true, false},  // attention scores
		{[]int{2, 3, 5, 7}, []int{2, 3, 7, 4}, 2, false, false}, // attention weights x values
		{[]int{6, 4}, []int{4, 3}, 0, false, true},              // a plain 2-D matmul
	} {
		t.Run(fmt.Sprint(c.lhs, c.rhs), func(t *testing.T) {
			rc := c.batch
			if c.contractLast {
				rc++
			}
			batchAxes := []int{}
			for i := 0; i < c.batch; i++ {
				batchAxes = append(batchAxes, i)
			}
			ex, err := graph.NewExec(backend.Must(), func(lhs, rhs, b, w *graph.Node) []*graph.Node {
				ours := matmul(lhs, rhs, c.batch, c.contractLast)
				theirs := graph.DotGeneral(lhs, []int{lhs.Rank() - 1}, batchAxes, rhs, []int{rc}, batchAxes)
				if c.bias {
					ours = addBias(ours, b)
					theirs = graph.Add(theirs, graph.ExpandLeftToRank(b, theirs.Rank()))
				}
				// A loss that weighs every output differently.
				gOurs := graph.Gradient(graph.ReduceAllSum(graph.Mul(ours, w)), lhs, rhs, b)
				gTheirs := graph.Gradient(graph.ReduceAllSum(graph.Mul(theirs, w)), lhs, rhs, b)
				return append([]*graph.Node{ours, theirs}, append(gOurs, gTheirs...)...)
			})
			if err != nil {
				t.Fatal(err)
			}
			size := func(d []int) int {
				n := 1
				for _, x := range d {
					n *= x
				}
				return n
			}
			outDims := append(append([]int(nil), c.lhs[:len(c.lhs)-1]...), c.rhs[len(c.rhs)-1])
			if c.contractLast {
				outDims[len(outDims)-1] = c.rhs[len(c.rhs)-2]
			}
			fill := func(n int, a, f float64) []float64 {
				x := make([]float64, n)
				for i := range x {
					x[i] = math.Sin(float64(i)*f+a) * 2
				}
				return x
			}
			N := outDims[len(outDims)-1]
			before := customUsed.Load()
			out, err := ex.Exec(tensorOf(fill(size(c.lhs), 0.3, 1.7), c.lhs...), tensorOf(fill(size(c.rhs), 1.1, 0.7), c.rhs...),
				tensorOf(fill(N, 2, 1.3), N), tensorOf(fill(size(outDims), 0.5, 0.9), outDims...))
			if err != nil {
				t.Fatal(err)
			}
			want := int64(1)
			if c.bias {
				want = 2
			}
			if got := customUsed.Load() - before; got != want {
				t.Errorf("%d gradients built by matmul.go, want %d (matmul, addBias)", got, want)
			}
			names := []string{"value", "d lhs", "d rhs", "d bias"}
			for i, name := range names {
				var a, b []float32
				if i == 0 {
					a, b = flat32(t, out[0]), flat32(t, out[1])
				} else {
					a, b = flat32(t, out[1+i]), flat32(t, out[4+i])
				}
				if len(a) != len(b) {
					t.Fatalf("%s: %d values, GoMLX %d", name, len(a), len(b))
				}
				for j := range a {
					if d := math.Abs(float64(a[j] - b[j])); d > 1e-5*(1+math.Abs(float64(b[j]))) {
						t.Errorf("%s %d: %g, GoMLX %g", name, j, a[j], b[j])
					}
				}
			}
		})
	}
}

// eyeTranspose gives exactly the transpose (values, not the sign of a zero) for the widths
// it is used at, including large, tiny, zero and negative entries, and a non-square shape.
func TestEyeTransposeIsExact(t *testing.T) {
	for _, dims := range [][2]int{{37, 5}, {96, 64}, {24, 128}} {
		R, C := dims[0], dims[1]
		ex, err := graph.NewExec(backend.Must(), func(x *graph.Node) []*graph.Node {
			return []*graph.Node{eyeTranspose(x), graph.TransposeAllAxes(x, 1, 0)}
		})
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float64, R*C)
		for i := range x {
			x[i] = math.Sin(float64(i)*0.37) * math.Pow(10, float64(i%13-6)) // 1e-6 .. 1e6
			if i%7 == 0 {
				x[i] = 0
			}
		}
		out, err := ex.Exec(tensorOf(x, R, C))
		if err != nil {
			t.Fatal(err)
		}
		got, want := flat32(t, out[0]), flat32(t, out[1])
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("[%d,%d]: element %d is %g, want %g", R, C, i, got[i], want[i])
			}
		}
	}
}
