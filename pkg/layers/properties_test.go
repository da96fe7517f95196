package layers

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/mask"
)

// runner runs one randomly initialised model (seeded, so deterministic) on named
// inputs and returns its logits [B][T][V].
type runner struct {
	t     testing.TB
	exec  *model.Exec
	names []string
}

func mustParse(t testing.TB, spec string) mask.Attention {
	t.Helper()
	m, err := mask.ParseAttention(spec)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// newRunner builds cfg's model taking the named inputs, in order, from: src, srclen,
// dec, declen, seg, pos, prefix.
func newRunner(t testing.TB, cfg Config, names ...string) *runner {
	t.Helper()
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(7); err != nil {
		t.Fatal(err)
	}
	return newRunnerOnStore(t, store, cfg, names...)
}

// newRunnerOnStore is newRunner on an existing store (root scope), e.g. one whose
// variables a decoder or a test set.
func newRunnerOnStore(t testing.TB, store *model.Store, cfg Config, names ...string) *runner {
	t.Helper()
	exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, ins []*graph.Node) *graph.Node {
		var in Inputs
		for i, n := range names {
			switch n {
			case "src":
				in.Src = ins[i]
			case "srclen":
				in.SrcLen = ins[i]
			case "dec":
				in.Dec = ins[i]
			case "declen":
				in.DecLen = ins[i]
			case "seg":
				in.Segments = ins[i]
			case "pos":
				in.Positions = ins[i]
			case "prefix":
				in.PrefixLen = ins[i]
			default:
				panic("unknown input " + n)
			}
		}
		logits, err := Forward(scope, cfg, in)
		if err != nil {
			panic(err)
		}
		return logits
	})
	if err != nil {
		t.Fatal(err)
	}
	return &runner{t: t, exec: exec, names: names}
}

func (r *runner) run(args ...any) [][][]float32 {
	r.t.Helper()
	res, err := r.exec.Exec(args...)
	if err != nil {
		r.t.Fatal(err)
	}
	return res[0].Value().([][][]float32)
}

func clone2(x [][]int32) [][]int32 {
	out := make([][]int32, len(x))
	for i := range x {
		out[i] = slices.Clone(x[i])
	}
	return out
}

// sameRow reports whether logits rows [b][t] are bit-for-bit equal.
func sameRow(a, b [][][]float32, i, t int) bool { return slices.Equal(a[i][t], b[i][t]) }

// variants are model configurations every property must hold for.
func variants(kind string) []Config {
	base := Config{Kind: kind, Vocab: 12, DModel: 8, Heads: 2, FF: 16, DecLayers: 2}
	if kind == KindSeq2Seq {
		base.EncLayers = 1
	}
	post := base
	post.PostLN, post.Positions = true, PosLearned
	post.MaxLen = 16
	rot := base
	rot.Positions, rot.Tied = PosRotary, true
	fused := base
	fused.FusedQKV = true
	return []Config{base, post, rot, fused}
}

func variantName(c Config) string {
	return fmt.Sprintf("%s/postln=%v/%s/tied=%v/fused=%v", c.Kind, c.PostLN, c.WithDefaults().Positions, c.Tied, c.FusedQKV)
}

