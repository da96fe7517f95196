package fast

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
)

// Softmax is graph.Softmax over the last axis (equal up to rounding), computed from
// operations that are fast on GoMLX's Go backend and with a cheaper gradient.
func Softmax(x *graph.Node) *graph.Node { return maskedSoftmax(x, nil) }

// maskedSoftmax is Softmax(x) · rowValid, rowValid [..., 1] (nil: all ones) zeroing the
// rows of queries that may attend nowhere. Why not graph.Softmax:
//
//   - Forward: the Go backend's fused softmax pays about 1 µs per row on top of the
//     arithmetic, so on attention's short rows it is the most expensive operation of a
//     training step: 6.6 ms for [64,4,24,24] (RB-d64's attention) where the same
//     exponentials alone take 0.15 ms. The decomposition here (row max, subtract,
//     exp, row sum, multiply by the reciprocal) takes 1.7-2.0 ms there, and is faster at
//     every row length measured up to 256 (docs/performance.md, kernel table). The row
//     indicator multiplies the [..., 1] reciprocal instead of the [..., K] weights (a
//     [B,1,Q,1] operand broadcast over heads and keys is one of the backend's slow
//     broadcast patterns: 0.45 ms per attention layer).
//   - Backward: GoMLX recomputes the decomposed softmax and differentiates through it;
//     here it is the closed form on the saved output, dx = y ⊙ (v − Σ v ⊙ y) (v the
//     gradient with respect to y), which also holds for rows zeroed by rowValid (y = 0
//     there, so dx = 0).
//
// The value is the composition of the forward above: y + (x' − x') adds an exact zero,
// and the only gradient path to x goes through x', whose custom gradient is the closed
// form. A fully masked row (every score near −1e9) gets uniform weights before rowValid,
// as with graph.Softmax. Half-precision scores (float16, bfloat16) are softmaxed in
// float32 and rounded once, as mixed-precision attention kernels do.
func maskedSoftmax(x, rowValid *graph.Node) *graph.Node { return maskedSoftmaxStable(x, rowValid, nil) }

// maskedSoftmaxStable is maskedSoftmax with the rows' maxima given ([..., 1]; nil: the
// maxima of x's rows). Any stabiliser within a few units of the true row maximum gives the
// same softmax (up to rounding): Attend passes maxima computed more cheaply on the Go
// backend (rowMaxFromKeys).
func maskedSoftmaxStable(x, rowValid, rowMax *graph.Node) *graph.Node {
	if dt := x.DType(); dt == dtypes.Float16 || dt == dtypes.BFloat16 {
		if rowValid != nil {
			rowValid = graph.ConvertDType(rowValid, dtypes.Float32)
		}
		if rowMax != nil {
			rowMax = graph.ConvertDType(rowMax, dtypes.Float32)
		}
		return graph.ConvertDType(maskedSoftmaxStable(graph.ConvertDType(x, dtypes.Float32), rowValid, rowMax), dt)
	}
	// One stop-gradient copy of the custom-gradient identity serves both the forward and the
	// exact zero below: the Go backend copies an Identity's input unless it is that input's
	// last use, and three identities of x (two stop-gradients, the custom one) cost two more
	// [B,H,Q,K] copies per attention layer than this.
	var y *graph.Node // the weights, set below; the gradient is built after the forward
	xg := graph.IdentityWithCustomGradient(x, func(_, v *graph.Node) *graph.Node {
		return graph.Mul(y, graph.Sub(v, graph.ReduceAndKeep(graph.Mul(v, y), graph.ReduceSum, -1)))
	})
	xs := graph.StopGradient(xg)
	if rowMax == nil {
		rowMax = graph.ReduceAndKeep(xs, graph.ReduceMax, -1)
	}
	e := graph.Exp(graph.Sub(xs, graph.StopGradient(rowMax)))
	inv := graph.Inverse(graph.ReduceAndKeep(e, graph.ReduceSum, -1))
	if rowValid != nil {
		inv = graph.Mul(inv, graph.StopGradient(rowValid))
	}
	y = graph.Mul(e, inv)
	return graph.Add(y, graph.Sub(xg, xs))
}
