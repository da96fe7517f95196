package mask

import (
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
)

// The built-in attention masks. Pictures are for Q = K = 4 (or the sizes shown); '#'
// means the query (row) may attend to the key (column).

// Full allows every (query, key) pair.
//
//	####
//	####
//	####
//	####
var Full = withIntervals(ivFull, 0, NewAttention("full", func(e *Env) *graph.Node {
	return graph.Equal(e.Key, e.Key) // all true, already [1,1,1,K]
}, false, false))

// Causal allows a query to attend to itself and earlier keys (key <= query), aligned
// top-left when Q != K.
//
//	#...
//	##..
//	###.
//	####
var Causal = withIntervals(ivCausal, 0, NewAttention("causal", func(e *Env) *graph.Node {
	return graph.LessOrEqual(e.Key, e.Query)
}, false, false))

// CausalBR is causal aligned bottom-right (key <= query + K - Q): with K > Q the last
// query sees every key, as when Q new queries follow K - Q cached keys.
//
//	###...   (Q 4, K 6)
//	####..
//	#####.
//	######
var CausalBR = withIntervals(ivCausalBR, 0, NewAttention("causal_br", func(e *Env) *graph.Node {
	return graph.LessOrEqual(e.Key, graph.Add(e.Query, graph.ConstAs(e.Query, e.K-e.Q)))
}, false, false))

// Pad allows only valid keys (key < the example's valid key length).
//
//	###.   (klen 3)
//	###.
//	###.
//	###.
var Pad = withIntervals(ivPad, 0, NewAttention("pad", func(e *Env) *graph.Node {
	return graph.LessThan(e.Key, e.Need(e.KeyLen, "key lengths (klen)"))
}, false, false))

// QPad allows only valid queries (query < the example's valid query length): padding
// query rows attend to nothing.
//
//	####   (qlen 3)
//	####
//	####
//	....
var QPad = withIntervals(ivQPad, 0, NewAttention("qpad", func(e *Env) *graph.Node {
	return graph.LessThan(e.Query, e.Need(e.QueryLen, "query lengths (qlen)"))
}, false, false))

// Prefix is the prefix-LM mask: every query sees the whole prefix (key < P) and the
// keys up to itself (key <= query).
//
//	##..   (prefix 2)
//	##..
//	###.
//	####
var Prefix = withIntervals(ivPrefix, 0, NewAttention("prefix", func(e *Env) *graph.Node {
	return graph.LogicalOr(
		graph.LessThan(e.Key, e.Need(e.PrefixLen, "prefix lengths (prefix)")),
		graph.LessOrEqual(e.Key, e.Query))
}, false, false))

// Doc allows a query to attend only to keys of the same segment (document), for packed
// sequences; "causal & doc" is block-diagonal causal.
//
//	##..   (segments 0,0,1,1)
//	##..
//	..##
//	..##
var Doc = withIntervals(ivDoc, 0, NewAttention("doc", func(e *Env) *graph.Node {
	return graph.Equal(e.Need(e.QuerySeg, "query segment ids (segments)"), e.Need(e.KeySeg, "key segment ids (segments)"))
}, false, false))

// Window allows keys within w positions of the query (|query - key| <= w); with causal
// it is a sliding window over the last w keys and the query itself.
//
//	##..   (w 1)
//	###.
//	.###
//	..##
func Window(w int) Attention {
	return withIntervals(ivWindow, w, NewAttention(fmt.Sprintf("window(%d)", w), func(e *Env) *graph.Node {
		return graph.LessOrEqual(graph.Abs(graph.Sub(e.Query, e.Key)), graph.ConstAs(e.Query, w))
	}, false, false))
}

// Sink allows every query the first n keys (key < n), whatever the padding and the
// query: the attention sinks of StreamingLLM (Xiao et al., ICLR 2024, "Efficient
// Streaming Language Models with Attention Sinks"; attention-gym's sink_attn), where
// "causal & (window(w) | sink(4))" keeps the first 4 keys and a sliding window.
//
//	##..   (n 2)
//	##..
//	##..
//	##..
//
//	#.....   (causal & (window(1) | sink(1)), Q 6)
//	##....
//	###...
//	#.##..
//	#..##.
//	#...##
func Sink(n int) Attention {
	return withIntervals(ivSink, n, NewAttention(fmt.Sprintf("sink(%d)", n), func(e *Env) *graph.Node {
		return graph.LessThan(e.Key, graph.ConstAs(e.Key, n))
	}, false, false))
}

// Chunk allows a query to attend to the keys of its own block of n positions
// (floor(query/n) == floor(key/n)); with causal it is chunked causal attention.
//
//	##..   (n 2)
//	##..
//	..##
//	..##
func Chunk(n int) Attention {
	return withIntervals(ivChunk, n, NewAttention(fmt.Sprintf("chunk(%d)", n), func(e *Env) *graph.Node {
		nn := graph.ConstAs(e.Query, n)
		return graph.Equal(graph.Div(e.Query, nn), graph.Div(e.Key, nn))
	}, false, false))
}

