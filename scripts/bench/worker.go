package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/masklab/masklab/datasets"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
)

// size is one reference configuration of shared/bench (RB-d64, RB-d128).
type size struct {
	Name   string
	DModel int
	FF     int
}

var sizes = map[string]size{
	"d64":  {"RB-d64", 64, 256},
	"d128": {"RB-d128", 128, 512},
}

// The reference's fixed settings (shared/bench/train_transformer.py).
const (
	refBatch  = 64
	refLen    = 24 // source and target padded length
	refVocab  = 64
	refHeads  = 4
	refLayers = 2
	refLR     = 1e-3
	refWD     = 0.01
	refSeed   = 0
)

// referenceModel is the PyTorch script's model as a layers.Config: pre-LN 2+2 layers,
// 4 heads, learned token embeddings + sinusoidal positions, final norms, untied output,
// no dropout; masks: encoder "pad", decoder self "causal & pad", cross "pad".
func referenceModel(s size) (layers.Config, error) {
	self, err := mask.ParseAttention("causal & pad")
	if err != nil {
		return layers.Config{}, err
	}
	return layers.Config{
		Kind: layers.KindSeq2Seq, Vocab: refVocab, DModel: s.DModel, Heads: refHeads, FF: s.FF,
		EncLayers: refLayers, DecLayers: refLayers, MaxLen: refLen,
		Self: self, Cross: mask.Pad, Enc: mask.Pad,
	}, nil
}

// analyticFLOPs is the PyTorch script's analytic_flops: forward matmul FLOPs (2*M*N*K
// per GEMM, attention matmuls included); a training step counts 3x.
func analyticFLOPs(B, S, T, d, ff, vocab, nEnc, nDec int) float64 {
	enc := 2*B*S*d*d*4 + 2*2*B*S*S*d + 2*2*B*S*d*ff
	decSelf := 2*B*T*d*d*4 + 2*2*B*T*T*d
	decCross := 2*B*T*d*d*2 + 2*B*S*d*d*2 + 2*2*B*T*S*d
	decFFN := 2 * 2 * B * T * d * ff
	out := 2 * B * T * d * vocab
	fwd := nEnc*enc + nDec*(decSelf+decCross+decFFN) + out
	return 3 * float64(fwd)
}

// stepFLOPs is the FLOPs of one training step of s.
func stepFLOPs(s size) float64 {
	return analyticFLOPs(refBatch, refLen, refLen, s.DModel, s.FF, refVocab, refLayers, refLayers)
}

// workerResult is what a worker process reports (one JSON line on stdout).
type workerResult struct {
	Kind          string  `json:"kind"`
	Size          string  `json:"size,omitempty"`
	Threads       int     `json:"threads"`
	Backend       string  `json:"backend"`
	Steps         int     `json:"measured_steps,omitempty"`
	WallS         float64 `json:"measured_wall_s,omitempty"`
	CPUS          float64 `json:"measured_cpu_s,omitempty"`
	Tokens        int     `json:"measured_tokens,omitempty"`
	CompileS      float64 `json:"compile_s,omitempty"`
	MedianStepMS  float64 `json:"median_step_ms,omitempty"`
	PeakRSSMB     float64 `json:"peak_rss_mb"`
	GFLOPS        float64 `json:"gflops,omitempty"`
	StepsToTarget int     `json:"steps_to_target,omitempty"`
	FinalAcc      float64 `json:"final_acc,omitempty"`
	FinalLoss     float64 `json:"final_loss,omitempty"`
	Evals         []eval  `json:"evals,omitempty"`

	KernelMicros map[string]float64 `json:"kernel_us,omitempty"`
}

type eval struct {
	Step int     `json:"step"`
	Acc  float64 `json:"acc"`
	Loss float64 `json:"train_loss"`
}

