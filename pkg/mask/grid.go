package mask

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"

	"github.com/masklab/masklab/pkg/backend"
)

// Example is one example's sizes and side data on the host, for pictures and tests.
// Zero lengths mean "the full size"; nil Segments means one segment.
type Example struct {
	Q, K      int
	QueryLen  int
	KeyLen    int
	PrefixLen int
	Segments  []int // one id per position; used for queries and keys (needs Q == K)
	Heads     int   // number of heads (default 1)
	Training  bool  // random atoms active
	Seed      uint64
}

// Grid evaluates the mask for one example with the same graph code used in training,
// on the embedded Go backend, and returns grid[h][q][k] (true = may attend).
func (m Attention) Grid(ex Example) ([][][]bool, error) {
	be, err := backend.New(backend.Choice{Config: backend.Default, Source: "default"})
	if err != nil {
		return nil, err
	}
	return m.GridOn(be, ex)
}

// normalize fills an Example's defaults (K = Q, one head, every position valid) and
// checks its side data; what names the mask or score in errors.
func (ex Example) normalize(what string) (Example, error) {
	if ex.Q <= 0 {
		return ex, fmt.Errorf("%s: query size must be > 0, got %d", what, ex.Q)
	}
	if ex.K <= 0 {
		ex.K = ex.Q
	}
	if ex.Heads <= 0 {
		ex.Heads = 1
	}
	if ex.QueryLen == 0 {
		ex.QueryLen = ex.Q
	}
	if ex.KeyLen == 0 {
		ex.KeyLen = ex.K
	}
	if ex.Segments != nil && (len(ex.Segments) != ex.Q || ex.Q != ex.K) {
		return ex, fmt.Errorf("%s: %d segment ids for q=%d, k=%d (need one per position, with q == k)",
			what, len(ex.Segments), ex.Q, ex.K)
	}
	if ex.PrefixLen < 0 || ex.PrefixLen > ex.Q {
		return ex, fmt.Errorf("%s: prefix %d outside 0..%d", what, ex.PrefixLen, ex.Q)
	}
	return ex, nil
}

// GridOn is Grid on a given backend.
func (m Attention) GridOn(be compute.Backend, ex Example) (grid [][][]bool, err error) {
	if ex, err = ex.normalize(fmt.Sprintf("mask %q", m.spec)); err != nil {
		return nil, err
	}
	seg := make([]int32, ex.Q)
	for i := range seg {
		if ex.Segments != nil {
			seg[i] = int32(ex.Segments[i])
		}
	}
	var buildErr error
	fn := func(g *graph.Graph) *graph.Node {
		side := Side{
			QueryLen:  graph.Const(g, []int32{int32(ex.QueryLen)}),
			KeyLen:    graph.Const(g, []int32{int32(ex.KeyLen)}),
			PrefixLen: graph.Const(g, []int32{int32(ex.PrefixLen)}),
			Training:  ex.Training,
		}
		if ex.Q == ex.K {
			side.QuerySeg = graph.Const(g, [][]int32{seg})
		}
		if ex.Training {
			state := graph.RNGStateFromSeedForGraph(g, int64(ex.Seed))
			side.Uniform = func(s shapes.Shape) *graph.Node {
				var v *graph.Node
				state, v = graph.RandomUniform(state, s)
				return graph.ConvertDType(v, dtypes.Float32)
			}
		}
		e := NewEnv(g, 1, ex.Heads, ex.Q, ex.K, side)
		out, err := e.Build(m)
		if err != nil {
			buildErr = err
			return graph.Const(g, false)
		}
		return graph.BroadcastToDims(out, 1, ex.Heads, ex.Q, ex.K)
	}
	t, err := graph.ExecOnce(be, fn)
	if buildErr != nil {
		return nil, buildErr
	}
	if err != nil {
		return nil, fmt.Errorf("mask %q: %w", m.spec, err)
	}
	flat, ok := t.Value().([][][][]bool)
	if !ok {
		return nil, fmt.Errorf("mask %q: unexpected result %s", m.spec, t.Shape())
	}
	return flat[0], nil
}

// ASCII renders one head of a grid as Q lines of K characters: '#' where the query may
// attend to the key, '.' where it may not.
func ASCII(grid [][]bool) string {
	var b []byte
	for _, row := range grid {
		for _, v := range row {
			if v {
				b = append(b, '#')
			} else {
				b = append(b, '.')
			}
		}
		b = append(b, '\n')
	}
	return string(b)
}
