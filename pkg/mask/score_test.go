package mask

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
)

func scoreView(t *testing.T, spec string, ex Example) ScoreView {
	t.Helper()
	s, err := ParseScore(spec)
	if err != nil {
		t.Fatalf("ParseScore(%q): %v", spec, err)
	}
	v, err := s.View(ex)
	if err != nil {
		t.Fatalf("%q.View(%+v): %v", spec, ex, err)
	}
	return v
}

// scorePicture renders head h of a score on the causal mask, as the doc comments do.
func scorePicture(t *testing.T, spec string, ex Example, h int) string {
	t.Helper()
	v := scoreView(t, spec, ex)
	return ScoreASCII(v.Values[h], grid(t, "causal", Example{Q: ex.Q, K: ex.K}))
}

// TestScorePictures checks the pictures in the built-in score modifications' doc
// comments (score.go).
func TestScorePictures(t *testing.T) {
	src, err := os.ReadFile("score.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(src)
	for _, tc := range []struct {
		spec string
		ex   Example
		head int
	}{
		{"alibi", Example{Q: 4, Heads: 4}, 0},
		{"alibi", Example{Q: 4, Heads: 4}, 3},
		{"t5(8, 16)", Example{Q: 8, Heads: 1}, 0},
	} {
		pic := scorePicture(t, tc.spec, tc.ex, tc.head)
		lines := strings.Split(strings.TrimRight(pic, "\n"), "\n")
		// Each picture line is in the doc, in order, after "//\t" (the first with a
		// parenthesised note after it).
		at := 0
		for i, l := range lines {
			j := strings.Index(doc[at:], "//\t"+l)
			if j < 0 {
				t.Errorf("score.go's picture of %s head %d lacks line %d %q; the picture is:\n%s", tc.spec, tc.head, i, l, pic)
				break
			}
			at += j + len(l)
		}
	}
	// softcap(30)'s table.
	var got []string
	for _, x := range []float64{-90, -30, 0, 30, 90} {
		got = append(got, fmt.Sprintf("%.2f", 30*math.Tanh(x/30)))
	}
	if want := "-29.85 -22.85 0.00 22.85 29.85"; strings.Join(got, " ") != want {
		t.Errorf("softcap(30) of -90, -30, 0, 30, 90 = %s, want %s as in score.go", strings.Join(got, " "), want)
	}
	if !strings.Contains(doc, "//\tsoftcap(30)   -29.85 -22.85    0   22.85  29.85") {
		t.Error("score.go's softcap table changed")
	}
}

// reference is the fixture made by testdata/score_reference.py with PyTorch.
type reference struct {
	Generator string
	Alibi     []struct {
		Heads  int
		Slopes []float64
		Keys   int
		Bias   [][]float64
	}
	T5 []struct {
		Buckets       int
		MaxDistance   int `json:"max_distance"`
		Bidirectional bool
		RelFrom       int   `json:"rel_from"`
		BucketsByRel  []int `json:"buckets_by_rel"`
	}
}

func loadReference(t *testing.T) reference {
	t.Helper()
	data, err := os.ReadFile("testdata/score_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Alibi) == 0 || len(r.T5) == 0 {
		t.Fatal("testdata/score_reference.json has no ALiBi or T5 reference")
	}
	return r
}

// TestAlibiMatchesReference compares ALiBi's slopes and bias with Hugging Face BLOOM's
// build_alibi_tensor as computed by PyTorch (testdata/score_reference.py), for 8 heads
// and for 6 and 12 (not powers of 2). BLOOM's bias is slope·key, which differs from
// ALiBi's -slope·(query - key) by -slope·query, a constant per query row: the test
// compares bias(q, k) - bias(q, q) with BLOOM's bias(k) - bias(q) for k <= q.
func TestAlibiMatchesReference(t *testing.T) {
	for _, ref := range loadReference(t).Alibi {
		got := AlibiSlopes(ref.Heads)
		for h, want := range ref.Slopes {
			if math.Abs(got[h]-want) > 1e-6*want { // the reference computes in float32
				t.Errorf("H=%d: slope %d = %g, reference %g", ref.Heads, h, got[h], want)
			}
		}
		v := scoreView(t, "alibi", Example{Q: ref.Keys, Heads: ref.Heads})
		for h := range ref.Heads {
			for q := range ref.Keys {
				for k := 0; k <= q; k++ {
					got := v.Values[h][q][k] - v.Values[h][q][q]
					want := ref.Bias[h][k] - ref.Bias[h][q]
					if math.Abs(got-want) > 1e-5*(1+math.Abs(want)) {
						t.Fatalf("H=%d head %d (q=%d, k=%d): bias relative to the diagonal %g, reference %g", ref.Heads, h, q, k, got, want)
					}
				}
			}
		}
	}
}

// TestT5BucketsMatchReference compares T5Bucket with transformers' T5
// _relative_position_bucket as computed by PyTorch, for every key - query in
// -300..300, bidirectional and causal, for two configurations.
func TestT5BucketsMatchReference(t *testing.T) {
	for _, ref := range loadReference(t).T5 {
		for i, want := range ref.BucketsByRel {
			rel := ref.RelFrom + i
			if got := T5Bucket(rel, ref.Buckets, ref.MaxDistance, ref.Bidirectional); got != want {
				t.Errorf("T5Bucket(%d, %d, %d, bidirectional=%v) = %d, reference %d", rel, ref.Buckets, ref.MaxDistance, ref.Bidirectional, got, want)
			}
		}
	}
}

// TestScoreProperties checks every built-in score modification against its definition
// on random sizes and head counts, through the parser and the graph code training uses.
func TestScoreProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	props := map[string]func(t *testing.T, ex Example, v ScoreView){
		"none": func(t *testing.T, ex Example, v ScoreView) {
			eachCell(ex, func(h, q, k int) { expect(t, "none", h, q, k, v.Values[h][q][k], 0) })
		},
		"alibi": func(t *testing.T, ex Example, v ScoreView) {
			m := AlibiSlopes(ex.Heads)
			eachCell(ex, func(h, q, k int) {
				expect(t, "alibi", h, q, k, v.Values[h][q][k], -m[h]*math.Abs(float64(q-k)))
			})
			// The slopes fall geometrically by 2^(-8/H) for H a power of 2.
			if ex.Heads&(ex.Heads-1) == 0 {
				for h := range ex.Heads {
					if want := math.Pow(2, -8*float64(h+1)/float64(ex.Heads)); math.Abs(m[h]-want) > 1e-15 {
						t.Errorf("H=%d: slope %d = %g, want %g", ex.Heads, h, m[h], want)
					}
				}
			}
		},
		"t5(16, 40)": func(t *testing.T, ex Example, v ScoreView) {
			if !v.Learned {
				t.Error("t5: View.Learned is false")
			}
			eachCell(ex, func(h, q, k int) {
				expect(t, "t5(16, 40)", h, q, k, v.Values[h][q][k], float64(T5Bucket(k-q, 16, 40, false)))
			})
		},
		"t5(16, 40, bidirectional)": func(t *testing.T, ex Example, v ScoreView) {
			eachCell(ex, func(h, q, k int) {
				expect(t, "t5 bidirectional", h, q, k, v.Values[h][q][k], float64(T5Bucket(k-q, 16, 40, true)))
			})
		},
		"softcap(5)": func(t *testing.T, ex Example, v ScoreView) {
			if !v.Transform {
				t.Error("softcap: View.Transform is false")
			}
			eachCell(ex, func(h, q, k int) { expect(t, "softcap", h, q, k, v.Values[h][q][k], 0) })
		},
	}
	for spec, check := range props {
		for i := 0; i < 6; i++ {
			q := 1 + r.IntN(12)
			ex := Example{Q: q, K: q, Heads: 1 + r.IntN(12)}
			check(t, ex, scoreView(t, spec, ex))
		}
	}
	for _, n := range Names(KindScore) {
		found := false
		for spec := range props {
			found = found || spec == n || strings.HasPrefix(spec, n+"(")
		}
		if !found && !strings.HasPrefix(n, "test_") {
			t.Errorf("built-in score %q has no property test", n)
		}
	}
	// T5 buckets: bucket 0 is the diagonal; causal buckets put later keys there too;
	// buckets grow with the distance, stay in range, and bidirectional ones tell the
	// directions apart.
	for _, nb := range []int{2, 8, 32} {
		for _, md := range []int{nb, 4 * nb, 128} {
			prev := -1
			for d := 0; d < 400; d++ {
				c := T5Bucket(-d, nb, md, false)
				if c < prev || c < 0 || c >= nb || T5Bucket(d, nb, md, false) != 0 {
					t.Fatalf("t5(%d, %d) causal: distance %d gives bucket %d (previous %d), later key bucket %d", nb, md, d, c, prev, T5Bucket(d, nb, md, false))
				}
				prev = c
				if nb >= 4 {
					back, fwd := T5Bucket(-d, nb, md, true), T5Bucket(d, nb, md, true)
					if back >= nb/2 || (d > 0 && (fwd < nb/2 || fwd-nb/2 != back)) {
						t.Fatalf("t5(%d, %d) bidirectional: distance %d gives buckets %d (earlier key), %d (later key)", nb, md, d, back, fwd)
					}
				}
			}
			if md > nb/2 && T5Bucket(-1000, nb, md, false) != nb-1 {
				t.Errorf("t5(%d, %d): a far key is not in the last bucket", nb, md)
			}
		}
	}
}

