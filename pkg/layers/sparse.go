package layers

import (
	"cmp"
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
	// Bucket pads the plan to few shapes (SparsePlan.bucket), for training: every
	// distinct tile count or intervals per row compiles another executable. The
	// threshold counts the padding tiles.
	Bucket bool
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
	if opts.Bucket {
		p.bucket()
	}
	if s := blocks.Skipped(); s < opts.MinSkipped {
		return nil, fmt.Sprintf("mask %q skips %.0f%% of the %dx%d tiles on this batch, under %.0f%%", m, 100*s, opts.BQ, opts.BK, 100*opts.MinSkipped), nil
	}
	return p, "", nil
}

// bucket pads the tile list to 4 sizes per doubling (its length rounded up to a multiple
// of the largest power of two q with 4·q <= length: under 1/4 more tiles) with padding
// tiles, and the intervals per row to a power of two with empty slots. Batches of one
// shape whose tile counts vary within a factor of 2 then compile at most 5 executables
// (GoMLX's Exec compiles one per input shape and fails after 32).
func (p *SparsePlan) bucket() {
	b, r := p.Blocks, p.Rows
	q := 1
	for 8*q <= len(b.TileQ) {
		q *= 2
	}
	for len(b.TileQ)%q != 0 {
		b.TileQ = append(b.TileQ, int32(b.B*b.NQ))
		b.TileK = append(b.TileK, -1)
	}
	b.Computed = len(b.TileQ)
	n := 1
	for n < r.N {
		n *= 2
	}
	if n == r.N {
		return
	}
	start, end := make([]int32, r.B*r.Q*n), make([]int32, r.B*r.Q*n)
	for row := range r.B * r.Q {
		copy(start[row*n:], r.Start[row*r.N:(row+1)*r.N])
		copy(end[row*n:], r.End[row*r.N:(row+1)*r.N])
	}
	r.Start, r.End, r.N = start, end, n
}

// The decoder self-attention paths of a model (model.attention in pkg/experiments).
const (
	AttentionAuto   AttentionPath = "auto"   // sparse where PlanSparse chooses it, batch by batch
	AttentionDense  AttentionPath = "dense"  // always the dense mask
	AttentionSparse AttentionPath = "sparse" // sparse on every batch; an error where the mask is not an interval mask
)

// AttentionPath chooses how the decoder self-attention runs: AttentionAuto ("" too),
// AttentionDense or AttentionSparse. The default counts as zero (omitempty: configs that
// leave it out keep their run ids).
type AttentionPath string

// IsZero reports whether p is the default, auto.
func (p AttentionPath) IsZero() bool { return p == "" || p == AttentionAuto }

// Validate checks that p names a path.
func (p AttentionPath) Validate() error {
	if p.IsZero() || p == AttentionDense || p == AttentionSparse {
		return nil
	}
	return fmt.Errorf("layers: attention path must be auto, dense or sparse; got %q", string(p))
}

// PlanDecoderSelf plans the decoder self-attention (mask cfg.Self) of one batch of a
// model cfg on path p, from the batch's host side data (Q = K = the decoder length, the
// side data Inputs gives the graph). The plan is bucketed (SparseOptions.Bucket); feed
// its Tensors as Inputs.Sparse. nil and the reason mean the dense path: p is dense, the
// model has no sparse decoder self-attention (only the Transformer decoder and seq2seq
// kinds and the Arch decoders do), a score modification needs the dense scores, or
// PlanSparse chose dense. With AttentionSparse the last three are errors.
func PlanDecoderSelf(cfg Config, p AttentionPath, side mask.HostSide) (*SparsePlan, string, error) {
	if err := p.Validate(); err != nil || p == AttentionDense {
		return nil, "attention path dense", err
	}
	opts := SparseOptions{Bucket: true}
	if p == AttentionSparse {
		opts.MinSkipped = -1
	}
	var plan *SparsePlan
	var why string
	var err error
	switch {
	case cfg.Arch == nil && cfg.Kind != KindDecoder && cfg.Kind != KindSeq2Seq:
		why = fmt.Sprintf("model kind %s has no sparse decoder self-attention", cfg.Kind)
	case !cfg.Score.IsZero():
		why = fmt.Sprintf("score modification %q needs the dense scores", cfg.Score)
	default:
		plan, why, err = PlanSparse(cfg.Self, side, opts)
	}
	if err == nil && plan == nil && p == AttentionSparse {
		err = fmt.Errorf("layers: attention path sparse: %s", why)
	}
	return plan, why, err
}

// SparseInputs are the graph inputs of a SparsePlan (its Tensors) for a model's decoder
// self-attention (Inputs.Sparse), and the plan's block sizes (0: the defaults).
type SparseInputs struct {
	TileQ, TileK, Start, End *graph.Node
	BQ, BK                   int
}

// prepare prepares the sparse mask of a decoder self-attention over T keys.
func (s *SparseInputs) prepare(T int) (*SparseMask, error) {
	return PrepareSparse(s.TileQ, s.TileK, s.Start, s.End, T, cmp.Or(s.BQ, DefaultSparseBQ), cmp.Or(s.BK, DefaultSparseBK))
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
