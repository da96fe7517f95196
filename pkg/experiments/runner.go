package experiments

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/masklab/masklab/internal/runlock"
)

// SweepOptions control how a sweep is run (none of them changes its numbers).
type SweepOptions struct {
	Workers  int       // runs trained at once (default 1)
	Backend  string    // backend override for every run
	Progress io.Writer // progress lines; nil = silent
	// MaxMemory bounds each run's estimated memory (TrainOptions.MaxMemory).
	MaxMemory int64
}

// SweepResult counts what a sweep invocation did.
type SweepResult struct {
	Trained, Skipped, Busy, Failed, Diverged int
}

// PrepareSweep plans a sweep file and writes its manifest and run configs into dir:
// the first step of "masklab sweep", "--list-pending", "--only" and the Slurm helper.
func PrepareSweep(sweepPath, dir string, overrides []string) (*Plan, error) {
	sf, err := LoadSweep(sweepPath)
	if err != nil {
		return nil, err
	}
	p, err := PlanSweep(sf, overrides)
	if err != nil {
		return nil, err
	}
	if err := WriteManifest(p, dir); err != nil {
		return nil, err
	}
	return p, nil
}

// RunSweep trains every run of the plan that is not finished, stage by stage, with
// opts.Workers at once. Finished runs are skipped, unfinished ones resumed, runs locked by
// another live process left to it. A failed or diverged run does not stop the sweep.
func RunSweep(ctx context.Context, p *Plan, dir string, opts SweepOptions) (SweepResult, error) {
	var res SweepResult
	var mu sync.Mutex
	workers := max(opts.Workers, 1)
	for _, stage := range p.Stages {
		var runs []*PlannedRun
		for _, r := range p.Runs {
			if r.Stage == stage {
				runs = append(runs, r)
			}
		}
		jobs := make(chan *PlannedRun)
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range jobs {
					trained, s, err := RunOne(ctx, p, dir, r.ID, opts)
					mu.Lock()
					switch {
					case errors.Is(err, runlock.ErrLocked):
						res.Busy++
					case !trained && err == nil:
						res.Skipped++
					case err != nil || s == nil || s.Status == StatusFailed:
						res.Failed++
					case s.Status == StatusDiverged:
						res.Diverged++
					default:
						res.Trained++
					}
					if err != nil && opts.Progress != nil && !errors.Is(err, context.Canceled) {
						fmt.Fprintf(opts.Progress, "%s (%s, seed %d): %v\n", r.ID, r.Cell, r.Seed, oneLineErr(err))
					}
					mu.Unlock()
				}
			}()
		}
		for _, r := range runs {
			if ctx.Err() != nil {
				break
			}
			jobs <- r
		}
		close(jobs)
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return res, err
		}
	}
	return res, nil
}

// RunOne trains one run of a planned sweep by id through the same lock and resume code
// as RunSweep ("masklab sweep --only ID", Slurm array tasks). It reports whether it
// trained (false when the run was already finished). A run whose pre-training run is not
// done fails with an error naming it.
func RunOne(ctx context.Context, p *Plan, dir, id string, opts SweepOptions) (trained bool, s *Summary, err error) {
	var r *PlannedRun
	for _, pr := range p.Runs {
		if pr.ID == id {
			r = pr
		}
	}
	if r == nil {
		return false, nil, fmt.Errorf("sweep %s has no run %q (see masklab sweep --list-pending)", p.Name, id)
	}
	runDir := RunDir(dir, id)
	if s, err := ReadSummary(runDir); err == nil && (s.Status == StatusDone || s.Status == StatusDiverged) {
		return false, s, nil
	}
	topts := TrainOptions{Backend: opts.Backend, Progress: opts.Progress, Label: fmt.Sprintf("%s %s seed %d", id, r.Cell, r.Seed), MaxMemory: opts.MaxMemory}
	if r.From != "" {
		fromDir := RunDir(dir, r.From)
		fs, err := ReadSummary(fromDir)
		if err != nil || fs.Status != StatusDone {
			state := "not finished"
			if err == nil {
				state = fs.Status
			}
			return false, nil, fmt.Errorf("run %s fine-tunes from run %s (stage of seed %d), which is %s", id, r.From, r.Seed, state)
		}
		topts.InitFrom = fromDir
	}
	s, err = TrainRun(ctx, r.Config, runDir, topts)
	return err == nil || !errors.Is(err, runlock.ErrLocked), s, err
}
