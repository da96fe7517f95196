package layers

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/mask"
)

func mustScore(t testing.TB, spec string) mask.Score {
	t.Helper()
	s, err := mask.ParseScore(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// scoreLayer runs one attention layer with a boolean mask and a score modification
// (its table, if any, set to table) and returns the raw scaled scores the modification
// received, the weights, the output, and the gradients of a loss with respect to the
// table (when there is one) and every other trainable variable.
func scoreLayer(t *testing.T, maskSpec, scoreSpec string, table []float32, x []float32, B, Q, D, H int) (scores, w [][][][]float32, out [][][]float32, grads []*tensors.Tensor) {
	t.Helper()
	store := model.NewStore()
	_ = store.SetRNGStateFromSeed(5)
	s := mustScore(t, scoreSpec)
	exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, xn *graph.Node) []*graph.Node {
		g := xn.Graph()
		side := mask.Side{Variable: func(name string, sh shapes.Shape) *graph.Node {
			v := scope.In("score").VariableWithValue(name, tensors.FromFlatDataAndDimensions(table, sh.Dimensions...))
			return v.NodeValue(g)
		}}
		allowed, err := mask.NewEnv(g, B, H, Q, Q, side).Build(mustParse(t, maskSpec))
		if err != nil {
			panic(err)
		}
		apply, err := mask.NewEnv(g, B, H, Q, Q, side).BuildScore(s)
		if err != nil {
			panic(err)
		}
		var raw *graph.Node
		probe := func(sc *graph.Node) *graph.Node {
			raw = sc
			if apply == nil {
				return sc
			}
			return apply(sc)
		}
		o, wt, err := MultiHeadAttention(scope, xn, xn, xn, H, D/H).WithBoolMask(allowed).WithScore(probe).DoneWithWeights()
		if err != nil {
			panic(err)
		}
		loss := graph.Add(graph.ReduceAllSum(graph.Mul(o, graph.Cos(o))), graph.ReduceAllSum(graph.Mul(wt, wt)))
		return append([]*graph.Node{raw, wt, o}, scope.BuildTrainableVariablesGradientsGraph(loss)...)
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, B, Q, D))
	if err != nil {
		t.Fatal(err)
	}
	return res[0].Value().([][][][]float32), res[1].Value().([][][][]float32), res[2].Value().([][][]float32), res[3:]
}

func testInput(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*0.9) * 2)
	}
	return x
}

// TestScoreModReachesTheSoftmax checks the plumbing of a score modification through an
// attention layer against a host computation: the weights are softmax(mod(s)) over the
// keys the mask allows, where s are the scaled scores the modification received and mod
// is the definition (alibi: s - m_h|q-k|; softcap: c·tanh(s/c); t5: s + table[bucket,
// h]); a pair the mask forbids keeps weight 0, and a row the mask empties stays zero.
func TestScoreModReachesTheSoftmax(t *testing.T) {
	const B, Q, D, H = 2, 6, 8, 2
	table := make([]float32, 8*H)
	for i := range table {
		table[i] = float32(math.Cos(float64(i))) * 3
	}
	slopes := mask.AlibiSlopes(H)
	for _, tc := range []struct {
		score string
		mod   func(s float64, h, q, k int) float64
	}{
		{"none", func(s float64, h, q, k int) float64 { return s }},
		{"alibi", func(s float64, h, q, k int) float64 { return s - slopes[h]*math.Abs(float64(q-k)) }},
		{"softcap(0.5)", func(s float64, h, q, k int) float64 { return 0.5 * math.Tanh(s/0.5) }},
		{"t5(8, 16)", func(s float64, h, q, k int) float64 {
			return s + float64(table[mask.T5Bucket(k-q, 8, 16, false)*H+h])
		}},
		{"alibi + softcap(0.5)", func(s float64, h, q, k int) float64 {
			return 0.5 * math.Tanh((s-slopes[h]*math.Abs(float64(q-k)))/0.5)
		}},
	} {
		// causal & !window(0): query 0 may attend nowhere (a fully masked row).
		for _, m := range []string{"causal", "causal & !window(0)", "full"} {
			scores, w, _, _ := scoreLayer(t, m, tc.score, table, testInput(B*Q*D), B, Q, D, H)
			allowed, err := mustParse(t, m).Grid(mask.Example{Q: Q})
			if err != nil {
				t.Fatal(err)
			}
			for b := range B {
				for h := range H {
					for q := range Q {
						row := make([]float64, Q)
						hi, any := math.Inf(-1), false
						for k := range Q {
							if allowed[0][q][k] {
								row[k] = tc.mod(float64(scores[b][h][q][k]), h, q, k)
								hi, any = math.Max(hi, row[k]), true
							}
						}
						sum := 0.0
						for k := range Q {
							if allowed[0][q][k] {
								row[k] = math.Exp(row[k] - hi)
								sum += row[k]
							}
						}
						for k := range Q {
							want := 0.0
							if any && allowed[0][q][k] {
								want = row[k] / sum
							}
							if got := float64(w[b][h][q][k]); math.Abs(got-want) > 2e-6 || (want == 0 && got != 0) {
								t.Fatalf("%s on %s: weight (b %d, h %d, q %d, k %d) = %g, host %g", tc.score, m, b, h, q, k, got, want)
							}
						}
					}
				}
			}
		}
	}
}

