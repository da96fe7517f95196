// Command bench measures masklab's training speed against the PyTorch reference of
// shared/bench (train_transformer.py): the same model (RB-d64, optionally RB-d128),
// data, masks and optimizer, trained one after the other on the same machine in
// interleaved pairs, at 1 and 2 threads. It prints one line per figure in a fixed
// form ("RB-d64 threads=1 masklab target_tokens/s=8123"). scripts/bench.sh builds and
// runs it; docs/performance.md explains the figures.
//
// Each measurement runs in its own process (the benchmark re-executes itself with
// -worker), so peak memory and thread settings are per run: GOMAXPROCS=N with the Go
// backend's "go:parallelism=-1" bounds masklab to N threads, torch.set_num_threads(N)
// (and OMP_NUM_THREADS) bounds PyTorch.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	ref        string
	python     string
	sizes      []string
	threads    []int
	pairs      int
	minSteps   int
	maxSteps   int
	minSeconds float64
	warmup     int
	torchSteps int
	converge   bool
	convMax    int
	maskCost   bool
	ceiling    bool
	profile    string
	jsonOut    string
	fusedQKV   bool
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "hf" { // issue 18's checkpoint benchmark (hf.go)
		return runHF(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var sizesFlag, threadsFlag string
	var w workerOptions
	worker := fs.String("worker", "", "internal: run one measurement in this process (train, converge, masks, matmul)")
	fs.StringVar(&o.ref, "ref", "", "path of the PyTorch reference train_transformer.py (\"\" or \"none\": masklab only)")
	fs.StringVar(&o.python, "python", "/usr/bin/python3", "Python with Debian's python3-torch")
	fs.StringVar(&sizesFlag, "sizes", "d64", "comma-separated reference sizes: d64, d128")
	fs.StringVar(&threadsFlag, "threads", "1,2", "comma-separated thread counts")
	fs.IntVar(&o.pairs, "pairs", 3, "interleaved masklab/PyTorch pairs per size and thread count (medians are quoted)")
	fs.IntVar(&o.minSteps, "min-steps", 20, "masklab: measure at least this many steps")
	fs.IntVar(&o.maxSteps, "max-steps", 200, "masklab: measure at most this many steps")
	fs.Float64Var(&o.minSeconds, "min-seconds", 8, "masklab: measure at least this long (unless max-steps is reached)")
	fs.IntVar(&o.warmup, "warmup", 5, "masklab: warm-up steps after the compiling one, not measured")
	fs.IntVar(&o.torchSteps, "torch-steps", 100, "PyTorch: measured steps (after its 20 warm-up steps)")
	fs.BoolVar(&o.converge, "converge", true, "also train RB-d64 until 95% token accuracy and print the step")
	fs.IntVar(&o.convMax, "converge-max", 600, "give up the convergence run after this many steps")
	fs.BoolVar(&o.maskCost, "mask-cost", false, "also time training with every mask \"full\" (the cost of masking)")
	fs.BoolVar(&o.ceiling, "ceiling", true, "measure the fp32 matmul ceilings (GFLOP/s) of both")
	fs.StringVar(&o.profile, "profile", "", "write a CPU profile (pprof) of one masklab RB run at the first size and thread count to this file, and skip the rest")
	fs.StringVar(&o.jsonOut, "json", "", "also write every measurement to this JSON file")
	fs.StringVar(&w.Size, "size", "d64", "worker: size")
	fs.IntVar(&w.Threads, "worker-threads", 1, "worker: threads")
	fs.IntVar(&w.EvalEvery, "eval-every", 25, "worker: evaluation interval of the convergence run")
	fs.Float64Var(&w.TargetAcc, "target-acc", 0.95, "worker: target token accuracy of the convergence run")
	fs.StringVar(&w.CPUProfile, "cpuprofile", "", "worker: CPU profile file")
	lengthsFlag := fs.String("lengths", "", "run the length benchmark instead (scripts/bench.sh --lengths): comma-separated sequence lengths, e.g. 256,512,1024,2048,4096")
	lengthsMasks := fs.String("lengths-masks", "", "length benchmark: only these masks (separated by ';'), e.g. \"causal & doc\"")
	lengthsBlock := fs.Int("lengths-block", 0, "length benchmark: sparse block size (0: layers.DefaultSparseBQ)")
	lengthsThreads := fs.Int("lengths-threads", 1, "length benchmark: threads of each measuring process")
	figure := fs.String("figure", "", "length benchmark: write the log-log figure of cost against length to this PNG")
	redraw := fs.String("redraw", "", "length benchmark: redraw -figure from this -json output of an earlier run, and exit")
	decodeFlag := fs.String("decode", "", "run the decoding benchmark instead (scripts/bench.sh --decode): comma-separated prompt lengths, e.g. 16,64,256,1024")
	decodeNew := fs.Int("decode-new", 64, "decoding benchmark: tokens generated per prompt")
	attnLen := fs.Int("attn-len", 0, "worker attn: sequence length")
	attnMask := fs.String("attn-mask", "", "worker attn: self-attention mask spec")
	attnPath := fs.String("attn-path", "", "worker attn: dense or sparse")
	attnBlock := fs.Int("attn-block", 0, "worker attn: sparse block size (queries and keys; 0: layers.DefaultSparseBQ)")
	fs.BoolVar(&o.fusedQKV, "fused-qkv", false, "masklab: project self-attention queries, keys and values with one matmul (layers.Config.FusedQKV; same model, other variable names)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *worker == "attn" {
		if *attnPath != "dense" && *attnPath != "sparse" {
			return fmt.Errorf("-attn-path must be dense or sparse, got %q", *attnPath)
		}
		return runAttnWorker(*attnLen, *attnMask, *attnPath, *attnBlock, o.minSeconds, w.CPUProfile, stdout)
	}
	if *redraw != "" {
		return redrawLengths(*redraw, *figure)
	}
	if *decodeFlag != "" {
		do := decodeOptions{newTok: *decodeNew, pairs: o.pairs}
		for _, s := range strings.Split(*decodeFlag, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 1 {
				return fmt.Errorf("-decode: want positive integers, got %q", s)
			}
			do.prompts = append(do.prompts, n)
		}
		if do.pairs < 1 || do.newTok < 1 {
			return fmt.Errorf("-pairs and -decode-new must be >= 1, got %d and %d", do.pairs, do.newTok)
		}
		return orchestrateDecode(do, stdout)
	}
	if *lengthsFlag != "" {
		lo := lengthOptions{block: *lengthsBlock, pairs: o.pairs, threads: *lengthsThreads, minSeconds: o.minSeconds, figure: *figure, jsonOut: o.jsonOut}
		for _, s := range strings.Split(*lengthsFlag, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 1 {
				return fmt.Errorf("-lengths: want positive integers, got %q", s)
			}
			lo.lengths = append(lo.lengths, n)
		}
		if *lengthsMasks != "" {
			lengthMasks = strings.Split(*lengthsMasks, ";")
		}
		if lo.pairs < 1 || lo.threads < 1 {
			return fmt.Errorf("-pairs and -lengths-threads must be >= 1, got %d and %d", lo.pairs, lo.threads)
		}
		return orchestrateLengths(lo, stdout, stderr)
	}
	if *worker != "" {
		w.Kind = *worker
		w.Warmup, w.MinSteps, w.MaxSteps, w.MinSeconds = o.warmup, o.minSteps, o.maxSteps, o.minSeconds
		if w.Kind == "converge" {
			w.MaxSteps = o.convMax
		}
		if w.Kind == "masks" {
			w.NoMasks = true
		}
		w.FusedQKV = o.fusedQKV
		return runWorker(w, stdout)
	}
	for _, s := range strings.Split(sizesFlag, ",") {
		if _, ok := sizes[s]; !ok {
			return fmt.Errorf("-sizes: unknown size %q (want d64 or d128)", s)
		}
		o.sizes = append(o.sizes, s)
	}
	for _, s := range strings.Split(threadsFlag, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return fmt.Errorf("-threads: want positive integers, got %q", s)
		}
		o.threads = append(o.threads, n)
	}
	return orchestrate(o, stdout, stderr)
}

