package mask

import (
	"errors"
	"fmt"
	"strings"
)

// This file is the interval analysis of attention masks: which masks allow, in every
// query row, a union of a few key intervals (FlashMask's observation, Wang et al., ICLR
// 2025: the masks used in practice are intervals per row or column), and the intervals
// themselves for a batch, computed on the host from the side data in O(B·Q) memory
// instead of a dense [B,Q,K] tensor. Sparse-aware attention (pkg/layers) computes only
// the key blocks those intervals touch.
//
// The analysis is structural: each built-in atom that is an interval per row carries
// its interval rule (withIntervals, in builtin.go), And, Or and Not combine the rules,
// and a mask made any other way (NewAttention: user functions, random, keydrop,
// dilated) has none and keeps the dense path.

// ivKind is the interval rule of one built-in atom.
type ivKind int

const (
	ivFull     ivKind = iota + 1 // [0, K)
	ivCausal                     // [0, q]
	ivCausalBR                   // [0, q + K - Q]
	ivPad                        // [0, klen)
	ivQPad                       // [0, K) if q < qlen, else nothing
	ivPrefix                     // [0, max(P, q+1))
	ivDoc                        // the run(s) of keys with the query's segment id
	ivWindow                     // [q - n, q + n]
	ivSink                       // [0, n)
	ivChunk                      // [floor(q/n)·n, floor(q/n)·n + n)
	ivBand                       // [c - n, c + n], c = floor(q·klen / max(qlen, 1))
)

// ivExpr is an interval rule: an ivAtom or an ivOp.
type ivExpr interface{ ivString() string }

type ivAtom struct {
	kind ivKind
	n    int
}

type ivOp struct {
	op byte // '&', '|' or '!'
	xs []ivExpr
}

func (a ivAtom) ivString() string { return fmt.Sprintf("%d(%d)", a.kind, a.n) }
func (o ivOp) ivString() string {
	parts := make([]string, len(o.xs))
	for i, x := range o.xs {
		parts[i] = x.ivString()
	}
	return string(o.op) + "(" + strings.Join(parts, ",") + ")"
}

// withIntervals gives a built-in atom its interval rule.
func withIntervals(k ivKind, n int, a Attention) Attention {
	a.iv = ivAtom{kind: k, n: n}
	return a
}

// ivNotOf is the rule of !x: the complement of x's intervals in [0, K).
func ivNotOf(x ivExpr) ivExpr {
	if x == nil {
		return nil
	}
	return ivOp{op: '!', xs: []ivExpr{x}}
}

// ivCombine is the rule of ms combined with op ("&" or "|"): nil when any part has none.
func ivCombine(op string, ms []Attention) ivExpr {
	xs := make([]ivExpr, len(ms))
	for i, m := range ms {
		if m.iv == nil || m.perHead || m.random {
			return nil
		}
		xs[i] = m.iv
	}
	return ivOp{op: op[0], xs: xs}
}

// Intervals reports whether m is known to allow, in every query row, a union of key
// intervals computable from the batch's side data: true for the atoms full, causal,
// causal_br, pad, qpad, prefix, doc, window, sink, chunk and band and every &, | and !
// of them; false for random and keydrop, dilated, per-head masks and user functions
// (NewAttention), which keep the dense path. doc is an interval per row when each
// segment id occupies one contiguous run of keys, as in packed sequences; RowIntervals
// handles a few runs per id and reports a batch with more as not intervals.
func (m Attention) Intervals() bool { return m.iv != nil && !m.perHead && !m.random }

// MaxIntervalsPerRow bounds the intervals per query row that RowIntervals returns;
// a batch that needs more (masks with many | terms, segment ids in many runs) is
// reported as not intervals and keeps the dense path.
const MaxIntervalsPerRow = 16

// ErrNotIntervals is wrapped by RowIntervals' errors for masks and batches that are not
// unions of intervals per row (the dense path handles them).
var ErrNotIntervals = errors.New("not a union of intervals per query row")

// HostSide is a batch's side data on the host: the values Side gives the dense path as
// graph nodes, for B examples of Q queries and K keys. A nil field is side data the
// batch does not have (a mask that reads it is an error naming it, as with Env.Build).
type HostSide struct {
	B, Q, K   int
	QueryLen  []int32 // [B] valid query lengths
	KeyLen    []int32 // [B] valid key lengths
	PrefixLen []int32 // [B] prefix-LM prefix lengths
	QuerySeg  []int32 // [B·Q] row-major: segment id of each query position
	KeySeg    []int32 // [B·K]; nil means QuerySeg when Q == K, as in NewEnv
}

