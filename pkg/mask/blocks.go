package mask

import (
	"fmt"
	"strings"
)

// BlockPlan is the block-sparse schedule of an attention: queries in blocks of BQ rows,
// keys in blocks of BK, and for each query block the key blocks that hold at least one
// allowed (query, key) pair, as FlexAttention's BlockMask. Every query block lists C
// slots (the batch's largest count), so the lists form one tensor; slots past a block's
// count are -1.
type BlockPlan struct {
	B, Q, K  int
	BQ, BK   int
	NQ, NK   int     // query and key blocks: ceil(Q/BQ), ceil(K/BK)
	C        int     // slots per query block, >= 1
	Count    []int32 // [B·NQ]: key blocks listed for each query block
	Index    []int32 // [B·NQ·C]: their indices, ascending, then -1
	Pairs    int64   // allowed (query, key) pairs
	Needed   int     // key blocks with an allowed pair, summed over query blocks
	Computed int     // B·NQ·C: blocks the sparse path computes (padding slots included)
}

// Blocks plans block-sparse attention over the intervals with query blocks of bq rows
// and key blocks of bk keys.
func (r *RowIntervals) Blocks(bq, bk int) (*BlockPlan, error) {
	if bq <= 0 || bk <= 0 {
		return nil, fmt.Errorf("mask: block sizes must be > 0, got bq=%d, bk=%d", bq, bk)
	}
	p := &BlockPlan{B: r.B, Q: r.Q, K: r.K, BQ: bq, BK: bk, NQ: (r.Q + bq - 1) / bq, NK: (r.K + bk - 1) / bk, Pairs: r.Pairs()}
	p.Count = make([]int32, r.B*p.NQ)
	lists := make([][]int32, r.B*p.NQ)
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
			var list []int32
			run := int32(0)
			for j := range p.NK {
				run += diff[j]
				if run > 0 {
					list = append(list, int32(j))
				}
			}
			lists[b*p.NQ+i] = list
			p.Count[b*p.NQ+i] = int32(len(list))
			p.Needed += len(list)
			p.C = max(p.C, len(list))
		}
	}
	p.C = max(p.C, 1)
	p.Index = make([]int32, len(lists)*p.C)
	for i, l := range lists {
		n := copy(p.Index[i*p.C:(i+1)*p.C], l)
		for j := n; j < p.C; j++ {
			p.Index[i*p.C+j] = -1
		}
	}
	p.Computed = r.B * p.NQ * p.C
	return p, nil
}

// Dense is the number of blocks dense attention computes: B·NQ·NK.
func (p *BlockPlan) Dense() int { return p.B * p.NQ * p.NK }

// Skipped is the fraction of the dense blocks the sparse path does not compute
// (padding slots count as computed).
func (p *BlockPlan) Skipped() float64 { return 1 - float64(p.Computed)/float64(p.Dense()) }

// Grid draws example b's block grid: one line per query block, one character per key
// block, '#' for a block with an allowed pair (computed) and '.' for a skipped one; a
// query block with n padding slots (computed, nothing allowed) ends with "  +n".
func (p *BlockPlan) Grid(b int) string {
	var sb strings.Builder
	for i := range p.NQ {
		row := []byte(strings.Repeat(".", p.NK))
		n := int(p.Count[b*p.NQ+i])
		for _, j := range p.Index[(b*p.NQ+i)*p.C:][:n] {
			row[j] = '#'
		}
		if pad := p.C - n; pad > 0 {
			row = append(row, []byte(fmt.Sprintf("  +%d", pad))...)
		}
		sb.Write(row)
		sb.WriteByte('\n')
	}
	return sb.String()
}
