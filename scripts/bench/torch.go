package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// torchResult is the part of the reference script's results JSON that the benchmark uses.
type torchResult struct {
	StepsPerS    float64       `json:"steps_per_s"`
	MedianStepMS float64       `json:"median_step_ms"`
	TokensPerS   float64       `json:"target_tokens_nonpad_per_s"`
	MeasuredS    float64       `json:"measured_time_s"`
	MeasuredN    int           `json:"measured_steps"`
	LibBLAS      string        `json:"libblas"`
	Torch        string        `json:"torch"`
	Windows      []torchWindow `json:"windows"`
	Flops        struct {
		TrainStep float64 `json:"train_step_3x"`
	} `json:"flops"`
}

type torchWindow struct {
	EndStep int     `json:"end_step"`
	Steps   int     `json:"steps"`
	TrainS  float64 `json:"train_s"`
	SelfCPU float64 `json:"self_cpu_s"`
}

// tokensPerCPUSecond is the measured target tokens per second of the process's CPU
// time, from the script's windows; the first window also holds the warm-up steps
// and is left out.
func (r *torchResult) tokensPerCPUSecond() float64 {
	if len(r.Windows) < 2 || r.MeasuredN == 0 {
		return 0
	}
	perStep := r.TokensPerS * r.MeasuredS / float64(r.MeasuredN)
	steps, cpu := 0, 0.0
	for _, w := range r.Windows[1:] {
		steps += w.Steps
		cpu += w.SelfCPU
	}
	if cpu == 0 {
		return 0
	}
	return perStep * float64(steps) / cpu
}

// torchRunner runs the reference script from a private copy (it writes its results
// next to itself, and shared/bench must stay untouched).
type torchRunner struct {
	python string
	dir    string // private copy of the script and cpumon.py
	// blas is the BLAS PyTorch loaded (cpumon.blas_name), coretype the OpenBLAS kernels
	// asked for (openBLASCoretype).
	blas, coretype string
}

func newTorchRunner(python, ref string) (*torchRunner, error) {
	dir, err := os.MkdirTemp("", "masklab-bench-ref-")
	if err != nil {
		return nil, err
	}
	for _, name := range []string{filepath.Base(ref), "cpumon.py"} {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(ref), name))
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("reference script: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if tools := filepath.Join(filepath.Dir(ref), "tools", "pingpong"); fileExists(tools) {
		_ = os.MkdirAll(filepath.Join(dir, "tools"), 0o755)
		_ = os.Symlink(tools, filepath.Join(dir, "tools", "pingpong"))
	}
	r := &torchRunner{python: python, dir: dir, coretype: openBLASCoretype()}
	// Is torch importable, and on a real BLAS?
	out, err := exec.Command(python, "-c", "import torch, sys; sys.path.insert(0, '"+dir+"'); import cpumon; print(cpumon.blas_name())").CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%s cannot import torch: %s", python, firstLine(string(out)))
	}
	r.blas = firstLine(string(out))
	return r, nil
}

// openBLASCoretype makes the PyTorch runs use the OpenBLAS kernels of this CPU and says
// which. Debian 12's OpenBLAS 0.3.21 does not recognise recent Xeons (family 6 model 207
// here) and falls back to its Prescott (SSE3) kernels, a 1024x1024 sgemm at 29 instead of
// 120 GFLOP/s: a comparison against that would flatter masklab. Unless the environment
// already sets OPENBLAS_CORETYPE, it is set (for this process's children) to SkylakeX on
// a CPU with AVX-512 and Haswell on one with AVX2, what a recognised CPU of the kind gets;
// scripts/bench/hf_torch.py does the same for the checkpoint benchmark.
func openBLASCoretype() string {
	if v := os.Getenv("OPENBLAS_CORETYPE"); v != "" {
		return v + " (from the environment)"
	}
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "OpenBLAS's own choice"
	}
	var flags []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "flags") {
			if _, f, ok := strings.Cut(line, ":"); ok {
				flags = strings.Fields(f)
			}
			break
		}
	}
	for _, c := range []struct{ flag, core string }{{"avx512f", "SkylakeX"}, {"avx2", "Haswell"}} {
		if slices.Contains(flags, c.flag) {
			os.Setenv("OPENBLAS_CORETYPE", c.core)
			return c.core + " (set by the benchmark for this CPU's " + c.flag + ")"
		}
	}
	return "OpenBLAS's own choice"
}

func (r *torchRunner) close() { os.RemoveAll(r.dir) }

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// run trains the reference for warmup+steps steps on threads threads.
func (r *torchRunner) run(s size, threads, warmup, steps int) (*torchResult, *procStats, error) {
	tag := fmt.Sprintf("bench_%s_t%d", strings.ToLower(strings.TrimPrefix(s.Name, "RB-")), threads)
	out := filepath.Join(r.dir, "results", "train_"+tag+".json")
	os.Remove(out)
	args := []string{filepath.Join(r.dir, "train_transformer.py"),
		"--threads", strconv.Itoa(threads), "--steps", strconv.Itoa(warmup + steps), "--no-eval",
		"--warmup-steps", strconv.Itoa(warmup), "--eval-every", "10", "--max-wait-quiet", "0",
		"--d-model", strconv.Itoa(s.DModel), "--ff", strconv.Itoa(s.FF), "--tag", tag}
	cmd := exec.Command(r.python, args...)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS="+strconv.Itoa(threads))
	ps, log, err := runMeasured(cmd)
	if err != nil {
		return nil, nil, fmt.Errorf("pytorch reference (%s threads=%d): %v: %s", s.Name, threads, err, firstLine(log))
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, nil, fmt.Errorf("pytorch reference wrote no results: %w", err)
	}
	var res torchResult
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, nil, fmt.Errorf("pytorch reference results %s: %w", out, err)
	}
	return &res, ps, nil
}

// ceiling measures PyTorch's fp32 matmul speed (1024 square, best of 8) on threads threads.
func (r *torchRunner) ceiling(threads int) (float64, error) {
	code := fmt.Sprintf(`import time, torch
torch.set_num_threads(%d)
a = torch.rand(1024, 1024); b = torch.rand(1024, 1024)
best = 0.0
for i in range(9):
    t = time.perf_counter(); c = a @ b; d = time.perf_counter() - t
    if i: best = max(best, 2 * 1024**3 / d / 1e9)
print(best)`, threads)
	cmd := exec.Command(r.python, "-c", code)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS="+strconv.Itoa(threads))
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("pytorch matmul ceiling: %v", err)
	}
	return strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
}