// A future decoder token cannot change an earlier output (exact equality), for the
// encoder-decoder and the decoder-only LM, and it does change its own position's
// output (the test can fail).
func TestFutureTokenCannotChangeEarlierOutputs(t *testing.T) {
	dec := [][]int32{{1, 4, 5, 6, 7, 8, 9}, {1, 9, 3, 10, 4, 11, 5}}
	src := [][]int32{{3, 4, 5, 6, 2}, {7, 8, 2, 0, 0}}
	srcLen := []int32{5, 3}
	for _, kind := range []string{KindSeq2Seq, KindDecoder} {
		for _, cfg := range variants(kind) {
			t.Run(variantName(cfg), func(t *testing.T) {
				var r *runner
				run := func(d [][]int32) [][][]float32 {
					if kind == KindSeq2Seq {
						return r.run(src, srcLen, d)
					}
					return r.run(d)
				}
				if kind == KindSeq2Seq {
					cfg.Self = mustParse(t, "causal & pad")
					r = newRunner(t, cfg, "src", "srclen", "dec")
				} else {
					r = newRunner(t, cfg, "dec")
				}
				base := run(dec)
				for p := 1; p < len(dec[0]); p++ {
					d := clone2(dec)
					d[0][p], d[1][p] = 11-d[0][p], 11-d[1][p]
					got := run(d)
					for b := range dec {
						for q := range p {
							if !sameRow(base, got, b, q) {
								t.Fatalf("changing token %d changed output %d of row %d", p, q, b)
							}
						}
						if sameRow(base, got, b, p) {
							t.Fatalf("changing token %d did not change its own output in row %d", p, b)
						}
					}
				}
			})
		}
	}
}

// Under "prefix" the prefix is bidirectional, but a token after it still cannot change
// an earlier output.
func TestPrefixLMFutureTokens(t *testing.T) {
	cfg := variants(KindDecoder)[0]
	cfg.Self = mustParse(t, "prefix")
	r := newRunner(t, cfg, "dec", "prefix")
	dec := [][]int32{{1, 4, 5, 6, 7, 8}}
	prefix := []int32{3}
	base := r.run(dec, prefix)
	d := clone2(dec)
	d[0][1] = 9 // inside the prefix: changes output 0
	if got := r.run(d, prefix); sameRow(base, got, 0, 0) {
		t.Fatal("a prefix token did not change an earlier prefix output under prefix-LM")
	}
	d = clone2(dec)
	d[0][4] = 9 // after the prefix: outputs 0..3 unchanged
	got := r.run(d, prefix)
	for q := range 4 {
		if !sameRow(base, got, 0, q) {
			t.Fatalf("token 4 changed output %d under prefix-LM with prefix 3", q)
		}
	}
}

// Under "causal & doc", changing one document of a packed row cannot change another
// document's outputs (positions restart per document).
func TestPackedDocumentsAreIndependent(t *testing.T) {
	seg := [][]int32{{1, 1, 1, 2, 2, 2, 2}}
	pos := [][]int32{{0, 1, 2, 0, 1, 2, 3}}
	dec := [][]int32{{1, 4, 5, 1, 6, 7, 8}}
	for _, cfg := range variants(KindDecoder) {
		t.Run(variantName(cfg), func(t *testing.T) {
			cfg.Self = mustParse(t, "causal & doc")
			r := newRunner(t, cfg, "dec", "seg", "pos")
			base := r.run(dec, seg, pos)
			second := clone2(dec)
			second[0][3], second[0][4] = 9, 10
			got := r.run(second, seg, pos)
			for q := range 3 {
				if !sameRow(base, got, 0, q) {
					t.Fatalf("changing document 2 changed output %d of document 1", q)
				}
			}
			if sameRow(base, got, 0, 5) {
				t.Fatal("changing document 2 did not change its own later output")
			}
			first := clone2(dec)
			first[0][0], first[0][1] = 9, 10
			got = r.run(first, seg, pos)
			for q := 3; q < 7; q++ {
				if !sameRow(base, got, 0, q) {
					t.Fatalf("changing document 1 changed output %d of document 2", q)
				}
			}
			// Without the doc mask the documents do see each other (the test can fail).
			cfg.Self = mask.Causal
			r = newRunner(t, cfg, "dec", "seg", "pos")
			a, b := r.run(dec, seg, pos), r.run(first, seg, pos)
			if sameRow(a, b, 0, 6) {
				t.Fatal("under plain causal, document 1 should influence document 2")
			}
		})
	}
}

