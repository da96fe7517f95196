package slurm

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/masklab/masklab/internal/fsx"
)

// Options says how to run a sweep's pending runs as a Slurm job array. Each array
// task runs exactly one run with "masklab sweep SWEEP --out DIR --only RUN_ID", so a task
// shares the run directory, lock and resume semantics of a local sweep.
type Options struct {
	Masklab     string   // absolute path of the masklab binary the tasks run
	SweepFile   string   // the sweep file, made absolute
	OutDir      string   // the sweep directory, made absolute
	JobName     string   // Slurm job name; "masklab" when empty
	Partition   string   // --partition; the cluster's default when empty
	Time        string   // --time per task (Slurm's formats: "30", "1:30:00", "2-00:00:00"); none when empty
	CPUs        int      // --cpus-per-task, also GOMAXPROCS of the task; none when 0
	GPUs        int      // --gres=gpu:N; none when 0
	Mem         string   // --mem (e.g. "8G"); none when empty
	MaxParallel int      // array throttle "%K": at most K tasks at once; no limit when 0
	Extra       []string // extra sbatch options, one per "#SBATCH" line (e.g. "--account=lab")
	Set         []string // "key=value" overrides, passed on to every task's "masklab sweep --set"
}

// Run is one run to put in a job array, with the sweep stage it belongs to.
type Run struct {
	ID    string
	Stage string
}

// Array is one job array: task i runs RunIDs[i], listed on line i+1 of RunList.
type Array struct {
	Stage   string
	Script  string   // DIR/slurm/array-<stamp>[-<stage>].sbatch
	RunList string   // the same path with .runs
	RunIDs  []string // array task i runs RunIDs[i]
}

// Job is what WriteJob wrote: one array per sweep stage with pending runs (a
// fine-tuning stage's array starts after the array of the stage before it), and the
// report job that runs after every array.
type Job struct {
	Dir          string // DIR/slurm
	LogDir       string // DIR/slurm/logs: %A_%a.out per array task, report-%j.out
	Arrays       []*Array
	ReportScript string // DIR/slurm/report-<stamp>.sbatch
}

// slurmTime matches Slurm's --time formats: minutes, minutes:seconds, hours:minutes:seconds,
// days-hours, days-hours:minutes, days-hours:minutes:seconds, and the unlimited forms.
var slurmTime = regexp.MustCompile(`^(\d+|\d+:\d+|\d+:\d+:\d+|\d+-\d+|\d+-\d+:\d+|\d+-\d+:\d+:\d+|UNLIMITED|INFINITE|unlimited|infinite)$`)

// slurmName matches partition and job names that need no quoting.
var slurmName = regexp.MustCompile(`^[A-Za-z0-9_.,+=-]+$`)

