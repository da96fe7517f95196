package mask

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
)

func grid(t *testing.T, spec string, ex Example) [][]bool {
	t.Helper()
	m, err := ParseAttention(spec)
	if err != nil {
		t.Fatalf("ParseAttention(%q): %v", spec, err)
	}
	g, err := m.Grid(ex)
	if err != nil {
		t.Fatalf("%q.Grid(%+v): %v", spec, ex, err)
	}
	return g[0]
}

// TestPictures checks the pictures in the built-ins' doc comments.
func TestPictures(t *testing.T) {
	for _, tc := range []struct {
		spec string
		ex   Example
		want string
	}{
		{"full", Example{Q: 4}, "####|####|####|####"},
		{"causal", Example{Q: 4}, "#...|##..|###.|####"},
		{"causal_br", Example{Q: 4, K: 6}, "###...|####..|#####.|######"},
		{"pad", Example{Q: 4, KeyLen: 3}, "###.|###.|###.|###."},
		{"qpad", Example{Q: 4, QueryLen: 3}, "####|####|####|...."},
		{"prefix", Example{Q: 4, PrefixLen: 2}, "##..|##..|###.|####"},
		{"doc", Example{Q: 4, Segments: []int{0, 0, 1, 1}}, "##..|##..|..##|..##"},
		{"window(1)", Example{Q: 4}, "##..|###.|.###|..##"},
		{"chunk(2)", Example{Q: 4}, "##..|##..|..##|..##"},
		{"dilated(2)", Example{Q: 4}, "#.#.|.#.#|#.#.|.#.#"},
		{"band(1)", Example{Q: 4, K: 6}, "##....|###...|..###.|...###"},
		{"causal & doc", Example{Q: 6, Segments: []int{0, 0, 0, 1, 1, 2}}, "#.....|##....|###...|...#..|...##.|.....#"},
		{"sink(2)", Example{Q: 4}, "##..|##..|##..|##.."},
		{"causal & (window(1) | sink(1))", Example{Q: 6}, "#.....|##....|###...|#.##..|#..##.|#...##"},
	} {
		got := strings.ReplaceAll(strings.TrimSpace(ASCII(grid(t, tc.spec, tc.ex))), "\n", "|")
		if got != tc.want {
			t.Errorf("%s on %+v:\n got %s\nwant %s", tc.spec, tc.ex, got, tc.want)
		}
	}
}

// ref is the brute-force definition of each deterministic built-in.
var ref = map[string]func(q, k int, ex Example) bool{
	"full":      func(q, k int, ex Example) bool { return true },
	"causal":    func(q, k int, ex Example) bool { return k <= q },
	"causal_br": func(q, k int, ex Example) bool { return k <= q+ex.K-ex.Q },
	"pad":       func(q, k int, ex Example) bool { return k < ex.KeyLen },
	"qpad":      func(q, k int, ex Example) bool { return q < ex.QueryLen },
	"prefix":    func(q, k int, ex Example) bool { return k < ex.PrefixLen || k <= q },
	"doc":       func(q, k int, ex Example) bool { return ex.Segments[q] == ex.Segments[k] },
	"window(2)": func(q, k int, ex Example) bool { return abs(q-k) <= 2 },
	"window(0)": func(q, k int, ex Example) bool { return q == k },
	"chunk(3)":  func(q, k int, ex Example) bool { return q/3 == k/3 },
	"chunk(1)":  func(q, k int, ex Example) bool { return q == k },
	"dilated(3)": func(q, k int, ex Example) bool {
		return abs(q-k)%3 == 0
	},
	"band(1)": func(q, k int, ex Example) bool { return abs(k-q*ex.KeyLen/ex.QueryLen) <= 1 },
	"band(0)": func(q, k int, ex Example) bool { return k == q*ex.KeyLen/ex.QueryLen },
	// sink reads no lengths: the first n keys stay visible even past the valid length.
	"sink(3)": func(q, k int, ex Example) bool { return k < 3 },
	"sink(0)": func(q, k int, ex Example) bool { return false },
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// randomExample draws sizes and side data; with square, Q == K and segments are set.
func randomExample(r *rand.Rand, square bool) Example {
	q := 1 + r.IntN(9)
	k := q
	if !square {
		k = 1 + r.IntN(9)
	}
	ex := Example{Q: q, K: k, QueryLen: 1 + r.IntN(q), KeyLen: 1 + r.IntN(k), PrefixLen: r.IntN(q + 1)}
	if square {
		seg := 0
		for i := 0; i < q; i++ {
			if r.IntN(3) == 0 {
				seg++
			}
			ex.Segments = append(ex.Segments, seg)
		}
	}
	return ex
}

func checkGrid(t *testing.T, what string, ex Example, got [][]bool, want func(q, k int) bool) {
	t.Helper()
	for q := range ex.Q {
		for k := range ex.K {
			if got[q][k] != want(q, k) {
				t.Fatalf("%s on %+v: entry (q=%d, k=%d) is %v, want %v; grid:\n%s", what, ex, q, k, got[q][k], want(q, k), ASCII(got))
			}
		}
	}
}

// TestBuiltinProperties checks every deterministic built-in against its definition on
// random sizes, valid lengths, prefixes and segments.
func TestBuiltinProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for name, f := range ref {
		for i := 0; i < 12; i++ {
			ex := randomExample(r, name == "doc" || i%2 == 0)
			g := grid(t, name, ex)
			checkGrid(t, name, ex, g, func(q, k int) bool { return f(q, k, ex) })
		}
	}
	// Every registered built-in has a reference or a random-atom test.
	for _, n := range Names(KindSelf) {
		found := n == "random" || n == "keydrop"
		for spec := range ref {
			if spec == n || strings.HasPrefix(spec, n+"(") {
				found = true
			}
		}
		if !found && !strings.HasPrefix(n, "test_") {
			t.Errorf("built-in %q has no property test", n)
		}
	}
}

