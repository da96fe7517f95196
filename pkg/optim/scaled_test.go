package optim

import (
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
)

// runAdamW makes variables with the given initial values, applies steps updates with
// fixed gradients and learning rate lr (scaled per variable when scales is not nil),
// and returns the variables' final values.
func runAdamW(t *testing.T, o Config, init, grad [][]float32, lr float64, scales []float64, steps int) [][]float32 {
	t.Helper()
	store := model.NewStore()
	var vars []*model.Variable
	for i, v := range init {
		vr, err := store.CreateVariable(model.JoinPath("/", "p", string(rune('a'+i))), tensors.FromValue(v))
		if err != nil {
			t.Fatal(err)
		}
		vars = append(vars, vr)
	}
	exec, err := model.NewExec(backend.Must(), store, func(scope *model.Scope, lrNode *graph.Node) *graph.Node {
		g := lrNode.Graph()
		var grads []*graph.Node
		for _, gr := range grad {
			grads = append(grads, graph.Const(g, gr))
		}
		return AdamWScaled(scope, o, vars, grads, lrNode, scales)
	})
	if err != nil {
		t.Fatal(err)
	}
	for range steps {
		if _, err := exec.Exec(float32(lr)); err != nil {
			t.Fatal(err)
		}
	}
	var out [][]float32
	for _, v := range vars {
		out = append(out, v.MustValue().Value().([]float32))
	}
	return out
}

// AdamWScaled with scales (1, 0.1) gives each variable the update AdamW gives it alone
// at lr and lr/10 (weight decay included), with one step count.
func TestAdamWScaledIsSeparateLearningRates(t *testing.T) {
	o := Config{Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: 0.1, DecayNormsAndBiases: true}
	init := [][]float32{{1, -2, 3}, {0.5, 0.25}}
	grad := [][]float32{{0.1, -0.3, 0.2}, {-1, 2}}
	both := runAdamW(t, o, init, grad, 1e-2, []float64{1, 0.1}, 3)
	a := runAdamW(t, o, init[:1], grad[:1], 1e-2, nil, 3)
	b := runAdamW(t, o, init[1:], grad[1:], 1e-3, nil, 3)
	for i, want := range [][]float32{a[0], b[0]} {
		for j := range want {
			if d := both[i][j] - want[j]; d > 1e-6 || d < -1e-6 {
				t.Errorf("variable %d [%d]: %g with scales, %g alone", i, j, both[i][j], want[j])
			}
		}
	}
	if both[1][0] == init[1][0] {
		t.Errorf("the scaled variable did not move")
	}
}
