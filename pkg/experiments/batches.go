package experiments

import (
	"github.com/masklab/masklab/datasets"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
)

// Batches is what a run builds from its config before its first step, for tools that
// inspect its data and masks without training (pkg/check).
type Batches struct {
	Task  *datasets.Task
	Model layers.Config // Self, Cross and Score are the parsed masks
	Loss  mask.Loss
	List  []Batch
}

// Batch is one batch as the training and evaluation graphs take it (graphInputs).
type Batch struct {
	datasets.Batch
	Inputs    []int32   // [B*T] decoder inputs after masks.input (Batch.Dec before it)
	Weights   []float32 // [B*T] loss weights (masks.loss; 0 on padding)
	PrefixLen []int32   // [B] prefix-LM prefix lengths (the model reads them for SFT tasks only)
}

// Batches builds the first n batches of split as a run of c sees them: "train" as its
// steps 1..n, another split in order as evaluation reads it (at most one pass). It builds
// no graph; a fine-tuning run's task keeps its own vocabulary (its init run may not exist).
func (c *Config) Batches(split string, n int) (*Batches, error) {
	su, err := newSetup(c)
	if err != nil {
		return nil, err
	}
	out, seed, nb := &Batches{Task: su.task, Model: su.model, Loss: su.loss}, uint64(c.Seed), n
	if split != "train" {
		seed = evalSeed
		nb, err = su.task.NumBatches(split, c.Train.BatchSize, su.bopts)
	}
	for step := 0; step < min(n, nb) && err == nil; step++ {
		var hb *hostBatch
		if hb, err = su.makeBatch(split, step, seed, step); err == nil {
			out.List = append(out.List, Batch{Batch: hb.b, Inputs: hb.dec, Weights: hb.weights, PrefixLen: hb.prefix})
		}
	}
	return out, err
}
