package layers

import (
	"errors"
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/masklab/masklab/pkg/layers/internal/fast"
	"github.com/masklab/masklab/pkg/mask"
)

// Sparse-aware attention: for a mask that is a union of key intervals per query row
// (mask.Attention.Intervals: causal, doc, window, chunk, prefix, pad and their
// compositions), attention computes only the (query block, key block) tiles that hold
// an allowed pair, so its cost follows the number of allowed pairs instead of Q·K, and
// the mask travels as O(B·Q) intervals instead of a [B,Q,K] tensor. The plan is made on
// the host from the batch's side data (PlanSparse), fed to the graph as three int32
// tensors (SparsePlan.Tensors), prepared once per forward pass (PrepareSparse) and
// given to each attention layer (AttentionBuilder.WithSparse). Outputs and gradients
// equal the dense path's within float rounding (TestSparseEqualsDense).

// Default block sizes of the sparse path: 64 queries by 64 keys. On the Go backend a
// decoder layer at L=2,048 ran faster with 64 than with 32 or 16 for causal, causal &
// doc and causal & window(128) (fewer, larger tiles: less gathering per pair computed),
// and 128 was slower for the masks with short rows (docs/performance.md, "Attention
// whose cost follows the mask").
const (
	DefaultSparseBQ = 64
	DefaultSparseBK = 64
)

// DefaultMinSkipped is the fraction of the dense tiles a plan must skip for PlanSparse
// to choose the sparse path: below it, gathering the tiles and the softmax across them
// cost more than the tiles saved. On the Go backend with 64x64 tiles a decoder layer was
// about as fast on both paths at 37.5% skipped (causal at L=256: 1.04x) and faster from
// 43.8% on (docs/performance.md).
const DefaultMinSkipped = 0.4

// SparseOptions are the knobs of PlanSparse; the zero value means the defaults.
type SparseOptions struct {
	BQ, BK     int     // block sizes (default DefaultSparseBQ, DefaultSparseBK)
	MinSkipped float64 // choose sparse only when at least this fraction of tiles is skipped (default DefaultMinSkipped; negative: always)
}

// SparsePlan is the host side of sparse-aware attention for one batch: the per-row key
// intervals and the block lists.
type SparsePlan struct {
	Rows   *mask.RowIntervals
	Blocks *mask.BlockPlan
}

// PlanSparse decides, on the host, how a batch's attention with mask m runs. It returns
// a plan when m is an interval mask and the plan skips at least opts.MinSkipped of the
// tiles; nil and a reason when the dense path should run (an arbitrary mask, segment
// ids in too many runs, too few empty blocks); an error for side data the mask needs
// and the batch lacks.
func PlanSparse(m mask.Attention, side mask.HostSide, opts SparseOptions) (plan *SparsePlan, dense string, err error) {
	if opts.BQ == 0 {
		opts.BQ = DefaultSparseBQ
	}
	if opts.BK == 0 {
		opts.BK = DefaultSparseBK
	}
	if opts.MinSkipped == 0 {
		opts.MinSkipped = DefaultMinSkipped
	}
	rows, err := m.RowIntervals(side)
	if errors.Is(err, mask.ErrNotIntervals) {
		return nil, err.Error(), nil
	}
	if err != nil {
		return nil, "", err
	}
	blocks, err := rows.Blocks(opts.BQ, opts.BK)
	if err != nil {
		return nil, "", err
	}
	p := &SparsePlan{Rows: rows, Blocks: blocks}
	if s := blocks.Skipped(); s < opts.MinSkipped {
		return nil, fmt.Sprintf("mask %q skips %.0f%% of the %dx%d tiles on this batch, under %.0f%%", m, 100*s, opts.BQ, opts.BK, 100*opts.MinSkipped), nil
	}
	return p, "", nil
}

// Tensors returns what the graph needs, to feed as inputs: the tile list tileQ, tileK
// int32 [T] and the row intervals start, end int32 [B,Q,N].
func (p *SparsePlan) Tensors() (tileQ, tileK, start, end *tensors.Tensor) {
	b, r := p.Blocks, p.Rows
	return tensors.FromFlatDataAndDimensions(b.TileQ, len(b.TileQ)),
		tensors.FromFlatDataAndDimensions(b.TileK, len(b.TileK)),
		tensors.FromFlatDataAndDimensions(r.Start, r.B, r.Q, r.N),
		tensors.FromFlatDataAndDimensions(r.End, r.B, r.Q, r.N)
}

// SparseMask is a block-sparse attention mask prepared once per forward pass and shared
// by every layer and head that uses it (the sparse counterpart of Mask).
type SparseMask struct {
	m *fast.BlockMask
}

// PrepareSparse prepares the sparse mask of K keys from the graph inputs of a plan
// (SparsePlan.Tensors: tileQ and tileK [T], start and end [B,Q,N]) and its block sizes.
func PrepareSparse(tileQ, tileK, start, end *graph.Node, K, bq, bk int) (*SparseMask, error) {
	m, err := fast.PrepareBlockMask(tileQ, tileK, start, end, K, bq, bk)
	if err != nil {
		return nil, err
	}
	return &SparseMask{m: m}, nil
}

// WithSparse sets the block-sparse form of the layer's mask: the layer then computes
// only the tiles the plan lists. A layer that needs what the sparse path does not give
// (its attention weights, a score modification or an additive bias) takes the dense
// path, so it also needs WithMask; with nil the dense path runs.
func (b *AttentionBuilder) WithSparse(s *SparseMask) *AttentionBuilder {
	b.sparse = s
	return b
}

// useSparse reports whether the layer takes the sparse path.
func (b *AttentionBuilder) useSparse(wantWeights bool) bool {
	return b.sparse != nil && !wantWeights && b.score == nil && b.bias == nil
}

// checkSparse checks that the sparse mask fits the layer, and that a layer that cannot
// take the sparse path has a dense mask.
func (b *AttentionBuilder) checkSparse(wantWeights bool) error {
	s := b.sparse
	if s == nil {
		return nil
	}
	B, Q, K := b.query.Shape().Dim(0), b.query.Shape().Dim(1), b.key.Shape().Dim(1)
	if s.m.B != B || s.m.Q != Q || s.m.K != K {
		return fmt.Errorf("layers: sparse attention mask for B=%d, Q=%d, K=%d does not fit B=%d, Q=%d, K=%d", s.m.B, s.m.Q, s.m.K, B, Q, K)
	}
	if !b.useSparse(wantWeights) && b.mask == nil {
		return fmt.Errorf("layers: attention with a sparse mask cannot return its weights or apply a score modification or bias; give it the dense mask too (WithMask)")
	}
	return nil
}
