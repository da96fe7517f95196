package mask

import (
	"fmt"
	"strings"
)

// BlockPlan is the block-sparse schedule of an attention: queries in blocks of BQ rows,
// keys in blocks of BK, and the tiles (query block, key block) that hold at least one
// allowed (query, key) pair, as FlexAttention's BlockMask, listed as one flat list so
// that the work is the number of such tiles, however unevenly they fall on the query
// blocks. The list is padded to a multiple of TileQuantum(needed) tiles, under 1/8
// more (fewer distinct shapes to compile as batches vary); padding tiles point at the
// dummy query block B·NQ and key block -1.
type BlockPlan struct {
	B, Q, K  int
	BQ, BK   int
	NQ, NK   int     // query and key blocks per example: ceil(Q/BQ), ceil(K/BK)
	Count    []int32 // [B·NQ]: tiles of each query block
	TileQ    []int32 // [T]: query block b·NQ + i of each tile, ascending (B·NQ for padding)
	TileK    []int32 // [T]: key block b·NK + j of each tile (-1 for padding)
	Pairs    int64   // allowed (query, key) pairs
	Needed   int     // tiles with an allowed pair
	Computed int     // T: tiles the sparse path computes (padding included)
}

// TileQuantum is the multiple a list of n tiles is padded to: the largest power of two
// q with 8·q <= n (1 for n < 16), so padding adds less than n/8 tiles.
func TileQuantum(n int) int {
	q := 1
	for 16*q <= n {
		q *= 2
	}
	return q
}

// Blocks plans block-sparse attention over the intervals with query blocks of bq rows
// and key blocks of bk keys.
func (r *RowIntervals) Blocks(bq, bk int) (*BlockPlan, error) {
	if bq <= 0 || bk <= 0 {
		return nil, fmt.Errorf("mask: block sizes must be > 0, got bq=%d, bk=%d", bq, bk)
	}
	p := &BlockPlan{B: r.B, Q: r.Q, K: r.K, BQ: bq, BK: bk, NQ: (r.Q + bq - 1) / bq, NK: (r.K + bk - 1) / bk, Pairs: r.Pairs()}
	p.Count = make([]int32, r.B*p.NQ)
	diff := make([]int32, p.NK+1)
	for b := range r.B {
		for i := range p.NQ {
			clear(diff)
			for q := i * bq; q < min((i+1)*bq, r.Q); q++ {
				base := (b*r.Q + q) * r.N
				for j := range r.N {
					s, e := int(r.Start[base+j]), int(r.End[base+j])
					if s < e {
						diff[s/bk]++
						diff[(e-1)/bk+1]--
					}
				}
			}
			run := int32(0)
			for j := range p.NK {
				run += diff[j]
				if run > 0 {
					p.TileQ = append(p.TileQ, int32(b*p.NQ+i))
					p.TileK = append(p.TileK, int32(b*p.NK+j))
					p.Count[b*p.NQ+i]++
				}
			}
		}
	}
	p.Needed = len(p.TileQ)
	for q := TileQuantum(p.Needed); len(p.TileQ) == 0 || len(p.TileQ)%q != 0; {
		p.TileQ = append(p.TileQ, int32(r.B*p.NQ))
		p.TileK = append(p.TileK, -1)
	}
	p.Computed = len(p.TileQ)
	return p, nil
}

// Dense is the number of tiles dense attention computes: B·NQ·NK.
func (p *BlockPlan) Dense() int { return p.B * p.NQ * p.NK }

// Skipped is the fraction of the dense tiles the sparse path does not compute
// (padding tiles count as computed).
func (p *BlockPlan) Skipped() float64 { return 1 - float64(p.Computed)/float64(p.Dense()) }

// Grid draws example b's tiles: one line per query block, one character per key
// block, '#' for a tile with an allowed pair (computed) and '.' for a skipped one.
func (p *BlockPlan) Grid(b int) string {
	rows := make([][]byte, p.NQ)
	for i := range rows {
		rows[i] = []byte(strings.Repeat(".", p.NK) + "\n")
	}
	for t, q := range p.TileQ {
		if int(q)/p.NQ == b && p.TileK[t] >= 0 {
			rows[int(q)%p.NQ][int(p.TileK[t])-b*p.NK] = '#'
		}
	}
	var sb strings.Builder
	for _, r := range rows {
		sb.Write(r)
	}
	return sb.String()
}
