package layers

import (
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/masklab/masklab/datasets"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/layers/internal/fast"
)

// referenceConfig is RB-d64 of shared/bench/README.md: pre-LN 2+2 layers, d_model 64,
// 4 heads, FFN 256, vocab 64, learned embeddings + sinusoidal positions, final norms,
// untied output, self mask causal & pad, cross and encoder masks pad, no dropout.
func referenceConfig() Config {
	return Config{Kind: KindSeq2Seq, Vocab: 64, DModel: 64, Heads: 4, FF: 256, EncLayers: 2, DecLayers: 2, MaxLen: 24}
}

// seq2seqTrainer is a GoMLX trainer for cfg with AdamW (betas 0.9/0.999, eps 1e-8,
// weight decay 0.01, no schedule, no clipping) and the padding-weighted loss.
func seq2seqTrainer(t testing.TB, cfg Config, lr float64, seed int64) *train.Trainer {
	return modelTrainer(t, lr, seed, func(scope *model.Scope, in Inputs) (*Result, error) {
		logits, err := Forward(scope, cfg, in)
		return &Result{Logits: logits}, err
	})
}

// modelTrainer is seq2seqTrainer for any model build makes from the batch's source and
// decoder inputs (training mode).
func modelTrainer(t testing.TB, lr float64, seed int64, build func(*model.Scope, Inputs) (*Result, error)) *train.Trainer {
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(seed); err != nil {
		t.Fatal(err)
	}
	modelFn := func(scope *model.Scope, _ any, ins []*graph.Node) []*graph.Node {
		res, err := build(scope, Inputs{Src: ins[0], SrcLen: ins[1], Dec: ins[2], DecLen: ins[3], Training: true})
		if err != nil {
			panic(err)
		}
		return []*graph.Node{res.Logits}
	}
	lossFn := func(labels, predictions []*graph.Node) *graph.Node {
		tgt := labels[0]
		w := graph.ConvertDType(graph.NotEqual(tgt, graph.ScalarZero(tgt.Graph(), dtypes.Int32)), dtypes.Float32)
		return WeightedCrossEntropy(predictions[0], tgt, w)
	}
	opt := optimizer.Adam().LearningRate(lr).Betas(0.9, 0.999).Epsilon(1e-8).WeightDecay(0.01).Done()
	return train.NewTrainer(backend.Must(), store, modelFn, lossFn, opt, nil, nil)
}

// trainBatch converts a datasets batch into the trainer's inputs and labels.
func trainBatch(b datasets.Batch) train.Batch {
	return train.Batch{
		Inputs: []*tensors.Tensor{
			tensors.FromFlatDataAndDimensions(b.Src, b.B, b.S),
			tensors.FromFlatDataAndDimensions(b.SrcLen, b.B),
			tensors.FromFlatDataAndDimensions(b.Dec, b.B, b.T),
			tensors.FromFlatDataAndDimensions(b.TgtLen, b.B),
		},
		Labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(b.Tgt, b.B, b.T)},
	}
}

// cpuSeconds is the process's user+system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// A small encoder-decoder really learns to reverse short sequences.
func TestSeq2SeqLearnsToReverse(t *testing.T) {
	cfg := Config{Kind: KindSeq2Seq, Vocab: 10, DModel: 32, Heads: 2, FF: 64, EncLayers: 1, DecLayers: 1}
	learnsToReverse(t, "seq2seq", func(scope *model.Scope, in Inputs) (*Result, error) {
		logits, err := Forward(scope, cfg, in)
		return &Result{Logits: logits}, err
	})
}