// Validate checks the options and says which one is wrong, with its value.
func (o *Options) Validate() error {
	if o.Masklab == "" || !filepath.IsAbs(o.Masklab) {
		return fmt.Errorf("slurm: the masklab binary path must be absolute (tasks run on other nodes, in other directories), got %q", o.Masklab)
	}
	if o.SweepFile == "" || !filepath.IsAbs(o.SweepFile) {
		return fmt.Errorf("slurm: the sweep file path must be absolute, got %q", o.SweepFile)
	}
	if o.OutDir == "" || !filepath.IsAbs(o.OutDir) {
		return fmt.Errorf("slurm: the output directory must be absolute, got %q", o.OutDir)
	}
	for _, p := range []string{o.Masklab, o.SweepFile, o.OutDir} {
		if strings.ContainsAny(p, "\"\n\r%") {
			return fmt.Errorf("slurm: path %q: a double quote, %% or newline cannot be passed through an sbatch script", p)
		}
	}
	if o.JobName != "" && !slurmName.MatchString(o.JobName) {
		return fmt.Errorf("slurm: job name %q: use letters, digits and _.,+=- only", o.JobName)
	}
	if o.Partition != "" && !slurmName.MatchString(o.Partition) {
		return fmt.Errorf("slurm: partition %q: use letters, digits and _.,+=- only (a comma separates several partitions)", o.Partition)
	}
	if o.Time != "" && !slurmTime.MatchString(o.Time) {
		return fmt.Errorf("slurm: time %q is not a Slurm time limit (minutes, H:MM:SS, D-HH or D-HH:MM:SS)", o.Time)
	}
	if o.CPUs < 0 {
		return fmt.Errorf("slurm: cpus must be >= 0, got %d", o.CPUs)
	}
	if o.GPUs < 0 {
		return fmt.Errorf("slurm: gpus must be >= 0, got %d", o.GPUs)
	}
	if o.MaxParallel < 0 {
		return fmt.Errorf("slurm: max-parallel must be >= 0, got %d", o.MaxParallel)
	}
	if o.Mem != "" && !regexp.MustCompile(`^\d+[KMGT]?$`).MatchString(o.Mem) {
		return fmt.Errorf("slurm: mem %q is not a Slurm memory size (e.g. 4000, 8G)", o.Mem)
	}
	for _, kv := range o.Set {
		if !strings.Contains(kv, "=") || strings.ContainsAny(kv, "\n\r") {
			return fmt.Errorf("slurm: override %q must be one key=value", kv)
		}
	}
	for _, e := range o.Extra {
		if !strings.HasPrefix(e, "-") || strings.ContainsAny(e, "\n\r") {
			return fmt.Errorf("slurm: extra sbatch option %q must be one option starting with '-' (e.g. --account=lab)", e)
		}
		for _, own := range []string{"--array", "-a", "--output", "-o", "--error", "-e"} {
			if e == own || strings.HasPrefix(e, own+"=") || (len(own) == 2 && strings.HasPrefix(e, own+" ")) {
				return fmt.Errorf("slurm: extra sbatch option %q would override masklab's own %s", e, own)
			}
		}
	}
	return nil
}

