package mask

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"

	"github.com/masklab/masklab/pkg/backend"
)

// Score is a score modification (the "score" kind): the soft half of FlexAttention
// (score_mod) and of xFormers' attention biases. It changes one attention layer's
// scaled scores s = q·kᵀ/√d [B,H,Q,K] before the softmax, per head and per (query,
// key), where an Attention mask only allows or forbids. The boolean mask still decides
// what is allowed: a pair it forbids stays forbidden whatever the score modification
// returns (its -1e9 is added after), so a score modification reshapes the weights among
// the allowed keys only, and must return finite scores.
//
// A Score is a chain of steps applied left to right, written with "+": "alibi +
// softcap(30)" adds the ALiBi bias, then soft-caps the sum. A step is either an
// additive bias (NewScoreBias: evaluated once per forward pass and shared by every
// layer, like the mask) or a transform of the scores (NewScoreMod: applied in every
// layer, e.g. softcap). A step may own trainable parameters (Env.Variable, e.g. t5's
// table), which the model creates once and shares between layers.
//
// The zero Score, like "none", changes nothing.
type Score struct {
	spec  string
	steps []scoreStep
}

type scoreStep struct {
	// prepare runs once per forward pass (biases, tables) and returns what is applied
	// to each layer's scores.
	prepare  func(e *Env) func(scores *graph.Node) *graph.Node
	perHead  bool
	additive bool
	// paramsPerHead counts the trainable values the step adds per attention head (t5:
	// its buckets), for memory estimates.
	paramsPerHead int
}

// Params is the number of trainable values s adds to a model with heads attention
// heads (a learned t5 table: buckets × heads; 0 for fixed modifications).
func (s Score) Params(heads int) int64 {
	var n int64
	for _, st := range s.steps {
		n += int64(st.paramsPerHead) * int64(heads)
	}
	return n
}

// NoScore is the score modification "none": the scores as they are.
var NoScore = Score{spec: "none"}

// NewScoreBias defines an additive score modification from its spec string and its
// bias function: fn returns a float node broadcastable to [B,H,Q,K] (build it from e's
// index nodes, side data and Env.Variable, as for NewAttention), evaluated once per
// forward pass and added to every layer's scores. Set perHead if it reads e.Head.
func NewScoreBias(spec string, fn func(e *Env) *graph.Node, perHead bool) Score {
	return Score{spec: spec, steps: []scoreStep{{
		prepare: func(e *Env) func(*graph.Node) *graph.Node {
			b := fn(e)
			if !b.DType().IsFloat() {
				b = graph.ConvertDType(b, dtypes.Float32)
			}
			return func(s *graph.Node) *graph.Node { return graph.Add(s, graph.ConvertDType(b, s.DType())) }
		},
		perHead: perHead, additive: true,
	}}}
}

// NewScoreMod defines a score modification that transforms the scores, in the spirit
// of FlexAttention's score_mod: fn receives the scaled scores [B,H,Q,K] (float32) of one
// layer and returns the modified scores of the same shape, built with graph ops from
// the scores and e's index nodes (which broadcast against them). It is called in every
// layer. Set perHead if it reads e.Head.
func NewScoreMod(spec string, fn func(e *Env, scores *graph.Node) *graph.Node, perHead bool) Score {
	return Score{spec: spec, steps: []scoreStep{{
		prepare: func(e *Env) func(*graph.Node) *graph.Node {
			return func(s *graph.Node) *graph.Node { return fn(e, s) }
		},
		perHead: perHead,
	}}}
}

// ChainScores applies the modifications one after another, left to right (the "+" of
// the spec syntax). "none" terms drop out.
func ChainScores(ss ...Score) Score {
	var out Score
	var parts []string
	for _, s := range ss {
		if len(s.steps) == 0 {
			continue
		}
		out.steps = append(out.steps, s.steps...)
		parts = append(parts, s.spec)
	}
	if len(parts) == 0 {
		return NoScore
	}
	out.spec = strings.Join(parts, " + ")
	return out
}

// String returns the canonical spec, e.g. "alibi + softcap(30)"; "none" for no change.
func (s Score) String() string {
	if s.spec == "" {
		return "none"
	}
	return s.spec
}