// Under cross "pad" (and encoder "pad"), changing padded source positions cannot change
// any decoder output; changing a valid source token does.
func TestPaddedSourceCannotChangeDecoder(t *testing.T) {
	src := [][]int32{{3, 4, 5, 2, 0, 0}, {6, 7, 8, 9, 10, 2}}
	srcLen := []int32{4, 6}
	dec := [][]int32{{1, 5, 4, 3, 2}, {1, 10, 9, 8, 7}}
	for _, cfg := range variants(KindSeq2Seq) {
		t.Run(variantName(cfg), func(t *testing.T) {
			r := newRunner(t, cfg, "src", "srclen", "dec")
			base := r.run(src, srcLen, dec)
			s := clone2(src)
			s[0][4], s[0][5] = 11, 7
			got := r.run(s, srcLen, dec)
			for b := range dec {
				for q := range dec[b] {
					if !sameRow(base, got, b, q) {
						t.Fatalf("a padded source token changed decoder output (%d,%d)", b, q)
					}
				}
			}
			s = clone2(src)
			s[0][1] = 11
			if got := r.run(s, srcLen, dec); sameRow(base, got, 0, 0) {
				t.Fatal("a valid source token did not change the decoder output")
			}
		})
	}
}

// Rotary positions make attention depend on relative positions only: shifting every
// position by the same amount leaves the outputs unchanged (up to rounding).
func TestRotaryIsRelative(t *testing.T) {
	cfg := variants(KindDecoder)[0]
	cfg.Positions = PosRotary
	r := newRunner(t, cfg, "dec", "pos")
	dec := [][]int32{{1, 4, 5, 6, 7}}
	a := r.run(dec, [][]int32{{0, 1, 2, 3, 4}})
	b := r.run(dec, [][]int32{{5, 6, 7, 8, 9}})
	c := r.run(dec, [][]int32{{0, 2, 4, 6, 8}})
	maxDiff := func(x, y [][][]float32) float64 {
		m := 0.0
		for i := range x[0] {
			for j := range x[0][i] {
				m = max(m, math.Abs(float64(x[0][i][j]-y[0][i][j])))
			}
		}
		return m
	}
	if d := maxDiff(a, b); d > 1e-4 {
		t.Errorf("shifting all rotary positions by 5 changed logits by %g", d)
	}
	if d := maxDiff(a, c); d < 1e-3 {
		t.Errorf("changing relative rotary positions changed logits by only %g", d)
	}
}

// A fully masked query row gives a zero attention output (the output projection's
// bias after it), zero weights, and finite gradients for every parameter and input.
func TestFullyMaskedRowsGiveZerosAndFiniteGradients(t *testing.T) {
	const B, Q, D, H = 2, 4, 8, 2
	store := model.NewStore()
	_ = store.SetRNGStateFromSeed(3)
	exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, x, klen *graph.Node) []*graph.Node {
		g := x.Graph()
		allowed, err := mask.NewEnv(g, B, H, Q, Q, mask.Side{KeyLen: klen}).Build(mustParse(t, "causal & pad"))
		if err != nil {
			panic(err)
		}
		pm, err := PrepareMask(allowed)
		if err != nil {
			panic(err)
		}
		out, w, err := MultiHeadAttention(scope, x, x, x, H, D/H).WithMask(pm).DoneWithWeights()
		if err != nil {
			panic(err)
		}
		loss := graph.Add(graph.ReduceAllSum(graph.Square(out)), graph.ReduceAllSum(graph.Mul(w, w)))
		grads := scope.BuildTrainableVariablesGradientsGraph(loss)
		grads = append(grads, graph.Gradient(loss, x)[0])
		bias := scope.Store().GetVariable("/MultiHeadAttention/output/dense/biases").NodeValue(g)
		return append([]*graph.Node{out, w, bias}, grads...)
	})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, B*Q*D)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)))
	}
	// Example 1 has no valid key: every one of its rows is fully masked.
	res, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, B, Q, D), []int32{3, 0})
	if err != nil {
		t.Fatal(err)
	}
	out := res[0].Value().([][][]float32)
	w := res[1].Value().([][][][]float32)
	bias := res[2].Value().([]float32)
	for q := range Q {
		if !slices.Equal(out[1][q], bias) {
			t.Errorf("fully masked row %d: output %v, want the output bias %v", q, out[1][q], bias)
		}
		for h := range H {
			for k := range Q {
				if w[1][h][q][k] != 0 {
					t.Fatalf("fully masked row %d has weight %g", q, w[1][h][q][k])
				}
			}
		}
	}
	if slices.Equal(out[0][0], bias) {
		t.Error("a valid row gave the bias only")
	}
	nonzero := 0
	for i, gr := range res[3:] {
		for _, v := range tensors.MustCopyFlatData[float32](gr) {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("gradient %d (%s) is not finite: %v", i, gr.Shape(), v)
			}
			if v != 0 {
				nonzero++
			}
		}
	}
	if nonzero == 0 {
		t.Fatal("all gradients are zero")
	}
	if len(res[3:]) != 9 { // 4 weights + 4 biases + the input
		t.Fatalf("got %d gradients, want 9", len(res[3:]))
	}
}

