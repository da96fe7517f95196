package optim_test

import (
	"fmt"

	"github.com/masklab/masklab/pkg/optim"
)

// The schedule: 2 warmup steps, then cosine decay from 1e-3 to 1e-4 at the last step.
func ExampleLearningRate() {
	c := optim.Config{LR: 1e-3, MinLR: 1e-4, Schedule: "cosine", WarmupSteps: 2}
	for step := 1; step <= 6; step++ {
		fmt.Printf("%d %.3g\n", step, optim.LearningRate(c, step, 6))
	}
	// Output:
	// 1 0.0005
	// 2 0.001
	// 3 0.000868
	// 4 0.00055
	// 5 0.000232
	// 6 0.0001
}