// IsZero reports whether s changes nothing (the zero value, or "none").
func (s Score) IsZero() bool { return len(s.steps) == 0 }

// PerHead reports whether the modification differs between heads.
func (s Score) PerHead() bool {
	for _, st := range s.steps {
		if st.perHead {
			return true
		}
	}
	return false
}

// Additive reports whether every step adds a bias (no transform such as softcap): the
// modification is then the bias that Values draws, whatever the scores.
func (s Score) Additive() bool {
	for _, st := range s.steps {
		if !st.additive {
			return false
		}
	}
	return true
}

// Variable returns the trainable float32 parameter name of the given shape for a score
// modification (t5's table): the caller (a model) creates it zero-initialised on first
// use and shares it between layers; pictures give a table whose entries are their first
// index (t5's bucket). Without a source of variables (Side.Variable) it panics with a
// message naming what is missing, which Env.BuildScore turns into an error.
func (e *Env) Variable(name string, dims ...int) *graph.Node {
	if e.variableFor == nil {
		panic(missingError{"source of trainable variables (Side.Variable)"})
	}
	e.variables++
	return e.variableFor(name+e.varSuffix, shapes.Make(dtypes.Float32, dims...))
}

// BuildScore evaluates the score modification's once-per-pass parts on e (biases and
// learned tables) and returns the function that applies it to one layer's scaled scores
// [B,H,Q,K]; nil for a modification that changes nothing. Side data or variables the
// modification needs and e lacks give an error naming them. Parameters of the second
// and later steps get the suffix "_1", "_2", ... (so two t5 terms have two tables).
func (e *Env) BuildScore(s Score) (apply func(scores *graph.Node) *graph.Node, err error) {
	if len(s.steps) == 0 {
		return nil, nil
	}
	defer func() {
		e.varSuffix = ""
		if r := recover(); r != nil {
			if me, ok := r.(missingError); ok {
				apply, err = nil, fmt.Errorf("score %q: %w", s.String(), me)
				return
			}
			panic(r)
		}
	}()
	fns := make([]func(*graph.Node) *graph.Node, len(s.steps))
	for i, st := range s.steps {
		e.varSuffix = ""
		if i > 0 {
			e.varSuffix = "_" + strconv.Itoa(i)
		}
		fns[i] = st.prepare(e)
	}
	spec := s.String()
	return func(scores *graph.Node) *graph.Node {
		for _, f := range fns {
			out := f(scores)
			if out.DType() != scores.DType() || !out.Shape().Equal(scores.Shape()) {
				if out.Rank() == scores.Rank() && out.DType() == scores.DType() {
					out = graph.BroadcastToShape(out, scores.Shape())
				} else {
					panic(fmt.Sprintf("score %q: a step returned %s for scores %s", spec, out.Shape(), scores.Shape()))
				}
			}
			scores = out
		}
		return scores
	}, nil
}

// ScoreView is a score modification evaluated on one example, for pictures.
type ScoreView struct {
	Spec string
	// Values[h][q][k] is the modification applied to all-zero scores: for an additive
	// modification (Additive), its bias.
	Values [][][]float64
	// Learned is true when the modification reads trainable parameters: their values
	// are learned, so the picture fills each table entry with its first index (t5: the
	// bucket of each pair).
	Learned bool
	// Transform is true when a step transforms the scores (softcap): Values shows the
	// modification of zero scores only.
	Transform bool
}

// View evaluates the score modification for one example (sizes Q, K, Heads and side
// data as for Attention.Grid) with the same graph code used in training, on the
// embedded Go backend.
func (s Score) View(ex Example) (ScoreView, error) {
	be, err := backend.New(backend.Choice{Config: backend.Default, Source: "default"})
	if err != nil {
		return ScoreView{}, err
	}
	return s.ViewOn(be, ex)
}

