package mask_test

import (
	"fmt"

	"github.com/masklab/masklab/pkg/mask"
)

func ExampleParseAttention() {
	m, err := mask.ParseAttention("causal&doc")
	if err != nil {
		panic(err)
	}
	g, err := m.Grid(mask.Example{Q: 6, Segments: []int{0, 0, 0, 1, 1, 2}})
	if err != nil {
		panic(err)
	}
	fmt.Println(m)
	fmt.Print(mask.ASCII(g[0]))
	// Output:
	// causal & doc
	// #.....
	// ##....
	// ###...
	// ...#..
	// ...##.
	// .....#
}

func ExampleParseAttention_error() {
	_, err := mask.ParseAttention("causal & windw(2)")
	fmt.Println(err)
	// Output:
	// self spec "causal & windw(2)": column 10: unknown self name "windw" (did you mean "window"?); known self names: band, causal, causal_br, chunk, dilated, doc, full, keydrop, pad, prefix, qpad, random, sink, window
}

func ExampleCorruption_Apply() {
	c, _ := mask.ParseCorruption("partial(2)")
	// Two examples padded to 5: BOS=1, tokens 10.., PAD=0; valid lengths 5 and 3.
	batch := mask.Batch{IDs: []int32{1, 10, 11, 12, 13, 1, 20, 21, 0, 0}, B: 2, T: 5, Lens: []int{5, 3}}
	out, _, _ := c.Apply(batch, &mask.Corpus{MaskID: 4, UnkID: 3})
	fmt.Println(out)
	// Output:
	// [1 4 11 4 13 1 4 21 0 0]
}

func ExampleLoss_Weights() {
	l, _ := mask.ParseLoss("plw(0.1)")
	// 6 target positions, 4 real tokens, the first 2 of them the prompt.
	fmt.Println(l.Weights(6, 4, 2))
	// Output:
	// [0.1 0.1 1 1 0 0]
}

// The per-row key intervals of "causal & doc" for two packed documents, and the
// tiles of 2 queries by 2 keys that block-sparse attention computes.
func ExampleAttention_RowIntervals() {
	m, _ := mask.ParseAttention("causal & doc")
	r, err := m.RowIntervals(mask.HostSide{B: 1, Q: 6, K: 6, QuerySeg: []int32{0, 0, 0, 1, 1, 1}})
	if err != nil {
		panic(err)
	}
	for q := range r.Q {
		fmt.Printf("query %d: keys [%d, %d)\n", q, r.Start[q], r.End[q])
	}
	p, _ := r.Blocks(2, 2)
	fmt.Print(p.Grid(0))
	fmt.Printf("%d of the %d tiles hold an allowed pair\n", p.Needed, p.Dense())
	// Output:
	// query 0: keys [0, 1)
	// query 1: keys [0, 2)
	// query 2: keys [0, 3)
	// query 3: keys [3, 4)
	// query 4: keys [3, 5)
	// query 5: keys [3, 6)
	// #..
	// ##.
	// .##
	// 5 of the 9 tiles hold an allowed pair
}
