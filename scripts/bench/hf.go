package main

// "bench hf": issue 18's checkpoint benchmark (scripts/bench.sh --hf, docs/performance.md
// "Pretrained checkpoints").
//
//  1. Load: a ~100M-parameter BF16 Llama checkpoint in Hugging Face's layout, generated at
//     benchmark time (scripts/bench/hf_torch.py gen, i.e. pkg/hf/testdata's generator), is
//     loaded by pkg/hf (the weights into float32 variables of the layers model) in fresh
//     processes; each reports the load's wall and CPU time and its peak resident set
//     (VmHWM of /proc/self/status) against the float32 parameter bytes (target: under
//     1.5x), for Checkpoint.Load alone, Load then one forward pass (the backend gets the
//     weights) and Checkpoint.LoadOn(backend) then one forward pass.
//  2. Speed: a ~30M-parameter Llama checkpoint (F32) is trained (forward, next-token
//     cross-entropy, backward, AdamW) by masklab (LoadOn + layers.Forward: the Arch
//     decoder of pkg/layers) and by the batched float32 PyTorch forward pass built on the
//     generator's (hf_torch.py train), on the same token batches, in interleaved pairs at
//     each thread count. The primary figure is tokens per CPU second (user+sys of the
//     process over the measured steps): the machine is shared, and wall time measures the
//     other users as much as the code. Both sides start from the same weights, so their
//     first losses agree (printed, as a check that they compute the same model).

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/hf"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
)

// hfOptions configure "bench hf".
type hfOptions struct {
	python   string
	script   string // hf_torch.py
	workdir  string // where the checkpoints are generated ("" = a temporary directory)
	threads  []int
	pairs    int
	loads    int
	batch    int
	seq      int
	warmup   int
	steps    int
	noLoad   bool
	noTrain  bool
	jsonOut  string
	memLimit string // GOMEMLIMIT of the load processes ("" = unset: no limit)
	ompWait  string // OMP_WAIT_POLICY of the PyTorch processes ("" = unset: OpenMP's default)
}

// hfLoadResult is what an "hf-load" worker reports.
type hfLoadResult struct {
	Params       int64   `json:"params"`
	F32Bytes     int64   `json:"f32_bytes"`
	FileBytes    int64   `json:"file_bytes"`
	LoadS        float64 `json:"load_s"`
	LoadCPUS     float64 `json:"load_cpu_s"`
	BaseRSSMB    float64 `json:"base_rss_mb"` // VmRSS before loading (runtime and backend)
	PeakRSSMB    float64 `json:"peak_rss_mb"` // VmHWM at the end
	PeakRatio    float64 `json:"peak_over_f32"`
	TotalAllocMB float64 `json:"total_alloc_mb"` // bytes the Go heap handed out during the load
	Kind         string  `json:"kind"`
	Forward      bool    `json:"forward"`
	ForwardS     float64 `json:"forward_s,omitempty"`
	GOMEMLIMIT   string  `json:"gomemlimit"`
}

// hfTrainResult is what a training run reports (masklab's worker and hf_torch.py train).
type hfTrainResult struct {
	Impl     string    `json:"impl"`
	Threads  int       `json:"threads"`
	Params   int64     `json:"params"`
	Steps    int       `json:"steps"`
	Tokens   int       `json:"tokens"`
	CPUS     float64   `json:"cpu_s"`
	WallS    float64   `json:"wall_s"`
	Losses   []float64 `json:"losses"`
	PeakRSS  float64   `json:"peak_rss_mb"`
	LibBLAS  string    `json:"libblas,omitempty"`
	Backend  string    `json:"backend,omitempty"`
	CompileS float64   `json:"compile_s,omitempty"`
}

func (r *hfTrainResult) perCPUS() float64  { return float64(r.Tokens) / r.CPUS }
func (r *hfTrainResult) perWallS() float64 { return float64(r.Tokens) / r.WallS }

