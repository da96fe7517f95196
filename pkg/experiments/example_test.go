package experiments_test

import (
	"context"
	"fmt"
	"os"

	"github.com/masklab/masklab/pkg/experiments"
)

// A sweep file names a base config, the axes to ablate and the seeds; PlanSweep resolves
// it into runs (one per cell and seed, each named by the hash of its resolved config).
func ExamplePlanSweep() {
	sf, err := experiments.ParseSweep([]byte(`
name: loss-masks
base:
  task: {name: cedict-sft, max_examples: 2000}
  model: {kind: decoder, layers: 2}
axes:
  masks.loss: [all, completion, "plw(0.1)"]
seeds: [1, 2]
`), "loss-masks.yaml")
	if err != nil {
		panic(err)
	}
	plan, err := experiments.PlanSweep(sf, []string{"train.steps=300"})
	if err != nil {
		panic(err)
	}
	for _, r := range plan.Runs {
		fmt.Printf("%s seed %d: steps %d, loss %s\n", r.Cell, r.Seed, r.Config.Train.Steps, r.Config.Masks.Loss)
	}
	// Output:
	// masks.loss=all seed 1: steps 300, loss all
	// masks.loss=all seed 2: steps 300, loss all
	// masks.loss=completion seed 1: steps 300, loss completion
	// masks.loss=completion seed 2: steps 300, loss completion
	// masks.loss=plw(0.1) seed 1: steps 300, loss plw(0.1)
	// masks.loss=plw(0.1) seed 2: steps 300, loss plw(0.1)
}

// TrainRun trains one run into its directory (or resumes it, or returns at once when it
// is done), here a tiny Transformer reversing sequences for 20 steps on the Go backend.
func ExampleTrainRun() {
	cfg := experiments.Default()
	if err := cfg.SetAll([]string{
		"task.name=reverse", "task.train_size=500", "task.max_eval=32",
		"model.layers=1", "model.d_model=16", "model.heads=2", "model.ff=32",
		"train.steps=20", "train.batch_size=16", "eval.every=0", "eval.greedy_examples=0",
	}); err != nil {
		panic(err)
	}
	dir, err := os.MkdirTemp("", "masklab-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	s, err := experiments.TrainRun(context.Background(), cfg, dir, experiments.TrainOptions{})
	if err != nil {
		panic(err)
	}
	_, hasLoss := s.Final["valid_loss"]
	fmt.Println(s.Status, s.Step, hasLoss)
	// Output: done 20 true
}