// learnsToReverse trains the model build makes for 150 steps of AdamW (lr 3e-3, seed 1)
// on short reversed sequences and requires the loss to fall below half its first value.
func learnsToReverse(t *testing.T, name string, build func(*model.Scope, Inputs) (*Result, error)) {
	t.Helper()
	task, err := datasets.Load("reverse", datasets.Options{VocabSize: 10, MinLen: 3, MaxLen: 5, TrainSize: 2000, ValidSize: 64, TestSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	tr := modelTrainer(t, 3e-3, 1, build)
	var first, last float32
	const steps = 150
	for step := range steps {
		b, err := task.Batch("train", 32, 1, step, datasets.BatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		m, err := tr.TrainStep(trainBatch(b))
		if err != nil {
			t.Fatal(err)
		}
		loss := m[0].Value().(float32)
		if step == 0 {
			first = loss
		}
		last = loss
	}
	t.Logf("%s reverse: loss %.3f -> %.3f after %d steps", name, first, last, steps)
	if !(last < 0.5*first) {
		t.Errorf("%s: loss went from %.3f to %.3f in %d steps; want below half", name, first, last, steps)
	}
}

// BenchmarkTrainStepRB64 times one training step of the reference model RB-d64 on the
// reference reverse task (batch 64, lengths 8..22 padded to 24), batch creation
// included as in the PyTorch script. It reports steps/s and non-pad target tokens/s,
// the yardstick's units (shared/bench/README.md).
func BenchmarkTrainStepRB64(b *testing.B) {
	benchmarkTrainStep(b, referenceConfig())
}

// BenchmarkTrainStepRB64FusedQKV is RB-d64 with the fused QKV projection.
func BenchmarkTrainStepRB64FusedQKV(b *testing.B) {
	cfg := referenceConfig()
	cfg.FusedQKV = true
	benchmarkTrainStep(b, cfg)
}

func benchmarkTrainStep(b *testing.B, cfg Config) {
	task, err := datasets.Load("reverse", datasets.Options{})
	if err != nil {
		b.Fatal(err)
	}
	tr := seq2seqTrainer(b, cfg, 1e-3, 0)
	const B = 64
	step := 0
	run := func() int {
		batch, err := task.Batch("train", B, 1, step, datasets.BatchOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if batch.S != 24 || batch.T != 24 {
			b.Fatalf("reference task padded to %dx%d, want 24x24", batch.S, batch.T)
		}
		step++
		if _, err := tr.TrainStep(trainBatch(batch)); err != nil {
			b.Fatal(err)
		}
		return batch.Tokens
	}
	for range 3 { // compile and warm up
		run()
	}
	b.ResetTimer()
	cpu0 := cpuSeconds()
	start := time.Now()
	tokens := 0
	for range b.N {
		tokens += run()
	}
	el := time.Since(start).Seconds()
	b.ReportMetric(float64(b.N)/el, "steps/s")
	b.ReportMetric(float64(tokens)/el, "tgt_tokens/s")
	// CPU time per step is less sensitive than wall time to other load on the machine.
	b.ReportMetric((cpuSeconds()-cpu0)*1e3/float64(b.N), "cpu_ms/step")
}

// BenchmarkLayoutAB compares internal layout choices on RB-d64 in one process, steps
// interleaved (A, B, A, B, ...) so that load from other processes hits both alike. It
// reports the median step time of each variant and their ratio.
func BenchmarkLayoutAB(b *testing.B) {
	type variant struct {
		name            string
		headMajor, relu bool
		fused           bool
	}
	variants := []variant{
		{"baseline", false, false, false},
		{"headmajor", true, false, false},
		{"reluselect", false, true, false},
		{"fusedqkv", false, false, true},
		{"all", true, true, true},
	}
	task, err := datasets.Load("reverse", datasets.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { fast.HeadMajor, reluSelect = true, true }()
	trainers := make([]*train.Trainer, len(variants))
	times := make([][]float64, len(variants))
	step := 0
	runStep := func(i int) float64 {
		batch, err := task.Batch("train", 64, 1, step, datasets.BatchOptions{})
		if err != nil {
			b.Fatal(err)
		}
		step++
		start := time.Now()
		if _, err := trainers[i].TrainStep(trainBatch(batch)); err != nil {
			b.Fatal(err)
		}
		return time.Since(start).Seconds()
	}
	for i, v := range variants {
		fast.HeadMajor, reluSelect = v.headMajor, v.relu
		cfg := referenceConfig()
		cfg.FusedQKV = v.fused
		trainers[i] = seq2seqTrainer(b, cfg, 1e-3, 0)
		runStep(i) // builds and compiles the graph with this variant's switches
		runStep(i)
	}
	b.ResetTimer()
	for range b.N {
		for i := range variants {
			times[i] = append(times[i], runStep(i))
		}
	}
	base := 0.0
	for i, v := range variants {
		slices.Sort(times[i])
		med := times[i][len(times[i])/2] * 1e3
		if i == 0 {
			base = med
		}
		b.ReportMetric(med, v.name+"_ms")
		b.ReportMetric(med/base, v.name+"_rel")
	}
}
