package experiments

import (
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/gomlx/gomlx/core/graph"

	"github.com/masklab/masklab/pkg/mask"
)

// Strategies registered from Go code work in sweeps like the built-ins: the sweep file
// names them, the config validates, and training really uses them (each one's function
// is called while the run trains).
func TestSweepWithRegisteredStrategies(t *testing.T) {
	var selfCalls, hideCalls, lossCalls atomic.Int64
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(mask.RegisterAttention("test_sweep_last2", "", "key <= query and query - key <= 1 (a test mask)",
		func(a mask.Args) (mask.Attention, error) {
			if err := a.Count(0, 0); err != nil {
				return mask.Attention{}, err
			}
			return mask.NewAttention("", func(e *mask.Env) *graph.Node {
				selfCalls.Add(1)
				d := graph.Sub(e.Query, e.Key)
				return graph.LogicalAnd(graph.GreaterOrEqual(d, graph.ConstAs(d, 0)), graph.LessOrEqual(d, graph.ConstAs(d, 1)))
			}, false, false), nil
		}))
	must(mask.RegisterCorruption("test_sweep_second", "", "hide input position 2 (a test strategy)",
		func(a mask.Args) (mask.Corruption, error) {
			return mask.NewCorruption("", mask.ReplaceMask, func(in mask.Input, _ *rand.Rand) []bool {
				hideCalls.Add(1)
				h := make([]bool, len(in.Tokens))
				if len(h) > 2 {
					h[2] = true
				}
				return h
			}, nil), nil
		}))
	must(mask.RegisterLoss("test_sweep_half", "", "weight 0.5 everywhere (a test strategy)",
		func(a mask.Args) (mask.Loss, error) {
			return mask.NewLoss("", func(pos, validLen, promptLen int) float32 {
				lossCalls.Add(1)
				return 0.5
			}), nil
		}))

	sweep := writeSweep(t, `
name: registered
base:
  task: {name: reverse, vocab: 12, min_len: 3, max_len: 6, train_size: 200, max_eval: 16}
  model: {layers: 1, d_model: 16, heads: 2, ff: 32}
  optim: {lr: 0.01, warmup_steps: 2}
  train: {steps: 6, batch_size: 8, log_every: 3, checkpoint_every: 6}
  eval: {every: 6, batches: 1, greedy_examples: 4}
  masks: {self: "causal & test_sweep_last2", input: test_sweep_second, loss: test_sweep_half}
axes:
  masks.cross: [pad]
seeds: [1]
`)
	res := runSweepInProcess(t, sweep, filepath.Join(t.TempDir(), "out"))
	if res.Trained != 1 || res.Failed != 0 || res.Diverged != 0 {
		t.Fatalf("sweep result %+v, want one trained run", res)
	}
	if selfCalls.Load() == 0 || hideCalls.Load() == 0 || lossCalls.Load() == 0 {
		t.Fatalf("registered strategies not used in training: self mask built %d times, corruption called %d times, loss weights %d times",
			selfCalls.Load(), hideCalls.Load(), lossCalls.Load())
	}
	// A misspelt registered name is refused when the sweep is planned, with the suggestion.
	sf, err := ParseSweep([]byte("name: x\naxes:\n  masks.input: [test_sweep_secnd]\n"), "x.yaml")
	if err == nil {
		_, err = PlanSweep(sf, nil)
	}
	if err == nil {
		t.Fatal("a sweep naming an unregistered strategy was planned")
	}
	t.Log(err)
}