// Dilated allows keys at a distance that is a multiple of d ((query - key) mod d == 0);
// with causal & window it is a dilated sliding window.
//
//	#.#.   (d 2)
//	.#.#
//	#.#.
//	.#.#
func Dilated(d int) Attention {
	return NewAttention(fmt.Sprintf("dilated(%d)", d), func(e *Env) *graph.Node {
		diff := graph.Abs(graph.Sub(e.Query, e.Key))
		return graph.Equal(graph.Rem(diff, graph.ConstAs(diff, d)), graph.ConstAs(diff, 0))
	}, false, false)
}

// Band is a monotonic-alignment band for cross-attention: key k is allowed for query q
// iff |k - floor(q * Kv / Qv)| <= w, with Qv, Kv the valid lengths (the query's
// proportional position on the keys, plus or minus w).
//
//	##....   (w 1, Q 4, K 6: centers 0, 1, 3, 4)
//	###...
//	..###.
//	...###
func Band(w int) Attention {
	return withIntervals(ivBand, w, NewAttention(fmt.Sprintf("band(%d)", w), func(e *Env) *graph.Node {
		qv := graph.Max(e.Need(e.QueryLen, "query lengths (qlen)"), graph.ConstAs(e.Query, 1))
		kv := e.Need(e.KeyLen, "key lengths (klen)")
		center := graph.Div(graph.Mul(e.Query, kv), qv) // non-negative: integer division floors
		return graph.LessOrEqual(graph.Abs(graph.Sub(e.Key, center)), graph.ConstAs(e.Query, w))
	}, false, false))
}

// Random masks each (query, key) entry independently with probability p while training
// (Env.Training), drawing from the caller's random source (Env.Uniform) so it is
// reproducible from the seed and resampled every step; at evaluation it allows
// everything, like dropout.
//
//	#.##   (p 0.3, one draw)
//	##.#
//	####
//	.###
func Random(p float64) Attention {
	return NewAttention("random("+Arg{Num: p, IsNum: true}.String()+")", func(e *Env) *graph.Node {
		if !e.Training || p <= 0 {
			return Full.fn(e)
		}
		return graph.GreaterOrEqual(e.Uniform(e.B, 1, e.Q, e.K), graph.Const(e.G, float32(p)))
	}, false, true)
}

// KeyDrop masks each key for all queries with probability p while training (one draw
// per example and key), and allows everything at evaluation; see Random.
//
//	#.##   (p 0.3, one draw: key 1 dropped)
//	#.##
//	#.##
//	#.##
func KeyDrop(p float64) Attention {
	return NewAttention("keydrop("+Arg{Num: p, IsNum: true}.String()+")", func(e *Env) *graph.Node {
		if !e.Training || p <= 0 {
			return Full.fn(e)
		}
		return graph.GreaterOrEqual(e.Uniform(e.B, 1, 1, e.K), graph.Const(e.G, float32(p)))
	}, false, true)
}

func init() {
	mustRegister(RegisterAttention("full", "", "every query attends to every key", noArgs(Full)))
	mustRegister(RegisterAttention("causal", "", "key <= query (top-left aligned when Q != K)", noArgs(Causal)))
	mustRegister(RegisterAttention("causal_br", "", "key <= query + K - Q (bottom-right aligned)", noArgs(CausalBR)))
	mustRegister(RegisterAttention("pad", "", "key < valid key length", noArgs(Pad)))
	mustRegister(RegisterAttention("qpad", "", "query < valid query length", noArgs(QPad)))
	mustRegister(RegisterAttention("prefix", "", "prefix-LM: key < prefix length, or key <= query", noArgs(Prefix)))
	mustRegister(RegisterAttention("doc", "", "same segment (document) id", noArgs(Doc)))
	mustRegister(RegisterAttention("window", "(w)", "|query - key| <= w, w >= 0", intArg("w", 0, Window)))
	mustRegister(RegisterAttention("sink", "(n)", "attention sinks: key < n for every query, whatever the padding, n >= 0", intArg("n", 0, Sink)))
	mustRegister(RegisterAttention("chunk", "(n)", "same block of n positions: floor(query/n) == floor(key/n), n >= 1", intArg("n", 1, Chunk)))
	mustRegister(RegisterAttention("dilated", "(d)", "(query - key) mod d == 0, d >= 1", intArg("d", 1, Dilated)))
	mustRegister(RegisterAttention("band", "(w)", "cross-attention band: |key - floor(query * Kv / Qv)| <= w on the valid lengths", intArg("w", 0, Band)))
	mustRegister(RegisterAttention("random", "(p)", "each (query, key) masked with probability p; training only, resampled every step", probArg("p", Random)))
	mustRegister(RegisterAttention("keydrop", "(p)", "each key masked for all queries with probability p; training only, resampled every step", probArg("p", KeyDrop)))
}
