package layers

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/layers/internal/fast"
	"github.com/masklab/masklab/pkg/mask"
)

// sparseSide draws a batch's side data: lengths down to 0 (fully masked rows), packed
// segments in contiguous runs.
func sparseSide(rng *rand.Rand, b, q, k int) mask.HostSide {
	s := mask.HostSide{B: b, Q: q, K: k}
	seg := func(n int) []int32 {
		out := make([]int32, n)
		id := int32(0)
		for i := range out {
			if i > 0 && rng.IntN(6) == 0 {
				id++
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

// sparseAndDense runs one attention layer twice on the same variables, once with the
// dense mask built by mask.Env.Build and once with the sparse mask of the plan, and
// returns both outputs and the gradients of a weighted sum of each with respect to the
// inputs and every variable.
func sparseAndDense(t *testing.T, m mask.Attention, s mask.HostSide, plan *SparsePlan, heads, dh, d int, rng *rand.Rand) (dense, sparse map[string][]float32) {
	t.Helper()
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(5); err != nil {
		t.Fatal(err)
	}
	var names []string
	exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, in []*graph.Node) []*graph.Node {
		x, kv, w, tileQ, tileK, start, end := in[0], in[1], in[2], in[3], in[4], in[5], in[6]
		g := x.Graph()
		side := mask.Side{
			QueryLen: graph.Const(g, s.QueryLen), KeyLen: graph.Const(g, s.KeyLen), PrefixLen: graph.Const(g, s.PrefixLen),
			QuerySeg: graph.Reshape(graph.Const(g, s.QuerySeg), s.B, s.Q),
		}
		if s.KeySeg != nil {
			side.KeySeg = graph.Reshape(graph.Const(g, s.KeySeg), s.B, s.K)
		}
		allowed, err := mask.NewEnv(g, s.B, heads, s.Q, s.K, side).Build(m)
		if err != nil {
			panic(err)
		}
		dm, err := PrepareMask(allowed)
		if err != nil {
			panic(err)
		}
		sm, err := PrepareSparse(tileQ, tileK, start, end, s.K, plan.Blocks.BQ, plan.Blocks.BK)
		if err != nil {
			panic(err)
		}
		outD, err := MultiHeadAttention(scope.In("attn"), x, kv, kv, heads, dh).WithMask(dm).Done()
		if err != nil {
			panic(err)
		}
		outS, err := MultiHeadAttention(scope.Shared("attn"), x, kv, kv, heads, dh).WithSparse(sm).Done()
		if err != nil {
			panic(err)
		}
		var vars []*model.Variable
		for v := range scope.IterVariables() {
			if v.Shape().DType == floatDType {
				vars = append(vars, v)
			}
		}
		sort.Slice(vars, func(i, j int) bool { return vars[i].Path() < vars[j].Path() })
		wrt := []*graph.Node{x, kv}
		names = []string{"x", "kv"}
		for _, v := range vars {
			wrt, names = append(wrt, v.NodeValue(g)), append(names, v.Path())
		}
		gd := graph.Gradient(graph.ReduceAllSum(graph.Mul(outD, w)), wrt...)
		gs := graph.Gradient(graph.ReduceAllSum(graph.Mul(outS, w)), wrt...)
		return append(append([]*graph.Node{outD, outS}, gd...), gs...)
	})
	if err != nil {
		t.Fatal(err)
	}
	rnd := func(dims ...int) *tensors.Tensor {
		n := 1
		for _, x := range dims {
			n *= x
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return tensors.FromFlatDataAndDimensions(v, dims...)
	}
	x := rnd(s.B, s.Q, d)
	kv := x
	if s.K != s.Q {
		kv = rnd(s.B, s.K, d)
	}
	tq, tk, st, en := plan.Tensors()
	out, err := exec.Exec(x, kv, rnd(s.B, s.Q, d), tq, tk, st, en)
	if err != nil {
		t.Fatal(err)
	}
	flat := func(x *tensors.Tensor) []float32 { return tensors.MustCopyFlatData[float32](x) }
	dense = map[string][]float32{"out": flat(out[0])}
	sparse = map[string][]float32{"out": flat(out[1])}
	for i, n := range names {
		dense["grad "+n] = flat(out[2+i])
		sparse["grad "+n] = flat(out[2+len(names)+i])
	}
	return dense, sparse
}

// TestSparseEqualsDense checks that block-sparse attention gives the dense path's
// outputs and gradients (inputs and every variable) within float32 rounding, for every
// interval mask, on batches with fully masked rows, with sizes that are not multiples
// of the blocks, for self- and cross-attention, on the fast path and the stock one.
func TestSparseEqualsDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 3))
	specs := []string{
		"full", "causal", "causal_br", "pad", "qpad", "prefix", "doc", "window(0)", "window(3)", "sink(0)", "sink(5)",
		"chunk(1)", "chunk(7)", "band(0)", "band(2)", "causal & pad", "causal & doc", "causal & doc & pad",
		"causal & window(4)", "causal & (window(2) | sink(3))", "!causal", "prefix & pad & qpad", "chunk(5) & causal",
		"band(1) & pad", "causal_br & pad", "doc & !causal", "(causal & doc) | sink(1)", "qpad & causal & doc",
		"!(doc & causal) & pad", "!full", "(chunk(4) | window(1)) & (doc | sink(2)) & qpad",
	}
	emptyRows := 0
	for i, spec := range specs {
		m, err := mask.ParseAttention(spec)
		if err != nil {
			t.Fatal(err)
		}
		q, k := 37, 37
		if i%4 == 2 {
			k = 29 // cross-attention sizes
		}
		bs := [][2]int{{8, 8}, {16, 4}, {4, 16}}[i%3]
		s := sparseSide(rng, 2, q, k)
		plan, why, err := PlanSparse(m, s, SparseOptions{BQ: bs[0], BK: bs[1], MinSkipped: -1})
		if err != nil || plan == nil {
			t.Fatalf("%s: PlanSparse: %v %s", spec, err, why)
		}
		for row := range s.B * s.Q {
			empty := true
			for j := range plan.Rows.N {
				empty = empty && plan.Rows.Start[row*plan.Rows.N+j] == plan.Rows.End[row*plan.Rows.N+j]
			}
			if empty {
				emptyRows++
			}
		}
		plain := i%5 == 4 // stock GoMLX products and gradients on both paths
		t.Run(fmt.Sprintf("%s/%dx%d/plain=%v", spec, bs[0], bs[1], plain), func(t *testing.T) {
			old := fast.Plain
			fast.Plain = plain
			defer func() { fast.Plain = old }()
			dense, sparse := sparseAndDense(t, m, s, plan, 2, 4, 8, rng)
			for name, a := range dense {
				b := sparse[name]
				if len(a) != len(b) || len(a) == 0 {
					t.Fatalf("%s: %d dense values, %d sparse", name, len(a), len(b))
				}
				for j := range a {
					if d := math.Abs(float64(a[j] - b[j])); d > 2e-5*(1+math.Abs(float64(a[j]))) || math.IsNaN(float64(b[j])) {
						t.Fatalf("%s[%d]: sparse %g, dense %g (skipped %.0f%% of the tiles)", name, j, b[j], a[j], 100*plan.Blocks.Skipped())
					}
				}
			}
		})
	}
	if emptyRows == 0 {
		t.Errorf("no fully masked query row in any batch: the test does not cover them")
	}
	t.Logf("fully masked query rows covered: %d", emptyRows)
}