// ViewOn is View on a given backend.
func (s Score) ViewOn(be compute.Backend, ex Example) (ScoreView, error) {
	v := ScoreView{Spec: s.String(), Transform: !s.Additive()}
	ex, err := ex.normalize(fmt.Sprintf("score %q", v.Spec))
	if err != nil {
		return v, err
	}
	var buildErr error
	fn := func(g *graph.Graph) *graph.Node {
		side := Side{
			QueryLen:  graph.Const(g, []int32{int32(ex.QueryLen)}),
			KeyLen:    graph.Const(g, []int32{int32(ex.KeyLen)}),
			PrefixLen: graph.Const(g, []int32{int32(ex.PrefixLen)}),
			Variable: func(_ string, sh shapes.Shape) *graph.Node {
				// Each entry is its first index: t5's table row, the bucket.
				return graph.ConvertDType(graph.Iota(g, sh, 0), dtypes.Float32)
			},
		}
		if ex.Segments != nil { // normalize checked them
			seg := make([]int32, ex.Q)
			for i, id := range ex.Segments {
				seg[i] = int32(id)
			}
			side.QuerySeg = graph.Const(g, [][]int32{seg})
		}
		e := NewEnv(g, 1, ex.Heads, ex.Q, ex.K, side)
		zeros := graph.Zeros(g, shapes.Make(dtypes.Float32, 1, ex.Heads, ex.Q, ex.K))
		apply, err := e.BuildScore(s)
		if err != nil {
			buildErr = err
			return zeros
		}
		v.Learned = e.variables > 0
		if apply == nil {
			return zeros
		}
		return apply(zeros)
	}
	t, err := graph.ExecOnce(be, fn)
	if buildErr != nil {
		return v, buildErr
	}
	if err != nil {
		return v, fmt.Errorf("score %q: %w", v.Spec, err)
	}
	flat, ok := t.Value().([][][][]float32)
	if !ok {
		return v, fmt.Errorf("score %q: unexpected result %s", v.Spec, t.Shape())
	}
	v.Values = make([][][]float64, ex.Heads)
	for h, head := range flat[0] {
		v.Values[h] = make([][]float64, ex.Q)
		for q, row := range head {
			v.Values[h][q] = make([]float64, ex.K)
			for k, x := range row {
				v.Values[h][q][k] = float64(x)
			}
		}
	}
	return v, nil
}

