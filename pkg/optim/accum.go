package optim

import (
	"fmt"
	"slices"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/internal/ckpt"
)

// Gradient accumulation (TRL's gradient_accumulation_steps): a batch too large for one
// pass runs as micro-batches, each adding its gradients to an accumulator with
// AccumulateGradients; one update then takes AccumulatedGradients, which also resets the
// accumulators. With each micro-batch's loss divided by the whole batch's normaliser
// (not its own), the sum is the whole batch's gradient.

// AccumScope is the scope of the accumulators: AccumScope/<variable path>, float32 zeros,
// not trainable. Between updates they are zero: a run's checkpoint leaves them out
// (ckpt.TransientPrefix).
const AccumScope = ckpt.TransientPrefix + "gradients"

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

// Accumulate runs one training step as k micro-batches of batch (the inputs of micro,
// tensors [B, ...]; MicroBatch): micro takes each with the whole batch's normaliser
// max(Σ weights, 1) as its last input, adds its gradients to the accumulators
// (AccumulateGradients) and returns its share of the loss; apply then takes the learning
// rate, updates from the accumulators (AccumulatedGradients) and returns the gradient
// norm. It returns the batch's loss and the norm, as the one-pass step's outputs.
func Accumulate(micro, apply *model.Exec, k int, batch []any, weights []float32, lr float32) (out []*tensors.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	var wsum, loss float32
	for _, w := range weights {
		wsum += w
	}
	for i := range k {
		o, err := micro.Call(append(MicroBatch(batch, i, k), tensors.FromScalar(max(wsum, 1)))...)
		if err != nil {
			return nil, fmt.Errorf("micro-batch %d of %d: %w", i+1, k, err)
		}
		loss += tensors.MustCopyFlatData[float32](o[0])[0]
	}
	o, err := apply.Call(tensors.FromScalar(lr))
	if err != nil {
		return nil, err
	}
	return []*tensors.Tensor{tensors.FromScalar(loss), o[0]}, nil
}