// The sparse path takes the attention dropout when training: its draws differ from the
// dense path's, but the output keeps its shape, stays finite and changes.
func TestSparseDropout(t *testing.T) {
	m, err := mask.ParseAttention("causal & doc")
	if err != nil {
		t.Fatal(err)
	}
	s := sparseSide(rand.New(rand.NewPCG(1, 2)), 2, 40, 40)
	plan, _, err := PlanSparse(m, s, SparseOptions{BQ: 8, BK: 8, MinSkipped: -1})
	if err != nil || plan == nil {
		t.Fatalf("PlanSparse: %v", err)
	}
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(3); err != nil {
		t.Fatal(err)
	}
	exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, in []*graph.Node) []*graph.Node {
		sm, err := PrepareSparse(in[1], in[2], in[3], in[4], s.K, 8, 8)
		if err != nil {
			panic(err)
		}
		var outs []*graph.Node
		for i := range 2 {
			var sc *model.Scope
			if i == 0 {
				sc = scope.In("attn")
			} else {
				sc = scope.Shared("attn")
			}
			b := MultiHeadAttention(sc, in[0], in[0], in[0], 2, 4).WithSparse(sm)
			if i == 0 {
				b = b.WithDropout(0.5, true)
			}
			out, err := b.Done()
			if err != nil {
				panic(err)
			}
			outs = append(outs, out)
		}
		return outs
	})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, s.B*s.Q*8)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	tq, tk, st, en := plan.Tensors()
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, s.B, s.Q, 8), tq, tk, st, en)
	if err != nil {
		t.Fatal(err)
	}
	dropped, none := tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](out[1])
	differ := false
	for i := range none {
		if math.IsNaN(float64(dropped[i])) || math.IsInf(float64(dropped[i]), 0) {
			t.Fatalf("output %d with dropout is %g", i, dropped[i])
		}
		differ = differ || dropped[i] != none[i]
	}
	if !differ {
		t.Errorf("dropout 0.5 changed nothing")
	}
}
