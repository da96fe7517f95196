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

// Attend gives the same weights, outputs and gradients whether the softmax's row maxima
// come from the transposed scores (RowMaxFromKeys) or from the scores' rows, and the same
// as the stock GoMLX path (Plain), with masked keys, a fully masked row and scores large
// enough (±60) that a wrong stabiliser would overflow or underflow.
func TestAttendRowMaxFromKeys(t *testing.T) {
	const B, L, H, dh = 2, 9, 3, 4
	build := func(rowMaxFromKeys, plain, giveT bool) []float32 {
		oldR, oldP := RowMaxFromKeys, Plain
		RowMaxFromKeys, Plain = rowMaxFromKeys, plain
		defer func() { RowMaxFromKeys, Plain = oldR, oldP }()
		ex, err := graph.NewExec(backend.Must(), func(q, k, v, bias, valid *graph.Node) []*graph.Node {
			b := Bias{X: bias}
			if giveT { // the caller's transpose, broadcast over the heads as layers.Mask does
				b.T = func() *graph.Node {
					return graph.BroadcastToDims(graph.TransposeAllAxes(bias, 0, 1, 3, 2), B, H, L, L)
				}
			}
			out, w := Attend(q, k, v, 0.5, nil, []Bias{b}, valid, nil)
			loss := graph.ReduceAllSum(graph.Mul(out, graph.Sin(out)))
			g := graph.Gradient(loss, q, k, v)
			return []*graph.Node{out, w, g[0], g[1], g[2]}
		})
		if err != nil {
			t.Fatal(err)
		}
		n := B * L * H * dh
		q, k, v := make([]float64, n), make([]float64, n), make([]float64, n)
		for i := range q {
			q[i] = math.Sin(float64(i)*0.37) * 6
			k[i] = math.Cos(float64(i)*0.53) * 5
			v[i] = math.Sin(float64(i) * 1.3)
		}
		bias := make([]float64, B*L*L)
		valid := make([]float64, B*L)
		for b := range B {
			for i := range L {
				valid[b*L+i] = 1
				for j := range L {
					if j > i || (b == 1 && i == 3) { // causal, and row 3 of batch 1 fully masked
						bias[(b*L+i)*L+j] = -1e9
					}
				}
				if b == 1 && i == 3 {
					valid[b*L+i] = 0
				}
			}
		}
		out, err := ex.Exec(tensorOf(q, B, L, H, dh), tensorOf(k, B, L, H, dh), tensorOf(v, B, L, H, dh),
			tensorOf(bias, B, 1, L, L), tensorOf(valid, B, 1, L, 1))
		if err != nil {
			t.Fatal(err)
		}
		var all []float32
		for _, o := range out {
			all = append(all, flat32(t, o)...)
		}
		return all
	}
	fromKeys, fromRows, plain, withT := build(true, false, false), build(false, false, false), build(false, true, false), build(true, false, true)
	for i := range fromKeys {
		for _, other := range []struct {
			name string
			x    []float32
		}{{"row maxima", fromRows}, {"stock GoMLX", plain}, {"the caller's transposed bias", withT}} {
			a, b := float64(fromKeys[i]), float64(other.x[i])
			if math.IsNaN(a) || math.Abs(a-b) > 1e-4*max(1, math.Abs(b)) {
				t.Fatalf("value %d: %g with maxima from the keys, %g with %s", i, a, b, other.name)
			}
		}
	}
}
