package mask

import (
	"fmt"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"

	"github.com/masklab/masklab/pkg/backend"
)

// Attention is an attention mask (the "self" and "cross" kinds): a function of
// (batch, head, query index, key index) and the batch's side data that returns a
// boolean node, true where the query may attend to the key, in the spirit of
// FlexAttention's mask_mod. The same definition builds the mask inside training graphs
// (see Env.Build) and draws its picture (see Attention.Grid).
type Attention struct {
	spec    string
	fn      func(e *Env) *graph.Node
	perHead bool   // the mask depends on the head index
	random  bool   // the mask draws random numbers (resampled each step, off at eval)
	iv      ivExpr // the per-row key intervals it allows (intervals.go); nil: not known
}

// NewAttention defines a mask from its spec string (how it prints and how the parser
// names it) and its function. fn returns a bool node broadcastable to [B, H, Q, K]:
// build it from e's index nodes (e.Batch, e.Head, e.Query, e.Key) and side data with
// GoMLX's implicit broadcasting. Set perHead if fn reads e.Head, random if it calls
// e.Uniform.
func NewAttention(spec string, fn func(e *Env) *graph.Node, perHead, random bool) Attention {
	return Attention{spec: spec, fn: fn, perHead: perHead, random: random}
}

// String returns the mask's canonical spec, e.g. "causal & pad".
func (m Attention) String() string { return m.spec }

// PerHead reports whether the mask differs between heads (its tensor is [B,H,Q,K]
// rather than [B,1,Q,K]).
func (m Attention) PerHead() bool { return m.perHead }

// Random reports whether the mask draws random numbers.
func (m Attention) Random() bool { return m.random }

// IsZero reports whether m is the zero value (no mask defined).
func (m Attention) IsZero() bool { return m.fn == nil }

// And allows a (query, key) pair only when every mask allows it.
func And(ms ...Attention) Attention { return combine("&", graph.LogicalAnd, ms) }

// Or allows a (query, key) pair when any mask allows it.
func Or(ms ...Attention) Attention { return combine("|", graph.LogicalOr, ms) }

// Not allows exactly the pairs m forbids.
func Not(m Attention) Attention {
	return Attention{
		spec:    "!" + wrap(m.spec),
		fn:      func(e *Env) *graph.Node { return graph.LogicalNot(m.fn(e)) },
		perHead: m.perHead, random: m.random,
		iv: ivNotOf(m.iv),
	}
}

func combine(op string, f func(a, b *graph.Node) *graph.Node, ms []Attention) Attention {
	if len(ms) == 0 {
		panic("mask: " + op + " needs at least one mask")
	}
	if len(ms) == 1 {
		return ms[0]
	}
	parts := make([]string, len(ms))
	var perHead, random bool
	for i, m := range ms {
		parts[i] = m.spec
		if op == "&" && topLevel(m.spec, "|") {
			parts[i] = "(" + m.spec + ")"
		}
		perHead = perHead || m.perHead
		random = random || m.random
	}
	return Attention{
		spec: strings.Join(parts, " "+op+" "),
		fn: func(e *Env) *graph.Node {
			out := ms[0].fn(e)
			for _, m := range ms[1:] {
				out = f(out, m.fn(e))
			}
			return out
		},
		perHead: perHead, random: random,
		iv: ivCombine(op, ms),
	}
}

// wrap parenthesizes a compound spec (one with & or | outside parentheses) so that it
// keeps its meaning after "!".
func wrap(spec string) string {
	if topLevel(spec, "&|") {
		return "(" + spec + ")"
	}
	return spec
}

// topLevel reports whether spec has one of the operator characters ops outside
// parentheses and quoted strings.
func topLevel(spec, ops string) bool {
	depth := 0
	var quote rune
	escaped := false
	for _, r := range spec {
		switch {
		case quote != 0:
			if escaped {
				escaped = false
			} else if r == '\\' && quote == '"' {
				escaped = true
			} else if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
		case r == '(':
			depth++
		case r == ')':
			depth--
		case depth == 0 && strings.ContainsRune(ops, r):
			return true
		}
	}
	return false
}

