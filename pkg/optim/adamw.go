// Package optim is masklab's optimizer in graph ops: AdamW with decoupled weight decay
// (not on biases and norms), global-norm clipping, a warmup + cosine schedule, and
// gradient accumulation over micro-batches (accum.go).
package optim

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
)

// masklab's own AdamW, written in graph ops, because GoMLX's Adam decays every variable
// (biases and norms included) and has no global-norm gradient clipping.
//
// One update, for each trainable variable p with gradient g, at step t (1-based):
//
//	g     = g * min(1, clip / (||G|| + 1e-6))   (||G||: the norm of all gradients together)
//	p     = p - lr * wd * p                     (decoupled decay; skipped for rank < 2
//	                                             variables, i.e. biases and norms, unless asked)
//	m     = b1 m + (1 - b1) g
//	v     = b2 v + (1 - b2) g²
//	p     = p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
//
// The moments live in the store under "optimizers/adamw" and the step in GoMLX's
// "global_step" variable, so a checkpoint holds the whole optimizer state.

// Scope is where the moments live in the variable store.
const Scope = "optimizers/adamw"

// LearningRate is the schedule: linear warmup from 0 to lr over warmup steps, then
// constant or cosine decay to min_lr at the last step. step is 1-based.
func LearningRate(o Config, step, totalSteps int) float64 {
	if o.WarmupSteps > 0 && step <= o.WarmupSteps {
		return o.LR * float64(step) / float64(o.WarmupSteps)
	}
	if o.Schedule == "constant" {
		return o.LR
	}
	span := totalSteps - o.WarmupSteps
	if span <= 0 {
		return o.LR
	}
	frac := float64(step-o.WarmupSteps) / float64(span)
	frac = math.Min(1, math.Max(0, frac))
	return o.MinLR + 0.5*(o.LR-o.MinLR)*(1+math.Cos(math.Pi*frac))
}

// AdamW builds one AdamW update of vars (with gradients grads) and returns the global
// gradient norm before clipping. lr is a scalar float32 node.
func AdamW(scope *model.Scope, o Config, vars []*model.Variable, grads []*graph.Node, lr *graph.Node) *graph.Node {
	return AdamWScaled(scope, o, vars, grads, lr, nil)
}

// AdamWScaled is AdamW with a learning-rate multiplier per variable (scales[i] for
// vars[i]; nil means 1 for all): separate learning rates for parameter groups, such as
// a pretrained encoder and a new decoder, in one update (one step count, one clipping
// norm over all gradients). The decoupled weight decay scales with the variable's
// learning rate, as in PyTorch's parameter groups. To freeze variables, leave them out
// of vars (their gradients then do not count in the clipping norm either).
func AdamWScaled(scope *model.Scope, o Config, vars []*model.Variable, grads []*graph.Node, lr *graph.Node, scales []float64) *graph.Node {
	if scales != nil && len(scales) != len(vars) {
		panic(fmt.Sprintf("optim: %d learning-rate scales for %d variables", len(scales), len(vars)))
	}
	g := lr.Graph()
	store := scope.Store()
	// Global norm over all gradients.
	var sumSq *graph.Node
	for _, gr := range grads {
		s := graph.ReduceAllSum(graph.Square(graph.ConvertDType(gr, dtypes.Float32)))
		if sumSq == nil {
			sumSq = s
		} else {
			sumSq = graph.Add(sumSq, s)
		}
	}
	norm := graph.Sqrt(sumSq)
	scale := graph.ScalarOne(g, dtypes.Float32)
	if o.ClipNorm > 0 {
		clip := graph.Scalar(g, dtypes.Float32, o.ClipNorm)
		scale = graph.Min(scale, graph.Div(clip, graph.AddScalar(norm, 1e-6)))
	}

	stepVar := optimizer.GetGlobalStepVar(store)
	step := graph.AddScalar(stepVar.NodeValue(g), 1)
	stepVar.SetNodeValue(step)
	t := graph.ConvertDType(step, dtypes.Float32)
	b1 := graph.Scalar(g, dtypes.Float32, o.Beta1)
	b2 := graph.Scalar(g, dtypes.Float32, o.Beta2)
	one := graph.ScalarOne(g, dtypes.Float32)
	corr1 := graph.Sub(one, graph.Pow(b1, t))
	corr2 := graph.Sub(one, graph.Pow(b2, t))

	for i, v := range vars {
		p := v.NodeValue(g)
		gr := graph.Mul(graph.ConvertDType(grads[i], p.DType()), graph.ConvertDType(scale, p.DType()))
		lrp := graph.ConvertDType(lr, p.DType())
		if scales != nil && scales[i] != 1 {
			lrp = graph.MulScalar(lrp, scales[i])
		}
		if o.WeightDecay > 0 && (o.DecayNormsAndBiases || p.Rank() >= 2) {
			p = graph.Sub(p, graph.MulScalar(graph.Mul(lrp, p), o.WeightDecay))
		}
		mVar := momentVar(store, "m", v)
		vVar := momentVar(store, "v", v)
		m := graph.Add(graph.MulScalar(mVar.NodeValue(g), o.Beta1), graph.MulScalar(gr, 1-o.Beta1))
		vv := graph.Add(graph.MulScalar(vVar.NodeValue(g), o.Beta2), graph.MulScalar(graph.Square(gr), 1-o.Beta2))
		mVar.SetNodeValue(m)
		vVar.SetNodeValue(vv)
		mHat := graph.Div(m, graph.ConvertDType(corr1, p.DType()))
		vHat := graph.Div(vv, graph.ConvertDType(corr2, p.DType()))
		upd := graph.Div(mHat, graph.AddScalar(graph.Sqrt(vHat), o.Epsilon))
		v.SetNodeValue(graph.Sub(p, graph.Mul(lrp, upd)))
	}
	return norm
}

// momentVar returns (creating with zeros) the moment variable of v.
func momentVar(store *model.Store, which string, v *model.Variable) *model.Variable {
	path := model.JoinPath("/", Scope, which, v.Path())
	if mv := store.GetVariable(path); mv != nil {
		return mv
	}
	zeros := tensors.FromShape(shapes.Make(v.DType(), v.Shape().Dimensions...))
	return store.VariableWithValue(path, zeros).SetTrainable(false)
}

// Config configures AdamW, its schedule and clipping: the optim section of a run config.
type Config struct {
	LR                  float64 `yaml:"lr"`
	MinLR               float64 `yaml:"min_lr"`
	Schedule            string  `yaml:"schedule"` // "cosine" or "constant"
	WarmupSteps         int     `yaml:"warmup_steps"`
	WeightDecay         float64 `yaml:"weight_decay"`
	DecayNormsAndBiases bool    `yaml:"decay_norms_and_biases"`
	Beta1               float64 `yaml:"beta1"`
	Beta2               float64 `yaml:"beta2"`
	Epsilon             float64 `yaml:"epsilon"`
	ClipNorm            float64 `yaml:"clip_norm"` // 0: no clipping
	// EncoderLRScale multiplies the learning rate of a BERT kind's pretrained part
	// (layers.PretrainedScales); 0 means 1 and is left out of run ids.
	EncoderLRScale float64 `yaml:"encoder_lr_scale,omitempty"`
}
