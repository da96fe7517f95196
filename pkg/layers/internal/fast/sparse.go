package fast

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
)

// BlockMask is a block-sparse attention mask prepared once per forward pass and shared
// by every layer and head that uses it: queries in blocks of BQ rows, keys in blocks of
// BK, the T tiles (query block, key block) to compute, and over each tile the additive
// bias and row indicator of the mask, from per-row key intervals (never a dense [B,Q,K]
// tensor).
type BlockMask struct {
	B, Q, K, BQ, BK, NQ, NK, T int

	tileQ    *graph.Node // int32 [T,1]: query block b·NQ + i of each tile (B·NQ: padding)
	tileK    *graph.Node // int32 [T,1]: key block b·NK + j of each tile, clamped to >= 0
	bias     *graph.Node // float32 [T,1,BQ,BK]: 0 where allowed, maskedScore where not
	rowValid *graph.Node // float32 [T,1,BQ]: 1 where the query row allows some key

	// The bias and row indicator broadcast to H heads, built once per graph for the
	// layers that share the mask: the Go backend adds and multiplies same-shaped
	// operands with SIMD loops but walks broadcast ones element by element.
	heads                 int
	biasHeads, validHeads *graph.Node
}

// forHeads returns the bias [T,H,BQ,BK] and row indicator [T,H,BQ] for H heads.
func (m *BlockMask) forHeads(H int) (bias, valid *graph.Node) {
	if m.heads != H {
		m.heads = H
		m.biasHeads = graph.BroadcastToDims(m.bias, m.T, H, m.BQ, m.BK)
		m.validHeads = graph.BroadcastToDims(m.rowValid, m.T, H, m.BQ)
	}
	return m.biasHeads, m.validHeads
}

// maskedScore is the bias of a forbidden pair, as pkg/layers' dense mask.
const maskedScore = -1e9