// procStats are what the operating system says about one child process.
type procStats struct {
	WallS      float64 `json:"wall_s"`
	CPUS       float64 `json:"cpu_s"`
	MaxRSSMB   float64 `json:"max_rss_mb"`
	OtherCores float64 `json:"other_cores"` // CPU used by other processes during the run, in cores
}

// systemBusySeconds is the machine's busy CPU time so far (all CPUs), from /proc/stat.
func systemBusySeconds() float64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var total, idle float64
	for i := 1; i <= 8; i++ {
		v, _ := strconv.ParseFloat(f[i], 64)
		total += v
		if i == 4 || i == 5 {
			idle += v
		}
	}
	return (total - idle) / 100 // USER_HZ is 100 on Linux
}

// runMeasured runs cmd, returning its stats and its stderr+stdout tail on failure.
func runMeasured(cmd *exec.Cmd) (*procStats, string, error) {
	var buf bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &buf
	}
	cmd.Stderr = &buf
	busy0, t0 := systemBusySeconds(), time.Now()
	err := cmd.Run()
	wall := time.Since(t0).Seconds()
	busy := systemBusySeconds() - busy0
	if err != nil {
		return nil, buf.String(), err
	}
	ps := &procStats{WallS: wall}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		ps.CPUS = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		ps.MaxRSSMB = float64(ru.Maxrss) / 1024
	}
	ps.OtherCores = max(0, busy-ps.CPUS) / wall
	return ps, buf.String(), nil
}