// shellQuote quotes s for bash when it holds anything but safe characters.
func shellQuote(s string) string {
	if s != "" && regexp.MustCompile(`^[A-Za-z0-9_./:=,+@%-]+$`).MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sbatchQuote quotes s for an #SBATCH line, which sbatch splits at spaces unless they are
// inside double quotes (Validate rejects paths holding a double quote).
func sbatchQuote(s string) string {
	if strings.ContainsAny(s, " \t'") {
		return `"` + s + `"`
	}
	return s
}

func (o *Options) jobName() string {
	if o.JobName == "" {
		return "masklab"
	}
	return o.JobName
}

// commonDirectives are the #SBATCH lines shared by the array and the report job.
func (o *Options) commonDirectives(b *bytes.Buffer) {
	if o.Partition != "" {
		fmt.Fprintf(b, "#SBATCH --partition=%s\n", o.Partition)
	}
	if o.Time != "" {
		fmt.Fprintf(b, "#SBATCH --time=%s\n", o.Time)
	}
	for _, e := range o.Extra {
		fmt.Fprintf(b, "#SBATCH %s\n", e)
	}
}

// ArrayScript returns the text of a job-array script: task i runs line i+1 of
// a.RunList; its log is j.LogDir/%A_%a.out (array job id, task index), appended to on a
// requeue.
func ArrayScript(o Options, j *Job, a *Array) (string, error) {
	if err := o.Validate(); err != nil {
		return "", err
	}
	runList, logDir, n := a.RunList, j.LogDir, len(a.RunIDs)
	if n < 1 {
		return "", fmt.Errorf("slurm: an array needs at least one run, got %d", n)
	}
	var b bytes.Buffer
	b.WriteString("#!/bin/bash\n")
	fmt.Fprintf(&b, "# Written by \"masklab slurm\": one array task per pending run of\n#   %s\n# Task i runs the run on line i+1 of %s. Submit with: sbatch %s\n",
		o.SweepFile, runList, a.Script)
	fmt.Fprintf(&b, "#SBATCH --job-name=%s\n", o.jobName())
	throttle := ""
	if o.MaxParallel > 0 {
		throttle = fmt.Sprintf("%%%d", o.MaxParallel)
	}
	fmt.Fprintf(&b, "#SBATCH --array=0-%d%s\n", n-1, throttle)
	fmt.Fprintf(&b, "#SBATCH --output=%s\n", sbatchQuote(filepath.Join(logDir, "%A_%a.out")))
	b.WriteString("#SBATCH --open-mode=append\n")
	b.WriteString("#SBATCH --ntasks=1\n")
	if o.CPUs > 0 {
		fmt.Fprintf(&b, "#SBATCH --cpus-per-task=%d\n", o.CPUs)
	}
	if o.GPUs > 0 {
		fmt.Fprintf(&b, "#SBATCH --gres=gpu:%d\n", o.GPUs)
	}
	if o.Mem != "" {
		fmt.Fprintf(&b, "#SBATCH --mem=%s\n", o.Mem)
	}
	o.commonDirectives(&b)
	b.WriteString("set -euo pipefail\n")
	fmt.Fprintf(&b, "RUNS=%s\n", shellQuote(runList))
	b.WriteString(`RUN_ID=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" "$RUNS")` + "\n")
	b.WriteString(`if [ -z "$RUN_ID" ]; then echo "masklab slurm: no run for array task $SLURM_ARRAY_TASK_ID in $RUNS" >&2; exit 1; fi` + "\n")
	if o.CPUs > 0 {
		b.WriteString("export GOMAXPROCS=\"${SLURM_CPUS_PER_TASK:-" + fmt.Sprint(o.CPUs) + "}\"\n")
	}
	b.WriteString(`echo "masklab slurm: job ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} runs $RUN_ID on $(hostname) at $(date -u +%FT%TZ)"` + "\n")
	// exec: Slurm's signals (scancel, time limit, preemption) reach masklab directly.
	fmt.Fprintf(&b, "exec %s sweep %s --out %s%s --only \"$RUN_ID\" --workers 1\n",
		shellQuote(o.Masklab), shellQuote(o.SweepFile), shellQuote(o.OutDir), o.setFlags())
	return b.String(), nil
}

// setFlags returns the --set flags that tasks pass on, so they plan the same runs.
func (o *Options) setFlags() string {
	var b strings.Builder
	for _, kv := range o.Set {
		b.WriteString(" --set " + shellQuote(kv))
	}
	return b.String()
}

// ReportScript returns the text of j's report job, which runs "masklab report DIR
// --out DIR/report" after the array (submitted with --dependency=afterany:ARRAY).
func ReportScript(o Options, j *Job) (string, error) {
	if err := o.Validate(); err != nil {
		return "", err
	}
	logDir := j.LogDir
	var b bytes.Buffer
	b.WriteString("#!/bin/bash\n")
	b.WriteString("# Written by \"masklab slurm\": the report of the sweep, run after its array.\n")
	fmt.Fprintf(&b, "#SBATCH --job-name=%s-report\n", o.jobName())
	fmt.Fprintf(&b, "#SBATCH --output=%s\n", sbatchQuote(filepath.Join(logDir, "report-%j.out")))
	b.WriteString("#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=1\n")
	o.commonDirectives(&b)
	b.WriteString("set -euo pipefail\n")
	fmt.Fprintf(&b, "%s status %s || true\n", shellQuote(o.Masklab), shellQuote(o.OutDir))
	fmt.Fprintf(&b, "exec %s report %s --out %s\n",
		shellQuote(o.Masklab), shellQuote(o.OutDir), shellQuote(filepath.Join(o.OutDir, "report")))
	return b.String(), nil
}

// WriteJob writes one array script and run list per stage of runs (in the order the
// stages first appear), and the report script, under OutDir/slurm, stamped with now (UTC,
// to the second; a suffix keeps stamps unique).
func WriteJob(o Options, runs []Run, now time.Time) (*Job, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, errors.New("slurm: no pending runs to write a job array for")
	}
	var stages []string
	byStage := map[string][]string{}
	for i, r := range runs {
		if r.ID == "" || strings.ContainsAny(r.ID, " \t\n/'\"") {
			return nil, fmt.Errorf("slurm: run %d has id %q: not a run directory name", i, r.ID)
		}
		if _, ok := byStage[r.Stage]; !ok {
			stages = append(stages, r.Stage)
		}
		byStage[r.Stage] = append(byStage[r.Stage], r.ID)
	}
	dir := filepath.Join(o.OutDir, "slurm")
	logDir := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, fmt.Errorf("slurm: %w", err)
	}
	stamp := now.UTC().Format("20060102-150405")
	base := stamp
	for i := 2; ; i++ {
		if _, err := os.Stat(filepath.Join(dir, "report-"+base+".sbatch")); os.IsNotExist(err) {
			break
		}
		base = fmt.Sprintf("%s-%d", stamp, i)
	}
	j := &Job{Dir: dir, LogDir: logDir, ReportScript: filepath.Join(dir, "report-"+base+".sbatch")}
	for _, st := range stages {
		name := "array-" + base
		if len(stages) > 1 {
			name += "-" + fileSafe(st)
		}
		j.Arrays = append(j.Arrays, &Array{
			Stage:   st,
			Script:  filepath.Join(dir, name+".sbatch"),
			RunList: filepath.Join(dir, name+".runs"),
			RunIDs:  byStage[st],
		})
	}
	for _, a := range j.Arrays {
		script, err := ArrayScript(o, j, a)
		if err != nil {
			return nil, err
		}
		// The run list first: a script never exists without the list it reads.
		if err := fsx.WriteFileAtomic(a.RunList, []byte(strings.Join(a.RunIDs, "\n")+"\n")); err != nil {
			return nil, err
		}
		if err := writeScript(a.Script, script); err != nil {
			return nil, err
		}
	}
	report, err := ReportScript(o, j)
	if err != nil {
		return nil, err
	}
	if err := writeScript(j.ReportScript, report); err != nil {
		return nil, err
	}
	return j, nil
}

