package fast

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
)

// Softmax is graph.Softmax over the last axis with a cheaper gradient. GoMLX runs the
// backend's fused softmax forward and then, for the gradient, recomputes the
// decomposed softmax (max, subtract, exp, sum, divide) and differentiates through it:
// on the Go backend that backward pass cost about 9% of an RB-d64 training step
// (docs/performance.md). Here the backward is the closed form on the saved output,
//
//	dx = y * (v - sum(v * y))
//
// (v the gradient with respect to y): two products, a row sum and a difference.
// The value is exactly graph.Softmax's: y + (x' - x') adds an exact zero, and the
// only gradient path to x goes through x', whose custom gradient is the closed form.
//
// Half-precision scores (float16, bfloat16) are softmaxed in float32 and rounded once, as
// mixed-precision attention kernels do (and the Go backend has no half-precision softmax).
func Softmax(x *graph.Node) *graph.Node {
	if dt := x.DType(); dt == dtypes.Float16 || dt == dtypes.BFloat16 {
		return graph.ConvertDType(Softmax(graph.ConvertDType(x, dtypes.Float32)), dt)
	}
	y := graph.Softmax(graph.StopGradient(x), -1)
	xg := graph.IdentityWithCustomGradient(x, func(_, v *graph.Node) *graph.Node {
		return graph.Mul(y, graph.Sub(v, graph.ReduceAndKeep(graph.Mul(v, y), graph.ReduceSum, -1)))
	})
	return graph.Add(y, graph.Sub(xg, graph.StopGradient(xg)))
}