// The whole encoder-decoder with an empty source (cross-attention rows fully masked)
// still trains: finite loss and finite gradients for every parameter.
func TestEmptySourceGivesFiniteGradients(t *testing.T) {
	cfg := variants(KindSeq2Seq)[0]
	store := model.NewStore()
	exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, src, srcLen, dec, tgt *graph.Node) []*graph.Node {
		logits, err := Forward(scope, cfg, Inputs{Src: src, SrcLen: srcLen, Dec: dec})
		if err != nil {
			panic(err)
		}
		w := graph.ConvertDType(graph.NotEqual(tgt, graph.ScalarZero(tgt.Graph(), dtypes.Int32)), dtypes.Float32)
		loss := WeightedCrossEntropy(logits, tgt, w)
		return append([]*graph.Node{loss}, scope.BuildTrainableVariablesGradientsGraph(loss)...)
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := exec.Exec([][]int32{{3, 4, 2}, {0, 0, 0}}, []int32{3, 0},
		[][]int32{{1, 4, 3}, {1, 5, 6}}, [][]int32{{4, 3, 2}, {5, 6, 2}})
	if err != nil {
		t.Fatal(err)
	}
	for i, gr := range res {
		for _, v := range tensors.MustCopyFlatData[float32](gr) {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("output %d (%s) is not finite", i, gr.Shape())
			}
		}
	}
}

// Inputs.Drop hides a decoder input completely: its token id no longer matters.
func TestDropHidesTheToken(t *testing.T) {
	cfg := variants(KindDecoder)[0]
	store := model.NewStore()
	_ = store.SetRNGStateFromSeed(5)
	exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, dec, drop *graph.Node) *graph.Node {
		logits, err := Forward(scope, cfg, Inputs{Dec: dec, Drop: drop})
		if err != nil {
			panic(err)
		}
		return logits
	})
	if err != nil {
		t.Fatal(err)
	}
	run := func(dec [][]int32, drop [][]bool) [][][]float32 {
		res, err := exec.Exec(dec, drop)
		if err != nil {
			t.Fatal(err)
		}
		return res[0].Value().([][][]float32)
	}
	a := [][]int32{{1, 4, 5, 6}}
	b := [][]int32{{1, 9, 5, 6}}
	dropped := [][]bool{{false, true, false, false}}
	kept := [][]bool{{false, false, false, false}}
	x, y := run(a, dropped), run(b, dropped)
	for q := range 4 {
		if !sameRow(x, y, 0, q) {
			t.Fatalf("a dropped token's id changed output %d", q)
		}
	}
	if x, y := run(a, kept), run(b, kept); sameRow(x, y, 0, 1) {
		t.Fatal("a kept token's id did not change its output")
	}
}
