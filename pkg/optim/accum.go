package optim

import (
	"slices"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Gradient accumulation (TRL's gradient_accumulation_steps): a batch too large for one
// pass runs as micro-batches, each adding its gradients to an accumulator with
// AccumulateGradients; one update then takes AccumulatedGradients, which also resets the
// accumulators. With each micro-batch's loss divided by the whole batch's normaliser
// (not its own), the sum is the whole batch's gradient.

// AccumScope is the scope of the accumulators: AccumScope/<variable path>, float32 zeros,
// not trainable. Between updates they are zero, so a checkpoint need not hold them.
const AccumScope = "/optimizers/accum"

// IsAccumulator reports whether a variable path is a gradient accumulator's.
func IsAccumulator(path string) bool { return strings.HasPrefix(path, AccumScope+"/") }

// accumVar returns (creating with zeros) the accumulator of v.
func accumVar(store *model.Store, v *model.Variable) *model.Variable {
	path := AccumScope + v.Path()
	if av := store.GetVariable(path); av != nil {
		return av
	}
	zeros := tensors.FromShape(shapes.Make(dtypes.Float32, v.Shape().Dimensions...))
	return store.VariableWithValue(path, zeros).SetTrainable(false)
}

// AccumulateGradients adds grads[i] (float32) to the accumulator of vars[i], in the
// graph of grads.
func AccumulateGradients(store *model.Store, vars []*model.Variable, grads []*graph.Node) {
	for i, v := range vars {
		a := accumVar(store, v)
		g := grads[i].Graph()
		a.SetNodeValue(graph.Add(a.NodeValue(g), graph.ConvertDType(grads[i], dtypes.Float32)))
	}
}

// AccumulatedGradients returns the accumulated gradients of vars in g (for AdamW) and
// sets the accumulators back to zero.
func AccumulatedGradients(store *model.Store, vars []*model.Variable, g *graph.Graph) []*graph.Node {
	grads := make([]*graph.Node, len(vars))
	for i, v := range vars {
		a := accumVar(store, v)
		grads[i] = a.NodeValue(g)
		a.SetNodeValue(graph.ZerosLike(grads[i]))
	}
	return grads
}

// MicroBatch returns micro-batch i of k of a batch given as tensors [B, ...] (int32 or
// float32): rows [i·B/k, (i+1)·B/k) of each.
func MicroBatch(batch []any, i, k int) []any {
	out := make([]any, len(batch))
	for j, x := range batch {
		t := x.(*tensors.Tensor)
		dims := slices.Clone(t.Shape().Dimensions)
		n, B := t.Shape().Size()/dims[0], dims[0]
		lo, hi := i*B/k*n, (i+1)*B/k*n
		dims[0] = (i+1)*B/k - i*B/k
		if t.DType() == dtypes.Float32 {
			out[j] = tensors.FromFlatDataAndDimensions(tensors.MustCopyFlatData[float32](t)[lo:hi], dims...)
		} else {
			out[j] = tensors.FromFlatDataAndDimensions(tensors.MustCopyFlatData[int32](t)[lo:hi], dims...)
		}
	}
	return out
}
