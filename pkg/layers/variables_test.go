package layers_test

import (
	"testing"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
)

// A compiled executable sees a variable's current value at every call, also when the
// variable already had a value when the graph was built: the Go backend's preference for
// variables embedded as constants (compute v0.1.14) must not freeze weights that training
// changes between two evaluations.
func TestCompiledGraphSeesUpdatedVariables(t *testing.T) {
	self, err := mask.ParseAttention("causal")
	if err != nil {
		t.Fatal(err)
	}
	cfg := layers.Config{Kind: layers.KindDecoder, Vocab: 16, DModel: 8, Heads: 2, DecLayers: 1, Self: self}
	store := model.NewStore()
	fn := func(scope *model.Scope, ids *graph.Node) *graph.Node {
		logits, err := layers.Forward(scope, cfg, layers.Inputs{Dec: ids})
		if err != nil {
			panic(err)
		}
		return logits
	}
	ids := [][]int32{{1, 5, 6, 1, 7}}
	first, err := model.NewExec(backend.Must(), store, fn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Exec(ids); err != nil { // creates and initialises the variables
		t.Fatal(err)
	}
	// A second executable, built now that every variable has a value.
	ex, err := model.NewExec(backend.Must(), store, fn)
	if err != nil {
		t.Fatal(err)
	}
	before, err := ex.Exec(ids)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for v := range store.IterVariables() {
		if v.Trainable {
			if err := v.SetValue(tensors.FromShape(shapes.Make(v.DType(), v.Shape().Dimensions...))); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no trainable variables")
	}
	after, err := ex.Exec(ids)
	if err != nil {
		t.Fatal(err)
	}
	b := before[0].Value().([][][]float32)[0][0]
	a := after[0].Value().([][][]float32)[0][0]
	for i := range a {
		if a[i] != 0 {
			t.Fatalf("with every weight zeroed the logits must be 0, got %v (before: %v): the executable kept the old weights", a, b)
		}
	}
	if b[0] == 0 && b[1] == 0 {
		t.Fatalf("logits before zeroing are already 0: %v", b)
	}
}
