package fast

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
)

// BlockMask is a block-sparse attention mask prepared once per forward pass and shared
// by every layer and head that uses it: queries in blocks of BQ rows, for each query
// block the C key blocks of BK keys it computes, and, over those C·BK gathered keys, the
// additive bias and row indicator of the mask (from per-row key intervals, never a
// dense [B,Q,K] tensor).
type BlockMask struct {
	B, Q, K, BQ, BK, NQ, NK, C int

	index    *graph.Node // int32 [B,NQ,1,C]: row b·NK + block of each slot in the [B·NK, ...] key blocks
	bias     *graph.Node // float32 [B,NQ,1,BQ,C·BK]: 0 where allowed, maskedScore where not
	rowValid *graph.Node // float32 [B,NQ,1,BQ,1]: 1 where the query row allows some key
}

// maskedScore is the bias of a forbidden pair, as pkg/layers' dense mask.
const maskedScore = -1e9

// PrepareBlockMask builds the block mask from the key-block lists blocks int32
// [B,NQ,C] (ascending, -1 for padding slots; mask.BlockPlan.Index) and the per-row key
// intervals start, end int32 [B,Q,N] (mask.RowIntervals), for K keys in blocks of bk
// and queries in blocks of bq (NQ = ceil(Q/bq)).
func PrepareBlockMask(blocks, start, end *graph.Node, K, bq, bk int) (*BlockMask, error) {
	if blocks == nil || start == nil || end == nil {
		return nil, fmt.Errorf("layers: a block mask needs the block lists and the row intervals")
	}
	if blocks.Rank() != 3 || !blocks.DType().IsInt() || start.Rank() != 3 || !start.DType().IsInt() || !end.Shape().Equal(start.Shape()) {
		return nil, fmt.Errorf("layers: a block mask wants blocks int [B,NQ,C] and start, end int [B,Q,N], got %s, %s, %s", blocks.Shape(), start.Shape(), end.Shape())
	}
	B, Q, N := start.Shape().Dim(0), start.Shape().Dim(1), start.Shape().Dim(2)
	NQ, C := blocks.Shape().Dim(1), blocks.Shape().Dim(2)
	if bq <= 0 || bk <= 0 || K <= 0 {
		return nil, fmt.Errorf("layers: block sizes and key length must be > 0, got bq=%d, bk=%d, K=%d", bq, bk, K)
	}
	if blocks.Shape().Dim(0) != B || NQ != (Q+bq-1)/bq {
		return nil, fmt.Errorf("layers: block lists %s do not fit %d queries in blocks of %d (batch %d)", blocks.Shape(), Q, bq, B)
	}
	NK := (K + bk - 1) / bk
	m := &BlockMask{B: B, Q: Q, K: K, BQ: bq, BK: bk, NQ: NQ, NK: NK, C: C}
	g := blocks.Graph()
	i32 := dtypes.Int32
	idx := graph.ConvertDType(blocks, i32)
	// Gather rows: b·NK + max(block, 0) (padding slots read block 0 and are masked below).
	base := graph.Mul(graph.Iota(g, shapes.Make(i32, B, 1, 1), 0), graph.Scalar(g, i32, NK))
	m.index = graph.Reshape(graph.Add(base, graph.Max(idx, graph.ScalarZero(g, i32))), B, NQ, 1, C)

	// Key position of each gathered column: block·BK + j, negative for padding slots.
	kpos := graph.Add(graph.Reshape(graph.Mul(idx, graph.Scalar(g, i32, bk)), B, NQ, C, 1),
		graph.Iota(g, shapes.Make(i32, 1, 1, 1, bk), 3))
	kpos = graph.Reshape(kpos, B, NQ, 1, C*bk, 1)
	// Rows padded to NQ·BQ queries have no interval.
	s, e := graph.ConvertDType(start, i32), graph.ConvertDType(end, i32)
	if pad := NQ*bq - Q; pad > 0 {
		s = graph.Concatenate([]*graph.Node{s, graph.Zeros(g, shapes.Make(i32, B, pad, N))}, 1)
		e = graph.Concatenate([]*graph.Node{e, graph.Zeros(g, shapes.Make(i32, B, pad, N))}, 1)
	}
	s, e = graph.Reshape(s, B, NQ, bq, 1, N), graph.Reshape(e, B, NQ, bq, 1, N)
	allowed := graph.LogicalAnd(graph.LessOrEqual(s, kpos), graph.LessThan(kpos, e)) // [B,NQ,bq,C·bk,N]
	if N > 1 {
		allowed = graph.ReduceLogicalOr(allowed, -1)
	} else {
		allowed = graph.Reshape(allowed, B, NQ, bq, C*bk)
	}
	allowed = graph.Reshape(allowed, B, NQ, 1, bq, C*bk)
	dims := allowed.Shape().Dimensions
	m.bias = graph.Where(allowed, graph.Zeros(g, shapes.Make(dtypes.Float32, dims...)),
		graph.BroadcastToDims(graph.Scalar(g, dtypes.Float32, maskedScore), dims...))
	nonEmpty := graph.ConvertDType(graph.ReduceLogicalOr(graph.LessThan(s, e), -1), dtypes.Float32) // [B,NQ,bq,1]
	m.rowValid = graph.Reshape(nonEmpty, B, NQ, 1, bq, 1)
	return m, nil
}