// masklabRun runs one masklab worker process.
func masklabRun(o options, kind, sz string, threads int, extra ...string) (*workerResult, *procStats, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	args := []string{"-worker", kind, "-size", sz, "-worker-threads", strconv.Itoa(threads),
		"-warmup", strconv.Itoa(o.warmup), "-min-steps", strconv.Itoa(o.minSteps), "-max-steps", strconv.Itoa(o.maxSteps),
		"-min-seconds", strconv.FormatFloat(o.minSeconds, 'g', -1, 64), "-converge-max", strconv.Itoa(o.convMax),
		"-fused-qkv=" + strconv.FormatBool(o.fusedQKV)}
	cmd := exec.Command(self, append(args, extra...)...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(threads))
	var out bytes.Buffer
	cmd.Stdout = &out
	ps, log, err := runMeasured(cmd)
	if err != nil {
		return nil, nil, fmt.Errorf("masklab %s %s threads=%d: %v: %s", kind, sz, threads, err, firstLine(log))
	}
	var res workerResult
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	var last string
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "{") {
			last = sc.Text()
		}
	}
	if err := json.Unmarshal([]byte(last), &res); err != nil {
		return nil, nil, fmt.Errorf("masklab %s %s threads=%d: no result in its output: %v", kind, sz, threads, err)
	}
	return &res, ps, nil
}

// pair is one interleaved masklab/PyTorch measurement.
type pair struct {
	Size     string        `json:"size"`
	Threads  int           `json:"threads"`
	Masklab  *workerResult `json:"masklab"`
	MProc    *procStats    `json:"masklab_process"`
	Torch    *torchResult  `json:"-"`
	TorchSum *torchSummary `json:"pytorch,omitempty"`
	TProc    *procStats    `json:"pytorch_process,omitempty"`
}

