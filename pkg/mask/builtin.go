package mask

import (
	"github.com/gomlx/gomlx/core/graph"
)

// Full allows every (query, key) pair.
//
//	####
//	####
//	####
var Full = NewAttention("full", func(e *Env) *graph.Node {
	return graph.Equal(e.Key, e.Key) // all true, already [1,1,1,K]
}, false, false)

// Causal allows a query to attend to itself and earlier keys (key <= query), aligned
// top-left when Q != K.
//
//	#...
//	##..
//	###.
//	####
var Causal = NewAttention("causal", func(e *Env) *graph.Node {
	return graph.LessOrEqual(e.Key, e.Query)
}, false, false)

// Pad allows only valid keys (key < the example's valid key length).
//
//	###.   (klen 3)
//	###.
//	###.
//	###.
var Pad = NewAttention("pad", func(e *Env) *graph.Node {
	return graph.LessThan(e.Key, e.Need(e.KeyLen, "key lengths (klen)"))
}, false, false)