// Env holds what a mask function may read: index nodes for each axis and the batch's
// side data, all int32 and rank 4 so they broadcast against each other to [B,H,Q,K].
// Side data that the batch does not have is nil; masks that need it panic with a
// message naming what is missing (Env.Build turns that into an error).
type Env struct {
	G          *graph.Graph
	B, H, Q, K int

	Batch *graph.Node // [B,1,1,1]: 0..B-1
	Head  *graph.Node // [1,H,1,1]: 0..H-1
	Query *graph.Node // [1,1,Q,1]: 0..Q-1
	Key   *graph.Node // [1,1,1,K]: 0..K-1

	QueryLen   *graph.Node // [B,1,1,1]: valid query length (queries >= it are padding)
	KeyLen     *graph.Node // [B,1,1,1]: valid key length
	PrefixLen  *graph.Node // [B,1,1,1]: prefix-LM prefix length
	QuerySeg   *graph.Node // [B,1,Q,1]: segment (document) id of each query position
	KeySeg     *graph.Node // [B,1,1,K]: segment id of each key position
	Training   bool        // random atoms are active only when training
	rngState   *graph.Node // see Uniform
	uniformFor func(e *Env, shape shapes.Shape) *graph.Node

	// The trainable variables of score modifications (see Variable).
	variableFor func(name string, shape shapes.Shape) *graph.Node
	varSuffix   string // set by BuildScore for the second and later steps
	variables   int    // how many Variable calls were made

	rows int // > 0: Query holds rows query positions per example (NewEnvRows)
}

// Side is the batch's side data as graph nodes, given to NewEnv. Every field is
// optional. Lengths are int32 [B]; segment ids are int32 [B,Q] / [B,K] (KeySeg defaults
// to QuerySeg for self-attention when Q == K).
type Side struct {
	QueryLen, KeyLen, PrefixLen *graph.Node
	QuerySeg, KeySeg            *graph.Node
	// Training turns random atoms on. Uniform, when set, returns uniform [0,1) float32
	// values of the given shape (the caller owns the random state, e.g. a model.Scope's
	// RNG, so random masks are resampled every step and reproducible from the seed).
	Training bool
	Uniform  func(shape shapes.Shape) *graph.Node
	// Variable, when set, returns the trainable float32 variable of that name and shape
	// (created zero-initialised on first use, e.g. in a model.Scope): the parameters of
	// score modifications (Env.Variable).
	Variable func(name string, shape shapes.Shape) *graph.Node
}

// NewEnv builds the index nodes for a [B,H,Q,K] attention and reshapes the side data.
func NewEnv(g *graph.Graph, b, h, q, k int, side Side) *Env {
	i32 := dtypes.Int32
	e := &Env{G: g, B: b, H: h, Q: q, K: k, Training: side.Training}
	e.Batch = graph.Iota(g, shapes.Make(i32, b, 1, 1, 1), 0)
	e.Head = graph.Iota(g, shapes.Make(i32, 1, h, 1, 1), 1)
	e.Query = graph.Iota(g, shapes.Make(i32, 1, 1, q, 1), 2)
	e.Key = graph.Iota(g, shapes.Make(i32, 1, 1, 1, k), 3)
	lenNode := func(n *graph.Node) *graph.Node {
		if n == nil {
			return nil
		}
		return graph.Reshape(graph.ConvertDType(n, i32), b, 1, 1, 1)
	}
	e.QueryLen = lenNode(side.QueryLen)
	e.KeyLen = lenNode(side.KeyLen)
	e.PrefixLen = lenNode(side.PrefixLen)
	if side.QuerySeg != nil {
		e.QuerySeg = graph.Reshape(graph.ConvertDType(side.QuerySeg, i32), b, 1, q, 1)
	}
	switch {
	case side.KeySeg != nil:
		e.KeySeg = graph.Reshape(graph.ConvertDType(side.KeySeg, i32), b, 1, 1, k)
	case side.QuerySeg != nil && q == k:
		e.KeySeg = graph.Reshape(graph.ConvertDType(side.QuerySeg, i32), b, 1, 1, k)
	}
	e.variableFor = side.Variable
	if side.Uniform != nil {
		u := side.Uniform
		e.uniformFor = func(_ *Env, s shapes.Shape) *graph.Node { return u(s) }
	}
	return e
}