// expr is a random mask expression with its brute-force evaluation.
type expr struct {
	spec string
	eval func(q, k int, ex Example) bool
}

func randomExpr(r *rand.Rand, depth int) expr {
	atoms := []string{"full", "causal", "causal_br", "pad", "qpad", "prefix", "doc", "window(2)", "chunk(3)", "dilated(3)", "band(1)", "sink(3)"}
	if depth <= 0 || r.IntN(3) == 0 {
		a := atoms[r.IntN(len(atoms))]
		return expr{a, ref[a]}
	}
	switch r.IntN(3) {
	case 0:
		x := randomExpr(r, depth-1)
		return expr{"!(" + x.spec + ")", func(q, k int, ex Example) bool { return !x.eval(q, k, ex) }}
	case 1:
		x, y := randomExpr(r, depth-1), randomExpr(r, depth-1)
		return expr{"(" + x.spec + ") & (" + y.spec + ")", func(q, k int, ex Example) bool { return x.eval(q, k, ex) && y.eval(q, k, ex) }}
	default:
		x, y := randomExpr(r, depth-1), randomExpr(r, depth-1)
		return expr{"(" + x.spec + ") | (" + y.spec + ")", func(q, k int, ex Example) bool { return x.eval(q, k, ex) || y.eval(q, k, ex) }}
	}
}

// TestComposition evaluates random compositions through the parser and the graph and
// compares with brute force, and checks that the canonical String parses back to the
// same grid.
func TestComposition(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 60; i++ {
		e := randomExpr(r, 3)
		ex := randomExample(r, true)
		g := grid(t, e.spec, ex)
		checkGrid(t, e.spec, ex, g, func(q, k int) bool { return e.eval(q, k, ex) })
		m, _ := ParseAttention(e.spec)
		g2 := grid(t, m.String(), ex)
		checkGrid(t, "canonical "+m.String(), ex, g2, func(q, k int) bool { return g[q][k] })
	}
}

// TestPrecedence: ! binds tighter than &, & tighter than |.
func TestPrecedence(t *testing.T) {
	ex := Example{Q: 7, Segments: []int{0, 0, 1, 1, 1, 2, 2}, KeyLen: 5, PrefixLen: 2}
	for _, tc := range [][2]string{
		{"causal | doc & pad", "causal | (doc & pad)"},
		{"!causal & pad", "(!causal) & pad"},
		{"!causal | doc & !pad | window(1)", "(!causal) | (doc & (!pad)) | window(1)"},
		{" causal&doc ", "(causal & doc)"},
		{"!!causal", "causal"},
	} {
		a, b := grid(t, tc[0], ex), grid(t, tc[1], ex)
		checkGrid(t, tc[0]+" vs "+tc[1], ex, a, func(q, k int) bool { return b[q][k] })
	}
}

