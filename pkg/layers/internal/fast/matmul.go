package fast

import (
	"sync"
	"sync/atomic"
	"weak"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
)

// This file gives masklab's matmuls and bias additions gradients laid out for GoMLX's Go
// backend. Why not GoMLX's own: its DotGeneral gradient (dotGeneralVJP)
//
//   - puts the output gradient on the left with the contracted axes first, a layout the
//     Go backend's matmul does not support, so the backend transposes both operands of
//     every weight gradient (a transpose of a [1536,64] activation costs as much as the
//     [1536,64]x[64,64] matmul itself);
//   - always "transposes back" its result, a full copy even when the permutation is the
//     identity (every Linear's input gradient);
//
// and the gradient of a bias added by broadcasting is summed here as one leading-axis
// reduction over [R,N] (with GoMLX v0.28.2 a generic reduction over (batch, time) was
// 14x slower than a ones-vector matmul, which this file used until compute v0.1.14's
// SIMD reductions made the plain sum 15x faster than the matmul: docs/performance.md).
// GoMLX has no public way to give one node its own multi-input gradient
// (graph.IdentityWithCustomGradient is per input and keeps its shape), so the nodes built here are remembered (weakly) and graph.VJPRegistration's
// entries for DotGeneral and Add are wrapped: a remembered node gets the gradient below,
// every other node GoMLX's own, unchanged. The values are the same sums in another
// order (tested against GoMLX's gradients).

// dotInfo describes a DotGeneral built by matmul.
type dotInfo struct {
	lhs, rhs        *graph.Node
	batch           int  // leading batch axes of both operands
	rhsContractLast bool // rhs is [batch..., N, K] (else [batch..., K, N])
}

// biasInfo describes an Add built by addBias: y [..., N] + b [1, ..., 1, N].
type biasInfo struct{}

var (
	customNodes sync.Map // weak.Pointer[graph.Node] -> dotInfo or biasInfo
	customAdded atomic.Int64
	// customUsed counts the gradients built here (tests check that the path is taken).
	customUsed  atomic.Int64
	installOnce sync.Once
)

// remember records node's custom gradient, pruning entries of collected graphs now and then.
func remember(node *graph.Node, info any) {
	installOnce.Do(installVJPs)
	customNodes.Store(weak.Make(node), info)
	if customAdded.Add(1)%4096 == 0 {
		customNodes.Range(func(k, _ any) bool {
			if k.(weak.Pointer[graph.Node]).Value() == nil {
				customNodes.Delete(k)
			}
			return true
		})
	}
}

func lookup(node *graph.Node) (any, bool) { return customNodes.Load(weak.Make(node)) }

// installVJPs is the one place where masklab changes GoMLX's process-wide state: it
// wraps graph.VJPRegistration's DotGeneral and Add entries (once, on the first matmul or
// addBias: graphs are built after that, so no gradient is being computed while the table
// changes). A wrapped entry gives the nodes remembered here their gradient below and
// every other node GoMLX's own, unchanged (TestMatmulGradientsMatchGoMLX,
// layers.TestModelGradientsMatchStockGoMLX).
func installVJPs() {
	wrapVJP(graph.NodeTypeDotGeneral, func(node, v *graph.Node, d dotInfo) []*graph.Node { return dotVJP(d, v) })
	wrapVJP(graph.NodeTypeAdd, func(node, v *graph.Node, _ biasInfo) []*graph.Node { return biasVJP(node, v) })
}

// wrapVJP makes the gradient of nodes of type t that were remembered with an info of
// type I custom's, and leaves every other node of that type to GoMLX's gradient.
func wrapVJP[I any](t graph.NodeType, custom func(node, v *graph.Node, info I) []*graph.Node) {
	orig := graph.VJPRegistration[t]
	graph.VJPRegistration[t] = func(node *graph.Node, v []*graph.Node, s shapes.Shape) []*graph.Node {
		if info, ok := lookup(node); ok {
			if i, ok := info.(I); ok {
				customUsed.Add(1)
				return custom(node, v[0], i)
			}
		}
		return orig(node, v, s)
	}
}

// matmul contracts the last axis of lhs [batch..., M..., K] with rhs [batch..., K, N]
// (or [batch..., N, K] when rhsContractLast), batch being the number of leading batch
// axes of both; the result is [batch..., M..., N]. Its value is graph.DotGeneral's; its
// gradient needs no transpose for lhs and one for rhs (of the smaller of lhs and the
// output gradient).
func matmul(lhs, rhs *graph.Node, batch int, rhsContractLast bool) *graph.Node {
	batchAxes := make([]int, batch)
	for i := range batchAxes {
		batchAxes[i] = i
	}
	rc := batch
	if rhsContractLast {
		rc = batch + 1
	}
	out := graph.DotGeneral(lhs, []int{lhs.Rank() - 1}, batchAxes, rhs, []int{rc}, batchAxes)
	if rhs.Rank() == batch+2 && lhs.Rank() > batch+1 {
		remember(out, dotInfo{lhs: lhs, rhs: rhs, batch: batch, rhsContractLast: rhsContractLast})
	}
	return out
}