func runHF(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench hf", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o hfOptions
	var threadsFlag string
	worker := fs.String("worker", "", "internal: run one measurement in this process (load, load-run, loadon-run, train)")
	dir := fs.String("dir", "", "worker: the checkpoint directory")
	wthreads := fs.Int("worker-threads", 1, "worker: threads")
	fs.StringVar(&o.python, "python", "/usr/bin/python3", "Python with Debian's python3-torch")
	fs.StringVar(&o.script, "script", "scripts/bench/hf_torch.py", "the PyTorch side (checkpoint generator and trainer)")
	fs.StringVar(&o.workdir, "workdir", "", "generate the checkpoints here (default: a temporary directory, removed at the end)")
	fs.StringVar(&threadsFlag, "threads", "1,2", "comma-separated thread counts of the training pairs")
	fs.IntVar(&o.pairs, "pairs", 3, "interleaved masklab/PyTorch training pairs per thread count (medians are quoted)")
	fs.IntVar(&o.loads, "loads", 3, "load measurements (each a fresh process)")
	fs.IntVar(&o.batch, "batch", 4, "training batch (rows)")
	fs.IntVar(&o.seq, "seq", 128, "training sequence length (tokens per row)")
	fs.IntVar(&o.warmup, "warmup", 2, "training steps before the measured ones (masklab's first compiles)")
	fs.IntVar(&o.steps, "steps", 4, "measured training steps")
	fs.BoolVar(&o.noLoad, "no-load", false, "skip the load benchmark")
	fs.BoolVar(&o.noTrain, "no-train", false, "skip the training benchmark")
	fs.StringVar(&o.jsonOut, "json", "", "also write every measurement to this JSON file")
	fs.StringVar(&o.ompWait, "omp-wait-policy", "", "OMP_WAIT_POLICY of the PyTorch runs (passive: its threads sleep instead of spinning while they wait, which a loaded machine punishes less; default unset)")
	fs.StringVar(&o.memLimit, "gomemlimit", "", "GOMEMLIMIT of the load processes (default unset: the Go runtime's own, no limit)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	switch *worker {
	case "":
	case "load", "load-run", "loadon-run":
		res, err := hfLoadWorker(*dir, *worker)
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(res)
	case "train":
		res, err := hfTrainWorker(*dir, *wthreads, o)
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(res)
	default:
		return fmt.Errorf("hf: unknown worker %q", *worker)
	}
	for _, s := range strings.Split(threadsFlag, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return fmt.Errorf("-threads: want positive integers, got %q", s)
		}
		o.threads = append(o.threads, n)
	}
	return hfOrchestrate(o, stdout, stderr)
}

// fileBytes is the total size of dir's safetensors files.
func fileBytes(dir string) int64 {
	var n int64
	files, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			n += st.Size()
		}
	}
	return n
}

// vmStatus returns a /proc/self/status field (VmHWM, VmRSS) in MB.
func vmStatus(field string) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