// workerOptions configure one worker process.
type workerOptions struct {
	Kind       string // "train", "converge", "masks" or "matmul"
	Size       string
	Threads    int
	Warmup     int
	MinSteps   int
	MaxSteps   int
	MinSeconds float64
	EvalEvery  int
	TargetAcc  float64
	CPUProfile string
	NoMasks    bool // "masks" kind: train with all masks "full" (the cost of masking)
	FusedQKV   bool // project self-attention queries, keys and values with one matmul
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// peakRSSMB is the process's peak resident set (VmHWM), in MB.
func peakRSSMB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

// runWorker runs one measurement in this process and writes its result as JSON.
func runWorker(o workerOptions, out io.Writer) error {
	if o.Threads > 0 {
		runtime.GOMAXPROCS(o.Threads)
	}
	choice := backend.Resolve("", "")
	be, err := backend.New(choice)
	if err != nil {
		return err
	}
	var res *workerResult
	switch o.Kind {
	case "matmul":
		res, err = matmulCeiling(be)
	case "kernels":
		var ks map[string]float64
		if ks, err = kernelTimes(be); err == nil {
			res = &workerResult{KernelMicros: ks}
		}
	case "train", "converge", "masks":
		res, err = trainWorker(be, o)
	default:
		return fmt.Errorf("unknown worker kind %q", o.Kind)
	}
	if err != nil {
		return err
	}
	res.Kind, res.Threads, res.Backend = o.Kind, runtime.GOMAXPROCS(0), choice.Config
	res.PeakRSSMB = peakRSSMB()
	if os.Getenv("OPPROF") != "" {
		time.Sleep(2500 * time.Millisecond) // the patched backend writes its totals every 2 s
	}
	return json.NewEncoder(out).Encode(res)
}

// trainer is the reference training step (and a teacher-forced evaluation) on one backend.
type trainer struct {
	cfg   layers.Config
	store *model.Store
	step  *model.Exec
	eval  *model.Exec
}

func newTrainer(be compute.Backend, cfg layers.Config) (*trainer, error) {
	t := &trainer{cfg: cfg, store: model.NewStore()}
	if err := t.store.SetRNGStateFromSeed(refSeed); err != nil {
		return nil, err
	}
	// AdamW as torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.999),
	// eps=1e-8, weight_decay=0.01): decoupled decay on every parameter, no schedule,
	// no clipping.
	opt := optimizer.Adam().LearningRate(refLR).Betas(0.9, 0.999).Epsilon(1e-8).WeightDecay(refWD).Done()
	var err error
	t.step, err = model.NewExec(be, t.store, func(scope *model.Scope, in []*graph.Node) []*graph.Node {
		layers.VariablesAsParameters(in[0].Graph()) // the optimizer's moments and step too
		loss, _, _ := t.forward(scope, in, true)
		opt.UpdateGraph(scope, loss.Graph(), loss)
		return []*graph.Node{loss}
	})
	if err != nil {
		return nil, err
	}
	t.eval, err = model.NewExec(be, t.store, func(scope *model.Scope, in []*graph.Node) []*graph.Node {
		layers.VariablesAsParameters(in[0].Graph())
		_, correct, total := t.forward(scope, in, false)
		return []*graph.Node{correct, total}
	})
	return t, err
}

// forward builds the model and returns the loss (mean cross-entropy over non-PAD
// labels) and the number of correct and non-PAD labels.
func (t *trainer) forward(scope *model.Scope, in []*graph.Node, training bool) (loss, correct, total *graph.Node) {
	logits, err := layers.Forward(scope.In("model"), t.cfg, layers.Inputs{
		Src: in[0], SrcLen: in[1], Dec: in[2], DecLen: in[3], Training: training,
	})
	if err != nil {
		panic(err)
	}
	tgt := in[4]
	g := tgt.Graph()
	valid := graph.NotEqual(tgt, graph.ScalarZero(g, dtypes.Int32))
	w := graph.ConvertDType(valid, dtypes.Float32)
	loss = layers.WeightedCrossEntropy(logits, tgt, w)
	if !training {
		right := graph.LogicalAnd(valid, graph.Equal(graph.ArgMax(logits, -1, dtypes.Int32), tgt))
		correct = graph.ReduceAllSum(graph.ConvertDType(right, dtypes.Float32))
		total = graph.ReduceAllSum(w)
	}
	return loss, correct, total
}

func batchArgs(b datasets.Batch) []any {
	return []any{
		tensors.FromFlatDataAndDimensions(b.Src, b.B, b.S),
		tensors.FromFlatDataAndDimensions(b.SrcLen, b.B),
		tensors.FromFlatDataAndDimensions(b.Dec, b.B, b.T),
		tensors.FromFlatDataAndDimensions(b.TgtLen, b.B),
		tensors.FromFlatDataAndDimensions(b.Tgt, b.B, b.T),
	}
}

// referenceTask is the reference reverse task (vocab 64, lengths 8..22, padded to 24),
// with a 1024-example validation split like the script's 1024 evaluation sequences.
func referenceTask() (*datasets.Task, error) {
	return datasets.Load("reverse", datasets.Options{ValidSize: 1024})
}

func trainWorker(be compute.Backend, o workerOptions) (*workerResult, error) {
	s, ok := sizes[o.Size]
	if !ok {
		return nil, fmt.Errorf("unknown size %q (want d64 or d128)", o.Size)
	}
	cfg, err := referenceModel(s)
	if err != nil {
		return nil, err
	}
	if o.NoMasks {
		cfg.Self, cfg.Cross, cfg.Enc = mask.Full, mask.Full, mask.Full
	}
	cfg.FusedQKV = o.FusedQKV
	task, err := referenceTask()
	if err != nil {
		return nil, err
	}
	tr, err := newTrainer(be, cfg)
	if err != nil {
		return nil, err
	}
	bopts := datasets.BatchOptions{SrcLen: refLen, TgtLen: refLen}
	res := &workerResult{Size: o.Size}
	step := 0
	var lastLoss float64
	// runStep makes the batch (timed, as in the script) and trains on it.
	runStep := func() (int, error) {
		b, err := task.Batch("train", refBatch, 1, step, bopts)
		if err != nil {
			return 0, err
		}
		step++
		outs, err := tr.step.Exec(batchArgs(b)...)
		if err != nil {
			return 0, err
		}
		lastLoss = float64(tensors.MustCopyFlatData[float32](outs[0])[0])
		return b.Tokens, nil
	}
	t0 := time.Now()
	if _, err := runStep(); err != nil { // compiles
		return nil, err
	}
	res.CompileS = time.Since(t0).Seconds()

	if o.Kind == "converge" {
		return converge(tr, task, o, res, runStep, &lastLoss)
	}
	for range o.Warmup {
		if _, err := runStep(); err != nil {
			return nil, err
		}
	}
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	var stepMS []float64
	cpu0, start := cpuSeconds(), time.Now()
	for {
		ts := time.Now()
		n, err := runStep()
		if err != nil {
			return nil, err
		}
		stepMS = append(stepMS, float64(time.Since(ts).Microseconds())/1e3)
		res.Tokens += n
		res.Steps++
		el := time.Since(start).Seconds()
		if res.Steps >= o.MaxSteps || (res.Steps >= o.MinSteps && el >= o.MinSeconds) {
			break
		}
	}
	res.WallS, res.CPUS = time.Since(start).Seconds(), cpuSeconds()-cpu0
	res.MedianStepMS = median(stepMS)
	res.FinalLoss = lastLoss
	return res, nil
}

// converge trains until the teacher-forced token accuracy on the validation split
// exceeds the target (the script's criterion, evaluated every EvalEvery steps).
func converge(tr *trainer, task *datasets.Task, o workerOptions, res *workerResult, runStep func() (int, error), lastLoss *float64) (*workerResult, error) {
	start := time.Now()
	for s := 2; s <= o.MaxSteps; s++ {
		if _, err := runStep(); err != nil {
			return nil, err
		}
		if s%o.EvalEvery != 0 {
			continue
		}
		right, total := 0.0, 0.0
		for b, err := range task.Batches("valid", 256, datasets.BatchOptions{SrcLen: refLen, TgtLen: refLen}) {
			if err != nil {
				return nil, err
			}
			outs, err := tr.eval.Exec(batchArgs(b)...)
			if err != nil {
				return nil, err
			}
			right += float64(tensors.MustCopyFlatData[float32](outs[0])[0])
			total += float64(tensors.MustCopyFlatData[float32](outs[1])[0])
		}
		acc := right / total
		res.Evals = append(res.Evals, eval{Step: s, Acc: acc, Loss: *lastLoss})
		res.FinalAcc, res.FinalLoss, res.Steps = acc, *lastLoss, s
		if acc > o.TargetAcc {
			res.StepsToTarget = s
			break
		}
	}
	res.WallS = time.Since(start).Seconds()
	return res, nil
}

// matmulCeiling measures the backend's fp32 matmul speed on a square 1024 product,
// the best of several runs.
func matmulCeiling(be compute.Backend) (*workerResult, error) {
	const n = 1024
	ex, err := graph.NewExec(be, func(a, b *graph.Node) *graph.Node {
		return graph.DotGeneral(a, []int{1}, nil, b, []int{0}, nil)
	})
	if err != nil {
		return nil, err
	}
	data := make([]float32, n*n)
	for i := range data {
		data[i] = float32(i%7) * 0.1
	}
	a := tensors.FromFlatDataAndDimensions(data, n, n)
	b := tensors.FromFlatDataAndDimensions(data, n, n)
	best := 0.0
	for i := 0; i < 8; i++ {
		t0 := time.Now()
		out, err := ex.Exec(a, b)
		if err != nil {
			return nil, err
		}
		out[0].MustFinalizeAll()
		if i == 0 {
			continue // compile
		}
		best = max(best, 2*n*n*n/time.Since(t0).Seconds()/1e9)
	}
	return &workerResult{GFLOPS: best}, nil
}

// kernel is one backend operation timed by the "kernels" worker.
type kernel struct {
	name   string
	inputs [][]int
	fn     func(in []*graph.Node) *graph.Node
}

// kernelTimes times single Go-backend operations at the shapes of an RB-d64 step
// (B*T = 1536 rows of width 64), to show which graph formulations are cheap.
func decomposedSoftmax(in []*graph.Node) *graph.Node {
	x := in[0]
	e := graph.Exp(graph.Sub(x, graph.ReduceAndKeep(x, graph.ReduceMax, -1)))
	return graph.Mul(e, graph.Inverse(graph.ReduceAndKeep(e, graph.ReduceSum, -1)))
}

func kernelTimes(be compute.Backend) (map[string]float64, error) {
	G := func(f func(in []*graph.Node) *graph.Node) func(in []*graph.Node) *graph.Node { return f }
	ks := []kernel{
		{"transpose [1536,64]->[64,1536]", [][]int{{1536, 64}}, G(func(in []*graph.Node) *graph.Node { return graph.TransposeAllAxes(in[0], 1, 0) })},
		{"transpose identity [1536,64]", [][]int{{1536, 64}}, G(func(in []*graph.Node) *graph.Node { return graph.TransposeAllAxes(in[0], 0, 1) })},
		{"transpose [64,24,4,16]->[64,4,24,16]", [][]int{{64, 24, 4, 16}}, G(func(in []*graph.Node) *graph.Node { return graph.TransposeAllAxes(in[0], 0, 2, 1, 3) })},
		{"reducesum [64,24,64] axes 0,1", [][]int{{64, 24, 64}}, G(func(in []*graph.Node) *graph.Node { return graph.ReduceSum(in[0], 0, 1) })},
		{"reducesum [1536,64] axis 0", [][]int{{1536, 64}}, G(func(in []*graph.Node) *graph.Node { return graph.ReduceSum(in[0], 0) })},
		{"reducesum [64,24,64] axis 2", [][]int{{64, 24, 64}}, G(func(in []*graph.Node) *graph.Node { return graph.ReduceSum(in[0], 2) })},
		{"ones[1,1536] x [1536,64]", [][]int{{1, 1536}, {1536, 64}}, G(func(in []*graph.Node) *graph.Node {
			return graph.DotGeneral(in[0], []int{1}, nil, in[1], []int{0}, nil)
		})},
		{"add [1536,64]+[1536,64]", [][]int{{1536, 64}, {1536, 64}}, G(func(in []*graph.Node) *graph.Node { return graph.Add(in[0], in[1]) })},
		{"mul [1536,64]*[1536,1] bcast", [][]int{{1536, 64}, {1536, 1}}, G(func(in []*graph.Node) *graph.Node { return graph.Mul(in[0], in[1]) })},
		{"matmul [1536,64]x[64,64]", [][]int{{1536, 64}, {64, 64}}, G(func(in []*graph.Node) *graph.Node {
			return graph.DotGeneral(in[0], []int{1}, nil, in[1], []int{0}, nil)
		})},
		{"matmul [64,1536]x[64,1536]^T (weight grad)", [][]int{{64, 1536}, {64, 1536}}, G(func(in []*graph.Node) *graph.Node {
			return graph.DotGeneral(in[0], []int{1}, nil, in[1], []int{1}, nil)
		})},
		{"matmul [1536,64]^T x [1536,64] (weight grad, as autodiff)", [][]int{{1536, 64}, {1536, 64}}, G(func(in []*graph.Node) *graph.Node {
			return graph.DotGeneral(in[0], []int{0}, nil, in[1], []int{0}, nil)
		})},
		{"bmm [256,24,16]x[256,24,16]^T (scores)", [][]int{{256, 24, 16}, {256, 24, 16}}, G(func(in []*graph.Node) *graph.Node {
			return graph.DotGeneral(in[0], []int{2}, []int{0}, in[1], []int{2}, []int{0})
		})},
		{"bmm [256,24,24]x[256,24,16] (weights x values)", [][]int{{256, 24, 24}, {256, 24, 16}}, G(func(in []*graph.Node) *graph.Node {
			return graph.DotGeneral(in[0], []int{2}, []int{0}, in[1], []int{1}, []int{0})
		})},
		{"bmm [256,24,16]x[256,16,24] (scores, keys pre-transposed)", [][]int{{256, 24, 16}, {256, 16, 24}}, G(func(in []*graph.Node) *graph.Node {
			return graph.DotGeneral(in[0], []int{2}, []int{0}, in[1], []int{1}, []int{0})
		})},
		{"bmm [256,24,24]x[256,16,24]^T (weights x values pre-transposed)", [][]int{{256, 24, 24}, {256, 16, 24}}, G(func(in []*graph.Node) *graph.Node {
			return graph.DotGeneral(in[0], []int{2}, []int{0}, in[1], []int{2}, []int{0})
		})},
		{"bmm [64,96,16]x[64,16,24] (scores, heads merged into rows)", [][]int{{64, 96, 16}, {64, 16, 24}}, G(func(in []*graph.Node) *graph.Node {
			return graph.DotGeneral(in[0], []int{2}, []int{0}, in[1], []int{1}, []int{0})
		})},
		{"exp [64,4,24,24]", [][]int{{64, 4, 24, 24}}, G(func(in []*graph.Node) *graph.Node { return graph.Exp(in[0]) })},
		{"softmax [64,4,24,24]", [][]int{{64, 4, 24, 24}}, G(func(in []*graph.Node) *graph.Node { return graph.Softmax(in[0], -1) })},
		{"softmax [64,4,24,24] decomposed (max, sub, exp, sum, div)", [][]int{{64, 4, 24, 24}}, G(func(in []*graph.Node) *graph.Node {
			x := in[0]
			e := graph.Exp(graph.Sub(x, graph.ReduceAndKeep(x, graph.ReduceMax, -1)))
			return graph.Div(e, graph.ReduceAndKeep(e, graph.ReduceSum, -1))
		})},
		{"softmax [64,4,24,24] decomposed, multiply by reciprocal", [][]int{{64, 4, 24, 24}}, G(func(in []*graph.Node) *graph.Node {
			x := in[0]
			e := graph.Exp(graph.Sub(x, graph.ReduceAndKeep(x, graph.ReduceMax, -1)))
			return graph.Mul(e, graph.Inverse(graph.ReduceAndKeep(e, graph.ReduceSum, -1)))
		})},
		{"softmax [6144,24] (rows flattened)", [][]int{{6144, 24}}, G(func(in []*graph.Node) *graph.Node { return graph.Softmax(in[0], -1) })},
		{"softmax [384,384] (long rows)", [][]int{{384, 384}}, G(func(in []*graph.Node) *graph.Node { return graph.Softmax(in[0], -1) })},
		{"reducemax [64,4,24,24] axis 3", [][]int{{64, 4, 24, 24}}, G(func(in []*graph.Node) *graph.Node { return graph.ReduceMax(in[0], 3) })},
		{"reducesum [64,4,24,24] axis 3", [][]int{{64, 4, 24, 24}}, G(func(in []*graph.Node) *graph.Node { return graph.ReduceSum(in[0], 3) })},
		{"transpose [1536,64,1] perm 1,0,2 (2-D transpose as the head-split kernel)", [][]int{{1536, 64}}, G(func(in []*graph.Node) *graph.Node {
			return graph.Reshape(graph.TransposeAllAxes(graph.Reshape(in[0], 1536, 64, 1), 1, 0, 2), 64, 1536)
		})},
		{"transpose [64,4,24,24] perm 0,1,3,2", [][]int{{64, 4, 24, 24}}, G(func(in []*graph.Node) *graph.Node { return graph.TransposeAllAxes(in[0], 0, 1, 3, 2) })},
		{"reducemax [64,4,24,24] axis 2 (middle axis)", [][]int{{64, 4, 24, 24}}, G(func(in []*graph.Node) *graph.Node { return graph.ReduceMax(in[0], 2) })},
		{"reducemax [6144,2,12] axis 1 then axis 1", [][]int{{6144, 24}}, G(func(in []*graph.Node) *graph.Node {
			return graph.ReduceMax(graph.ReduceMax(graph.Reshape(in[0], 6144, 2, 12), 1), 1)
		})},
		{"reducemax all [64,4,24,24]", [][]int{{64, 4, 24, 24}}, G(func(in []*graph.Node) *graph.Node { return graph.ReduceAllMax(in[0]) })},
		{"softmax [64,4,24,24] axis 2 (strided rows)", [][]int{{64, 4, 24, 24}}, G(func(in []*graph.Node) *graph.Node { return graph.Softmax(in[0], 2) })},
		{"max [6144,12] [6144,12] elementwise", [][]int{{6144, 12}, {6144, 12}}, G(func(in []*graph.Node) *graph.Node { return graph.Max(in[0], in[1]) })},
		{"sub [64,4,24,24]-[64,4,24,1] bcast", [][]int{{64, 4, 24, 24}, {64, 4, 24, 1}}, G(func(in []*graph.Node) *graph.Node { return graph.Sub(in[0], in[1]) })},
		{"mul [64,4,24,24]*[64,4,24,24]", [][]int{{64, 4, 24, 24}, {64, 4, 24, 24}}, G(func(in []*graph.Node) *graph.Node { return graph.Mul(in[0], in[1]) })},
		{"mul [64,4,24,24]*[64,1,24,24] bcast heads", [][]int{{64, 4, 24, 24}, {64, 1, 24, 24}}, G(func(in []*graph.Node) *graph.Node { return graph.Mul(in[0], in[1]) })},
		{"softmax [6144,24] fused", [][]int{{6144, 24}}, G(func(in []*graph.Node) *graph.Node { return graph.Softmax(in[0], -1) })},
		{"softmax [6144,24] decomposed", [][]int{{6144, 24}}, G(decomposedSoftmax)},
		{"softmax [2304,64] fused", [][]int{{2304, 64}}, G(func(in []*graph.Node) *graph.Node { return graph.Softmax(in[0], -1) })},
		{"softmax [2304,64] decomposed", [][]int{{2304, 64}}, G(decomposedSoftmax)},
		{"softmax [1152,128] fused", [][]int{{1152, 128}}, G(func(in []*graph.Node) *graph.Node { return graph.Softmax(in[0], -1) })},
		{"softmax [1152,128] decomposed", [][]int{{1152, 128}}, G(decomposedSoftmax)},
		{"softmax [576,256] fused", [][]int{{576, 256}}, G(func(in []*graph.Node) *graph.Node { return graph.Softmax(in[0], -1) })},
		{"softmax [576,256] decomposed", [][]int{{576, 256}}, G(decomposedSoftmax)},
		{"add [64,4,24,24]+[64,1,24,24] bcast heads (mask bias)", [][]int{{64, 4, 24, 24}, {64, 1, 24, 24}}, G(func(in []*graph.Node) *graph.Node { return graph.Add(in[0], in[1]) })},
		{"add [64,4,24,24]+[64,4,24,24]", [][]int{{64, 4, 24, 24}, {64, 4, 24, 24}}, G(func(in []*graph.Node) *graph.Node { return graph.Add(in[0], in[1]) })},
		{"mul [64,4,24,24]*[64,1,24,1] bcast (row indicator)", [][]int{{64, 4, 24, 24}, {64, 1, 24, 1}}, G(func(in []*graph.Node) *graph.Node { return graph.Mul(in[0], in[1]) })},
		{"mul [64,4,24,24]*[64,4,24,1] bcast", [][]int{{64, 4, 24, 24}, {64, 4, 24, 1}}, G(func(in []*graph.Node) *graph.Node { return graph.Mul(in[0], in[1]) })},
		{"transpose [256,24,24] last two axes as [256,24,24,1] perm 0,2,1,3", [][]int{{256, 24, 24}}, G(func(in []*graph.Node) *graph.Node {
			return graph.Reshape(graph.TransposeAllAxes(graph.Reshape(in[0], 256, 24, 24, 1), 0, 2, 1, 3), 256, 24, 24)
		})},
		{"transpose [256,24,24] perm 0,2,1", [][]int{{256, 24, 24}}, G(func(in []*graph.Node) *graph.Node { return graph.TransposeAllAxes(in[0], 0, 2, 1) })},
		{"transpose [1536,256] as [1536,256,1] perm 1,0,2", [][]int{{1536, 256}}, G(func(in []*graph.Node) *graph.Node {
			return graph.Reshape(graph.TransposeAllAxes(graph.Reshape(in[0], 1536, 256, 1), 1, 0, 2), 256, 1536)
		})},
		{"transpose [1536,256]", [][]int{{1536, 256}}, G(func(in []*graph.Node) *graph.Node { return graph.TransposeAllAxes(in[0], 1, 0) })},
		{"transpose [1536,64] as eye[64,64] x xᵀ (fast.eyeTranspose)", [][]int{{1536, 64}}, G(func(in []*graph.Node) *graph.Node {
			return graph.DotGeneral(eyeOf(in[0], 64), []int{1}, nil, in[0], []int{1}, nil)
		})},
		{"transpose [1536,128] as eye[128,128] x xᵀ", [][]int{{1536, 128}}, G(func(in []*graph.Node) *graph.Node {
			return graph.DotGeneral(eyeOf(in[0], 128), []int{1}, nil, in[0], []int{1}, nil)
		})},
		{"transpose [1536,128] as [1536,128,1] perm 1,0,2", [][]int{{1536, 128}}, G(func(in []*graph.Node) *graph.Node {
			return graph.Reshape(graph.TransposeAllAxes(graph.Reshape(in[0], 1536, 128, 1), 1, 0, 2), 128, 1536)
		})},
		{"transpose [6144,64] as eye[64,64] x xᵀ", [][]int{{6144, 64}}, G(func(in []*graph.Node) *graph.Node {
			return graph.DotGeneral(eyeOf(in[0], 64), []int{1}, nil, in[0], []int{1}, nil)
		})},
		{"transpose [6144,64] as [6144,64,1] perm 1,0,2", [][]int{{6144, 64}}, G(func(in []*graph.Node) *graph.Node {
			return graph.Reshape(graph.TransposeAllAxes(graph.Reshape(in[0], 6144, 64, 1), 1, 0, 2), 64, 6144)
		})},
		{"transpose [1536,256] as eye[256,256] x xᵀ", [][]int{{1536, 256}}, G(func(in []*graph.Node) *graph.Node {
			return graph.DotGeneral(eyeOf(in[0], 256), []int{1}, nil, in[0], []int{1}, nil)
		})},
		{"reducesum [1536,256] axis 0", [][]int{{1536, 256}}, G(func(in []*graph.Node) *graph.Node { return graph.ReduceSum(in[0], 0) })},
		{"ones[1,1536] x [1536,256]", [][]int{{1, 1536}, {1536, 256}}, G(func(in []*graph.Node) *graph.Node {
			return graph.DotGeneral(in[0], []int{1}, nil, in[1], []int{0}, nil)
		})},
		{"concat [1536,64]x3 axis 1", [][]int{{1536, 64}}, G(func(in []*graph.Node) *graph.Node {
			return graph.Concatenate([]*graph.Node{in[0], in[0], in[0]}, 1)
		})},
		{"slice [1536,192] cols 64..128", [][]int{{1536, 192}}, G(func(in []*graph.Node) *graph.Node {
			return graph.Slice(in[0], graph.AxisRange(), graph.AxisRange(64, 128))
		})},
	}
	out := map[string]float64{}
	for _, k := range ks {
		ex, err := graph.NewExec(be, func(in []*graph.Node) *graph.Node { return k.fn(in) })
		if err != nil {
			return nil, err
		}
		var args []any
		for _, dims := range k.inputs {
			n := 1
			for _, d := range dims {
				n *= d
			}
			data := make([]float32, n)
			for i := range data {
				data[i] = float32(i%13) * 0.01
			}
			args = append(args, tensors.FromFlatDataAndDimensions(data, dims...))
		}
		var times []float64
		for i := range 30 {
			t0 := time.Now()
			res, err := ex.Exec(args...)
			if err != nil {
				return nil, fmt.Errorf("kernel %s: %w", k.name, err)
			}
			d := time.Since(t0).Seconds() * 1e6
			res[0].MustFinalizeAll()
			if i > 0 {
				times = append(times, d)
			}
		}
		slices.Sort(times)
		out[k.name] = times[len(times)/4] // a low quartile: the machine is shared
	}
	return out, nil
}

// eyeOf is the identity matrix [n,n] in x's dtype, as a constant (fast.eyeTranspose's
// operand; the kernel table times the transpose, not building the matrix).
func eyeOf(x *graph.Node, n int) *graph.Node {
	eye := make([][]float32, n)
	for i := range eye {
		eye[i] = make([]float32, n)
		eye[i][i] = 1
	}
	return graph.ConvertDType(graph.Const(x.Graph(), eye), x.DType())
}
