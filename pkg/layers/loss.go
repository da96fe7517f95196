package layers

import (
	"github.com/gomlx/gomlx/core/graph"
)

// WeightedCrossEntropy returns the weighted mean token cross-entropy
// sum_i(w_i * l_i) / sum_i(w_i), where l_i = -log softmax(logits_i)[label_i].
// logits are [B,T,V], labels integer [B,T] and weights float [B,T] (from a pkg/mask
// loss strategy: zero on padding). nil weights mean 1 everywhere. When every weight is
// zero the loss is 0 (and so are its gradients).
func WeightedCrossEntropy(logits, labels, weights *graph.Node) *graph.Node {
	l := TokenCrossEntropy(logits, labels)
	g := logits.Graph()
	if weights == nil {
		return graph.ReduceAllMean(l)
	}
	w := graph.ConvertDType(weights, l.DType())
	total := graph.ReduceAllSum(w)
	safe := graph.Where(graph.GreaterThan(total, graph.ScalarZero(g, l.DType())), total, graph.OnesLike(total))
	return graph.Div(graph.ReduceAllSum(graph.Mul(w, l)), safe)
}

// TokenCrossEntropy returns the per-token cross-entropy -log softmax(logits)[label],
// [B,T] for logits [B,T,V] and integer labels [B,T].
func TokenCrossEntropy(logits, labels *graph.Node) *graph.Node {
	v := logits.Shape().Dim(-1)
	logp := graph.LogSoftmax(logits, -1)
	onehot := graph.OneHot(labels, v, logits.DType())
	return graph.Neg(graph.ReduceSum(graph.Mul(logp, onehot), -1))
}