// hfLoadWorker loads dir (after starting the backend, so that the base resident set
// includes it): kind "load" with hf.Load; "load-run" with hf.Load, then runs the model once
// on 8 tokens (the backend gets the weights); "loadon-run" the same with
// Checkpoint.LoadOn, which puts the weights in the backend's buffers directly.
func hfLoadWorker(dir, kind string) (*hfLoadResult, error) {
	forward := kind != "load"
	be, err := backend.New(backend.Resolve("", ""))
	if err != nil {
		return nil, err
	}
	runtime.GC()
	res := &hfLoadResult{Kind: kind, Forward: forward, FileBytes: fileBytes(dir), BaseRSSMB: vmStatus("VmRSS"),
		GOMEMLIMIT: os.Getenv("GOMEMLIMIT")}
	if res.GOMEMLIMIT == "" {
		res.GOMEMLIMIT = "unset"
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0, t0 := cpuSeconds(), time.Now()
	ck, err := hf.Open(dir)
	if err != nil {
		return nil, err
	}
	store := model.NewStore()
	if kind == "loadon-run" {
		err = ck.LoadOn(be, store, "")
	} else {
		err = ck.Load(store, "")
	}
	if err != nil {
		return nil, err
	}
	res.LoadS, res.LoadCPUS = time.Since(t0).Seconds(), cpuSeconds()-cpu0
	runtime.ReadMemStats(&ms1)
	res.TotalAllocMB = float64(ms1.TotalAlloc-ms0.TotalAlloc) / (1 << 20)
	for _, t := range ck.Tensors() {
		res.Params += int64(numelOf(t.Shape))
	}
	res.F32Bytes = 4 * res.Params
	if forward {
		cfg := ck.Config.Model(mask.Causal)
		ex, err := model.NewExec(be, store, func(scope *model.Scope, ids *graph.Node) *graph.Node {
			logits, err := layers.Forward(scope, cfg, layers.Inputs{Dec: ids})
			if err != nil {
				panic(err)
			}
			return logits
		})
		if err != nil {
			return nil, err
		}
		t1 := time.Now()
		out, err := ex.Exec([][]int32{{1, 5, 17, 42, 8, 63, 21, 90}})
		if err != nil {
			return nil, err
		}
		out[0].MustFinalizeAll()
		res.ForwardS = time.Since(t1).Seconds()
	}
	res.PeakRSSMB = vmStatus("VmHWM")
	res.PeakRatio = res.PeakRSSMB * (1 << 20) / float64(res.F32Bytes)
	runtime.KeepAlive(store)
	return res, nil
}

func numelOf(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// hfTokens are the ids of a training step's batch, [batch][seq+1]: the same formula as
// hf_torch.py's tokens (a multiplicative hash of the flat index, modulo the vocabulary).
func hfTokens(step, batch, seq, vocab int) [][]int32 {
	rows := make([][]int32, batch)
	for b := range rows {
		rows[b] = make([]int32, seq+1)
		for t := range rows[b] {
			i := int64(step*batch*(seq+1) + b*(seq+1) + t)
			rows[b][t] = int32(uint64(i*2654435761) % (1 << 32) % uint64(vocab))
		}
	}
	return rows
}

// hfTrainWorker trains dir's model as hf_torch.py train does: AdamW (lr 1e-5, betas
// 0.9/0.999, eps 1e-8, decoupled weight decay 0.01 on every parameter), mean next-token
// cross-entropy, causal attention, positions 0..T-1.
func hfTrainWorker(dir string, threads int, o hfOptions) (*hfTrainResult, error) {
	runtime.GOMAXPROCS(threads)
	choice := backend.Resolve("", "")
	be, err := backend.New(choice)
	if err != nil {
		return nil, err
	}
	ck, err := hf.Open(dir)
	if err != nil {
		return nil, err
	}
	store := model.NewStore()
	if err := ck.LoadOn(be, store, ""); err != nil {
		return nil, err
	}
	causal, err := mask.ParseAttention("causal")
	if err != nil {
		return nil, err
	}
	cfg, err := ck.Config.ForRun(layers.Config{Kind: layers.KindDecoder, Self: causal})
	if err != nil {
		return nil, err
	}
	opt := optimizer.Adam().LearningRate(1e-5).Betas(0.9, 0.999).Epsilon(1e-8).WeightDecay(0.01).Done()
	step, err := model.NewExec(be, store, func(scope *model.Scope, ids, labels *graph.Node) *graph.Node {
		layers.VariablesAsParameters(ids.Graph())
		logits, err := layers.Forward(scope, cfg, layers.Inputs{Dec: ids, Training: true})
		if err != nil {
			panic(err)
		}
		loss := layers.WeightedCrossEntropy(logits, labels, nil)
		opt.UpdateGraph(scope, loss.Graph(), loss)
		return loss
	})
	if err != nil {
		return nil, err
	}
	res := &hfTrainResult{Impl: "masklab", Threads: runtime.GOMAXPROCS(0), Backend: choice.Config, Steps: o.steps,
		Tokens: o.steps * o.batch * o.seq}
	for _, t := range ck.Tensors() {
		res.Params += int64(numelOf(t.Shape))
	}
	var cpu0 float64
	var t0 time.Time
	for s := range o.warmup + o.steps {
		if s == o.warmup {
			cpu0, t0 = cpuSeconds(), time.Now()
		}
		rows := hfTokens(s, o.batch, o.seq, ck.Config.Vocab)
		ids, labels := make([]int32, 0, o.batch*o.seq), make([]int32, 0, o.batch*o.seq)
		for _, r := range rows {
			ids, labels = append(ids, r[:o.seq]...), append(labels, r[1:]...)
		}
		ts := time.Now()
		out, err := step.Exec(tensors.FromFlatDataAndDimensions(ids, o.batch, o.seq), tensors.FromFlatDataAndDimensions(labels, o.batch, o.seq))
		if err != nil {
			return nil, err
		}
		if s == 0 {
			res.CompileS = time.Since(ts).Seconds()
		}
		if out[0].DType() != dtypes.Float32 {
			return nil, fmt.Errorf("loss is %s", out[0].DType())
		}
		res.Losses = append(res.Losses, float64(tensors.MustCopyFlatData[float32](out[0])[0]))
	}
	res.CPUS, res.WallS = cpuSeconds()-cpu0, time.Since(t0).Seconds()
	res.PeakRSS = peakRSSMB()
	return res, nil
}

// hfChild runs a command (a worker or hf_torch.py) and decodes the last JSON line of its
// output into v.
func hfChild(cmd *exec.Cmd, v any) error {
	var out, errBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errBuf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(cmd.Args, " "), err, lastLines(errBuf.String(), 5))
	}
	var last string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "{") {
			last = l
		}
	}
	if err := json.Unmarshal([]byte(last), v); err != nil {
		return fmt.Errorf("%s: no JSON result (%v): %s", strings.Join(cmd.Args, " "), err, lastLines(out.String()+errBuf.String(), 5))
	}
	return nil
}