type torchSummary struct {
	StepsPerS     float64 `json:"steps_per_s"`
	TokensPerS    float64 `json:"target_tokens_per_s"`
	TokensPerCPUS float64 `json:"target_tokens_per_cpu_s"`
	MedianStepMS  float64 `json:"median_step_ms"`
	LibBLAS       string  `json:"libblas"`
}

func (r *workerResult) stepsPerS() float64  { return float64(r.Steps) / r.WallS }
func (r *workerResult) tokensPerS() float64 { return float64(r.Tokens) / r.WallS }
func (r *workerResult) tokensPerCPUS() float64 {
	if r.CPUS == 0 {
		return 0
	}
	return float64(r.Tokens) / r.CPUS
}

func orchestrate(o options, stdout, stderr io.Writer) error {
	t0 := time.Now()
	logf := func(format string, args ...any) {
		fmt.Fprintf(stderr, "[%5.0fs] "+format+"\n", append([]any{time.Since(t0).Seconds()}, args...)...)
	}
	if o.profile != "" {
		sz, th := o.sizes[0], o.threads[0]
		res, _, err := masklabRun(o, "train", sz, th, "-cpuprofile", o.profile)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s threads=%d masklab target_tokens/s=%.0f (profiled; pprof file %s)\n", sizes[sz].Name, th, res.tokensPerS(), o.profile)
		return nil
	}
	var torch *torchRunner
	switch {
	case o.ref == "" || o.ref == "none":
		fmt.Fprintln(stdout, "pytorch reference: not run (no --ref)")
	default:
		var err error
		if torch, err = newTorchRunner(o.python, o.ref); err != nil {
			fmt.Fprintf(stdout, "pytorch reference: not run (%v)\n", err)
			torch = nil
		} else {
			defer torch.close()
			fmt.Fprintf(stdout, "pytorch reference: %s BLAS, OPENBLAS_CORETYPE=%s\n", torch.blas, torch.coretype)
			if !strings.HasPrefix(torch.blas, "openblas-") {
				fmt.Fprintf(stdout, "warning: PyTorch runs on %s BLAS; install libopenblas0-openmp, or the comparison means nothing\n", torch.blas)
			}
		}
	}
	report := map[string]any{"started": t0.UTC().Format(time.RFC3339)}
	if v, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		report["commit"] = strings.TrimSpace(string(v))
	}
	fmt.Fprintf(stdout, "machine: %s, %d CPUs, load average %s\n", cpuModel(), numCPU(), loadAvg())

	// Ceilings.
	ceilings := map[int][2]float64{}
	if o.ceiling {
		for _, th := range o.threads {
			var c [2]float64
			if res, _, err := masklabRun(o, "matmul", "d64", th); err == nil {
				c[0] = res.GFLOPS
				fmt.Fprintf(stdout, "matmul threads=%d masklab gflops=%.1f\n", th, c[0])
			} else {
				fmt.Fprintf(stdout, "matmul threads=%d masklab error=%q\n", th, err.Error())
			}
			if torch != nil {
				if g, err := torch.ceiling(th); err == nil {
					c[1] = g
					fmt.Fprintf(stdout, "matmul threads=%d pytorch gflops=%.1f\n", th, g)
				}
			}
			ceilings[th] = c
		}
		report["matmul_ceilings_gflops"] = ceilings
	}

	var pairs []*pair
	for _, sz := range o.sizes {
		s := sizes[sz]
		for _, th := range o.threads {
			var ps []*pair
			for i := range o.pairs {
				p := &pair{Size: s.Name, Threads: th}
				var err error
				p.Masklab, p.MProc, err = masklabRun(o, "train", sz, th)
				if err != nil {
					return err
				}
				logf("%s threads=%d pair %d/%d: masklab %.0f target tokens/s (%.2f steps/s, %.0f tokens per CPU s, other load %.2f cores)",
					s.Name, th, i+1, o.pairs, p.Masklab.tokensPerS(), p.Masklab.stepsPerS(), p.Masklab.tokensPerCPUS(), p.MProc.OtherCores)
				if torch != nil {
					p.Torch, p.TProc, err = torch.run(s, th, 20, o.torchSteps)
					if err != nil {
						return err
					}
					p.TorchSum = &torchSummary{StepsPerS: p.Torch.StepsPerS, TokensPerS: p.Torch.TokensPerS,
						TokensPerCPUS: p.Torch.tokensPerCPUSecond(), MedianStepMS: p.Torch.MedianStepMS, LibBLAS: p.Torch.LibBLAS}
					logf("%s threads=%d pair %d/%d: pytorch %.0f target tokens/s (%.2f steps/s, %.0f tokens per CPU s, other load %.2f cores, %s)",
						s.Name, th, i+1, o.pairs, p.Torch.TokensPerS, p.Torch.StepsPerS, p.TorchSum.TokensPerCPUS, p.TProc.OtherCores, p.Torch.LibBLAS)
				}
				ps = append(ps, p)
			}
			printPairs(stdout, s, th, ps, ceilings[th])
			pairs = append(pairs, ps...)
		}
	}
	report["pairs"] = pairs

	if o.maskCost {
		for _, sz := range o.sizes {
			s := sizes[sz]
			th := o.threads[0]
			var with, without []float64
			for range max(o.pairs, 2) {
				a, _, err := masklabRun(o, "train", sz, th)
				if err != nil {
					return err
				}
				b, _, err := masklabRun(o, "masks", sz, th)
				if err != nil {
					return err
				}
				with = append(with, a.CPUS*1e3/float64(a.Steps))
				without = append(without, b.CPUS*1e3/float64(b.Steps))
			}
			// The share is the median of the pairs' own shares: a pair's two runs see
			// the same load, which a difference of medians would not account for.
			var shares []float64
			for i := range with {
				shares = append(shares, (with[i]-without[i])/with[i])
			}
			fmt.Fprintf(stdout, "%s threads=%d masklab cpu_ms/step=%.1f masks_full cpu_ms/step=%.1f mask_construction_share=%.1f%% (pairs %.1f%%..%.1f%%)\n",
				s.Name, th, median(with), median(without), 100*median(shares), 100*slices.Min(shares), 100*slices.Max(shares))
			report["mask_cost_"+sz] = map[string]any{"with_cpu_ms": with, "full_cpu_ms": without}
		}
	}

	if o.converge {
		res, _, err := masklabRun(o, "converge", "d64", o.threads[len(o.threads)-1])
		if err != nil {
			return err
		}
		report["converge"] = res
		if res.StepsToTarget > 0 {
			fmt.Fprintf(stdout, "RB-d64 masklab steps_to_acc95=%d (token accuracy %.4f, eval every 25 steps on 1024 validation rows; PyTorch median 325)\n",
				res.StepsToTarget, res.FinalAcc)
		} else {
			fmt.Fprintf(stdout, "RB-d64 masklab steps_to_acc95=none (token accuracy %.4f after %d steps)\n", res.FinalAcc, res.Steps)
		}
	}
	fmt.Fprintf(stdout, "total time %.0fs\n", time.Since(t0).Seconds())
	if o.jsonOut != "" {
		data, err := json.MarshalIndent(report, "", " ")
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(o.jsonOut), 0o755); err != nil {
			return err
		}
		return os.WriteFile(o.jsonOut, data, 0o644)
	}
	return nil
}

