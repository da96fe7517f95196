package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/masklab/masklab/pkg/check"
	"github.com/masklab/masklab/pkg/experiments"
	"github.com/masklab/masklab/pkg/notebook"
)

func init() {
	register(&command{
		name:    "sweep",
		summary: "run an ablation sweep: every cell x seed, skipping finished runs and resuming unfinished ones",
		usage:   "sweep SWEEP.yaml --out DIR [--workers N] [--set key=value ...] [--reuse DIR ...] [--only RUN_ID | --list-pending] [--no-check]",
		run:     runSweep,
	})
}

func sortStrings(s []string) { sort.Strings(s) }

func runSweep(args []string, stdout, stderr io.Writer) error {
	c := commands["sweep"]
	fs := newFlags(c, stderr)
	out := fs.String("out", "", "sweep directory (required): manifest.json and runs/<id>/")
	workers := fs.Int("workers", 1, "runs trained at once")
	only := fs.String("only", "", "train just this run id (same lock and resume code path; for Slurm array tasks)")
	listPending := fs.Bool("list-pending", false, "print the ids of runs not finished yet, one per line, and exit")
	be := fs.String("backend", "", "backend override for every run")
	quiet := fs.Bool("quiet", false, "no progress output")
	dryRun := fs.Bool("dry-run", false, "list every run (cell, seed, status, estimated memory and time) and exit, writing nothing")
	maxMem := memoryFlag(fs)
	noCheck := fs.Bool("no-check", false, "start without the cheap checks of masklab check (supervision, leakage, rows), which refuse a sweep with a failed one")
	var sets setFlags
	fs.Var(&sets, "set", "override a config key in every run (repeatable)")
	var reuse setFlags
	fs.Var(&reuse, "reuse", "another sweep directory whose finished runs with the same run id (config hash) are copied in instead of trained again (repeatable)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("want one SWEEP.yaml, got %d arguments", len(pos))
	}
	if *out == "" {
		return usageError("--out DIR is required")
	}
	if *workers < 1 {
		return usageError("--workers must be >= 1, got %d", *workers)
	}
	if *dryRun {
		return sweepDryRun(pos[0], *out, sets, stdout)
	}
	if !*noCheck && !*listPending && *only == "" {
		if err := precheckSweep(pos[0], sets, stderr); err != nil {
			return err
		}
	}
	plan, err := experiments.PrepareSweep(pos[0], *out, sets)
	if err != nil {
		return usageError("%v", err)
	}
	if *listPending {
		for _, id := range experiments.PendingRuns(*out, plan) {
			fmt.Fprintln(stdout, id)
		}
		return nil
	}
	for _, from := range reuse {
		ids, err := notebook.ReuseRuns(*out, from, stderr)
		if len(ids) > 0 {
			fmt.Fprintf(stderr, "sweep %s: reused %d finished run(s) of %s: %s\n", plan.Name, len(ids), from, strings.Join(ids, " "))
		}
		if err != nil {
			return err
		}
	}
	opts := experiments.SweepOptions{Workers: *workers, Backend: *be, Progress: stderr, MaxMemory: maxMem.bytes}
	if *quiet {
		opts.Progress = nil
	}
	ctx, cancel := signalContext()
	defer cancel()
	if *only != "" {
		trained, s, err := experiments.RunOne(ctx, plan, *out, *only, opts)
		if err != nil {
			return interrupted(err, "the same command")
		}
		verb := "trained"
		if !trained {
			verb = "already finished"
		}
		fmt.Fprintf(stdout, "%s: %s (%s)\n", *only, s.Status, verb)
		return nil
	}
	fmt.Fprintf(stderr, "sweep %s: %d runs (%s) into %s\n", plan.Name, len(plan.Runs), strings.Join(plan.Stages, ", "), *out)
	res, err := experiments.RunSweep(ctx, plan, *out, opts)
	if err != nil {
		return interrupted(err, "the same command (finished runs are kept)")
	}
	fmt.Fprintf(stdout, "sweep %s: trained %d, already finished %d, diverged %d, failed %d, busy elsewhere %d\n",
		plan.Name, res.Trained, res.Skipped, res.Diverged, res.Failed, res.Busy)
	if res.Failed > 0 {
		return fmt.Errorf("%d runs failed (see masklab status %s)", res.Failed, *out)
	}
	return nil
}

// sweepDryRun prints every run of the sweep with its state and estimates; it writes
// nothing (no manifest, no run directory).
func sweepDryRun(path, dir string, sets []string, stdout io.Writer) error {
	sf, err := experiments.LoadSweep(path)
	if err != nil {
		return usageError("%v", err)
	}
	plan, err := experiments.PlanSweep(sf, sets)
	if err != nil {
		return usageError("%v", err)
	}
	if err := check.ValidateAllow(sf.Check.Allow); err != nil {
		return usageError("sweep %s: check.allow: %v", path, err)
	}
	fmt.Fprintf(stdout, "sweep %s: %d runs (%s) into %s; nothing written (dry run)\n", plan.Name, len(plan.Runs), strings.Join(plan.Stages, ", "), dir)
	fmt.Fprintf(stdout, "%-12s  %-8s  %-10s  %-4s  %-10s  %-10s  %-8s  %s\n", "run", "stage", "status", "seed", "params", "memory", "time", "cell")
	estimates := map[string]experiments.Estimate{}
	var left float64
	pending := 0
	for _, st := range experiments.PlanStates(plan, dir) {
		r := st.Run
		key := r.Stage + "\x00" + r.Cell
		e, ok := estimates[key]
		if !ok {
			if e, err = experiments.EstimateRun(r.Config); err != nil {
				return usageError("run %s (%s): %v", r.ID, r.Cell, err)
			}
			estimates[key] = e
		}
		status := st.State
		if st.Step > 0 && st.State == experiments.StatusPending {
			status = fmt.Sprintf("at %d", st.Step)
		}
		if st.State != experiments.StatusDone && st.State != experiments.StatusDiverged {
			left += e.Seconds()
			pending++
		}
		parts := strings.SplitN(e.String(), ", ", 3) // "N parameters", "memory", "~time"
		fmt.Fprintf(stdout, "%-12s  %-8s  %-10s  %-4d  %-10s  %-10s  %-8s  %s\n", r.ID, r.Stage, status, r.Seed,
			strings.TrimSuffix(parts[0], " parameters"), parts[1], parts[2], r.Cell)
	}
	fmt.Fprintf(stdout, "%d runs to train: about %s on one core in all (estimated from each run's size and steps; a rough guide)\n",
		pending, experiments.Estimate{}.Duration(left))
	return nil
}
