// Package fast is masklab's fast path behind a wall: the few graph operations whose
// gradients masklab lays out for GoMLX's pure-Go backend (Linear, attention products).
//
// pkg/layers builds every model from these operations and nothing else of this package
// leaks out. Each operation has the value of its stock GoMLX counterpart; only the
// gradient graph differs, and the tests compare both with GoMLX's. Plain switches the
// whole path off (stock GoMLX ops and gradients), for benchmarks and as a reference.
package fast

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/nn"
	"github.com/masklab/masklab/internal/envvars"
)

// EnvPlain names the environment variable that, set to 1, makes Plain true at start-up.
const EnvPlain = "MASKLAB_PLAIN_GRADIENTS"

// Plain builds Linear layers with GoMLX's nn.Dense and the attention products with
// graph.DotGeneral, all with GoMLX's own gradients: the "before" of the benchmarks in
// docs/performance.md. Read from $MASKLAB_PLAIN_GRADIENTS once; tests may set it before
// building a graph.
var Plain = envvars.Get(EnvPlain) == "1"

// HeadMajor selects the attention layout: queries, keys and values transposed to
// [B,H,L,dh] before the products (true, the default) or left [B,L,H,dh] for
// DotGeneral to arrange (false). Both give the same numbers; benchmarks compare them.
var HeadMajor = true

// Linear returns x [..., in] · w [in, out] + b [out] (b may be nil).
func Linear(x, w, b *graph.Node) *graph.Node {
	if Plain {
		return nn.Dense(x, w, b, compute.DenseLayoutInputOutputs)
	}
	y := matmul(x, w, 0, false)
	if b != nil {
		y = addBias(y, b)
	}
	return y
}

// LinearT returns x [B,T,d] · tableᵀ + b for table [V,d] and b [V] (b may be nil): the
// output layer of a model whose embeddings are tied.
func LinearT(x, table, b *graph.Node) *graph.Node {
	if Plain {
		y := graph.DotGeneral(x, []int{2}, nil, table, []int{1}, nil)
		if b == nil {
			return y
		}
		return graph.Add(y, graph.Reshape(b, 1, 1, b.Shape().Dim(0)))
	}
	if b == nil {
		return matmul(x, table, 0, true)
	}
	return addBias(matmul(x, table, 0, true), b)
}

// Attend is scaled dot-product attention on q [B,Q,H,dh] and k, v [B,K,H,dh]:
//
//	weights = softmax(mod(scale·q·kᵀ) + Σ biases) · rowValid   [B,H,Q,K]
//	out     = dropout(weights) · v                              [B,Q,H·dh]
//
// mod, when not nil, modifies the scaled scores (a score modification: ALiBi,
// soft-capping) before the biases (the mask's among them) are added; biases are added in order (each broadcastable to [B,H,Q,K]; nil entries are skipped),
// rowValid [B,1|H,Q,1] zeroes the rows of queries that may attend nowhere (nil: none),
// and dropout, when not nil, is applied to the weights that multiply v. The returned
// weights are before dropout.
func Attend(q, k, v *graph.Node, scale float64, mod func(*graph.Node) *graph.Node, biases []Bias, rowValid *graph.Node, dropout func(*graph.Node) *graph.Node) (out, weights *graph.Node) {
	B, Q, H, dh := q.Shape().Dim(0), q.Shape().Dim(1), q.Shape().Dim(2), q.Shape().Dim(3)
	q = graph.MulScalar(q, scale)
	// scores [B,H,Q,K]. Head-major [B,H,L,dh] operands put the batch axes (B,H) first,
	// the layout the Go backend's matmuls take without transposing.
	var scores *graph.Node
	if HeadMajor {
		q = graph.TransposeAllAxes(q, 0, 2, 1, 3)
		k = graph.TransposeAllAxes(k, 0, 2, 1, 3)
		v = graph.TransposeAllAxes(v, 0, 2, 1, 3)
		if Plain {
			scores = graph.DotGeneral(q, []int{3}, []int{0, 1}, k, []int{3}, []int{0, 1})
		} else {
			scores = matmul(q, k, 2, true)
		}
	} else {
		scores = graph.DotGeneral(q, []int{3}, []int{0, 2}, k, []int{3}, []int{0, 2})
	}
	if mod != nil {
		scores = mod(scores)
	}
	for _, b := range biases {
		if b.X != nil {
			scores = graph.Add(scores, b.X)
		}
	}
	var rowMax *graph.Node
	if K := k.Shape().Dim(2); HeadMajor && !Plain && mod == nil && RowMaxFromKeys && Q >= 8 && K <= 32 {
		rowMax = rowMaxFromKeys(q, k, biases)
	}
	weights = maskedSoftmaxStable(scores, rowValid, rowMax)
	w := weights
	if dropout != nil {
		w = dropout(w)
	}
	var o *graph.Node // [B,H,Q,dh]
	switch {
	case HeadMajor && Plain:
		o = graph.DotGeneral(w, []int{3}, []int{0, 1}, v, []int{2}, []int{0, 1})
	case HeadMajor:
		o = matmul(w, v, 2, false)
	default:
		o = graph.DotGeneral(w, []int{3}, []int{0, 1}, v, []int{1}, []int{0, 2})
	}
	o = graph.TransposeAllAxes(o, 0, 2, 1, 3)
	return graph.Reshape(o, B, Q, H*dh), weights
}