// RowIntervals are the keys each query row may attend to, as N half-open intervals
// per row: row (b, q) allows key k iff Start[i] <= k < End[i] for one of its slots i =
// (b·Q + q)·N + j, j < N. The intervals of a row are disjoint, ascending and non-empty
// first; unused slots are empty (Start == End == 0). A row with no interval attends
// nowhere (a fully masked row).
type RowIntervals struct {
	B, Q, K, N int
	Start, End []int32
}

// Allowed reports whether query q of example b may attend to key k.
func (r *RowIntervals) Allowed(b, q, k int) bool {
	base := (b*r.Q + q) * r.N
	for j := range r.N {
		if int(r.Start[base+j]) <= k && k < int(r.End[base+j]) {
			return true
		}
	}
	return false
}

// Dense expands the intervals to the boolean mask [B·Q·K], row-major (for tests and
// pictures; the point of the intervals is not to build it).
func (r *RowIntervals) Dense() []bool {
	out := make([]bool, r.B*r.Q*r.K)
	for row := range r.B * r.Q {
		for j := range r.N {
			s, e := r.Start[row*r.N+j], r.End[row*r.N+j]
			for k := s; k < e; k++ {
				out[row*r.K+int(k)] = true
			}
		}
	}
	return out
}

// Pairs counts the allowed (query, key) pairs of the batch.
func (r *RowIntervals) Pairs() int64 {
	var n int64
	for i := range r.Start {
		n += int64(r.End[i] - r.Start[i])
	}
	return n
}

// span is a half-open key interval [lo, hi).
type span struct{ lo, hi int64 }

// RowIntervals computes the intervals of every query row of the batch. It fails with
// an error wrapping ErrNotIntervals when the mask is not an interval mask (Intervals
// is false) or the batch needs more than MaxIntervalsPerRow per row, and with an error
// naming the side data a mask reads that the batch lacks.
func (m Attention) RowIntervals(s HostSide) (*RowIntervals, error) {
	if !m.Intervals() {
		return nil, fmt.Errorf("mask %q: %w (user functions, random atoms and dilated keep the dense path)", m.spec, ErrNotIntervals)
	}
	c, err := newIvBatch(m, s)
	if err != nil {
		return nil, err
	}
	rows := make([][]span, s.B*s.Q)
	n := 1
	for b := range s.B {
		for q := range s.Q {
			r, err := c.eval(m.iv, b, q)
			if err != nil {
				return nil, fmt.Errorf("mask %q: %w", m.spec, err)
			}
			rows[b*s.Q+q] = r
			n = max(n, len(r))
		}
	}
	if n > MaxIntervalsPerRow {
		return nil, fmt.Errorf("mask %q: a query row of this batch needs %d key intervals, more than %d: %w", m.spec, n, MaxIntervalsPerRow, ErrNotIntervals)
	}
	out := &RowIntervals{B: s.B, Q: s.Q, K: s.K, N: n, Start: make([]int32, len(rows)*n), End: make([]int32, len(rows)*n)}
	for i, r := range rows {
		for j, sp := range r {
			out.Start[i*n+j], out.End[i*n+j] = int32(sp.lo), int32(sp.hi)
		}
	}
	return out, nil
}

// ivBatch is the side data of one batch, checked, with the runs of each key segment id.
type ivBatch struct {
	s    HostSide
	kseg []int32
	runs []map[int32][]span // per example: segment id -> its runs of keys
}

func newIvBatch(m Attention, s HostSide) (*ivBatch, error) {
	if s.B <= 0 || s.Q <= 0 || s.K <= 0 {
		return nil, fmt.Errorf("mask %q: batch sizes must be > 0, got B=%d, Q=%d, K=%d", m.spec, s.B, s.Q, s.K)
	}
	for _, f := range []struct {
		v    []int32
		n    int
		what string
	}{{s.QueryLen, s.B, "QueryLen"}, {s.KeyLen, s.B, "KeyLen"}, {s.PrefixLen, s.B, "PrefixLen"}, {s.QuerySeg, s.B * s.Q, "QuerySeg"}, {s.KeySeg, s.B * s.K, "KeySeg"}} {
		if f.v != nil && len(f.v) != f.n {
			return nil, fmt.Errorf("mask %q: HostSide.%s has %d values, want %d (B=%d, Q=%d, K=%d)", m.spec, f.what, len(f.v), f.n, s.B, s.Q, s.K)
		}
	}
	c := &ivBatch{s: s, kseg: s.KeySeg}
	if c.kseg == nil && s.QuerySeg != nil && s.Q == s.K {
		c.kseg = s.QuerySeg
	}
	if c.kseg != nil {
		c.runs = make([]map[int32][]span, s.B)
		for b := range s.B {
			runs := map[int32][]span{}
			seg := c.kseg[b*s.K : (b+1)*s.K]
			for k := 0; k < s.K; {
				e := k + 1
				for e < s.K && seg[e] == seg[k] {
					e++
				}
				runs[seg[k]] = append(runs[seg[k]], span{int64(k), int64(e)})
				k = e
			}
			c.runs[b] = runs
		}
	}
	return c, nil
}

