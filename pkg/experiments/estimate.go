package experiments

import (
	"fmt"

	"github.com/masklab/masklab/internal/sysmem"
	"github.com/masklab/masklab/internal/textutil"
	"github.com/masklab/masklab/pkg/layers"
)

// Estimate is what a run is expected to need, from its config alone.
type Estimate struct {
	Params    int64   // trainable parameters
	Bytes     int64   // peak memory of a training step
	StepFLOPs float64 // arithmetic of one training step
	Steps     int
}

// Bytes of a training step beyond the model's own tensors: the Go runtime, the task's
// data and vocabularies, compiled graphs (measured: 60-150 MB for small runs here).
const baseBytes = 128 << 20

// assumedFLOPS and stepOverhead make Seconds' rough guide: a training step costs its
// arithmetic at 15 GFLOP/s (small matmuls on one core of this project's 2-core machines
// reach 15-30, docs/performance.md) plus 8 ms of fixed cost (graph execution, the batch,
// evaluation amortised), fitted to the quickstart's and notebook 04's measured runs.
const (
	assumedFLOPS = 15e9
	stepOverhead = 0.008
)

// Seconds is a rough training time on one core.
func (e Estimate) Seconds() float64 {
	return float64(e.Steps) * (e.StepFLOPs/assumedFLOPS + stepOverhead)
}

// Duration writes seconds as a rough duration ("40 s", "12 min", "2.5 h").
func (Estimate) Duration(seconds float64) string { return textutil.Duration(seconds) }

// String says the estimate in words, e.g. "1.2M parameters, 310 MiB, ~2 min".
func (e Estimate) String() string {
	return fmt.Sprintf("%s parameters, %s, ~%s", textutil.Count(e.Params), sysmem.Format(e.Bytes), textutil.Duration(e.Seconds()))
}

// EstimateRun estimates the memory and time of cfg's training, as requested (batch size
// and lengths before anything is capped). It loads the task (for its vocabulary and
// lengths) but builds no graph.
func EstimateRun(cfg *Config) (Estimate, error) {
	su, err := newSetup(cfg)
	if err != nil {
		return Estimate{}, err
	}
	return su.estimate(), nil
}

func (su *setup) estimate() Estimate {
	S := su.S
	if su.model.Kind == layers.KindDecoder {
		S = 0
	}
	k := max(su.cfg.Train.GradAccum, 1) // micro-batches: one's activations at a time
	fp := su.model.Footprint(su.cfg.Train.BatchSize/k, S, su.T)
	// Per parameter: the weight, its gradient and AdamW's two moments, float32 each (and
	// the summed gradient with micro-batches); a frozen one (LoRA's base) its value.
	// Per activation: its value and, for part of the backward pass, its gradient: 5 bytes
	// fit the peak RSS measured here within 10% (3.4, 2.9 and 1.8 GB measured against
	// 3.1, 2.7 and 2.0 estimated for cedict-english d128 batch 64, cedict-docs d256 x 4
	// batch 128, reverse d64 batch 2048).
	b := baseBytes + 16*fp.Params + 4*fp.Frozen + 5*fp.Activations + min(int64(k)-1, 1)*4*fp.Params
	return Estimate{Params: fp.Params, Bytes: b, StepFLOPs: fp.FLOPs * float64(k), Steps: su.cfg.Train.Steps}
}

// checkMemory refuses a run whose estimate exceeds limit (bytes; 0: the machine's or
// cgroup's memory, negative: no check), naming the estimate, the limit and what to change.
func (su *setup) checkMemory(limit int64) error {
	if limit < 0 {
		return nil
	}
	source := "--max-memory"
	if limit == 0 {
		var ok bool
		if limit, source, ok = sysmem.Limit(); !ok {
			return nil
		}
	}
	e := su.estimate()
	if e.Bytes <= limit {
		return nil
	}
	c := su.cfg
	return fmt.Errorf("this run needs an estimated %s (%s parameters; batch %d x %d target positions, d_model %d, %d layers, vocabulary %d) but the limit is %s, %s: "+
		"lower train.batch_size, the lengths, model.d_model or model.layers, or cap task.vocab (or pass --max-memory SIZE if the estimate is wrong)",
		sysmem.Format(e.Bytes), textutil.Count(e.Params), c.Train.BatchSize, su.T, c.Model.DModel, c.Model.Layers, su.model.Vocab, sysmem.Format(limit), source)
}