// Bias is an additive attention bias X, broadcastable to [B,H,Q,K]; T, when not nil,
// returns X with its last two axes swapped (broadcastable to [B,H,K,Q]), for callers that
// can build it once for several layers (layers.Mask). Attend calls T only on the path that
// needs it (rowMaxFromKeys) and transposes X itself when T is nil.
type Bias struct {
	X *graph.Node
	T func() *graph.Node
}

// RowMaxFromKeys makes Attend take the softmax's row maxima from the scores computed in
// [B,H,K,Q] order (rowMaxFromKeys); false takes them from the scores' last axis.
// TestAttendRowMaxFromKeys compares both.
var RowMaxFromKeys = true

// rowMaxFromKeys returns the maxima over keys of the biased scores, [B,H,Q,1], computed
// from their transpose: sᵀ = k·qᵀ + Σ biasesᵀ, [B,H,K,Q], reduced over axis 2. The Go
// backend reduces a middle axis in SIMD across the trailing one (130 µs for
// [64,4,24,24]) but pays ~0.3 µs per row for a last-axis max (1.7 ms there), so the extra
// matmul and the transposed biases cost less than the direct row max (docs/performance.md;
// measured for rows of 24 keys, so Attend takes this path for at most 32 keys and at least
// 8 queries: long rows amortise the per-row cost, and a single decoding query has one row
// per head). nil when a bias is not of rank 4.
// The maxima only stabilise the softmax, whose value does not depend on them: that they
// come from the same dot products summed in another order does not matter. q and k are
// head-major [B,H,L,dh], q already scaled; no gradient flows through here.
func rowMaxFromKeys(q, k *graph.Node, biases []Bias) *graph.Node {
	for _, b := range biases {
		if b.X != nil && b.X.Rank() != 4 {
			return nil
		}
	}
	// The gradient is stopped at the [B,H,Q,1] maxima, not at q and k: a stop-gradient is an
	// Identity that the Go backend runs as a copy of its [B,H,L,dh] input.
	st := matmul(k, q, 2, true) // [B,H,K,Q]
	for _, b := range biases {
		switch {
		case b.T != nil:
			st = graph.Add(st, b.T())
		case b.X != nil:
			st = graph.Add(st, graph.TransposeAllAxes(b.X, 0, 1, 3, 2))
		}
	}
	m := graph.ReduceMax(st, 2) // [B,H,Q]
	return graph.StopGradient(graph.InsertAxes(m, -1))
}

// CustomGradients counts the gradients this package has built so far (tests check that
// the fast path is taken).
func CustomGradients() int64 { return customUsed.Load() }