// TestLearnedScoreGradients: the gradient reaching t5's table through the attention is
// not zero and matches central finite differences of the loss, entry by entry; with a
// fully masked row (causal & !window(0)) every gradient stays finite.
func TestLearnedScoreGradients(t *testing.T) {
	const B, Q, D, H, NB = 2, 6, 8, 2, 8
	x := testInput(B * Q * D)
	table := make([]float32, NB*H)
	for i := range table {
		table[i] = float32(math.Sin(float64(i)*1.3)) * 0.5
	}
	lossAt := func(tab []float32) float64 {
		_, w, out, _ := scoreLayer(t, "causal & !window(0)", "t5(8, 16) + softcap(2)", tab, x, B, Q, D, H)
		l := 0.0
		for _, r := range out {
			for _, v := range r {
				for _, o := range v {
					l += float64(o) * math.Cos(float64(o))
				}
			}
		}
		for _, a := range w {
			for _, b := range a {
				for _, c := range b {
					for _, v := range c {
						l += float64(v) * float64(v)
					}
				}
			}
		}
		return l
	}
	_, w, _, grads := scoreLayer(t, "causal & !window(0)", "t5(8, 16) + softcap(2)", table, x, B, Q, D, H)
	for b := range B {
		for h := range H {
			for k := range Q {
				if w[b][h][0][k] != 0 {
					t.Fatalf("fully masked row 0 has weight %g", w[b][h][0][k])
				}
			}
		}
	}
	var tg []float32
	for _, g := range grads {
		v := tensors.MustCopyFlatData[float32](g)
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				t.Fatalf("gradient %s is not finite: %v", g.Shape(), x)
			}
		}
		if slices.Equal(g.Shape().Dimensions, []int{NB, H}) {
			tg = v
		}
	}
	if tg == nil {
		t.Fatalf("no gradient of the [%d, %d] table among %d gradients", NB, H, len(grads))
	}
	nonzero, worst := 0, 0.0
	for i, g := range tg {
		if g == 0 {
			// Buckets past the longest distance of Q positions are not used.
			continue
		}
		nonzero++
		const eps = 1e-2
		up, down := slices.Clone(table), slices.Clone(table)
		up[i] += eps
		down[i] -= eps
		fd := (lossAt(up) - lossAt(down)) / (2 * eps)
		worst = math.Max(worst, math.Abs(float64(g)-fd)/math.Abs(fd))
		if math.Abs(float64(g)-fd) > 2e-2*math.Abs(fd)+2e-4 {
			t.Errorf("table[%d] (bucket %d, head %d): gradient %g, finite difference %g", i, i/H, i%H, g, fd)
		}
	}
	t.Logf("%d table entries with a gradient; largest relative difference from finite differences %.2g", nonzero, worst)
	// The allowed distances 1..5 (the diagonal is masked) use buckets 1, 2, 3, 4, 4: 4
	// buckets of 2 heads.
	if nonzero < 2*4 {
		t.Errorf("only %d table entries have a gradient: %v", nonzero, tg)
	}
}

// A decoder-only LM with a score modification trains end to end: the table is shared
// by the layers (one variable), positions may be "none", and its gradients match stock
// GoMLX's (see TestModelGradientsMatchStockGoMLX, which includes such a model).
func TestScoreInTheModel(t *testing.T) {
	cfg := Config{Kind: KindDecoder, Vocab: 11, DModel: 8, Heads: 2, FF: 16, DecLayers: 2, Self: mustParse(t, "causal & pad"),
		Positions: PosNone, Score: mustScore(t, "t5(8, 16) + alibi")}
	grads := modelGradients(t, cfg, false)
	var tables []string
	for name, g := range grads {
		if strings.Contains(name, "score") {
			tables = append(tables, name)
			if slices.Max(g) == 0 && slices.Min(g) == 0 {
				t.Errorf("%s: zero gradient", name)
			}
		}
	}
	if fmt.Sprint(tables) != "[/model/score/relative_attention_bias]" {
		t.Errorf("the model's score tables: %q, want one shared by both layers", tables)
	}
	if err := (Config{Kind: KindLSTM, Vocab: 5, DModel: 4, EncLayers: 1, DecLayers: 1, Score: mustScore(t, "alibi")}).Validate(); err == nil {
		t.Error("an lstm with a score modification validates")
	}
	if err := (Config{Kind: KindDecoder, Vocab: 5, DModel: 4, Heads: 1, DecLayers: 1, Positions: "nope"}).Validate(); err == nil {
		t.Error("positions nope validates")
	}
}

// The audit is exact with score modifications: a finite bias or soft-capping only
// reweights allowed pairs, so the dependence is the masks' with or without them.
func TestAuditWithScore(t *testing.T) {
	be := backend.Must()
	self := mustParse(t, "causal & (window(1) | sink(1))")
	base, err := Audit{Kind: KindDecoder, Layers: 2, Self: self, Q: 8, Seed: 1}.Run(be)
	if err != nil {
		t.Fatal(err)
	}
	for _, spec := range []string{"alibi", "t5", "softcap(1)", "alibi + t5(8, 16, bidirectional) + softcap(3)"} {
		dep, err := Audit{Kind: KindDecoder, Layers: 2, Self: self, Score: mustScore(t, spec), Q: 8, Seed: 1,
			Model: Config{DModel: 16, Heads: 4, FF: 32, Positions: PosNone}}.Run(be)
		if err != nil {
			t.Fatal(err)
		}
		if mask.ASCII(dep) != mask.ASCII(base) {
			t.Errorf("audit with score %s:\n%s\nwithout:\n%s", spec, mask.ASCII(dep), mask.ASCII(base))
		}
	}
}
