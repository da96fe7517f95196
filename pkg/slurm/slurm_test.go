package slurm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func runsOf(stage string, ids ...string) []Run {
	var rs []Run
	for _, id := range ids {
		rs = append(rs, Run{ID: id, Stage: stage})
	}
	return rs
}

func testOptions(dir string) Options {
	return Options{
		Masklab:   "/opt/masklab/bin/masklab",
		SweepFile: "/home/me/sweeps/ablation.yaml",
		OutDir:    filepath.Join(dir, "out dir"),
	}
}

// TestWriteJobScripts checks the written array script line by line where it matters:
// the array range and throttle, per-task logs, resources, and the one command a task runs.
func TestWriteJobScripts(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(dir)
	o.Partition = "gpu"
	o.Time = "1:30:00"
	o.CPUs = 4
	o.GPUs = 1
	o.Mem = "8G"
	o.MaxParallel = 3
	o.Extra = []string{"--account=lab", "--qos=high"}
	now := time.Date(2026, 11, 29, 15, 4, 5, 0, time.UTC)
	o.Set = []string{"train.steps=20", "masks.input=span(0.15, 3)"}
	j, err := WriteJob(o, runsOf("main", "run-a", "run-b", "run-c"), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Arrays) != 1 {
		t.Fatalf("one stage: got %d arrays", len(j.Arrays))
	}
	a := j.Arrays[0]
	slurmDir := filepath.Join(o.OutDir, "slurm")
	if a.Script != filepath.Join(slurmDir, "array-20261129-150405.sbatch") {
		t.Errorf("script path %s", a.Script)
	}
	if a.RunList != filepath.Join(slurmDir, "array-20261129-150405.runs") {
		t.Errorf("run list path %s", a.RunList)
	}
	list, err := os.ReadFile(a.RunList)
	if err != nil {
		t.Fatal(err)
	}
	if string(list) != "run-a\nrun-b\nrun-c\n" {
		t.Errorf("run list %q", list)
	}
	data, err := os.ReadFile(a.Script)
	if err != nil {
		t.Fatal(err)
	}
	script := string(data)
	for _, want := range []string{
		"#!/bin/bash\n",
		"#SBATCH --array=0-2%3\n",
		"#SBATCH --output=\"" + filepath.Join(slurmDir, "logs", "%A_%a.out") + "\"\n",
		"#SBATCH --open-mode=append\n",
		"#SBATCH --partition=gpu\n",
		"#SBATCH --time=1:30:00\n",
		"#SBATCH --cpus-per-task=4\n",
		"#SBATCH --gres=gpu:1\n",
		"#SBATCH --mem=8G\n",
		"#SBATCH --account=lab\n",
		"#SBATCH --qos=high\n",
		"RUNS='" + a.RunList + "'\n",
		"exec /opt/masklab/bin/masklab sweep /home/me/sweeps/ablation.yaml --out '" + o.OutDir +
			"' --set train.steps=20 --set 'masks.input=span(0.15, 3)' --only \"$RUN_ID\" --workers 1\n",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("array script lacks %q:\n%s", want, script)
		}
	}
	// sbatch reads #SBATCH lines only before the first command.
	lines := strings.Split(script, "\n")
	seenCommand := false
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "#SBATCH") && seenCommand {
			t.Errorf("#SBATCH line after a command (sbatch would ignore it): %q", l)
		}
		if l != "" && !strings.HasPrefix(l, "#") {
			seenCommand = true
		}
	}
	st, err := os.Stat(a.Script)
	if err != nil || st.Mode().Perm()&0o100 == 0 {
		t.Errorf("array script not executable: %v %v", st.Mode(), err)
	}
	report, err := os.ReadFile(j.ReportScript)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"#SBATCH --partition=gpu\n",
		"#SBATCH --account=lab\n",
		"exec /opt/masklab/bin/masklab report '" + o.OutDir + "' --out '" + filepath.Join(o.OutDir, "report") + "'\n",
	} {
		if !strings.Contains(string(report), want) {
			t.Errorf("report script lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(string(report), "--array") || strings.Contains(string(report), "gres") {
		t.Errorf("report script asks for array or GPUs:\n%s", report)
	}
	if _, err := os.Stat(j.LogDir); err != nil {
		t.Errorf("log dir not created (Slurm does not create it): %v", err)
	}

	// A second job in the same second gets its own files.
	j2, err := WriteJob(o, runsOf("main", "run-b"), now)
	if err != nil {
		t.Fatal(err)
	}
	a2 := j2.Arrays[0]
	if a2.Script == a.Script || a2.RunList == a.RunList || j2.ReportScript == j.ReportScript {
		t.Errorf("second job overwrote the first: %s", a2.Script)
	}
	data2, _ := os.ReadFile(a2.Script)
	if !strings.Contains(string(data2), "#SBATCH --array=0-0%3\n") {
		t.Errorf("one-run array:\n%s", data2)
	}
}

// TestArrayScriptRuns runs the generated script with bash, as Slurm would for task 1,
// with a fake masklab that prints its arguments: the task must run exactly run-b.
func TestArrayScriptRuns(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not available")
	}
	dir := t.TempDir()
	fake := filepath.Join(dir, "fake masklab")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho \"GOMAXPROCS=$GOMAXPROCS\"; for a in \"$@\"; do echo \"arg:$a\"; done\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	o := testOptions(dir)
	o.Masklab = fake
	o.CPUs = 2
	j, err := WriteJob(o, runsOf("main", "run-a", "run-b"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	script := j.Arrays[0].Script
	cmd := exec.Command("bash", script)
	cmd.Env = append(os.Environ(), "SLURM_ARRAY_TASK_ID=1", "SLURM_ARRAY_JOB_ID=77", "SLURM_CPUS_PER_TASK=2")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("script failed: %v\n%s", err, out)
	}
	want := "GOMAXPROCS=2\narg:sweep\narg:/home/me/sweeps/ablation.yaml\narg:--out\narg:" + o.OutDir +
		"\narg:--only\narg:run-b\narg:--workers\narg:1\n"
	if !strings.HasSuffix(string(out), want) {
		t.Errorf("task 1 output:\n%s\nwant suffix:\n%s", out, want)
	}
	// A task index past the list fails loudly instead of running nothing silently.
	cmd = exec.Command("bash", script)
	cmd.Env = append(os.Environ(), "SLURM_ARRAY_TASK_ID=5")
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no run for array task 5") {
		t.Errorf("task 5 of 2: err %v, output %s", err, out)
	}
}