// Uniform returns uniform [0,1) float32 random values of the given shape, drawn from the
// caller's random source. Only valid when e.Training; masks check Training first.
func (e *Env) Uniform(dims ...int) *graph.Node {
	if e.uniformFor == nil {
		panic(missingError{"a random source (Side.Uniform)"})
	}
	return e.uniformFor(e, shapes.Make(dtypes.Float32, dims...))
}

// Need returns n, or panics with a clear message when the side data is missing.
func (e *Env) Need(n *graph.Node, what string) *graph.Node {
	if n == nil {
		panic(missingError{what})
	}
	return n
}

type missingError struct{ what string }

func (m missingError) Error() string { return "the batch has no " + m.what }

// Build evaluates the mask on e and returns a bool tensor [B,1,Q,K], or [B,H,Q,K]
// when the mask depends on the head. A mask that reads missing side data gives an
// error naming it.
func (e *Env) Build(m Attention) (out *graph.Node, err error) {
	if m.fn == nil {
		return nil, fmt.Errorf("mask: empty attention mask")
	}
	defer func() {
		if r := recover(); r != nil {
			if me, ok := r.(missingError); ok {
				err = fmt.Errorf("mask %q: %w", m.spec, me)
				return
			}
			panic(r)
		}
	}()
	out = m.fn(e)
	if out.DType() != dtypes.Bool {
		return nil, fmt.Errorf("mask %q: function returned %s, want a bool node", m.spec, out.Shape())
	}
	if out.Rank() != 4 {
		return nil, fmt.Errorf("mask %q: function returned rank %d (%s), want rank 4", m.spec, out.Rank(), out.Shape())
	}
	h := 1
	if m.perHead {
		h = e.H
	}
	q := e.Q
	if e.rows > 0 {
		q = e.rows
	}
	return graph.BroadcastToDims(out, e.B, h, q, e.K), nil
}

// The side data an attention mask may read, by the names Needs reports them (the
// names of the masklab flags that give them).
const (
	NeedKeyLen   = "klen"     // valid key lengths (Side.KeyLen)
	NeedPrefix   = "prefix"   // prefix-LM prefix lengths (Side.PrefixLen)
	NeedQueryLen = "qlen"     // valid query lengths (Side.QueryLen)
	NeedSegments = "segments" // segment (document) ids (Side.QuerySeg, Side.KeySeg)
)

// Needs lists the side data the mask reads, sorted: some of NeedKeyLen, NeedPrefix,
// NeedQueryLen and NeedSegments. A caller that fills side data the user did not give
// with a default (full lengths, prefix 0, one segment) can tell from it when that
// default would quietly turn the mask into another one ("causal & doc" with one
// segment is plain causal) and ask for the value instead.
//
// It builds the mask once with each piece of side data missing in turn: a build that
// then fails reads it. So it also sees registered masks that read Env fields directly
// rather than through Env.Need. Random atoms are built as when training. A mask that
// does not build even with every piece present reports nil.
func (m Attention) Needs() []string {
	if m.fn == nil {
		return nil
	}
	be, err := backend.New(backend.Choice{Config: backend.Default, Source: "default"})
	if err != nil {
		return nil
	}
	builds := func(drop string) (ok bool) {
		g := graph.NewGraph(be, "mask.Needs")
		defer g.Finalize()
		defer func() {
			if recover() != nil {
				ok = false
			}
		}()
		side := Side{Training: true, Uniform: func(s shapes.Shape) *graph.Node { return graph.Zeros(g, s) }}
		if drop != NeedQueryLen {
			side.QueryLen = graph.Const(g, []int32{2})
		}
		if drop != NeedKeyLen {
			side.KeyLen = graph.Const(g, []int32{2})
		}
		if drop != NeedPrefix {
			side.PrefixLen = graph.Const(g, []int32{1})
		}
		if drop != NeedSegments {
			side.QuerySeg = graph.Const(g, [][]int32{{0, 1}})
		}
		m.fn(NewEnv(g, 1, 1, 2, 2, side))
		return true
	}
	if !builds("") {
		return nil
	}
	var needs []string
	for _, n := range []string{NeedKeyLen, NeedPrefix, NeedQueryLen, NeedSegments} {
		if !builds(n) {
			needs = append(needs, n)
		}
	}
	return needs
}