func writeScript(path, text string) error {
	if err := fsx.WriteFileAtomic(path, []byte(text)); err != nil {
		return err
	}
	if err := os.Chmod(path, 0o755); err != nil {
		return fmt.Errorf("slurm: %w", err)
	}
	return nil
}

// fileSafe maps a stage name to a file-name part.
func fileSafe(s string) string {
	s = regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(s, "_")
	if s == "" {
		return "stage"
	}
	return s
}

// ErrNoSbatch is returned by Submit when sbatch is not on PATH.
var ErrNoSbatch = errors.New("sbatch not found on PATH: run on a Slurm login node, or submit the written script there by hand")

// Submit submits the arrays with sbatch, each after the one before it
// (--dependency=afterany, so a fine-tuning stage starts once its pre-training stage has
// ended), then the report job after all of them. afterany, not afterok: a failed or
// cancelled task must not leave the report waiting forever. It returns the array job ids,
// in order, and the report job id.
func Submit(j *Job) (arrayIDs []string, reportID string, err error) {
	sbatch, err := exec.LookPath("sbatch")
	if err != nil {
		return nil, "", ErrNoSbatch
	}
	for i, a := range j.Arrays {
		args := []string{"--parsable"}
		if i > 0 {
			args = append(args, "--dependency=afterany:"+arrayIDs[i-1])
		}
		id, err := runSbatch(sbatch, append(args, a.Script)...)
		if err != nil {
			if i > 0 {
				err = fmt.Errorf("arrays %s submitted, but not the next one: %w", strings.Join(arrayIDs, ", "), err)
			}
			return arrayIDs, "", err
		}
		arrayIDs = append(arrayIDs, id)
	}
	reportID, err = runSbatch(sbatch, "--parsable", "--dependency=afterany:"+strings.Join(arrayIDs, ":"), j.ReportScript)
	if err != nil {
		return arrayIDs, "", fmt.Errorf("array job(s) %s submitted, but the report job was not: %w", strings.Join(arrayIDs, ", "), err)
	}
	return arrayIDs, reportID, nil
}

// runSbatch runs sbatch --parsable and returns the job id ("123" from "123" or "123;cluster").
func runSbatch(sbatch string, args ...string) (string, error) {
	cmd := exec.Command(sbatch, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("sbatch %s: %s", strings.Join(args, " "), strings.ReplaceAll(msg, "\n", "; "))
	}
	id := strings.TrimSpace(out.String())
	if i := strings.IndexByte(id, ';'); i >= 0 {
		id = id[:i]
	}
	if !regexp.MustCompile(`^\d+$`).MatchString(id) {
		return "", fmt.Errorf("sbatch %s: unexpected output %q (expected a job id)", strings.Join(args, " "), out.String())
	}
	return id, nil
}
