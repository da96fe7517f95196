package layers

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
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
		bucket := i%2 == 1 // padding tiles and empty interval slots (training's plans)
		plan, why, err := PlanSparse(m, s, SparseOptions{BQ: bs[0], BK: bs[1], MinSkipped: -1, Bucket: bucket})
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
		t.Run(fmt.Sprintf("%s/%dx%d/plain=%v/bucket=%v", spec, bs[0], bs[1], plain, bucket), func(t *testing.T) {
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

// A bucketed plan (training's) pads the tile list to 4 sizes per doubling and the
// intervals per row to a power of two, allows exactly the pairs of the plain plan, and
// counts the padding when it decides; PlanDecoderSelf says why a batch stays dense.
func TestPlanBucket(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 9))
	sizes := map[int]bool{}
	for i := range 60 {
		spec := []string{"causal & doc", "(chunk(4) | window(1)) & (doc | sink(2))", "causal & window(9) & pad"}[i%3]
		m, err := mask.ParseAttention(spec)
		if err != nil {
			t.Fatal(err)
		}
		s := sparseSide(rng, 1+i%4, 40+i, 40+i)
		plain, _, err := PlanSparse(m, s, SparseOptions{BQ: 4, BK: 4, MinSkipped: -1})
		if err != nil {
			t.Fatal(err)
		}
		bucketed, _, err := PlanSparse(m, s, SparseOptions{BQ: 4, BK: 4, MinSkipped: -1, Bucket: true})
		if err != nil {
			t.Fatal(err)
		}
		r, b := bucketed.Rows, bucketed.Blocks
		n := len(b.TileQ)
		q := 1
		for 8*q <= n {
			q *= 2
		}
		if n < plain.Blocks.Computed || n%q != 0 || n > plain.Blocks.Needed*5/4+1 || b.Computed != n || len(b.TileK) != n {
			t.Errorf("%s: %d tiles (needed %d): not a multiple of %d under 1/4 more", spec, n, plain.Blocks.Needed, q)
		}
		for j := plain.Blocks.Needed; j < n; j++ {
			if b.TileK[j] != -1 || int(b.TileQ[j]) != b.B*b.NQ {
				t.Fatalf("%s: tile %d is (%d, %d), not padding", spec, j, b.TileQ[j], b.TileK[j])
			}
		}
		if r.N&(r.N-1) != 0 || r.N < plain.Rows.N {
			t.Errorf("%s: %d intervals per row (plain %d), not a power of two", spec, r.N, plain.Rows.N)
		}
		for bi := range s.B {
			for qi := range s.Q {
				for k := range s.K {
					if r.Allowed(bi, qi, k) != plain.Rows.Allowed(bi, qi, k) {
						t.Fatalf("%s: (%d, %d, %d) allowed %v bucketed, %v plain", spec, bi, qi, k, r.Allowed(bi, qi, k), plain.Rows.Allowed(bi, qi, k))
					}
				}
			}
		}
		sizes[n] = true
	}
	if len(sizes) < 5 {
		t.Errorf("only %d distinct tile counts: the test does not exercise the rounding", len(sizes))
	}

	alibi, err := mask.ParseScore("alibi")
	if err != nil {
		t.Fatal(err)
	}
	m := mustAttention(t, "causal & doc")
	side := mask.HostSide{B: 1, Q: 512, K: 512, QueryLen: []int32{512}, KeyLen: []int32{512}, QuerySeg: make([]int32, 512)}
	for i := range side.QuerySeg {
		side.QuerySeg[i] = int32(i / 60)
	}
	cfg := Config{Kind: KindDecoder, Self: m}
	for _, c := range []struct {
		cfg  Config
		path AttentionPath
		want string // "" = sparse
	}{
		{cfg, "", ""}, {cfg, AttentionAuto, ""}, {cfg, AttentionSparse, ""},
		{cfg, AttentionDense, "attention path dense"},
		{Config{Kind: KindDecoder, Self: mask.Causal}, AttentionAuto, "under 40%"},
		{Config{Kind: KindLSTM, Self: m}, AttentionAuto, "model kind lstm has no sparse"},
		{Config{Kind: KindDecoder, Self: m, Score: alibi}, AttentionAuto, "needs the dense scores"},
		{Config{Kind: KindDecoder, Self: mustAttention(t, "causal & random(0.1)")}, AttentionAuto, "not"},
	} {
		plan, why, err := PlanDecoderSelf(c.cfg, c.path, side)
		if err != nil || (plan == nil) != (c.want != "") || !strings.Contains(why, c.want) {
			t.Errorf("%v on %q: plan %v, %q, %v; want %q", c.path, c.cfg.Self, plan != nil, why, err, c.want)
		}
		if c.want != "" && c.path == AttentionAuto && c.want != "under 40%" { // sparse computes even few skipped tiles
			if _, _, err := PlanDecoderSelf(c.cfg, AttentionSparse, side); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("sparse on %q: %v, want an error with %q", c.cfg.Self, err, c.want)
			}
		}
	}
	if _, _, err := PlanDecoderSelf(cfg, "spars", side); err == nil || !strings.Contains(err.Error(), `got "spars"`) {
		t.Errorf("bad path: %v", err)
	}
}

func mustAttention(t *testing.T, spec string) mask.Attention {
	t.Helper()
	m, err := mask.ParseAttention(spec)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
