package layers_test

import (
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
)

// Sparse-aware attention on one row of 256 positions packed with documents of 40: the
// host plans the tiles, the graph takes the plan's tensors, and the layer computes only
// the tiles the mask allows. PlanSparse keeps plain causal this short on the dense path.
func ExamplePlanSparse() {
	const L, D = 256, 8
	seg := make([]int32, L)
	for i := range seg {
		seg[i] = int32(i / 40)
	}
	side := mask.HostSide{B: 1, Q: L, K: L, QuerySeg: seg}
	for _, spec := range []string{"causal", "causal & doc", "causal & random(0.1)"} {
		m, _ := mask.ParseAttention(spec)
		plan, dense, err := layers.PlanSparse(m, side, layers.SparseOptions{})
		switch {
		case err != nil:
			panic(err)
		case plan == nil:
			fmt.Printf("%-22s dense: %s\n", spec, dense)
		default:
			fmt.Printf("%-22s sparse: %d of %d tiles\n", spec, plan.Blocks.Computed, plan.Blocks.Dense())
		}
	}

	m, _ := mask.ParseAttention("causal & doc")
	plan, _, _ := layers.PlanSparse(m, side, layers.SparseOptions{})
	exec, err := model.NewExec(backend.Must(), model.NewStore(), func(scope *model.Scope, in []*graph.Node) *graph.Node {
		sm, err := layers.PrepareSparse(in[1], in[2], in[3], in[4], L, plan.Blocks.BQ, plan.Blocks.BK)
		if err != nil {
			panic(err)
		}
		out, err := layers.MultiHeadAttention(scope, in[0], in[0], in[0], 2, 4).WithSparse(sm).Done()
		if err != nil {
			panic(err)
		}
		return out
	})
	if err != nil {
		panic(err)
	}
	x := make([][][]float32, 1)
	for range L {
		x[0] = append(x[0], make([]float32, D))
	}
	tileQ, tileK, start, end := plan.Tensors()
	out, err := exec.Exec(x, tileQ, tileK, start, end)
	if err != nil {
		panic(err)
	}
	fmt.Println("output", out[0].Shape())
	// Output:
	// causal                 dense: mask "causal" skips 38% of the 64x64 tiles on this batch, under 40%
	// causal & doc           sparse: 7 of 16 tiles
	// causal & random(0.1)   dense: mask "causal & random(0.1)": not a union of intervals per query row (user functions, random atoms and dilated keep the dense path)
	// output (Float32)[1, 256, 8]
}