// dotVJP is the gradient of matmul(lhs, rhs) for the output gradient v [batch..., M..., N].
func dotVJP(d dotInfo, v *graph.Node) []*graph.Node {
	lhs, rhs, nb := d.lhs, d.rhs, d.batch
	batchAxes := make([]int, nb)
	for i := range batchAxes {
		batchAxes[i] = i
	}
	// dlhs[b, m..., k] = sum_n v[b, m..., n] rhs[b, k, n]: v contracts its last axis, rhs
	// its N axis; the result is already in lhs's axis order.
	rn := nb + 1
	if d.rhsContractLast {
		rn = nb
	}
	dlhs := graph.DotGeneral(v, []int{v.Rank() - 1}, batchAxes, rhs, []int{rn}, batchAxes)

	// drhs: flatten the M axes, then either transpose lhs ([b,K,M] x [b,M,N] = [b,K,N]) or
	// v ([b,N,M] x [b,M,K] = [b,N,K]), whichever copies fewer elements, counting the
	// transpose of the result when it is not in rhs's order.
	dims := lhs.Shape().Dimensions
	K, N := dims[len(dims)-1], v.Shape().Dim(-1)
	M := 1
	for _, x := range dims[nb : len(dims)-1] {
		M *= x
	}
	bdims := dims[:nb]
	lhs2 := graph.Reshape(lhs, append(append([]int(nil), bdims...), M, K)...)
	v2 := graph.Reshape(v, append(append([]int(nil), bdims...), M, N)...)
	B := 1
	for _, x := range bdims {
		B *= x
	}
	costL, costV := B*M*K, B*M*N // elements transposed
	if d.rhsContractLast {
		costL += B * K * N // result [b,K,N] must become [b,N,K]
	} else {
		costV += B * K * N
	}
	swap := func(x *graph.Node) *graph.Node { // transposes the last two axes
		if x.Rank() == 2 {
			R, C := x.Shape().Dim(0), x.Shape().Dim(1)
			if C <= maxEyeTranspose && x.DType() == dtypes.Float32 {
				return eyeTranspose(x)
			}
			// The Go backend's 2-D transpose runs 1.9x slower than its [a,b,c] -> [b,a,c]
			// kernel does on the same data seen as [R,C,1] (0.61 against 0.32 ms for a
			// [1536,64] activation: docs/performance.md, kernel table).
			return graph.Reshape(graph.TransposeAllAxes(graph.Reshape(x, R, C, 1), 1, 0, 2), C, R)
		}
		perm := make([]int, x.Rank())
		for i := range perm {
			perm[i] = i
		}
		perm[len(perm)-1], perm[len(perm)-2] = perm[len(perm)-2], perm[len(perm)-1]
		return graph.TransposeAllAxes(x, perm...)
	}
	var drhs *graph.Node
	if costL <= costV {
		drhs = graph.DotGeneral(swap(lhs2), []int{nb + 1}, batchAxes, v2, []int{nb}, batchAxes) // [b, K, N]
		if d.rhsContractLast {
			drhs = swap(drhs)
		}
	} else {
		drhs = graph.DotGeneral(swap(v2), []int{nb + 1}, batchAxes, lhs2, []int{nb}, batchAxes) // [b, N, K]
		if !d.rhsContractLast {
			drhs = swap(drhs)
		}
	}
	return []*graph.Node{dlhs, drhs}
}

// addBias returns y + b, b [N] broadcast over every axis of y [..., N] but the last,
// with the bias gradient summed over [R,N]'s leading axis (biasVJP).
func addBias(y, b *graph.Node) *graph.Node {
	shape := make([]int, y.Rank())
	for i := range shape {
		shape[i] = 1
	}
	shape[len(shape)-1] = b.Shape().Dim(0)
	out := graph.Add(y, graph.Reshape(b, shape...))
	remember(out, biasInfo{})
	return out
}

// biasVJP is the gradient of addBias's Add node: v for y, and v summed over its leading
// axes, seen as [R,N] (R the product of y's other axes), for the bias, reshaped to
// [1, ..., 1, N]. The sum is a plain ReduceSum over the leading axis: with compute
// v0.1.14 the Go backend reduces that in SIMD (6 µs for [1536,64]), where the
// ones[1,R] x v[R,N] matmul this gradient used before takes 97 µs (docs/performance.md).
func biasVJP(node, v *graph.Node) []*graph.Node {
	bShape := node.Inputs()[1].Shape().Dimensions
	N := v.Shape().Dim(-1)
	R := v.Shape().Size() / N
	db := graph.ReduceSum(graph.Reshape(v, R, N), 0) // [N]
	return []*graph.Node{v, graph.Reshape(db, bShape...)}
}

// maxEyeTranspose is the widest [R,C] activation whose transpose eyeTranspose computes.
const maxEyeTranspose = 128

// eyeTranspose returns xᵀ [C,R] for x [R,C] float32 as the matmul I[C,C]·xᵀ, which the Go
// backend runs in a layout its matmul kernel takes directly: on one core 0.19 against
// 0.37 ms for [1536,64] and 0.53 against 0.77 ms for [1536,128] through the [R,C,1]
// transpose kernel (2.6x at [6144,64]), because that kernel moves one element per call
// (docs/performance.md, change 9). It costs 2C multiply-adds per element, so it is used
// only up to C = maxEyeTranspose (at C = 256 it gains 1.15x, and it would lose beyond).
// The values are exact (TestEyeTransposeIsExact): each output adds one 1·x to products 0·x,
// so only the sign of a zero may differ, and a non-finite activation (a diverged step)
// turns all C entries of its row NaN instead of one.
func eyeTranspose(x *graph.Node) *graph.Node {
	C := x.Shape().Dim(1)
	eye := make([][]float32, C)
	for i := range eye {
		eye[i] = make([]float32, C)
		eye[i][i] = 1
	}
	return graph.DotGeneral(graph.Const(x.Graph(), eye), []int{1}, nil, x, []int{1}, nil)
}