// TestDeMorgan checks !(a & b) == !a | !b and !(a | b) == !a & !b on random grids,
// using the Go combinators as well as the parser.
func TestDeMorgan(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 20; i++ {
		a, b := randomExpr(r, 1), randomExpr(r, 1)
		ma, _ := ParseAttention(a.spec)
		mb, _ := ParseAttention(b.spec)
		ex := randomExample(r, true)
		for _, pair := range [][2]Attention{
			{Not(And(ma, mb)), Or(Not(ma), Not(mb))},
			{Not(Or(ma, mb)), And(Not(ma), Not(mb))},
		} {
			g1, err := pair[0].Grid(ex)
			if err != nil {
				t.Fatal(err)
			}
			g2, err := pair[1].Grid(ex)
			if err != nil {
				t.Fatal(err)
			}
			checkGrid(t, pair[0].String()+" vs "+pair[1].String(), ex, g1[0], func(q, k int) bool { return g2[0][q][k] })
		}
	}
}

func TestCanonicalString(t *testing.T) {
	for in, want := range map[string]string{
		"causal&doc":                       "causal & doc",
		"( causal | doc ) & pad":           "(causal | doc) & pad",
		"!(causal & doc)":                  "!(causal & doc)",
		"causal | doc & pad":               "causal | doc & pad",
		"window( 3 )":                      "window(3)",
		"random(0.50)":                     "random(0.5)",
		"!window(2)":                       "!window(2)",
		"((causal))":                       "causal",
		"(causal & doc) & (pad & qpad)":    "causal & doc & pad & qpad",
		"!(causal | doc) & !(pad & qpad)":  "!(causal | doc) & !(pad & qpad)",
		"(window(1) | chunk(2)) & causal":  "(window(1) | chunk(2)) & causal",
		"(window(1) | chunk(2)) | !causal": "window(1) | chunk(2) | !causal",
	} {
		m, err := ParseAttention(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if m.String() != want {
			t.Errorf("ParseAttention(%q).String() = %q, want %q", in, m.String(), want)
		}
	}
}

func TestRandomAtoms(t *testing.T) {
	const n = 48
	count := func(g [][]bool) int {
		c := 0
		for _, row := range g {
			for _, v := range row {
				if !v {
					c++
				}
			}
		}
		return c
	}
	for _, p := range []float64{0.1, 0.5} {
		spec := fmt.Sprintf("random(%g)", p)
		// Off at evaluation.
		if c := count(grid(t, spec, Example{Q: n})); c != 0 {
			t.Errorf("%s at eval masks %d entries, want 0", spec, c)
		}
		g1 := grid(t, spec, Example{Q: n, Training: true, Seed: 7})
		g2 := grid(t, spec, Example{Q: n, Training: true, Seed: 7})
		g3 := grid(t, spec, Example{Q: n, Training: true, Seed: 8})
		if ASCII(g1) != ASCII(g2) {
			t.Errorf("%s is not reproducible from its seed", spec)
		}
		if ASCII(g1) == ASCII(g3) {
			t.Errorf("%s gives the same mask for seeds 7 and 8", spec)
		}
		// Masked fraction near p: 2304 Bernoulli draws, 5 standard deviations.
		rate := float64(count(g1)) / (n * n)
		sd := (p * (1 - p) / (n * n))
		if d := rate - p; d*d > 25*sd {
			t.Errorf("%s masked %.3f of the entries, want about %g", spec, rate, p)
		}

		spec = fmt.Sprintf("keydrop(%g)", p)
		if c := count(grid(t, spec, Example{Q: n})); c != 0 {
			t.Errorf("%s at eval masks %d entries, want 0", spec, c)
		}
		g := grid(t, spec, Example{Q: n, Training: true, Seed: 7})
		dropped := 0
		for k := 0; k < n; k++ {
			for q := 1; q < n; q++ {
				if g[q][k] != g[0][k] {
					t.Fatalf("%s: key %d is masked for some queries only:\n%s", spec, k, ASCII(g))
				}
			}
			if !g[0][k] {
				dropped++
			}
		}
		if dropped == 0 || dropped == n {
			t.Errorf("%s dropped %d of %d keys", spec, dropped, n)
		}
	}
	if c := count(grid(t, "random(0) & keydrop(0)", Example{Q: 8, Training: true})); c != 0 {
		t.Errorf("random(0) & keydrop(0) masks %d entries", c)
	}
	if c := count(grid(t, "random(1)", Example{Q: 8, Training: true})); c != 64 {
		t.Errorf("random(1) masks %d of 64 entries", c)
	}
	m, _ := ParseAttention("causal & random(0.1)")
	if !m.Random() || m.PerHead() {
		t.Errorf("causal & random(0.1): Random() = %v, PerHead() = %v", m.Random(), m.PerHead())
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want []string
	}{
		{"causl & pad", []string{"column 1", `unknown self name "causl"`, `did you mean "causal"`, "known self names: band, causal"}},
		{"causal & dco", []string{"column 10", `"dco"`, `did you mean "doc"`}},
		{"window(-1)", []string{"column 8", "window: w must be >= 0, got -1"}},
		{"window(1.5)", []string{"column 8", "w must be an integer, got 1.5"}},
		// An integer too large is out of range, not "not an integer", and the range is named.
		{"window(2147483648)", []string{"column 8", "window: w is out of range: must be in 0..1073741824, got 2147483648"}},
		{"chunk(-5e12)", []string{"column 7", "chunk: n is out of range: must be in 1..1073741824, got -5e12"}},
		{"window", []string{"window takes 1 argument, got 0"}},
		{"window(1, 2)", []string{"window takes 1 argument, got 2"}},
		{"causal(1)", []string{"causal takes no arguments, got 1"}},
		{"random(2)", []string{"column 8", "p must be in [0, 1], got 2"}},
		{"random(x)", []string{"p must be a number, got x"}},
		{"chunk(0)", []string{"n must be >= 1, got 0"}},
		{"(causal", []string{"column 8", "expected ')' to close the '(' at column 1"}},
		{"causal)", []string{"column 7", "unmatched ')'"}},
		{"causal & ", []string{"column 10", "expected a mask name"}},
		{"causal pad", []string{"column 8", "expected '&', '|' or end of spec"}},
		{"causal && pad", []string{"column 9", `got "&"`}},
		{"", []string{"empty spec", "known self names"}},
		{"   ", []string{"empty spec"}},
		{"causal # pad", []string{"column 8", "unexpected character '#'"}},
		{"程序 & causal", []string{"column 1", "unexpected character '程'"}},
		{"window(\"3)", []string{"column 8", "unterminated string"}},
		{"window(1e)", []string{"bad number"}},
	} {
		_, err := ParseAttention(tc.spec)
		if err == nil {
			t.Errorf("ParseAttention(%q) succeeded, want an error", tc.spec)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseAttention(%q): error has several lines: %q", tc.spec, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ParseAttention(%q) = %q, want it to contain %q", tc.spec, err, w)
			}
		}
	}
	if _, err := ParseCross("bnad(2)"); err == nil || !strings.Contains(err.Error(), `cross spec "bnad(2)"`) || !strings.Contains(err.Error(), `did you mean "band"`) {
		t.Errorf("ParseCross(bnad(2)) = %v", err)
	}
}

