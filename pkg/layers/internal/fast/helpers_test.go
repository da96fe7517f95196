package fast

import (
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
)

func flat32(t testing.TB, x *tensors.Tensor) []float32 {
	t.Helper()
	return tensors.MustCopyFlatData[float32](x)
}

func tensorOf(data []float64, dims ...int) *tensors.Tensor {
	f := make([]float32, len(data))
	for i, x := range data {
		f[i] = float32(x)
	}
	return tensors.FromFlatDataAndDimensions(f, dims...)
}