// ScoreASCII renders one head of a score picture as Q lines of K right-aligned
// numbers (4 significant digits), with '.' where allowed (when not nil) forbids the
// pair.
func ScoreASCII(values [][]float64, allowed [][]bool) string {
	cells := make([][]string, len(values))
	width := 1
	for q, row := range values {
		cells[q] = make([]string, len(row))
		for k, x := range row {
			c := "."
			if allowed == nil || allowed[q][k] {
				if x == 0 {
					x = 0 // no "-0"
				}
				c = strconv.FormatFloat(x, 'g', 4, 64)
			}
			cells[q][k] = c
			width = max(width, len(c))
		}
	}
	var b strings.Builder
	for _, row := range cells {
		for k, c := range row {
			if k > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(strings.Repeat(" ", width-len(c)))
			b.WriteString(c)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// The built-in score modifications. Pictures show one head for Q = K = 4 on the causal
// mask ('.' = masked), as "masklab mask causal --score SPEC --heads H --head I" prints
// them.

// Alibi is ALiBi (Press et al., ICLR 2022, "Train Short, Test Long: Attention with
// Linear Biases Enables Input Length Extrapolation"): head h adds -m_h·|query - key| to
// the scores, with the slopes of AlibiSlopes. On a causal mask this is the paper's
// -m_h·(query - key) (Hugging Face BLOOM's m_h·key differs from it by a constant per
// query row, which the softmax ignores); past the diagonal (prefix-LM, full masks) the
// penalty is symmetric. ALiBi replaces position embeddings: use it with
// model.positions: none.
//
//	    0     .     .     .   (head 0 of 4: m = 1/4)
//	-0.25     0     .     .
//	 -0.5 -0.25     0     .
//	-0.75  -0.5 -0.25     0
//
//	        0         .         .         .   (head 3 of 4: m = 1/256)
//	-0.003906         0         .         .
//	-0.007812 -0.003906         0         .
//	 -0.01172 -0.007812 -0.003906         0
var Alibi = NewScoreBias("alibi", func(e *Env) *graph.Node {
	slopes := AlibiSlopes(e.H)
	m := make([]float32, len(slopes))
	for i, x := range slopes {
		m[i] = float32(x)
	}
	dist := graph.ConvertDType(graph.Abs(graph.Sub(e.Query, e.Key)), dtypes.Float32) // [1,1,Q,K]
	return graph.Neg(graph.Mul(graph.Reshape(graph.Const(e.G, m), 1, e.H, 1, 1), dist))
}, true)

// AlibiSlopes returns ALiBi's slopes for h heads. For h a power of 2 they are the
// geometric sequence m_i = 2^(-8(i+1)/h), i = 0..h-1; otherwise the slopes of c, the
// largest power of 2 below h, followed by the first h - c of the odd-numbered slopes of
// 2c (2^(-4(2j+1)/c), j = 0..h-c-1): the rule of the paper's code (get_slopes) and of
// Hugging Face BLOOM's build_alibi_tensor.
func AlibiSlopes(h int) []float64 {
	if h <= 0 {
		return nil
	}
	c := 1
	for c*2 <= h {
		c *= 2
	}
	out := make([]float64, 0, h)
	for i := 1; i <= c; i++ {
		out = append(out, math.Pow(2, -8*float64(i)/float64(c)))
	}
	for j := 0; j < h-c; j++ {
		out = append(out, math.Pow(2, -4*float64(2*j+1)/float64(c)))
	}
	return out
}

// T5 is the learned relative position bias of T5 (Raffel et al., JMLR 2020): a
// trainable table [buckets, H], zero-initialised and shared by all layers, from which
// the pair (query, key) takes the row of its relative-position bucket (T5Bucket of key -
// query); bidirectional buckets tell earlier keys from later ones (as T5's encoder),
// causal ones (as T5's decoder, the default) put every later key into bucket 0. The
// table is the "relative_attention_bias" variable of the model's "score" scope. Its
// picture is the bucket of each pair (t5(8, 16), Q 8, causal):
//
//	0 . . . . . . .
//	1 0 . . . . . .
//	2 1 0 . . . . .
//	3 2 1 0 . . . .
//	4 3 2 1 0 . . .
//	4 4 3 2 1 0 . .
//	5 4 4 3 2 1 0 .
//	5 5 4 4 3 2 1 0
func T5(buckets, maxDistance int, bidirectional bool) Score {
	spec := fmt.Sprintf("t5(%d, %d)", buckets, maxDistance)
	if bidirectional {
		spec = fmt.Sprintf("t5(%d, %d, bidirectional)", buckets, maxDistance)
	}
	s := NewScoreBias(spec, func(e *Env) *graph.Node {
		table := e.Variable("relative_attention_bias", buckets, e.H) // [buckets, H]
		idx := make([][]int32, e.Q)
		for q := range idx {
			idx[q] = make([]int32, e.K)
			for k := range idx[q] {
				idx[q][k] = int32(T5Bucket(k-q, buckets, maxDistance, bidirectional))
			}
		}
		b := graph.Gather(table, graph.InsertAxes(graph.Const(e.G, idx), -1)) // [Q,K,H]
		return graph.Reshape(graph.TransposeAllAxes(b, 2, 0, 1), 1, e.H, e.Q, e.K)
	}, true)
	for i := range s.steps {
		s.steps[i].paramsPerHead = buckets
	}
	return s
}

// T5Bucket is T5's _relative_position_bucket (Hugging Face transformers' T5Attention)
// for one relative position rel = key - query: with bidirectional, half the buckets are
// for later keys; of the rest, the first half are exact distances and the others
// logarithmically wider ones up to maxDistance, beyond which everything shares the
// last bucket. It computes in float32 like the reference, so the bucket boundaries
// agree with it exactly.
func T5Bucket(rel, buckets, maxDistance int, bidirectional bool) int {
	n, out := buckets, 0
	if bidirectional {
		n /= 2
		if rel > 0 {
			out += n
		}
		if rel < 0 {
			rel = -rel
		}
	} else {
		rel = -min(rel, 0)
	}
	maxExact := n / 2
	if rel < maxExact {
		return out + rel
	}
	x := float32(float32(rel) / float32(maxExact))
	l := float32(math.Log(float64(x)))
	d := float32(math.Log(float64(maxDistance) / float64(maxExact)))
	v := float32(float32(l/d) * float32(n-maxExact))
	large := min(maxExact+int(v), n-1)
	return out + large
}

// Softcap soft-caps the scores at ±c, c·tanh(scores/c), as Gemma 2 does to its
// attention logits (Gemma Team, 2024; c = 50): a transform, not a bias, so it is
// applied in every layer to the scores it is given (in "alibi + softcap(30)" to the
// biased ones). On zero scores it is 0; it bends large scores (softcap(30)):
//
//	score           -90    -30     0     30     90
//	softcap(30)   -29.85 -22.85    0   22.85  29.85
func Softcap(c float64) Score {
	return NewScoreMod("softcap("+Arg{Num: c, IsNum: true}.String()+")", func(e *Env, s *graph.Node) *graph.Node {
		return graph.MulScalar(graph.Tanh(graph.MulScalar(s, 1/c)), c)
	}, false)
}

func init() {
	mustRegister(RegisterScore("none", "", "no score modification (the default)", noArgs(NoScore)))
	mustRegister(RegisterScore("alibi", "", "ALiBi: head h adds -m_h*|query - key|, slopes 2^(-8(h+1)/H) (Press et al. 2022)", noArgs(Alibi)))
	mustRegister(RegisterScore("t5", "(buckets, max_distance[, bidirectional])",
		"learned T5 relative position bias: a [buckets, H] table indexed by bucketed key - query (causal buckets unless bidirectional)", t5Args))
	mustRegister(RegisterScore("softcap", "(c)", "c*tanh(scores/c), c > 0 (Gemma 2's soft-capping; a transform, not a bias)", softcapArgs))
}

// t5Args builds t5: t5 alone is t5(32, 128), T5's defaults.
func t5Args(a Args) (Score, error) {
	if err := a.Count(0, 3); err != nil {
		return Score{}, err
	}
	buckets, maxDist, bidi := 32, 128, false
	if a.Len() == 1 {
		return Score{}, fmt.Errorf("t5 takes 0, 2 or 3 arguments (buckets, max_distance[, bidirectional]), got 1")
	}
	if a.Len() == 3 {
		w, err := a.Word(2, "direction")
		if err != nil {
			return Score{}, err
		}
		switch w {
		case "bidirectional":
			bidi = true
		case "causal":
		default:
			return Score{}, argErr(2, "t5: the third argument must be bidirectional or causal, got %s", a.List[2].String())
		}
	}
	if a.Len() >= 2 {
		var err error
		min := 2
		if bidi {
			min = 4
		}
		if buckets, err = a.Int(0, "buckets", min); err != nil {
			return Score{}, err
		}
		if buckets > 4096 {
			return Score{}, argErr(0, "t5: buckets must be at most 4096 (T5 uses 32), got %d", buckets)
		}
		if maxDist, err = a.Int(1, "max_distance", 1); err != nil {
			return Score{}, err
		}
	}
	exact := buckets / 2
	if bidi {
		exact = buckets / 4
	}
	if maxDist <= exact {
		return Score{}, argErr(1, "t5: max_distance must be > %d (the exact buckets), got %d", exact, maxDist)
	}
	return T5(buckets, maxDist, bidi), nil
}

func softcapArgs(a Args) (Score, error) {
	if err := a.Count(1, 1); err != nil {
		return Score{}, err
	}
	c, err := a.Float(0, "c")
	if err != nil {
		return Score{}, err
	}
	// Scores are float32: c outside [1e-6, 1e6] makes s/c or c·tanh overflow or
	// underflow to 0·Inf = NaN.
	if !(c >= 1e-6 && c <= 1e6) {
		return Score{}, argErr(0, "softcap: c must be in [1e-6, 1e6] (the scores are float32), got %s", a.List[0].String())
	}
	return Softcap(c), nil
}