// PrepareBlockMask builds the block mask from the tile list tileQ, tileK int32 [T]
// (mask.BlockPlan.TileQ, TileK: ascending query blocks, padding tiles last with query
// block B·NQ and key block -1) and the per-row key intervals start, end int32 [B,Q,N]
// (mask.RowIntervals), for K keys in blocks of bk and queries in blocks of bq.
func PrepareBlockMask(tileQ, tileK, start, end *graph.Node, K, bq, bk int) (*BlockMask, error) {
	if tileQ == nil || tileK == nil || start == nil || end == nil {
		return nil, fmt.Errorf("layers: a block mask needs the tile list and the row intervals")
	}
	if tileQ.Rank() != 1 || !tileQ.DType().IsInt() || !tileK.Shape().Equal(tileQ.Shape()) ||
		start.Rank() != 3 || !start.DType().IsInt() || !end.Shape().Equal(start.Shape()) {
		return nil, fmt.Errorf("layers: a block mask wants tiles int [T] (query and key blocks) and start, end int [B,Q,N], got %s, %s, %s, %s",
			tileQ.Shape(), tileK.Shape(), start.Shape(), end.Shape())
	}
	if bq <= 0 || bk <= 0 || K <= 0 {
		return nil, fmt.Errorf("layers: block sizes and key length must be > 0, got bq=%d, bk=%d, K=%d", bq, bk, K)
	}
	B, Q, N := start.Shape().Dim(0), start.Shape().Dim(1), start.Shape().Dim(2)
	NQ, NK, T := (Q+bq-1)/bq, (K+bk-1)/bk, tileQ.Shape().Dim(0)
	m := &BlockMask{B: B, Q: Q, K: K, BQ: bq, BK: bk, NQ: NQ, NK: NK, T: T}
	g := tileQ.Graph()
	i32 := dtypes.Int32
	tq, tk := graph.ConvertDType(tileQ, i32), graph.ConvertDType(tileK, i32)
	m.tileQ = graph.Reshape(tq, T, 1)
	m.tileK = graph.Reshape(graph.Max(tk, graph.ScalarZero(g, i32)), T, 1)

	// Key positions of each tile: (key block - b·NK)·bk + j; negative for padding tiles.
	b := graph.Div(tq, graph.Scalar(g, i32, NQ))
	j0 := graph.Mul(graph.Sub(tk, graph.Mul(b, graph.Scalar(g, i32, NK))), graph.Scalar(g, i32, bk))
	kpos := graph.Add(graph.Reshape(j0, T, 1), graph.Iota(g, shapes.Make(i32, 1, bk), 1))
	kpos = graph.Reshape(kpos, T, 1, bk, 1)
	// Row intervals per query block, padded to NQ·bq rows and one dummy block, gathered per tile.
	rows := func(x *graph.Node) *graph.Node {
		x = graph.ConvertDType(x, i32)
		if pad := NQ*bq - Q; pad > 0 {
			x = graph.Concatenate([]*graph.Node{x, graph.Zeros(g, shapes.Make(i32, B, pad, N))}, 1)
		}
		x = graph.Concatenate([]*graph.Node{graph.Reshape(x, B*NQ, bq*N), graph.Zeros(g, shapes.Make(i32, 1, bq*N))}, 0)
		return graph.Reshape(graph.Gather(x, m.tileQ), T, bq, 1, N)
	}
	s, e := rows(start), rows(end)
	allowed := graph.LogicalAnd(graph.LessOrEqual(s, kpos), graph.LessThan(kpos, e)) // [T,bq,bk,N]
	if N > 1 {
		allowed = graph.ReduceLogicalOr(allowed, -1)
	}
	allowed = graph.Reshape(allowed, T, 1, bq, bk)
	dims := allowed.Shape().Dimensions
	m.bias = graph.Where(allowed, graph.Zeros(g, shapes.Make(dtypes.Float32, dims...)),
		graph.BroadcastToDims(graph.Scalar(g, dtypes.Float32, maskedScore), dims...))
	nonEmpty := graph.ReduceLogicalOr(graph.Reshape(graph.LessThan(s, e), T, bq, N), -1) // [T,bq]
	m.rowValid = graph.Reshape(graph.ConvertDType(nonEmpty, dtypes.Float32), T, 1, bq)
	return m, nil
}