func eachCell(ex Example, f func(h, q, k int)) {
	for h := range ex.Heads {
		for q := range ex.Q {
			for k := range ex.K {
				f(h, q, k)
			}
		}
	}
}

func expect(t *testing.T, what string, h, q, k int, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-6*(1+math.Abs(want)) {
		t.Fatalf("%s: (head %d, q %d, k %d) = %g, want %g", what, h, q, k, got, want)
	}
}

// applyScore runs a score modification on explicit scores [1,H,Q,K] and returns the
// result, through Env.BuildScore as the layers call it.
func applyScore(t *testing.T, spec string, scores [][][]float32) [][][]float32 {
	t.Helper()
	s, err := ParseScore(spec)
	if err != nil {
		t.Fatal(err)
	}
	H, Q, K := len(scores), len(scores[0]), len(scores[0][0])
	res, err := graph.ExecOnce(backendForTest(t), func(g *graph.Graph) *graph.Node {
		e := NewEnv(g, 1, H, Q, K, Side{Variable: func(_ string, sh shapes.Shape) *graph.Node { return graph.Zeros(g, sh) }})
		apply, err := e.BuildScore(s)
		if err != nil {
			t.Fatal(err)
		}
		in := graph.Const(g, [][][][]float32{scores})
		if apply == nil {
			return in
		}
		return apply(in)
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Value().([][][][]float32)[0]
}

// TestSoftcapAndChains checks softcap on explicit scores and that "+" applies its terms
// left to right: "alibi + softcap(c)" caps the biased scores, "softcap(c) + alibi" biases
// the capped ones.
func TestSoftcapAndChains(t *testing.T) {
	scores := [][][]float32{{{-90, -30, 0, 30}, {90, 1, -1, 1e6}, {0, 0, 0, 0}, {5, 6, 7, 8}}}
	got := applyScore(t, "softcap(30)", scores)
	for q, row := range scores[0] {
		for k, s := range row {
			want := 30 * math.Tanh(float64(s)/30)
			if math.Abs(float64(got[0][q][k])-want) > 1e-4 {
				t.Errorf("softcap(30) of %g = %g, want %g", s, got[0][q][k], want)
			}
		}
	}
	m := AlibiSlopes(1)[0]
	for spec, f := range map[string]func(s, d float64) float64{
		"alibi + softcap(3)": func(s, d float64) float64 { return 3 * math.Tanh((s-m*d)/3) },
		"softcap(3) + alibi": func(s, d float64) float64 { return 3*math.Tanh(s/3) - m*d },
		"none + alibi":       func(s, d float64) float64 { return s - m*d },
	} {
		got := applyScore(t, spec, scores)
		for q, row := range scores[0] {
			for k, s := range row {
				want := f(float64(s), math.Abs(float64(q-k)))
				if math.Abs(float64(got[0][q][k])-want) > 1e-3*(1+math.Abs(want)) {
					t.Errorf("%s at (q %d, k %d), score %g: %g, want %g", spec, q, k, s, got[0][q][k], want)
				}
			}
		}
	}
}

func TestParseScore(t *testing.T) {
	for in, want := range map[string]string{
		"alibi":                    "alibi",
		"none":                     "none",
		" none + none ":            "none",
		"none+alibi":               "alibi",
		"alibi+softcap( 30 )":      "alibi + softcap(30)",
		"softcap(+30.0)":           "softcap(30)",
		"t5":                       "t5",
		"t5(32,128)":               "t5(32, 128)",
		"t5(8, 16, bidirectional)": "t5(8, 16, bidirectional)",
		"t5(8, 16, causal)":        "t5(8, 16, causal)",
		"t5 + t5(8, 16) + alibi":   "t5 + t5(8, 16) + alibi",
	} {
		s, err := ParseScore(in)
		if err != nil {
			t.Errorf("ParseScore(%q): %v", in, err)
			continue
		}
		if s.String() != want {
			t.Errorf("ParseScore(%q).String() = %q, want %q", in, s.String(), want)
		}
		if s2, err := ParseScore(s.String()); err != nil || s2.String() != want {
			t.Errorf("canonical %q does not parse back: %v", want, err)
		}
	}
	if s, _ := ParseScore("none"); !s.IsZero() || !(Score{}).IsZero() || (Score{}).String() != "none" {
		t.Error("none is not the zero score modification")
	}
	if s, _ := ParseScore("alibi + softcap(3)"); s.Additive() || !s.PerHead() {
		t.Errorf("alibi + softcap(3): Additive %v, PerHead %v", s.Additive(), s.PerHead())
	}
	for _, tc := range []struct {
		spec string
		want []string
	}{
		{"alibbi", []string{"column 1", `unknown score name "alibbi"`, `did you mean "alibi"`, "known score names: alibi, none, softcap, t5"}},
		{"alibi & softcap(3)", []string{"column 7", "expected '+' or end of spec"}},
		{"alibi +", []string{"column 8", "expected a name"}},
		{"softcap(0)", []string{"column 9", "c must be in [1e-6, 1e6]", "got 0"}},
		{"softcap(-1)", []string{"c must be in [1e-6, 1e6]"}},
		// Beyond float32's range the scores became NaN (0·Inf).
		{"softcap(1e39)", []string{"c must be in [1e-6, 1e6] (the scores are float32)", "1e39"}},
		{"softcap(1e-39)", []string{"c must be in [1e-6, 1e6]"}},
		{"t5(1000000, 2000000)", []string{"buckets must be at most 4096"}},
		{"softcap", []string{"softcap takes 1 argument, got 0"}},
		{"alibi(2)", []string{"alibi takes no arguments"}},
		{"t5(32)", []string{"t5 takes 0, 2 or 3 arguments"}},
		{"t5(1, 10)", []string{"buckets must be >= 2, got 1"}},
		{"t5(2, 10, bidirectional)", []string{"buckets must be >= 4, got 2"}},
		{"t5(32, 16)", []string{"column 8", "max_distance must be > 16 (the exact buckets), got 16"}},
		{"t5(32, 128, sideways)", []string{"column 13", "must be bidirectional or causal"}},
		{"", []string{"empty spec", "known score names"}},
	} {
		_, err := ParseScore(tc.spec)
		if err == nil {
			t.Errorf("ParseScore(%q) succeeded, want an error", tc.spec)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ParseScore(%q) = %q, want it to contain %q", tc.spec, err, w)
			}
		}
	}
	if err := Validate(KindScore, "alibi + t5"); err != nil {
		t.Errorf("Validate(score, alibi + t5): %v", err)
	}
	if k, err := ParseKind("score"); err != nil || k != KindScore {
		t.Errorf("ParseKind(score) = %v, %v", k, err)
	}
}

// TestRegisterScore registers a user bias and a user transform from Go and uses them
// in specs like the built-ins.
func TestRegisterScore(t *testing.T) {
	unregister(t, KindScore, "test_dist", "test_double", "test_panics")
	if err := RegisterScore("test_dist", "(w)", "adds -w*|query - key| on every head (a user bias for this test)", func(a Args) (Score, error) {
		if err := a.Count(1, 1); err != nil {
			return Score{}, err
		}
		w, err := a.Float(0, "w")
		if err != nil {
			return Score{}, err
		}
		return NewScoreBias("ignored", func(e *Env) *graph.Node {
			d := graph.ConvertDType(graph.Abs(graph.Sub(e.Query, e.Key)), dtypes.Float32)
			return graph.MulScalar(d, -w)
		}, false), nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := RegisterScore("test_double", "", "doubles the scores of head 1 (a user transform for this test)", noArgs(
		NewScoreMod("", func(e *Env, s *graph.Node) *graph.Node {
			two := graph.Where(graph.Equal(e.Head, graph.ConstAs(e.Head, 1)), graph.OnesLike(graph.ConvertDType(e.Head, dtypes.Float32)),
				graph.ZerosLike(graph.ConvertDType(e.Head, dtypes.Float32)))
			return graph.Add(s, graph.Mul(s, two))
		}, true))); err != nil {
		t.Fatal(err)
	}
	if err := RegisterScore("test_dist", "", "", noArgs(NoScore)); err == nil {
		t.Error("registering a score name twice succeeded")
	}
	got := applyScore(t, "test_dist(0.5) + test_double", [][][]float32{{{1, 1}, {1, 1}}, {{1, 1}, {1, 1}}})
	want := [][][]float32{{{1, 0.5}, {0.5, 1}}, {{2, 1}, {1, 2}}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("test_dist(0.5) + test_double = %v, want %v", got, want)
	}
	if s, _ := ParseScore("test_dist(2) + alibi"); s.String() != "test_dist(2) + alibi" {
		t.Errorf("String() = %q", s.String())
	}
	_ = RegisterScore("test_panics", "", "", func(Args) (Score, error) { panic("boom") })
	if _, err := ParseScore("alibi + test_panics"); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("panicking constructor: err = %v", err)
	}
}

// TestScoreNeedsVariables: a learned score modification built without a source of
// variables is an error naming it, not a crash.
func TestScoreNeedsVariables(t *testing.T) {
	s, _ := ParseScore("alibi + t5")
	g := graph.NewGraph(backendForTest(t), "no variables")
	defer g.Finalize()
	_, err := NewEnv(g, 1, 2, 3, 3, Side{}).BuildScore(s)
	if err == nil || !strings.Contains(err.Error(), "trainable variables") || !strings.Contains(err.Error(), `score "alibi + t5"`) {
		t.Errorf("t5 without Side.Variable: err = %v", err)
	}
	// The second t5 of a chain gets its own table.
	var names []string
	g2 := graph.NewGraph(backendForTest(t), "names")
	defer g2.Finalize()
	s, _ = ParseScore("t5 + alibi + t5(8, 16)")
	_, err = NewEnv(g2, 1, 2, 3, 3, Side{Variable: func(name string, sh shapes.Shape) *graph.Node {
		names = append(names, name+fmt.Sprint(sh.Dimensions))
		return graph.Zeros(g2, sh)
	}}).BuildScore(s)
	if err != nil || strings.Join(names, " ") != "relative_attention_bias[32 2] relative_attention_bias_2[8 2]" {
		t.Errorf("variables of t5 + alibi + t5(8, 16): %q, %v", names, err)
	}
}