// printPairs prints the medians of a size and thread count in the fixed form.
func printPairs(w io.Writer, s size, th int, ps []*pair, ceiling [2]float64) {
	pre := fmt.Sprintf("%s threads=%d", s.Name, th)
	var mSteps, mTok, mCPU, mRSS, tSteps, tTok, tCPU, tRSS, ratio, ratioCPU, other []float64
	for _, p := range ps {
		mSteps = append(mSteps, p.Masklab.stepsPerS())
		mTok = append(mTok, p.Masklab.tokensPerS())
		mCPU = append(mCPU, p.Masklab.tokensPerCPUS())
		mRSS = append(mRSS, p.MProc.MaxRSSMB)
		other = append(other, p.MProc.OtherCores)
		if p.Torch != nil {
			tSteps = append(tSteps, p.Torch.StepsPerS)
			tTok = append(tTok, p.Torch.TokensPerS)
			tCPU = append(tCPU, p.TorchSum.TokensPerCPUS)
			tRSS = append(tRSS, p.TProc.MaxRSSMB)
			other = append(other, p.TProc.OtherCores)
			ratio = append(ratio, p.Masklab.tokensPerS()/p.Torch.TokensPerS)
			if p.TorchSum.TokensPerCPUS > 0 {
				ratioCPU = append(ratioCPU, p.Masklab.tokensPerCPUS()/p.TorchSum.TokensPerCPUS)
			}
		}
	}
	flops := stepFLOPs(s)
	fmt.Fprintf(w, "%s masklab steps/s=%.2f\n", pre, median(mSteps))
	fmt.Fprintf(w, "%s masklab target_tokens/s=%.0f\n", pre, median(mTok))
	fmt.Fprintf(w, "%s masklab target_tokens/cpu_s=%.0f\n", pre, median(mCPU))
	fmt.Fprintf(w, "%s masklab peak_rss_mb=%.0f\n", pre, slices.Max(mRSS))
	fmt.Fprintf(w, "%s masklab gflops=%.1f", pre, flops*median(mSteps)/1e9)
	if ceiling[0] > 0 {
		fmt.Fprintf(w, " of_ceiling=%.2f", flops*median(mSteps)/1e9/ceiling[0])
	}
	fmt.Fprintln(w)
	if len(tTok) > 0 {
		fmt.Fprintf(w, "%s pytorch steps/s=%.2f\n", pre, median(tSteps))
		fmt.Fprintf(w, "%s pytorch target_tokens/s=%.0f\n", pre, median(tTok))
		fmt.Fprintf(w, "%s pytorch target_tokens/cpu_s=%.0f\n", pre, median(tCPU))
		fmt.Fprintf(w, "%s pytorch peak_rss_mb=%.0f\n", pre, slices.Max(tRSS))
		fmt.Fprintf(w, "%s pytorch gflops=%.1f", pre, flops*median(tSteps)/1e9)
		if ceiling[1] > 0 {
			fmt.Fprintf(w, " of_ceiling=%.2f", flops*median(tSteps)/1e9/ceiling[1])
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "%s ratio=%.2f\n", pre, median(ratio))
		if len(ratioCPU) > 0 {
			fmt.Fprintf(w, "%s ratio_cpu=%.2f\n", pre, median(ratioCPU))
		}
	}
	fmt.Fprintf(w, "%s noise pairs=%d other_cores=%.2f masklab_spread=%.0f%%", pre, len(ps), median(other), 100*spread(mTok))
	if len(ratio) > 0 {
		fmt.Fprintf(w, " pytorch_spread=%.0f%% ratio_range=%.2f..%.2f", 100*spread(tTok), slices.Min(ratio), slices.Max(ratio))
	}
	fmt.Fprintln(w)
	if median(other) > 0.25 {
		fmt.Fprintf(w, "%s warning: other processes used %.2f cores during these runs; wall-clock figures are not comparable with a quiet machine's (compare target_tokens/cpu_s and threads=1)\n",
			pre, median(other))
	}
}

// median of xs (the mean of the middle two for an even count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// spread is (max - min) / median: how much repeated measurements disagree.
func spread(xs []float64) float64 {
	m := median(xs)
	if m == 0 {
		return 0
	}
	return (slices.Max(xs) - slices.Min(xs)) / m
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "model name") {
			if _, v, ok := strings.Cut(line, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown CPU"
}

func numCPU() int {
	n := 0
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "processor") {
			n++
		}
	}
	return n
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