func TestMissingSideData(t *testing.T) {
	m, _ := ParseAttention("causal & doc")
	_, err := m.Grid(Example{Q: 3, K: 4})
	if err == nil || !strings.Contains(err.Error(), "segment ids") {
		t.Errorf("doc without segments: err = %v", err)
	}
	m, _ = ParseAttention("random(0.5)")
	g := graph.NewGraph(backendForTest(t), "missing")
	e := NewEnv(g, 1, 1, 2, 2, Side{Training: true})
	if _, err := e.Build(m); err == nil || !strings.Contains(err.Error(), "random source") {
		t.Errorf("random without Side.Uniform: err = %v", err)
	}
}

// Needs names the side data a mask reads, through And, Or and Not, for built-ins and for
// registered masks that read Env fields directly instead of through Env.Need.
func TestNeeds(t *testing.T) {
	unregister(t, KindSelf, "test_prefix_direct")
	if err := RegisterAttention("test_prefix_direct", "", "reads PrefixLen without Need", func(a Args) (Attention, error) {
		return NewAttention("", func(e *Env) *graph.Node { return graph.LessThan(e.Key, e.PrefixLen) }, false, false), nil
	}); err != nil {
		t.Fatal(err)
	}
	for spec, want := range map[string][]string{
		"causal":                   nil,
		"full | window(2)":         nil,
		"causal & random(0.5)":     nil,
		"causal & doc":             {"segments"},
		"prefix":                   {"prefix"},
		"!(prefix | doc)":          {"prefix", "segments"},
		"pad & qpad":               {"klen", "qlen"},
		"band(1)":                  {"klen", "qlen"},
		"causal & pad":             {"klen"},
		"test_prefix_direct | doc": {"prefix", "segments"},
	} {
		m, err := ParseAttention(spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Needs(); !slices.Equal(got, want) {
			t.Errorf("ParseAttention(%q).Needs() = %q, want %q", spec, got, want)
		}
	}
	if got := (Attention{}).Needs(); got != nil {
		t.Errorf("zero Attention: Needs() = %q, want nil", got)
	}
}

func TestRegisterAttention(t *testing.T) {
	unregister(t, KindSelf, "test_stride", "test_panics")
	err := RegisterAttention("test_stride", "(s)", "key is a multiple of s (a user mask for this test)", func(a Args) (Attention, error) {
		if err := a.Count(1, 1); err != nil {
			return Attention{}, err
		}
		s, err := a.Int(0, "s", 1)
		if err != nil {
			return Attention{}, err
		}
		return NewAttention("ignored", func(e *Env) *graph.Node {
			return graph.Equal(graph.Rem(e.Key, graph.ConstAs(e.Key, s)), graph.ConstAs(e.Key, 0))
		}, false, false), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := RegisterAttention("test_stride", "", "", func(Args) (Attention, error) { return Full, nil }); err == nil {
		t.Error("registering a name twice succeeded")
	}
	if err := RegisterAttention("bad name", "", "", func(Args) (Attention, error) { return Full, nil }); err == nil {
		t.Error("registering a bad name succeeded")
	}
	got := strings.ReplaceAll(strings.TrimSpace(ASCII(grid(t, "test_stride(2) & causal", Example{Q: 4}))), "\n", "|")
	if want := "#...|#...|#.#.|#.#."; got != want {
		t.Errorf("test_stride(2) & causal = %s, want %s", got, want)
	}
	m, _ := ParseAttention("!test_stride(2)")
	if m.String() != "!test_stride(2)" {
		t.Errorf("String() = %q", m.String())
	}
	if _, err := ParseAttention("test_stride(0)"); err == nil || !strings.Contains(err.Error(), "s must be >= 1, got 0") {
		t.Errorf("test_stride(0): err = %v", err)
	}
	found := false
	for _, n := range Names(KindCross) {
		found = found || n == "test_stride"
	}
	if !found {
		t.Errorf("Names(cross) lacks test_stride: %v", Names(KindCross))
	}
	// A constructor that panics is an error, not a crash.
	_ = RegisterAttention("test_panics", "", "", func(Args) (Attention, error) { panic("boom") })
	if _, err := ParseAttention("causal & test_panics"); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("panicking constructor: err = %v", err)
	}
}

// TestSinkStreamingLLM checks sink(n) as StreamingLLM uses it: "causal & (window(w) |
// sink(n))" lets query q see exactly the keys k <= q with k < n or q - k <= w, on random
// sizes; and sink reads no lengths, so keys past the valid length stay visible unless
// pad is added.
func TestSinkStreamingLLM(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 20; i++ {
		n, w := r.IntN(5), r.IntN(4)
		ex := randomExample(r, true)
		spec := fmt.Sprintf("causal & (window(%d) | sink(%d))", w, n)
		checkGrid(t, spec, ex, grid(t, spec, ex), func(q, k int) bool { return k <= q && (k < n || q-k <= w) })
	}
	m, _ := ParseAttention("sink(4)")
	if m.PerHead() || m.Random() || m.Needs() != nil {
		t.Errorf("sink(4): PerHead %v, Random %v, Needs %q; want false, false, none", m.PerHead(), m.Random(), m.Needs())
	}
	ex := Example{Q: 5, KeyLen: 2}
	if got := strings.ReplaceAll(strings.TrimSpace(ASCII(grid(t, "sink(4)", ex))), "\n", "|"); got != "####.|####.|####.|####.|####." {
		t.Errorf("sink(4) with klen 2 = %s: want keys 0..3 visible whatever the padding", got)
	}
	if got := strings.ReplaceAll(strings.TrimSpace(ASCII(grid(t, "sink(4) & pad", ex))), "\n", "|"); got != "##...|##...|##...|##...|##..." {
		t.Errorf("sink(4) & pad with klen 2 = %s", got)
	}
}
