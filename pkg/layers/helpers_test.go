package layers

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// param is one fixture variable: shape and row-major data.
type param struct {
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

func readJSON(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func f32(xs []float64) []float32 {
	out := make([]float32, len(xs))
	for i, x := range xs {
		out[i] = float32(x)
	}
	return out
}

// loadParams creates the fixture's variables (paths relative to prefix) in store, so
// that the model built afterwards uses them instead of initialising its own.
func loadParams(t testing.TB, store *model.Store, prefix string, params map[string]param) {
	t.Helper()
	for path, p := range params {
		store.VariableWithValue(prefix+"/"+path, tensors.FromFlatDataAndDimensions(f32(p.Data), p.Shape...))
	}
}

// checkOnlyParams fails if the model created variables that the fixture does not have
// (they would be randomly initialised: a naming mismatch with the reference).
func checkOnlyParams(t testing.TB, store *model.Store, prefix string, params map[string]param) {
	t.Helper()
	for v := range store.IterVariables() {
		rel := v.Path()[len(prefix)+1:]
		if _, ok := params[rel]; !ok && v.Name() != "#rngState" {
			t.Errorf("model created variable %q that the reference does not have", v.Path())
		}
	}
	if n := store.NumVariables(); n < len(params) {
		t.Errorf("store has %d variables, reference has %d", n, len(params))
	}
}

func flat32(t testing.TB, x *tensors.Tensor) []float32 {
	t.Helper()
	return tensors.MustCopyFlatData[float32](x)
}

func maxAbsDiff(got []float32, want []float64) float64 {
	m := 0.0
	for i := range want {
		d := math.Abs(float64(got[i]) - want[i])
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		m = max(m, d)
	}
	return m
}

func tensorOf(data []float64, dims ...int) *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(f32(data), dims...)
}