func hfOrchestrate(o hfOptions, stdout, stderr io.Writer) error {
	t0 := time.Now()
	logf := func(format string, args ...any) {
		fmt.Fprintf(stderr, "[%5.0fs] "+format+"\n", append([]any{time.Since(t0).Seconds()}, args...)...)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	work := o.workdir
	if work == "" {
		if work, err = os.MkdirTemp("", "masklab-hf-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	report := map[string]any{"started": t0.UTC().Format(time.RFC3339)}
	commit := "unknown"
	if v, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		commit = strings.TrimSpace(string(v))
	}
	report["commit"] = commit
	fmt.Fprintf(stdout, "hf benchmark: %s, commit %s\n", t0.UTC().Format("2006-01-02 15:04 UTC"), commit)
	fmt.Fprintf(stdout, "machine: %s, %d CPUs, load average %s\n", cpuModel(), numCPU(), loadAvg())

	gen := func(preset string) (string, error) {
		d := filepath.Join(work, preset)
		var info map[string]any
		ts := time.Now()
		if err := hfChild(exec.Command(o.python, o.script, "gen", "--preset", preset, "--out", d), &info); err != nil {
			return "", err
		}
		logf("generated %s: %.0f parameters, %.0f bytes, %v (%.0fs)", preset, info["params"], info["bytes"], info["dtype"], time.Since(ts).Seconds())
		return d, nil
	}

	if !o.noLoad {
		d, err := gen("load-100m")
		if err != nil {
			return err
		}
		env := os.Environ()
		if o.memLimit != "" {
			env = append(env, "GOMEMLIMIT="+o.memLimit)
		}
		var loads []*hfLoadResult
		for _, kind := range []string{"load", "load-run", "loadon-run"} {
			n := o.loads
			var rs []*hfLoadResult
			for i := range n {
				cmd := exec.Command(self, "hf", "-worker", kind, "-dir", d)
				cmd.Env = env
				var r hfLoadResult
				if err := hfChild(cmd, &r); err != nil {
					return err
				}
				logf("%s %d/%d: %.2fs (CPU %.2fs), peak RSS %.0f MB = %.2fx the float32 weights (%.0f MB), base %.0f MB, Go heap allocated %.0f MB",
					kind, i+1, n, r.LoadS, r.LoadCPUS, r.PeakRSSMB, r.PeakRatio, float64(r.F32Bytes)/(1<<20), r.BaseRSSMB, r.TotalAllocMB)
				rs = append(rs, &r)
			}
			loads = append(loads, rs...)
			get := func(f func(*hfLoadResult) float64) float64 {
				var xs []float64
				for _, r := range rs {
					xs = append(xs, f(r))
				}
				return median(xs)
			}
			r := rs[0]
			what := map[string]string{"load": "Checkpoint.Load", "load-run": "Checkpoint.Load, then one forward pass",
				"loadon-run": "Checkpoint.LoadOn(backend), then one forward pass"}[kind]
			fmt.Fprintf(stdout, "load %s: %.1fM parameters, BF16 file %.0f MB, float32 %.0f MB, GOMEMLIMIT=%s, %d run(s), medians:\n",
				what, float64(r.Params)/1e6, float64(r.FileBytes)/(1<<20), float64(r.F32Bytes)/(1<<20), r.GOMEMLIMIT, len(rs))
			fmt.Fprintf(stdout, "  load_s=%.2f load_cpu_s=%.2f peak_rss_mb=%.0f peak_over_f32=%.2f base_rss_mb=%.0f go_alloc_mb=%.0f",
				get(func(r *hfLoadResult) float64 { return r.LoadS }), get(func(r *hfLoadResult) float64 { return r.LoadCPUS }),
				get(func(r *hfLoadResult) float64 { return r.PeakRSSMB }), get(func(r *hfLoadResult) float64 { return r.PeakRatio }),
				get(func(r *hfLoadResult) float64 { return r.BaseRSSMB }), get(func(r *hfLoadResult) float64 { return r.TotalAllocMB }))
			if r.Forward {
				fmt.Fprintf(stdout, " forward_s=%.2f", get(func(r *hfLoadResult) float64 { return r.ForwardS }))
			}
			fmt.Fprintln(stdout)
		}
		report["loads"] = loads
		os.RemoveAll(d)
	}

	if !o.noTrain {
		// The fp32 matmul ceilings (1024x1024, GFLOP/s) of both, to read the ratio by.
		for _, th := range o.threads {
			cmd := exec.Command(self, "-worker", "matmul", "-worker-threads", strconv.Itoa(th))
			cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(th))
			var mr workerResult
			if err := hfChild(cmd, &mr); err != nil {
				return err
			}
			cmd = exec.Command(o.python, o.script, "ceiling", "--threads", strconv.Itoa(th))
			cmd.Env = append(os.Environ(), "OMP_NUM_THREADS="+strconv.Itoa(th))
			var pr struct {
				GFLOPS  float64 `json:"gflops"`
				LibBLAS string  `json:"libblas"`
			}
			if err := hfChild(cmd, &pr); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "matmul threads=%d masklab gflops=%.1f pytorch gflops=%.1f (%s)\n", th, mr.GFLOPS, pr.GFLOPS, pr.LibBLAS)
			if !strings.HasPrefix(pr.LibBLAS, "openblas-") || strings.HasSuffix(pr.LibBLAS, "/Prescott") {
				fmt.Fprintf(stdout, "warning: PyTorch runs on %s BLAS; install libopenblas0-openmp (and set OPENBLAS_CORETYPE to the CPU's kernels), or the comparison means nothing\n", pr.LibBLAS)
			}
			report[fmt.Sprintf("matmul_gflops_threads%d", th)] = [2]float64{mr.GFLOPS, pr.GFLOPS}
		}
	}

	if !o.noTrain {
		d, err := gen("train-30m")
		if err != nil {
			return err
		}
		common := []string{"--batch", strconv.Itoa(o.batch), "--seq", strconv.Itoa(o.seq), "--warmup", strconv.Itoa(o.warmup), "--steps", strconv.Itoa(o.steps)}
		goArgs := []string{"-batch", strconv.Itoa(o.batch), "-seq", strconv.Itoa(o.seq), "-warmup", strconv.Itoa(o.warmup), "-steps", strconv.Itoa(o.steps)}
		var all []*hfTrainResult
		fmt.Fprintf(stdout, "train: Llama %s, batch %d x %d tokens, float32, AdamW; %d warm-up + %d measured steps per run; %d interleaved pairs per thread count; PyTorch OMP_WAIT_POLICY=%s\n",
			"train-30m", o.batch, o.seq, o.warmup, o.steps, o.pairs, cmp.Or(o.ompWait, "unset"))
		for _, th := range o.threads {
			var m, p []*hfTrainResult
			var ratios, wallRatios []float64
			for i := range o.pairs {
				cmd := exec.Command(self, append([]string{"hf", "-worker", "train", "-dir", d, "-worker-threads", strconv.Itoa(th)}, goArgs...)...)
				cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(th))
				var mr hfTrainResult
				if err := hfChild(cmd, &mr); err != nil {
					return err
				}
				cmd = exec.Command(o.python, append([]string{o.script, "train", "--ckpt", d, "--threads", strconv.Itoa(th)}, common...)...)
				cmd.Env = append(os.Environ(), "OMP_NUM_THREADS="+strconv.Itoa(th))
				if o.ompWait != "" {
					cmd.Env = append(cmd.Env, "OMP_WAIT_POLICY="+o.ompWait)
				}
				var pr hfTrainResult
				if err := hfChild(cmd, &pr); err != nil {
					return err
				}
				m, p = append(m, &mr), append(p, &pr)
				ratios = append(ratios, mr.perCPUS()/pr.perCPUS())
				wallRatios = append(wallRatios, mr.perWallS()/pr.perWallS())
				logf("threads=%d pair %d/%d: masklab %.1f tokens/CPU s (%.1f/s wall, compile %.0fs), pytorch %.1f tokens/CPU s (%.1f/s wall, %s); first loss %.6f vs %.6f",
					th, i+1, o.pairs, mr.perCPUS(), mr.perWallS(), mr.CompileS, pr.perCPUS(), pr.perWallS(), pr.LibBLAS, mr.Losses[0], pr.Losses[0])
			}
			all = append(all, m...)
			all = append(all, p...)
			med := func(rs []*hfTrainResult, f func(*hfTrainResult) float64) float64 {
				var xs []float64
				for _, r := range rs {
					xs = append(xs, f(r))
				}
				return median(xs)
			}
			for _, side := range []struct {
				name string
				rs   []*hfTrainResult
			}{{"masklab", m}, {"pytorch", p}} {
				fmt.Fprintf(stdout, "train threads=%d %s tokens/cpu_s=%.1f tokens/s=%.1f cpu_ms/token=%.2f peak_rss_mb=%.0f first_loss=%.6f\n",
					th, side.name, med(side.rs, (*hfTrainResult).perCPUS), med(side.rs, (*hfTrainResult).perWallS),
					1e3/med(side.rs, (*hfTrainResult).perCPUS), med(side.rs, func(r *hfTrainResult) float64 { return r.PeakRSS }),
					side.rs[0].Losses[0])
			}
			fmt.Fprintf(stdout, "train threads=%d ratio_cpu=%.2f (pairs %.2f..%.2f) ratio_wall=%.2f first_loss_diff=%.2e\n",
				th, median(ratios), slices.Min(ratios), slices.Max(ratios), median(wallRatios), math.Abs(m[0].Losses[0]-p[0].Losses[0]))
		}
		report["train"] = all
		report["params_train"] = all[0].Params
	}
	fmt.Fprintf(stdout, "total time %.0fs\n", time.Since(t0).Seconds())
	if o.jsonOut != "" {
		data, err := json.MarshalIndent(report, "", " ")
		if err != nil {
			return err
		}
		return os.WriteFile(o.jsonOut, data, 0o644)
	}
	return nil
}
