package layers

import (
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/mask"
)

// Masked attention computes in the dtype of its inputs and variables: the mask's bias is
// built in that dtype (float16's lowest finite value where -1e9 is out of its range).
// float64 matches the float64 PyTorch reference (testdata/attention.json) to float64
// rounding; float32, bfloat16 and float16 within their own rounding.
func TestMaskedAttentionDType(t *testing.T) {
	var fx struct {
		Cases []attentionCase `json:"cases"`
	}
	readJSON(t, "attention.json", &fx)
	be := backend.Must()
	convert := func(data []float64, dt dtypes.DType, dims ...int) *tensors.Tensor {
		out, err := model.NewExec(be, model.NewStore(), func(_ *model.Scope, x *graph.Node) *graph.Node {
			return graph.ConvertDType(x, dt)
		})
		if err != nil {
			t.Fatal(err)
		}
		res, err := out.Exec(tensors.FromFlatDataAndDimensions(data, dims...))
		if err != nil {
			t.Fatal(err)
		}
		return res[0]
	}
	for _, tc := range []struct {
		dt  dtypes.DType
		tol float64
	}{{dtypes.Float64, 1e-12}, {dtypes.Float32, refTol}, {dtypes.BFloat16, 0.1}, {dtypes.Float16, 0.02}} {
		for _, c := range fx.Cases {
			t.Run(tc.dt.String()+"/"+c.Name, func(t *testing.T) {
				B, Q, K, D, H := c.BB, c.QQ, c.KK, c.D, c.H
				m, err := mask.ParseAttention(c.Spec)
				if err != nil {
					t.Fatal(err)
				}
				store := model.NewStore()
				for path, p := range c.Params {
					store.VariableWithValue("/"+path, convert(p.Data, tc.dt, p.Shape...))
				}
				exec, err := model.NewExec(be, store, func(scope *model.Scope, xq, xkv *graph.Node) (out, w *graph.Node) {
					g := xq.Graph()
					allowed, err := mask.NewEnv(g, B, H, Q, K, c.side(g)).Build(m)
					if err != nil {
						panic(err)
					}
					kv := xkv
					if c.Self {
						kv = xq
					}
					out, w, err = MultiHeadAttention(scope, xq, kv, kv, H, D/H).WithBoolMask(allowed).DoneWithWeights()
					if err != nil {
						panic(err)
					}
					if out.DType() != tc.dt {
						panic("attention output is " + out.DType().String())
					}
					return graph.ConvertDType(out, dtypes.Float64), graph.ConvertDType(w, dtypes.Float64)
				})
				if err != nil {
					t.Fatal(err)
				}
				res, err := exec.Exec(convert(c.XQ, tc.dt, B, Q, D), convert(c.XKV, tc.dt, B, K, D))
				if err != nil {
					t.Fatalf("%s: %v", tc.dt, err)
				}
				for i, r := range []struct {
					what string
					want []float64
				}{{"output", c.Out}, {"weights", c.Weights}} {
					got := tensors.MustCopyFlatData[float64](res[i])
					worst := 0.0
					for j := range r.want {
						d := math.Abs(got[j] - r.want[j])
						if math.IsNaN(d) || math.IsInf(d, 0) {
							t.Fatalf("%s %s[%d] = %g, reference %g", tc.dt, r.what, j, got[j], r.want[j])
						}
						worst = max(worst, d)
					}
					if worst > tc.tol {
						t.Errorf("%s %s differs from the float64 reference by %g (> %g)", tc.dt, r.what, worst, tc.tol)
					}
				}
			})
		}
	}
}
