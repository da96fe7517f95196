package optim

import (
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
)

// Accumulate over k micro-batches, each loss divided by the whole batch's normaliser,
// updates a weighted least-squares model as one pass over the batch does (k = 1, 2, 4),
// with rows of unequal weights; the accumulators are zero after each update.
func TestAccumulateEqualsOnePass(t *testing.T) {
	const B = 8
	xs := make([]float32, B*3)
	ys := make([]float32, B)
	ws := []float32{1, 0, 2, 1, 0.5, 0, 0, 3} // halves and quarters weigh differently
	for i := range xs {
		xs[i] = float32(math.Sin(float64(i)))
	}
	for i := range ys {
		ys[i] = float32(i%3) - 1
	}
	o := Config{Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: 0.01, ClipNorm: 0.5}
	train := func(k int) ([]float32, []float32) {
		store := model.NewStore()
		w, err := store.CreateVariable("/model/w", tensors.FromValue([]float32{0.1, -0.2, 0.3}))
		if err != nil {
			t.Fatal(err)
		}
		// loss = Σ_b w_b (x_b·p - y_b)² / over
		lossOf := func(x, y, wt, over *graph.Node) *graph.Node {
			model.SetGraphParam(x.Graph(), model.ScopeSeparator+model.GraphParamIsTraining, true)
			p := graph.ReduceSum(graph.Mul(x, graph.InsertAxes(w.NodeValue(x.Graph()), 0)), -1)
			return graph.Div(graph.ReduceAllSum(graph.Mul(wt, graph.Square(graph.Sub(p, y)))), over)
		}
		micro, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, x, y, wt, over *graph.Node) *graph.Node {
			loss := lossOf(x, y, wt, over)
			AccumulateGradients(store, []*model.Variable{w}, graph.Gradient(loss, w.NodeValue(x.Graph())))
			return loss
		})
		if err != nil {
			t.Fatal(err)
		}
		apply, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, lr *graph.Node) *graph.Node {
			model.SetGraphParam(lr.Graph(), model.ScopeSeparator+model.GraphParamIsTraining, true)
			return AdamW(scope, o, []*model.Variable{w}, AccumulatedGradients(store, []*model.Variable{w}, lr.Graph()), lr)
		})
		if err != nil {
			t.Fatal(err)
		}
		var losses []float32
		for range 3 {
			out, err := Accumulate(micro, apply, k, []any{tensors.FromFlatDataAndDimensions(xs, B, 3),
				tensors.FromFlatDataAndDimensions(ys, B), tensors.FromFlatDataAndDimensions(ws, B)}, ws, 0.05)
			if err != nil {
				t.Fatal(err)
			}
			losses = append(losses, tensors.MustCopyFlatData[float32](out[0])[0], tensors.MustCopyFlatData[float32](out[1])[0])
		}
		if a := store.GetVariable(AccumScope + "/model/w"); a == nil || a.MustValue().DType() != dtypes.Float32 {
			t.Fatalf("no float32 accumulator at %s", AccumScope+"/model/w")
		} else if v := tensors.MustCopyFlatData[float32](a.MustValue()); v[0] != 0 || v[1] != 0 || v[2] != 0 {
			t.Errorf("accumulator after the update: %v, want zeros", v)
		}
		return tensors.MustCopyFlatData[float32](w.MustValue()), losses
	}
	want, wantLoss := train(1)
	for _, k := range []int{2, 4} {
		got, loss := train(k)
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-6 {
				t.Errorf("k=%d: weights %v, one pass %v", k, got, want)
				break
			}
		}
		for i := range wantLoss {
			if math.Abs(float64(loss[i]-wantLoss[i])) > 1e-6 {
				t.Errorf("k=%d: losses and norms %v, one pass %v", k, loss, wantLoss)
				break
			}
		}
	}
	// MicroBatch splits rows evenly.
	mb := MicroBatch([]any{tensors.FromFlatDataAndDimensions([]int32{0, 1, 2, 3, 4, 5}, 3, 2)}, 1, 3)
	if got := tensors.MustCopyFlatData[int32](mb[0].(*tensors.Tensor)); len(got) != 2 || got[0] != 2 || got[1] != 3 {
		t.Errorf("micro-batch 1 of 3: %v", got)
	}
}
