package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/masklab/masklab/internal/runlock"
	"github.com/masklab/masklab/pkg/experiments"
	"github.com/masklab/masklab/pkg/slurm"
)

func init() {
	register(&command{
		name:    "slurm",
		summary: "run a sweep's pending runs as a Slurm job array (one task per run), then its report",
		usage: "slurm SWEEP.yaml --out DIR [--partition P] [--time T] [--cpus N] [--gpus N] [--mem M]\n" +
			"                    [--max-parallel K] [--extra-sbatch OPT]... [--set key=value]... [--masklab PATH] [--submit]",
		run: runSlurm,
	})
}

func runSlurm(args []string, stdout, stderr io.Writer) error {
	c := commands["slurm"]
	fs := newFlags(c, stderr)
	out := fs.String("out", "", "the sweep directory (shared by every node: runs, logs, report)")
	var o slurm.Options
	fs.StringVar(&o.Partition, "partition", "", "Slurm partition(s) (default: the cluster's default)")
	fs.StringVar(&o.Time, "time", "", "time limit per run, in Slurm's format (30, 1:30:00, 1-00:00:00); a task that reaches it resumes from its checkpoint when resubmitted")
	fs.IntVar(&o.CPUs, "cpus", 0, "CPUs per run (--cpus-per-task; also the run's GOMAXPROCS)")
	fs.IntVar(&o.GPUs, "gpus", 0, "GPUs per run (--gres=gpu:N)")
	fs.StringVar(&o.Mem, "mem", "", "memory per run (--mem, e.g. 8G)")
	fs.IntVar(&o.MaxParallel, "max-parallel", 0, "at most K runs at once (the array's %K throttle); 0 = no limit")
	fs.StringVar(&o.JobName, "job-name", "", "Slurm job name (default masklab-SWEEPNAME)")
	fs.Var((*setFlags)(&o.Extra), "extra-sbatch", "an extra sbatch option for every job, e.g. --extra-sbatch=--account=lab (repeatable)")
	fs.Var((*setFlags)(&o.Set), "set", "override a config key in every run, as for masklab sweep (repeatable)")
	fs.StringVar(&o.Masklab, "masklab", "", "absolute path of the masklab binary the tasks run (default: this binary)")
	submit := fs.Bool("submit", false, "submit with sbatch: the array(s), then the report job with --dependency=afterany")
	pos, err := parseFlags(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return err
	} else if err != nil {
		return usageError("%v", err)
	}
	if len(pos) != 1 {
		return usageError("want one sweep file, got %d arguments (usage: masklab %s)", len(pos), strings.SplitN(c.usage, "\n", 2)[0])
	}
	if *out == "" {
		return usageError("--out DIR is required: the sweep directory, on a filesystem every node sees")
	}
	if o.SweepFile, err = filepath.Abs(pos[0]); err != nil {
		return err
	}
	if o.OutDir, err = filepath.Abs(*out); err != nil {
		return err
	}
	if o.Masklab == "" {
		if o.Masklab, err = selfPath(); err != nil {
			return err
		}
	} else if o.Masklab, err = filepath.Abs(o.Masklab); err != nil {
		return err
	}
	if st, err := os.Stat(o.Masklab); err != nil || st.IsDir() || st.Mode().Perm()&0o111 == 0 {
		return usageError("--masklab %s: not an executable file", o.Masklab)
	}
	if err := o.Validate(); err != nil {
		return usageError("%s", strings.TrimPrefix(err.Error(), "slurm: "))
	}

	// The same planning as "masklab sweep" (and its manifest and run directories, so that
	// "masklab status DIR" and the report see every run from the start).
	plan, err := experiments.PrepareSweep(o.SweepFile, o.OutDir, o.Set)
	if err != nil {
		return usageError("%v", err)
	}
	if o.JobName == "" {
		o.JobName = "masklab-" + strings.Map(func(r rune) rune {
			if strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", r) {
				return r
			}
			return '_'
		}, plan.Name)
	}
	pending := experiments.PendingRuns(o.OutDir, plan)
	isPending := map[string]bool{}
	for _, id := range pending {
		isPending[id] = true
	}
	states, err := experiments.States(o.OutDir)
	if err != nil {
		return err
	}
	inPlan := map[string]bool{}
	for _, r := range plan.Runs {
		inPlan[r.ID] = true
	}
	counts := map[string]int{}
	var running []string
	for _, st := range states {
		if !inPlan[st.Run.ID] {
			continue // a run of another plan written into the same directory
		}
		counts[st.State]++
		if st.State == experiments.StatusRunning {
			running = append(running, fmt.Sprintf("%s (%s)", st.Run.ID, st.Detail))
		}
	}
	var runs []slurm.Run
	for _, r := range plan.Runs {
		if isPending[r.ID] {
			runs = append(runs, slurm.Run{ID: r.ID, Stage: r.Stage})
		}
	}
	fmt.Fprintf(stdout, "sweep %s: %d runs: %d done, %d diverged, %d running, %d failed, %d pending\n",
		plan.Name, len(plan.Runs), counts[experiments.StatusDone], counts[experiments.StatusDiverged],
		counts[experiments.StatusRunning], counts[experiments.StatusFailed], counts[experiments.StatusPending])
	if len(running) > 0 {
		fmt.Fprintf(stdout, "not resubmitted, held by a live process (a killed holder's lock goes stale after %s): %s\n",
			runlock.StaleAfter, strings.Join(running, ", "))
	}
	if len(runs) == 0 {
		fmt.Fprintln(stdout, "no pending runs: nothing to submit")
		return nil
	}
	j, err := slurm.WriteJob(o, runs, time.Now())
	if err != nil {
		return err
	}
	for _, a := range j.Arrays {
		fmt.Fprintf(stdout, "wrote %s (%d array task%s, stage %s; runs listed in %s)\n", a.Script, len(a.RunIDs), plural(len(a.RunIDs)), a.Stage, filepath.Base(a.RunList))
	}
	fmt.Fprintf(stdout, "wrote %s (report into %s)\n", j.ReportScript, filepath.Join(o.OutDir, "report"))
	fmt.Fprintf(stdout, "task logs: %s\n", filepath.Join(j.LogDir, "%A_%a.out"))
	if !*submit {
		fmt.Fprintf(stdout, "submit with: masklab slurm ... --submit, or by hand: sbatch --parsable %s, then sbatch --dependency=afterany:JOBID %s\n",
			j.Arrays[0].Script, j.ReportScript)
		return nil
	}
	arrays, report, err := slurm.Submit(j)
	for i, id := range arrays {
		fmt.Fprintf(stdout, "submitted array job %s (stage %s, %d task%s)\n", id, j.Arrays[i].Stage, len(j.Arrays[i].RunIDs), plural(len(j.Arrays[i].RunIDs)))
	}
	if err != nil {
		if errors.Is(err, slurm.ErrNoSbatch) {
			return fmt.Errorf("%w (scripts written under %s)", err, j.Dir)
		}
		return err
	}
	after := "the array ends"
	if len(arrays) > 1 {
		after = "the arrays end"
	}
	fmt.Fprintf(stdout, "submitted report job %s (runs when %s); follow with: squeue -j %s,%s; masklab status %s\n",
		report, after, strings.Join(arrays, ","), report, o.OutDir)
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// selfPath returns the absolute path of the running masklab binary, refusing one that
// "go run" built in a temporary directory (it is gone before the tasks start).
func selfPath() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("cannot find the masklab binary (%v): pass --masklab PATH", err)
	}
	if p, err := filepath.EvalSymlinks(exe); err == nil {
		exe = p
	}
	if strings.Contains(exe, string(filepath.Separator)+"go-build") {
		return "", usageError("this masklab runs from a temporary go-build directory (go run?) that tasks will not find: go build -o DIR/masklab ./cmd/masklab and pass --masklab DIR/masklab")
	}
	return exe, nil
}