func TestOptionsValidate(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"relative binary", func(o *Options) { o.Masklab = "masklab" }, `must be absolute`},
		{"relative sweep", func(o *Options) { o.SweepFile = "s.yaml" }, `sweep file path must be absolute, got "s.yaml"`},
		{"bad time", func(o *Options) { o.Time = "1h" }, `time "1h" is not a Slurm time limit`},
		{"negative cpus", func(o *Options) { o.CPUs = -1 }, `cpus must be >= 0, got -1`},
		{"negative parallel", func(o *Options) { o.MaxParallel = -2 }, `max-parallel must be >= 0, got -2`},
		{"bad partition", func(o *Options) { o.Partition = "a b" }, `partition "a b"`},
		{"bad mem", func(o *Options) { o.Mem = "lots" }, `mem "lots"`},
		{"extra not an option", func(o *Options) { o.Extra = []string{"account=lab"} }, `must be one option starting with '-'`},
		{"extra overrides array", func(o *Options) { o.Extra = []string{"--array=0-9"} }, `would override masklab's own --array`},
		{"override without =", func(o *Options) { o.Set = []string{"train.steps"} }, `override "train.steps" must be one key=value`},
		{"path with quote", func(o *Options) { o.OutDir = `/tmp/a"b` }, `cannot be passed through an sbatch script`},
		{"extra with newline", func(o *Options) { o.Extra = []string{"--qos=a\nrm -rf /"} }, `must be one option`},
	} {
		o := testOptions(dir)
		tc.edit(&o)
		err := o.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	for _, tm := range []string{"30", "30:00", "1:30:00", "2-00", "2-00:30", "2-00:30:00", "UNLIMITED"} {
		o := testOptions(dir)
		o.Time = tm
		if err := o.Validate(); err != nil {
			t.Errorf("time %q: %v", tm, err)
		}
	}
	o := testOptions(dir)
	if _, err := WriteJob(o, nil, time.Now()); err == nil {
		t.Error("no runs: want an error")
	}
	if _, err := WriteJob(o, runsOf("main", "../escape"), time.Now()); err == nil {
		t.Error("run id with a slash: want an error")
	}
}

func TestSubmitWithoutSbatch(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	o := testOptions(t.TempDir())
	j, err := WriteJob(o, runsOf("main", "r1"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Submit(j); err != ErrNoSbatch {
		t.Errorf("got %v, want ErrNoSbatch", err)
	}
}

// TestSubmitFakeSbatch checks the two sbatch calls (array, then the report job
// depending on it with afterany) through a fake sbatch that logs its arguments.
func TestSubmitFakeSbatch(t *testing.T) {
	bin := t.TempDir()
	logf := filepath.Join(bin, "calls")
	fake := "#!/bin/sh\necho \"$*\" >> " + shellQuote(logf) + "\nn=$(wc -l < " + shellQuote(logf) + ")\necho \"$((41 + n));cluster\"\n"
	if err := os.WriteFile(filepath.Join(bin, "sbatch"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	o := testOptions(t.TempDir())
	// Two stages: the fine-tuning array waits for the pre-training one; the report for both.
	runs := append(runsOf("pretrain", "p1", "p2"), runsOf("sft/v2", "f1", "f2", "f3")...)
	j, err := WriteJob(o, runs, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Arrays) != 2 || j.Arrays[0].Stage != "pretrain" || j.Arrays[1].Stage != "sft/v2" {
		t.Fatalf("arrays %+v", j.Arrays)
	}
	if filepath.Base(j.Arrays[1].Script) != "array-20260102-030405-sft_v2.sbatch" {
		t.Errorf("stage script name %s", j.Arrays[1].Script)
	}
	if got := strings.Join(j.Arrays[1].RunIDs, ","); got != "f1,f2,f3" {
		t.Errorf("stage 2 runs %s", got)
	}
	arrs, rep, err := Submit(j)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(arrs, ",") != "42,43" || rep != "44" {
		t.Errorf("job ids %q %q, want [42 43] 44", arrs, rep)
	}
	calls, _ := os.ReadFile(logf)
	want := "--parsable " + j.Arrays[0].Script + "\n" +
		"--parsable --dependency=afterany:42 " + j.Arrays[1].Script + "\n" +
		"--parsable --dependency=afterany:42:43 " + j.ReportScript + "\n"
	if string(calls) != want {
		t.Errorf("sbatch calls:\n%s\nwant:\n%s", calls, want)
	}
}
