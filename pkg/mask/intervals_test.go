package mask

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
)

// intervalSpecs are interval masks: every atom with an interval rule, and &, | and !
// compositions of them.
var intervalSpecs = []string{
	"full", "causal", "causal_br", "pad", "qpad", "prefix", "doc",
	"window(0)", "window(2)", "sink(0)", "sink(3)", "chunk(1)", "chunk(3)", "band(0)", "band(2)",
	"causal & pad", "causal & doc", "causal & doc & pad", "causal & window(2)", "causal & window(128)",
	"causal & (window(1) | sink(2))", "!causal", "prefix & pad & qpad", "chunk(3) & causal",
	"band(1) & pad", "causal_br & pad", "doc & !causal", "(causal & doc) | sink(1)",
	"qpad & causal & doc", "window(0) | chunk(4)", "!(doc & causal) & pad", "!full", "pad | qpad",
	"!(window(1) | sink(1))", "doc | causal", "(chunk(2) | window(1)) & (doc | sink(2)) & qpad",
}

// denseMasks evaluates m with Env.Build, the dense path's own code, on the batch.
func denseMasks(t *testing.T, be compute.Backend, m Attention, s HostSide) []bool {
	t.Helper()
	var buildErr error
	out, err := graph.ExecOnce(be, func(g *graph.Graph) *graph.Node {
		side := Side{
			QueryLen:  graph.Const(g, s.QueryLen),
			KeyLen:    graph.Const(g, s.KeyLen),
			PrefixLen: graph.Const(g, s.PrefixLen),
			QuerySeg:  graph.Reshape(graph.Const(g, s.QuerySeg), s.B, s.Q),
		}
		if s.KeySeg != nil {
			side.KeySeg = graph.Reshape(graph.Const(g, s.KeySeg), s.B, s.K)
		}
		a, err := NewEnv(g, s.B, 1, s.Q, s.K, side).Build(m)
		if err != nil {
			buildErr = err
			return graph.Const(g, false)
		}
		return graph.Reshape(a, s.B*s.Q*s.K)
	})
	if buildErr != nil {
		t.Fatalf("%s: dense build: %v", m, buildErr)
	}
	if err != nil {
		t.Fatalf("%s: dense exec: %v", m, err)
	}
	return out.Value().([]bool)
}

// randomSide draws a batch: lengths anywhere in 0..size (0 gives fully masked rows),
// segments in contiguous runs (packed documents) or, with scattered, anywhere.
func randomSide(rng *rand.Rand, b, q, k int, scattered bool) HostSide {
	s := HostSide{B: b, Q: q, K: k}
	seg := func(n int) []int32 {
		out := make([]int32, n)
		id := int32(rng.IntN(3))
		for i := range out {
			if scattered {
				out[i] = int32(rng.IntN(3))
				continue
			}
			if i > 0 && rng.IntN(4) == 0 {
				id += 1 + int32(rng.IntN(2))
			}
			out[i] = id
		}
		return out
	}
	for range b {
		s.QueryLen = append(s.QueryLen, int32(rng.IntN(q+1)))
		s.KeyLen = append(s.KeyLen, int32(rng.IntN(k+1)))
		s.PrefixLen = append(s.PrefixLen, int32(rng.IntN(q+1)))
		s.QuerySeg = append(s.QuerySeg, seg(q)...)
		if q != k {
			s.KeySeg = append(s.KeySeg, seg(k)...)
		}
	}
	return s
}

// TestRowIntervalsEqualDense checks that the intervals of every interval mask give
// exactly the dense mask that Env.Build computes, on random batches (self-attention
// and cross-attention sizes, packed and scattered segments, lengths down to 0 so that
// fully masked rows occur).
func TestRowIntervalsEqualDense(t *testing.T) {
	be := backendForTest(t)
	rng := rand.New(rand.NewPCG(21, 2))
	for _, spec := range intervalSpecs {
		m, err := ParseAttention(spec)
		if err != nil {
			t.Fatal(err)
		}
		if !m.Intervals() {
			t.Errorf("%s: Intervals() = false, want true", spec)
			continue
		}
		emptyRows := 0
		for trial := range 12 {
			b, q := 1+rng.IntN(3), 1+rng.IntN(13)
			k := q
			if trial%3 == 2 {
				k = 1 + rng.IntN(13)
			}
			s := randomSide(rng, b, q, k, trial%4 == 3)
			r, err := m.RowIntervals(s)
			if err != nil {
				t.Fatalf("%s on %+v: %v", spec, s, err)
			}
			want := denseMasks(t, be, m, s)
			got := r.Dense()
			var pairs int64
			for i := range want {
				if want[i] != got[i] {
					bb, rest := i/(q*k), i%(q*k)
					t.Fatalf("%s on %+v: example %d query %d key %d: intervals say %v, dense %v (row %v..%v)",
						spec, s, bb, rest/k, rest%k, got[i], want[i], r.Start, r.End)
				}
				if want[i] {
					pairs++
				}
				if r.Allowed(i/(q*k), i%(q*k)/k, i%k) != want[i] {
					t.Fatalf("%s: Allowed disagrees with Dense at %d", spec, i)
				}
			}
			if r.Pairs() != pairs {
				t.Fatalf("%s: Pairs() = %d, dense has %d", spec, r.Pairs(), pairs)
			}
			for row := range b * q {
				empty := true
				for j := range r.N {
					empty = empty && r.Start[row*r.N+j] == r.End[row*r.N+j]
				}
				if empty {
					emptyRows++
				}
			}
		}
		t.Logf("%-50s fully masked rows seen: %d", spec, emptyRows)
	}
}

