package fast

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/masklab/masklab/pkg/backend"
)

// maskedSoftmax gives graph.Softmax's values times the row indicator (up to rounding) and
// their gradients, also on masked keys (a -1e9 bias) and fully masked rows like those of
// attention, at row lengths below, at and above the backend's vector width (7, 24, 100).
func TestSoftmaxMatchesGoMLX(t *testing.T) {
	for _, cols := range []int{7, 24, 100} {
		const rows = 6
		ex, err := graph.NewExec(backend.Must(), func(x, w, valid *graph.Node) []*graph.Node {
			ours, theirs := maskedSoftmax(x, valid), graph.Mul(graph.Softmax(x, -1), valid)
			plain := Softmax(x)
			// A loss that weighs every output differently.
			gOurs := graph.Gradient(graph.ReduceAllSum(graph.Mul(ours, w)), x)[0]
			gTheirs := graph.Gradient(graph.ReduceAllSum(graph.Mul(theirs, w)), x)[0]
			gPlain := graph.Gradient(graph.ReduceAllSum(graph.Mul(plain, w)), x)[0]
			gStock := graph.Gradient(graph.ReduceAllSum(graph.Mul(graph.Softmax(x, -1), w)), x)[0]
			return []*graph.Node{ours, theirs, gOurs, gTheirs, plain, graph.Softmax(x, -1), gPlain, gStock}
		})
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float64, rows*cols)
		w := make([]float64, rows*cols)
		valid := make([]float64, rows)
		for r := range valid {
			valid[r] = 1
		}
		valid[4] = 0 // row 4 is fully masked
		for i := range x {
			x[i] = math.Sin(float64(i)*1.7) * 3
			w[i] = math.Cos(float64(i) * 0.9)
			r, c := i/cols, i%cols
			if c > cols*2/3 || (r == 2 && c > 0) || r == 4 { // masked keys
				x[i] += -1e9
			}
		}
		out, err := ex.Exec(tensorOf(x, rows, cols), tensorOf(w, rows, cols), tensorOf(valid, rows, 1))
		if err != nil {
			t.Fatal(err)
		}
		for _, pair := range [][2]int{{0, 1}, {2, 3}, {4, 5}, {6, 7}} {
			ours, theirs := flat32(t, out[pair[0]]), flat32(t, out[pair[1]])
			for i := range ours {
				if d := math.Abs(float64(ours[i] - theirs[i])); d > 1e-6 || math.IsNaN(float64(ours[i])) {
					t.Errorf("cols=%d output %d, element %d (row %d): %g, GoMLX %g", cols, pair[0], i, i/cols, ours[i], theirs[i])
				}
			}
		}
		for i, y := range flat32(t, out[0]) {
			if i/cols == 4 && y != 0 {
				t.Errorf("cols=%d: fully masked row's weight %d is %g, want 0", cols, i%cols, y)
			}
		}
	}
}