// AttendBlocks is Attend over the blocks of m: q [B,Q,H,dh] and k, v [B,K,H,dh] give
// the attended values [B,Q,H·dh], equal to Attend's with the dense mask of the same
// intervals (within float rounding) while computing only B·NQ·C of the B·NQ·NK
// (query block, key block) tiles. Each query block gathers its C key and value blocks,
// so the products are batched [BQ,dh]x[dh,C·BK] and [BQ,C·BK]x[C·BK,dh] tiles, and
// the gradients are GoMLX's (a ScatterSum for the gather) and this package's.
// dropout, when not nil, is applied to the weights that multiply v.
func AttendBlocks(q, k, v *graph.Node, scale float64, m *BlockMask, dropout func(*graph.Node) *graph.Node) *graph.Node {
	B, Q, H, dh := q.Shape().Dim(0), q.Shape().Dim(1), q.Shape().Dim(2), q.Shape().Dim(3)
	K := k.Shape().Dim(1)
	if B != m.B || Q != m.Q || K != m.K {
		panic(fmt.Sprintf("block mask for B=%d, Q=%d, K=%d used with queries %s and keys %s", m.B, m.Q, m.K, q.Shape(), k.Shape()))
	}
	g := q.Graph()
	NQ, NK, bq, bk, C := m.NQ, m.NK, m.BQ, m.BK, m.C
	padAxis1 := func(x *graph.Node, to int) *graph.Node {
		if pad := to - x.Shape().Dim(1); pad > 0 {
			d := x.Shape().Clone()
			d.Dimensions[1] = pad
			return graph.Concatenate([]*graph.Node{x, graph.Zeros(g, d)}, 1)
		}
		return x
	}
	// Queries [B,NQ,H,bq,dh].
	qb := graph.Reshape(padAxis1(graph.MulScalar(q, scale), NQ*bq), B, NQ, bq, H, dh)
	qb = graph.TransposeAllAxes(qb, 0, 1, 3, 2, 4)
	// Key and value blocks as rows [B·NK·H, bk·dh], gathered per (query block, head).
	rowsOf := func(x *graph.Node) *graph.Node {
		x = graph.Reshape(padAxis1(x, NK*bk), B, NK, bk, H, dh)
		return graph.Reshape(graph.TransposeAllAxes(x, 0, 1, 3, 2, 4), B*NK*H, bk*dh)
	}
	i32 := dtypes.Int32
	heads := graph.Iota(g, shapes.Make(i32, 1, 1, H, 1), 2)
	index := graph.InsertAxes(graph.Add(graph.Mul(m.index, graph.Scalar(g, i32, H)), heads), -1) // [B,NQ,H,C,1]
	gather := func(x *graph.Node) *graph.Node {
		return graph.Reshape(graph.Gather(rowsOf(x), index), B, NQ, H, C*bk, dh)
	}
	kg, vg := gather(k), gather(v)
	var scores *graph.Node // [B,NQ,H,bq,C·bk]
	if Plain {
		scores = graph.DotGeneral(qb, []int{4}, []int{0, 1, 2}, kg, []int{4}, []int{0, 1, 2})
	} else {
		scores = matmul(qb, kg, 3, true)
	}
	w := graph.Mul(Softmax(graph.Add(scores, m.bias)), m.rowValid)
	if dropout != nil {
		w = dropout(w)
	}
	var o *graph.Node // [B,NQ,H,bq,dh]
	if Plain {
		o = graph.DotGeneral(w, []int{4}, []int{0, 1, 2}, vg, []int{3}, []int{0, 1, 2})
	} else {
		o = matmul(w, vg, 3, false)
	}
	o = graph.Reshape(graph.TransposeAllAxes(o, 0, 1, 3, 2, 4), B, NQ*bq, H*dh)
	if NQ*bq > Q {
		o = graph.Slice(o, graph.AxisRange(), graph.AxisRange(0, Q), graph.AxisRange())
	}
	return o
}