// TestNotIntervals checks that masks the analysis cannot vouch for keep the dense path.
func TestNotIntervals(t *testing.T) {
	user := NewAttention("mine", Causal.fn, false, false)
	for _, m := range []Attention{
		mustParse(t, "random(0.1)"), mustParse(t, "keydrop(0.2)"), mustParse(t, "dilated(2)"),
		mustParse(t, "causal & random(0.1)"), mustParse(t, "causal | dilated(3)"), mustParse(t, "!keydrop(0.5)"),
		user, And(Causal, user), Or(user, Doc),
	} {
		if m.Intervals() {
			t.Errorf("%s: Intervals() = true, want false", m)
		}
		_, err := m.RowIntervals(HostSide{B: 1, Q: 4, K: 4})
		if !errors.Is(err, ErrNotIntervals) {
			t.Errorf("%s: RowIntervals error %v, want ErrNotIntervals", m, err)
		}
	}
}

func mustParse(t *testing.T, spec string) Attention {
	t.Helper()
	m, err := ParseAttention(spec)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRowIntervalsErrors checks the errors for missing and mis-sized side data, and for
// segment ids scattered in more runs than MaxIntervalsPerRow.
func TestRowIntervalsErrors(t *testing.T) {
	for _, tc := range []struct {
		spec string
		side HostSide
		want string
	}{
		{"causal & pad", HostSide{B: 1, Q: 3, K: 3}, `mask "causal & pad": the batch has no key lengths (klen)`},
		{"doc", HostSide{B: 1, Q: 3, K: 3}, "the batch has no query segment ids (segments)"},
		{"doc", HostSide{B: 1, Q: 3, K: 2, QuerySeg: []int32{0, 0, 1}}, "the batch has no key segment ids (segments)"},
		{"prefix", HostSide{B: 2, Q: 3, K: 3, PrefixLen: []int32{1}}, "HostSide.PrefixLen has 1 values, want 2"},
		{"causal", HostSide{B: 1, Q: 0, K: 3}, "batch sizes must be > 0"},
	} {
		_, err := mustParse(t, tc.spec).RowIntervals(tc.side)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.spec, err, tc.want)
		}
	}
	seg := make([]int32, 40)
	for i := range seg {
		seg[i] = int32(i % 2) // ids 0 and 1 alternate: 20 runs each
	}
	_, err := Doc.RowIntervals(HostSide{B: 1, Q: 40, K: 40, QuerySeg: seg})
	if !errors.Is(err, ErrNotIntervals) {
		t.Errorf("alternating segments: error %v, want ErrNotIntervals", err)
	}
}

// TestBlockPlan checks the tile list against a brute-force scan of the dense mask: a
// (query block, key block) tile is listed exactly when it holds an allowed pair, once,
// in ascending order, then padding.
func TestBlockPlan(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, spec := range intervalSpecs {
		m := mustParse(t, spec)
		s := randomSide(rng, 2, 37, 37, false)
		r, err := m.RowIntervals(s)
		if err != nil {
			t.Fatal(err)
		}
		dense := r.Dense()
		for _, bs := range [][2]int{{1, 1}, {4, 8}, {8, 4}, {16, 16}, {64, 64}} {
			p, err := r.Blocks(bs[0], bs[1])
			if err != nil {
				t.Fatal(err)
			}
			var wantQ, wantK []int32
			for b := range s.B {
				for i := range p.NQ {
					n := 0
					for j := range p.NK {
						hit := false
						for q := i * p.BQ; q < min((i+1)*p.BQ, s.Q) && !hit; q++ {
							for k := j * p.BK; k < min((j+1)*p.BK, s.K); k++ {
								hit = hit || dense[(b*s.Q+q)*s.K+k]
							}
						}
						if hit {
							wantQ, wantK = append(wantQ, int32(b*p.NQ+i)), append(wantK, int32(b*p.NK+j))
							n++
						}
					}
					if int(p.Count[b*p.NQ+i]) != n {
						t.Fatalf("%s blocks %v: query block %d of example %d counts %d tiles, want %d", spec, bs, i, b, p.Count[b*p.NQ+i], n)
					}
				}
			}
			if p.Needed != len(wantQ) || fmt.Sprint(p.TileQ[:p.Needed]) != fmt.Sprint(wantQ) || fmt.Sprint(p.TileK[:p.Needed]) != fmt.Sprint(wantK) {
				t.Fatalf("%s blocks %v: tiles %v / %v, want %v / %v", spec, bs, p.TileQ[:p.Needed], p.TileK[:p.Needed], wantQ, wantK)
			}
			if q := TileQuantum(p.Needed); p.Computed != len(p.TileQ) || p.Computed%q != 0 || p.Computed < max(p.Needed, 1) || (p.Needed > 0 && p.Computed-p.Needed >= max(1, (p.Needed+7)/8)) {
				t.Fatalf("%s: %d tiles computed for %d needed", spec, p.Computed, p.Needed)
			}
			for t2 := p.Needed; t2 < p.Computed; t2++ {
				if p.TileQ[t2] != int32(s.B*p.NQ) || p.TileK[t2] != -1 {
					t.Fatalf("%s: padding tile %d is (%d, %d)", spec, t2, p.TileQ[t2], p.TileK[t2])
				}
			}
		}
	}
}