func (c *ivBatch) need(v []int32, what string) error {
	if v == nil {
		return missingError{what}
	}
	return nil
}

// eval returns row (b, q)'s allowed keys of rule x: disjoint ascending non-empty spans
// within [0, K).
func (c *ivBatch) eval(x ivExpr, b, q int) ([]span, error) {
	K := int64(c.s.K)
	switch x := x.(type) {
	case ivAtom:
		return c.atom(x, b, q)
	case ivOp:
		out, err := c.eval(x.xs[0], b, q)
		if err != nil {
			return nil, err
		}
		if x.op == '!' {
			return complement(out, K), nil
		}
		for _, y := range x.xs[1:] {
			r, err := c.eval(y, b, q)
			if err != nil {
				return nil, err
			}
			if x.op == '&' {
				out = intersect(out, r)
			} else {
				out = union(out, r)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown interval rule %T", x)
}

func (c *ivBatch) atom(a ivAtom, b, q int) ([]span, error) {
	s := c.s
	K, qq, n := int64(s.K), int64(q), int64(a.n)
	one := func(lo, hi int64) []span { // [lo, hi) clipped to [0, K)
		lo, hi = max(lo, 0), min(hi, K)
		if lo >= hi {
			return nil
		}
		return []span{{lo, hi}}
	}
	switch a.kind {
	case ivFull:
		return one(0, K), nil
	case ivCausal:
		return one(0, qq+1), nil
	case ivCausalBR:
		return one(0, qq+K-int64(s.Q)+1), nil
	case ivPad:
		if err := c.need(s.KeyLen, "key lengths (klen)"); err != nil {
			return nil, err
		}
		return one(0, int64(s.KeyLen[b])), nil
	case ivQPad:
		if err := c.need(s.QueryLen, "query lengths (qlen)"); err != nil {
			return nil, err
		}
		if qq < int64(s.QueryLen[b]) {
			return one(0, K), nil
		}
		return nil, nil
	case ivPrefix:
		if err := c.need(s.PrefixLen, "prefix lengths (prefix)"); err != nil {
			return nil, err
		}
		return one(0, max(int64(s.PrefixLen[b]), qq+1)), nil
	case ivDoc:
		if err := c.need(s.QuerySeg, "query segment ids (segments)"); err != nil {
			return nil, err
		}
		if c.kseg == nil {
			return nil, missingError{"key segment ids (segments)"}
		}
		return c.runs[b][s.QuerySeg[b*s.Q+q]], nil
	case ivWindow:
		return one(qq-n, qq+n+1), nil
	case ivSink:
		return one(0, n), nil
	case ivChunk:
		lo := qq / n * n
		return one(lo, lo+n), nil
	case ivBand:
		if err := c.need(s.QueryLen, "query lengths (qlen)"); err != nil {
			return nil, err
		}
		if err := c.need(s.KeyLen, "key lengths (klen)"); err != nil {
			return nil, err
		}
		// As the graph computes it: int32 products, truncating division.
		center := int64(int32(q) * s.KeyLen[b] / max(s.QueryLen[b], 1))
		return one(center-n, center+n+1), nil
	}
	return nil, fmt.Errorf("unknown interval atom %d", a.kind)
}

// intersect returns the keys in both a and b.
func intersect(a, b []span) []span {
	var out []span
	for i, j := 0, 0; i < len(a) && j < len(b); {
		lo, hi := max(a[i].lo, b[j].lo), min(a[i].hi, b[j].hi)
		if lo < hi {
			out = append(out, span{lo, hi})
		}
		if a[i].hi < b[j].hi {
			i++
		} else {
			j++
		}
	}
	return out
}

// union returns the keys in a or b, touching spans merged.
func union(a, b []span) []span {
	var out []span
	add := func(s span) {
		if n := len(out); n > 0 && s.lo <= out[n-1].hi {
			out[n-1].hi = max(out[n-1].hi, s.hi)
			return
		}
		out = append(out, s)
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		if j >= len(b) || (i < len(a) && a[i].lo <= b[j].lo) {
			add(a[i])
			i++
		} else {
			add(b[j])
			j++
		}
	}
	return out
}

// complement returns the keys of [0, K) not in a.
func complement(a []span, K int64) []span {
	var out []span
	at := int64(0)
	for _, s := range a {
		if s.lo > at {
			out = append(out, span{at, s.lo})
		}
		at = s.hi
	}
	if at < K {
		out = append(out, span{at, K})
	}
	return out
}
