package layers

import (
	"math"

	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/nn"
	"github.com/masklab/masklab/pkg/layers/internal/fast"
)

// uniformInit returns an initializer drawing U(-bound, bound) from the store's RNG
// (PyTorch's nn.Linear default is bound = 1/sqrt(fan_in), for weights and biases).
func uniformInit(scope *model.Scope, bound float64) model.VariableInitializer {
	store := scope.Store()
	return func(g *graph.Graph, shape shapes.Shape) *graph.Node {
		u := store.RandomUniform(g, shape)
		return graph.MulScalar(graph.AddScalar(graph.MulScalar(u, 2), -1), bound)
	}
}

// normalInit returns an initializer drawing N(0, std²) (PyTorch's nn.Embedding uses std 1).
func normalInit(scope *model.Scope, std float64) model.VariableInitializer {
	store := scope.Store()
	return func(g *graph.Graph, shape shapes.Shape) *graph.Node {
		return graph.MulScalar(store.RandomNormal(g, shape), std)
	}
}

func constInit(v float64) model.VariableInitializer {
	return func(g *graph.Graph, shape shapes.Shape) *graph.Node {
		return graph.AddScalar(graph.Zeros(g, shape), v)
	}
}

// dense is a PyTorch-initialised linear layer with GoMLX's variable names
// (scope/dense/weights [in, out], scope/dense/biases [out]).
func dense(scope *model.Scope, x *graph.Node, out int, useBias bool) *graph.Node {
	scope = scope.In("dense")
	g := x.Graph()
	in := x.Shape().Dim(-1)
	init := uniformInit(scope, 1/math.Sqrt(float64(in)))
	w := scope.WithInitializer(init).VariableWithShape("weights", shapes.Make(x.DType(), in, out)).NodeValue(g)
	var b *graph.Node
	if useBias {
		b = scope.WithInitializer(init).VariableWithShape("biases", shapes.Make(x.DType(), out)).NodeValue(g)
	}
	y := fast.Linear(x, w, b)
	if d := loraDelta(scope, x, out); d != nil {
		y = graph.Add(y, d)
	}
	return y
}

// layerNorm normalises the last axis with GoMLX's variable names
// (scope/layer_normalization/gain, offset).
func layerNorm(scope *model.Scope, x *graph.Node, eps float64) *graph.Node {
	scope = scope.In("layer_normalization")
	g := x.Graph()
	d := x.Shape().Dim(-1)
	gain := scope.WithInitializer(constInit(1)).VariableWithShape("gain", shapes.Make(x.DType(), d)).NodeValue(g)
	offset := scope.WithInitializer(constInit(0)).VariableWithShape("offset", shapes.Make(x.DType(), d)).NodeValue(g)
	return nn.LayerNorm(x, []int{-1}, eps, gain, offset, nil)
}

// embedding looks up ids [B,T] in scope/embeddings [vocab, d] (N(0,1) initialised) and
// returns the vectors [B,T,d] and the table.
func embedding(scope *model.Scope, ids *graph.Node, vocab, d int) (vectors, table *graph.Node) {
	g := ids.Graph()
	table = scope.WithInitializer(normalInit(scope, 1)).
		VariableWithShape("embeddings", shapes.Make(floatDType, vocab, d)).NodeValue(g)
	return graph.Gather(table, graph.InsertAxes(ids, -1)), table
}

// dropout zeroes entries with probability rate when training and rescales the rest.
func dropout(scope *model.Scope, x *graph.Node, rate float64, training bool) *graph.Node {
	if !training || rate <= 0 {
		return x
	}
	g := x.Graph()
	u := scope.RandomUniform(g, x.Shape())
	keep := graph.GreaterOrEqual(u, graph.Scalar(g, x.DType(), rate))
	return graph.Where(keep, graph.MulScalar(x, 1/(1-rate)), graph.ZerosLike(x))
}
