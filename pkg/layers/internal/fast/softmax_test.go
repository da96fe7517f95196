package fast

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/masklab/masklab/pkg/backend"
)

// softmax gives graph.Softmax's values bit for bit and its gradients (up to rounding),
// also on masked rows (a -1e9 bias) like those of attention.
func TestSoftmaxMatchesGoMLX(t *testing.T) {
	ex, err := graph.NewExec(backend.Must(), func(x, w *graph.Node) []*graph.Node {
		ours, theirs := Softmax(x), graph.Softmax(x, -1)
		// A loss that weighs every output differently.
		gOurs := graph.Gradient(graph.ReduceAllSum(graph.Mul(ours, w)), x)[0]
		gTheirs := graph.Gradient(graph.ReduceAllSum(graph.Mul(theirs, w)), x)[0]
		return []*graph.Node{ours, theirs, gOurs, gTheirs}
	})
	if err != nil {
		t.Fatal(err)
	}
	const rows, cols = 6, 7
	x := make([]float64, rows*cols)
	w := make([]float64, rows*cols)
	for i := range x {
		x[i] = math.Sin(float64(i)*1.7) * 3
		w[i] = math.Cos(float64(i) * 0.9)
		if i%cols > 4 || (i/cols == 2 && i%cols > 0) { // masked keys
			x[i] += -1e9
		}
	}
	out, err := ex.Exec(tensorOf(x, rows, cols), tensorOf(w, rows, cols))
	if err != nil {
		t.Fatal(err)
	}
	ours, theirs := flat32(t, out[0]), flat32(t, out[1])
	for i := range ours {
		if ours[i] != theirs[i] {
			t.Fatalf("softmax value %d: %g, GoMLX %g", i, ours[i], theirs[i])
		}
	}
	gOurs, gTheirs := flat32(t, out[2]), flat32(t, out[3])
	for i := range gOurs {
		if d := math.Abs(float64(gOurs[i] - gTheirs[i])); d > 1e-6 {
			t.Errorf("softmax gradient %d: %g, GoMLX %g", i, gOurs[i], gTheirs[i])
		}
	}
}
