package layers

import (
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// VariablesAsParameters makes every model variable used by g a graph parameter, fed its
// current value at each call, never a constant baked in at compile time.
//
// The pure-Go backend prefers variables embedded as constants, and GoMLX then embeds the value of every variable that already has one
// into any graph not marked as training (model.Store.IsTraining). masklab's training step
// updates its variables itself (the AdamW moments and the step counter already have
// values when the graph is built), and its evaluation, decoding and attention
// executables are compiled once and called again after more training: constants would
// silently freeze the optimizer state and evaluate stale weights. GoMLX only skips the
// embedding for training graphs, so this sets g's "training" graph parameter. That flag
// changes nothing else in masklab, whose layers take their training mode from
// Inputs.Training, not from the graph.
//
// Run, Forward, Encode and MultiHeadAttention call it; a graph that reads variables
// before any of them (an optimizer, say) must call it first.
func VariablesAsParameters(g *graph.Graph) {
	model.SetGraphParam(g, model.ScopeSeparator+model.GraphParamIsTraining, true)
}