// AttendBlocks is Attend over the tiles of m: q [B,Q,H,dh] and k, v [B,K,H,dh] give
// the attended values [B,Q,H·dh], equal to Attend's with the dense mask of the same
// intervals (within float rounding) while computing only the T listed tiles of the
// B·NQ·NK. Each tile gathers its query, key and value blocks, so the products are
// batched [BQ,dh]x[dh,BK] and [BQ,BK]x[BK,dh] matmuls; the softmax runs across the
// tiles of a query block (row maxima by ScatterMax, sums and outputs by ScatterSum)
// with Softmax's closed-form gradient, and the rest of the gradient is GoMLX's (gathers
// and scatters) and this package's matmul gradients.
// dropout, when not nil, is applied to the weights that multiply v.
func AttendBlocks(q, k, v *graph.Node, scale float64, m *BlockMask, dropout func(*graph.Node) *graph.Node) *graph.Node {
	B, Q, H, dh := q.Shape().Dim(0), q.Shape().Dim(1), q.Shape().Dim(2), q.Shape().Dim(3)
	K := k.Shape().Dim(1)
	if B != m.B || Q != m.Q || K != m.K {
		panic(fmt.Sprintf("block mask for B=%d, Q=%d, K=%d used with queries %s and keys %s", m.B, m.Q, m.K, q.Shape(), k.Shape()))
	}
	g := q.Graph()
	NQ, NK, bq, bk := m.NQ, m.NK, m.BQ, m.BK
	// blocks turns x [B,L,H,dh] into n blocks of rows [B·n, H, size, dh].
	blocks := func(x *graph.Node, n, size int) *graph.Node {
		if pad := n*size - x.Shape().Dim(1); pad > 0 {
			d := x.Shape().Clone()
			d.Dimensions[1] = pad
			x = graph.Concatenate([]*graph.Node{x, graph.Zeros(g, d)}, 1)
		}
		x = graph.Reshape(x, B, n, size, H, dh)
		return graph.Reshape(graph.TransposeAllAxes(x, 0, 1, 3, 2, 4), B*n, H, size, dh)
	}
	qrows := blocks(graph.MulScalar(q, scale), NQ, bq)
	qrows = graph.Concatenate([]*graph.Node{qrows, graph.Zeros(g, shapes.Make(q.DType(), 1, H, bq, dh))}, 0) // + the dummy block
	qt := graph.Gather(qrows, m.tileQ)                                                                       // [T,H,bq,dh]
	kt := graph.Gather(blocks(k, NK, bk), m.tileK)                                                           // [T,H,bk,dh]
	vt := graph.Gather(blocks(v, NK, bk), m.tileK)
	var scores *graph.Node // [T,H,bq,bk]
	if Plain {
		scores = graph.DotGeneral(qt, []int{3}, []int{0, 1}, kt, []int{3}, []int{0, 1})
	} else {
		scores = matmul(qt, kt, 2, true)
	}
	bias, valid := m.forHeads(H)
	x := graph.Add(scores, bias)
	// Softmax over each query row's keys, across the tiles of its query block, computed
	// on x without gradient; the gradient is the closed form of Softmax (softmax.go) with
	// the row sum taken across the tiles: dx = w * (v - sum(v * w)).
	rowsShape := shapes.Make(x.DType(), B*NQ+1, H, bq)
	acrossTiles := func(perTile *graph.Node, reduce func(operand, indices, updates *graph.Node, sorted, unique bool) *graph.Node, init float64) *graph.Node {
		rows := reduce(graph.BroadcastToShape(graph.Scalar(g, x.DType(), init), rowsShape), m.tileQ, perTile, true, false)
		return graph.InsertAxes(graph.Gather(rows, m.tileQ), -1) // [T,H,bq,1]
	}
	xs := graph.StopGradient(x)
	e := graph.Exp(graph.Sub(xs, acrossTiles(graph.ReduceMax(xs, -1), graph.ScatterMax, 2*maskedScore)))
	// 1/sum for rows that allow some key, 0 for the others (whose weights are then 0).
	inv := graph.Div(graph.InsertAxes(valid, -1), acrossTiles(graph.ReduceSum(e, -1), graph.ScatterSum, 0))
	w := graph.Mul(e, inv)
	xg := graph.IdentityWithCustomGradient(x, func(_, v *graph.Node) *graph.Node {
		return graph.Mul(w, graph.Sub(v, acrossTiles(graph.ReduceSum(graph.Mul(v, w), -1), graph.ScatterSum, 0)))
	})
	w = graph.Add(w, graph.Sub(xg, graph.StopGradient(xg)))
	if dropout != nil {
		w = dropout(w)
	}
	var ot *graph.Node // [T,H,bq,dh]
	if Plain {
		ot = graph.DotGeneral(w, []int{3}, []int{0, 1}, vt, []int{2}, []int{0, 1})
	} else {
		ot = matmul(w, vt, 2, false)
	}
	o := graph.ScatterSum(graph.Zeros(g, shapes.Make(ot.DType(), B*NQ+1, H, bq, dh)), m.tileQ, ot, true, false)
	o = graph.Slice(o, graph.AxisRange(0, B*NQ))
	o = graph.Reshape(graph.TransposeAllAxes(graph.Reshape(o, B, NQ, H, bq, dh), 0, 1, 3, 2, 4), B, NQ*bq, H*dh)
	if NQ*bq > Q {
		o = graph.Slice(o, graph.AxisRange(), graph.AxisRange(0, Q), graph.AxisRange())
	}
	return o
}
