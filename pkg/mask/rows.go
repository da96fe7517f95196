package mask

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
)

// NewEnvRows is NewEnv for some query rows of a [B,H,Q,K] attention: rows (integer
// [B,n]) holds each example's n query positions, and Build returns the mask of those
// rows only, [B,1|H,n,K], equal to rows of the full [B,1|H,Q,K] mask. Decoding with a
// key/value cache needs it: each step evaluates the mask for the new positions against
// every cached key without building the Q×K square. side.QuerySeg, when set, is [B,n]
// (the segments of those rows); side.KeySeg must then be set too ([B,K]).
//
// Q and K stay the sizes of the full attention, so masks that read them (causal_br's
// K-Q) mean what they mean there. Masks that draw random numbers (active only when
// training) are not meant for it.
func NewEnvRows(g *graph.Graph, b, h, q, k int, rows *graph.Node, side Side) *Env {
	n := rows.Shape().Dim(1)
	qSeg := side.QuerySeg
	side.QuerySeg = nil
	e := NewEnv(g, b, h, q, k, side)
	e.rows = n
	e.Query = graph.Reshape(graph.ConvertDType(rows, dtypes.Int32), b, 1, n, 1)
	if qSeg != nil {
		e.QuerySeg = graph.Reshape(graph.ConvertDType(qSeg, dtypes.Int32), b, 1, n, 1)
	}
	return e
}
