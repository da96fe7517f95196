package layers

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
)

// WeightedCrossEntropy is masklab's one training loss: the weighted token cross-entropy
//
//	loss = Σ_i w_i·l_i / max(Σ_i w_i, 1),   l_i = -log softmax(logits_i)[label_i]
//
// over every position i of the batch, with logits [B,T,V], integer labels [B,T] and
// float weights [B,T] from a pkg/mask loss strategy (mask.Loss.PackedWeights: 0 on
// padding). nil weights mean 1 everywhere.
//
// The denominator rule: a batch whose weights sum to at least 1 gets the weighted mean
// of its token losses. One whose weights sum to less than 1 (prompt-only rows under
// plw(0.01), say) is divided by 1, not by its tiny sum, so a few down-weighted tokens are
// not blown up to the size of a full batch's loss; a batch with no weight at all has loss
// 0 and zero gradients. The loss is computed in float32 whatever the logits' dtype.
//
// over, if given (a float32 scalar), is the denominator instead: a micro-batch of a
// gradient-accumulation step is divided by its whole batch's max(Σ w, 1), so that the
// micro-batches' losses and gradients add up to the batch's.
func WeightedCrossEntropy(logits, labels, weights *graph.Node, over ...*graph.Node) *graph.Node {
	l := TokenCrossEntropy(logits, labels)
	g := l.Graph()
	if weights == nil {
		weights = graph.OnesLike(l)
	}
	w := graph.ConvertDType(weights, dtypes.Float32)
	if len(over) > 0 {
		return graph.Div(graph.ReduceAllSum(graph.Mul(l, w)), over[0])
	}
	return graph.Div(graph.ReduceAllSum(graph.Mul(l, w)), graph.Max(graph.ReduceAllSum(w), graph.ScalarOne(g, dtypes.Float32)))
}

// TokenCrossEntropy returns the per-token cross-entropy -log softmax(logits)[label] in
// float32, [B,T] for logits [B,T,V] and integer labels [B,T].
func TokenCrossEntropy(logits, labels *graph.Node) *graph.Node {
	logits = graph.ConvertDType(logits, dtypes.Float32)
	v := logits.Shape().Dim(-1)
	logp := graph.LogSoftmax(logits, -1)
	onehot := graph.OneHot(labels, v, dtypes.Float32)
	return graph.Neg(graph.ReduceSum(graph.Mul(logp, onehot), -1))
}
