package experiments

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/datasets"
	"github.com/masklab/masklab/internal/ckpt"
	"github.com/masklab/masklab/internal/fsx"
	"github.com/masklab/masklab/internal/progress"
	"github.com/masklab/masklab/internal/runlock"
	"github.com/masklab/masklab/internal/runstore"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/hf"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/optim"
	"github.com/masklab/masklab/pkg/version"
)

// TrainOptions are the knobs of a training session that are not part of the config
// (they do not change the numbers).
type TrainOptions struct {
	// Backend overrides $GOMLX_BACKEND and the config's backend (CLI --backend, notebooks).
	Backend string
	// Progress receives the progress bar (a terminal) or periodic lines; nil = silent.
	Progress io.Writer
	// InitFrom resolves a config's init_from to a run directory (sweeps resolve run ids).
	InitFrom string
	// StopAfter, when > 0, stops the session after that many steps as if killed (after
	// the step's metrics and checkpoint, if any, are written). For tests of resume.
	StopAfter int
	// Label names the run in progress output.
	Label string
	// MaxMemory is the memory a run may need (bytes): a run whose estimate exceeds it is
	// refused before any graph is built. 0 means the machine's (or cgroup's) memory;
	// negative turns the check off.
	MaxMemory int64
}

// ErrStopped is returned when a session stops early (TrainOptions.StopAfter or a lost lock).
var ErrStopped = errors.New("training stopped before the end")

// TrainRun trains (or resumes, or skips if finished) the run in runDir with cfg. It
// writes config.yaml if missing, takes the run's lock, resumes from the last checkpoint,
// and writes metrics.jsonl, the checkpoint and summary.json. A run that is done or
// diverged is not trained again; one that failed is retried.
func TrainRun(ctx context.Context, cfg *Config, runDir string, opts TrainOptions) (*Summary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Task.DataSHA256 == "" {
		// A config that did not come through the CLI or a sweep: resolve its data file here.
		cfg = cfg.Clone()
		if err := cfg.ResolveData("."); err != nil {
			return nil, err
		}
	}
	if err := ensureRunDir(runDir, cfg); err != nil {
		return nil, err
	}
	if s, err := ReadSummary(runDir); err == nil && (s.Status == StatusDone || s.Status == StatusDiverged) {
		return s, nil
	}
	lock, err := runlock.Acquire(filepath.Join(runDir, LockFile))
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	// Re-check under the lock: another process may have finished it meanwhile.
	if s, err := ReadSummary(runDir); err == nil && (s.Status == StatusDone || s.Status == StatusDiverged) {
		return s, nil
	}
	os.Remove(filepath.Join(runDir, SummaryFile)) // a failed run is retried
	s, err := trainLocked(ctx, cfg, runDir, opts, lock)
	if err != nil && !errors.Is(err, ErrStopped) && !errors.Is(err, context.Canceled) {
		// Record the failure; the sweep goes on with other runs.
		fs := &Summary{Status: StatusFailed, Error: oneLineErr(err), Final: map[string]float64{}, Best: map[string]float64{}}
		fs.Provenance = provenance(cfg, backend.Resolve(opts.Backend, cfg.Backend), 0, 0, 0)
		_ = fsx.WriteJSONAtomic(filepath.Join(runDir, SummaryFile), fs)
		return fs, err
	}
	return s, err
}

func oneLineErr(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// session holds a run's compiled graphs and variables.
type session struct {
	su          *setup
	be          compute.Backend
	store       *model.Store
	trainEx     *model.Exec
	evalEx      *model.Exec
	applyEx     *model.Exec // train.grad_accum > 1 (optim.Accumulate)
	trainV      []*model.Variable
	trainScales []float64 // the learning-rate scale of each of trainV (nil: 1)
	byPos       map[string][]float64
	decoder     *layers.Greedy    // greedy decoding of corrupted inputs, compiled on first use
	generator   *layers.Generator // greedy decoding of uncorrupted inputs where the model takes a key/value cache
	ctx         context.Context   // cancelled (Ctrl-C, SIGTERM): an evaluation stops at its next batch
}

func newSession(su *setup, be compute.Backend) (*session, error) {
	s := &session{su: su, be: be, store: model.NewStore(), ctx: context.Background()}
	if err := s.store.SetRNGStateFromSeed(su.cfg.Seed); err != nil {
		return nil, err
	}
	var err error
	s.trainEx, err = model.NewExec(be, s.store, s.trainGraph)
	if err != nil {
		return nil, err
	}
	s.evalEx, err = model.NewExec(be, s.store, s.evalGraph)
	if err == nil && su.cfg.Train.GradAccum > 1 { // the update from the accumulated gradients
		s.applyEx, err = model.NewExec(be, s.store, func(scope *model.Scope, lr *graph.Node) *graph.Node {
			layers.VariablesAsParameters(lr.Graph())
			return optim.AdamWScaled(scope, su.cfg.Optim, s.trainV, optim.AccumulatedGradients(s.store, s.trainV, lr.Graph()), lr, s.trainScales)
		})
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// modelInputs gives the model the inputs its kind and task use.
func (s *session) modelInputs(x graphInputs[*graph.Node], training bool) layers.Inputs {
	li := layers.Inputs{Dec: x.Dec, DecLen: x.DecLen, Segments: x.Segments, Positions: x.Positions, Training: training}
	if k := s.su.model.Kind; k != layers.KindDecoder && k != layers.KindBert {
		li.Src, li.SrcLen = x.Src, x.SrcLen
	}
	if s.su.task.Kind == datasets.SFT {
		li.PrefixLen = x.PrefixLen
	}
	if x.TileQ != nil {
		li.Sparse = &layers.SparseInputs{TileQ: x.TileQ, TileK: x.TileK, Start: x.Start, End: x.End}
	}
	return li
}

// trainGraph takes graphInputs (with the learning rate) and returns the loss and the
// gradient norm, updating the variables with AdamW; with train.grad_accum > 1, the
// optim.Accumulate micro-batch graph (the normaliser in the learning rate's place).
func (s *session) trainGraph(scope *model.Scope, in []*graph.Node) []*graph.Node {
	x := inputNodes(in, true)
	// Before the model, whose random corruptions read the RNG state variable.
	layers.VariablesAsParameters(x.Dec.Graph())
	mscope := scope.In("model")
	logits, err := layers.Forward(mscope, s.su.model, s.modelInputs(x, true))
	if err != nil {
		panic(err)
	}
	var over []*graph.Node // train.grad_accum > 1: the normaliser, in the learning rate's place
	if s.su.cfg.Train.GradAccum > 1 {
		over = []*graph.Node{x.LR}
	}
	loss := layers.WeightedCrossEntropy(logits, x.Tgt, x.Weights, over...)
	g := loss.Graph()
	var vars []*model.Variable
	var nodes []*graph.Node
	for v := range mscope.IterVariables() {
		if v.Trainable && v.InUseByGraph(g) {
			vars = append(vars, v)
		}
	}
	// A fixed order (by path), so the global norm sums in the same order whether the
	// variables were created by the graph or loaded from a checkpoint.
	sort.Slice(vars, func(i, j int) bool { return vars[i].Path() < vars[j].Path() })
	var scales []float64 // a BERT kind's frozen encoder and learning rate of its pretrained part
	if layers.IsBert(s.su.model.Kind) {
		vars, scales = layers.PretrainedScales(vars, s.su.cfg.Model.FreezeEncoder, s.su.cfg.Optim.EncoderLRScale)
	}
	for _, v := range vars {
		nodes = append(nodes, v.NodeValue(g))
	}
	grads := graph.Gradient(loss, nodes...)
	s.trainV, s.trainScales = vars, scales
	if over != nil {
		optim.AccumulateGradients(scope.Store(), vars, grads)
		return []*graph.Node{loss}
	}
	norm := optim.AdamWScaled(scope, s.su.cfg.Optim, vars, grads, x.LR, scales)
	return []*graph.Node{loss, norm}
}

// evalGraph takes graphInputs and returns the token losses [B,T] and the argmax [B,T].
func (s *session) evalGraph(scope *model.Scope, in []*graph.Node) []*graph.Node {
	x := inputNodes(in, false)
	layers.VariablesAsParameters(x.Dec.Graph())
	logits, err := layers.Forward(scope.In("model"), s.su.model, s.modelInputs(x, false))
	if err != nil {
		panic(err)
	}
	return []*graph.Node{layers.TokenCrossEntropy(logits, x.Tgt), graph.ArgMax(logits, -1, dtypes.Int32)}
}

// call runs an exec, turning panics into errors.
func call(ex *model.Exec, args ...any) (out []*tensors.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return ex.Call(args...)
}

// sameArchitecture checks that the run in initDir has the model cfg fine-tunes (every
// model key but dropout and attention), so that a mismatch is named before any graph is built.
func sameArchitecture(cfg *Config, initDir string) error {
	from, err := LoadConfig(filepath.Join(initDir, ConfigFile))
	if err != nil {
		return fmt.Errorf("init_from %s: not a run directory: %w", initDir, err)
	}
	if from.InitSHA256 != "" {
		return fmt.Errorf("init_from %s: a run fine-tuned from a Hugging Face checkpoint: export it (masklab export %s --out DIR) and set init_from=DIR", initDir, initDir)
	}
	a, b := from.Model, cfg.Model
	a.Dropout, b.Dropout = 0, 0
	a.Attention, b.Attention = "", "" // how attention runs, not what it computes
	if a == b {
		return nil
	}
	var diffs []string
	av, bv := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := 0; i < av.NumField(); i++ {
		if x, y := av.Field(i).Interface(), bv.Field(i).Interface(); x != y {
			key := strings.Split(av.Type().Field(i).Tag.Get("yaml"), ",")[0]
			diffs = append(diffs, fmt.Sprintf("model.%s=%v there, %v here", key, x, y))
		}
	}
	return fmt.Errorf("init_from %s: a different model: %s", initDir, strings.Join(diffs, ", "))
}

func trainLocked(ctx context.Context, cfg *Config, runDir string, opts TrainOptions, lock *runlock.Lock) (*Summary, error) {
	choice := backend.Resolve(opts.Backend, cfg.Backend)
	be, err := backend.New(choice)
	if err != nil {
		return nil, err
	}
	initDir := ""
	if cfg.InitFrom != "" {
		initDir = cmp.Or(opts.InitFrom, cfg.InitFrom)
		if !hf.IsCheckpoint(initDir) {
			if err := sameArchitecture(cfg, initDir); err != nil {
				return nil, err
			}
		}
	}
	su, initCk, err := newSetupInit(cfg, initDir, initDir)
	if err != nil {
		return nil, err
	}
	if err := su.checkMemory(opts.MaxMemory); err != nil {
		return nil, err
	}
	if err := su.task.Vocab.Save(filepath.Join(runDir, "vocab.json")); err != nil {
		return nil, err
	}
	sess, err := newSession(su, be)
	if err != nil {
		return nil, err
	}
	sess.ctx = ctx
	start := 0
	resumes := 0
	var prevWall float64
	dir := ckpt.Find(runDir)
	if initCk != nil && (dir == "" || su.model.LoRA != nil) { // a LoRA checkpoint holds the adapters alone
		if err := initCk(sess.store, sess.be); err != nil {
			return nil, err
		}
	}
	if dir != "" {
		if start, err = ckpt.LoadAll(sess.store, dir); err != nil {
			return nil, err
		}
		if st, err := readSessionState(runDir); err == nil && st.Step == start {
			prevWall, resumes = st.Wall, st.Resumes+1
		}
	} else if initCk == nil && initDir != "" {
		if err := ckpt.LoadModel(sess.store, initDir); err != nil {
			return nil, err
		}
	}
	mlog, err := runstore.OpenMetricsLog(filepath.Join(runDir, MetricsFile), start)
	if err != nil {
		return nil, err
	}
	defer mlog.Close()

	steps := cfg.Train.Steps
	seed := uint64(cfg.Seed)
	bar := progress.New(opts.Progress, opts.Label, steps, start)
	t0 := time.Now()
	var lossSum float64
	var lossN, sparseN int
	ranSteps := 0
	finish := func(status string, step int, div *Divergence) (*Summary, error) {
		lines, err := ReadMetrics(filepath.Join(runDir, MetricsFile))
		if err != nil {
			return nil, err
		}
		wall := prevWall + time.Since(t0).Seconds()
		sum := &Summary{Status: status, Step: step, Divergence: div, Final: runstore.LastEval(lines), Best: runstore.BestOf(lines)}
		if div != nil {
			sum.DivergedAt = div.Step
		}
		sum.Provenance = provenance(cfg, choice, wall, step, resumes)
		sum.Data = runstore.NewDataCounts(su.task.Dropped, su.task.Truncated, su.task.TooLong)
		if status == StatusDone {
			if sum.ByPosition, err = sess.positionMetrics(step); err != nil {
				return nil, err
			}
			if cfg.Eval.Test {
				if sum.Test, err = sess.evaluate("test", step); err != nil {
					return nil, err
				}
			}
		}
		if err := fsx.WriteJSONAtomic(filepath.Join(runDir, SummaryFile), sum); err != nil {
			return nil, err
		}
		bar.Done(status)
		return sum, nil
	}
	if start >= steps {
		return finish(StatusDone, start, nil)
	}
	for step := start + 1; step <= steps; step++ {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-lock.Lost():
			return nil, fmt.Errorf("%w: lock of %s was taken over", ErrStopped, runDir)
		default:
		}
		hb, err := su.makeBatch("train", step-1, seed, step-1)
		if err != nil {
			return nil, err
		}
		lr := optim.LearningRate(cfg.Optim, step, steps)
		lr32 := float32(lr)
		var out []*tensors.Tensor
		if k := cfg.Train.GradAccum; k > 1 {
			out, err = optim.Accumulate(sess.trainEx, sess.applyEx, k, hb.inputs(nil), hb.weights, lr32)
		} else {
			out, err = call(sess.trainEx, hb.inputs(&lr32)...)
		}
		if err != nil {
			return nil, fmt.Errorf("training step %d: %w", step, err)
		}
		loss := float64(tensors.MustCopyFlatData[float32](out[0])[0])
		gnorm := float64(tensors.MustCopyFlatData[float32](out[1])[0])
		ranSteps++
		if div := divergence(step, loss, gnorm); div != nil {
			_ = mlog.Append(Metrics{"step": float64(step), "train_loss": loss, "lr": lr, "grad_norm": gnorm})
			return finish(StatusDiverged, step, div)
		}
		lossSum += loss
		lossN++
		if hb.sparse != nil {
			sparseN++
		}
		line := Metrics(nil)
		if step%cfg.Train.LogEvery == 0 || step == steps {
			line = Metrics{"step": float64(step), "train_loss": lossSum / float64(lossN), "lr": lr, "grad_norm": gnorm}
			if sparseN > 0 { // the fraction of the steps that ran the sparse self-attention
				line["sparse_attention"] = float64(sparseN) / float64(lossN)
			}
			lossSum, lossN, sparseN = 0, 0, 0
		}
		if (cfg.Eval.Every > 0 && step%cfg.Eval.Every == 0) || step == steps {
			ev, err := sess.evaluate("valid", step)
			if err != nil {
				return nil, fmt.Errorf("evaluating at step %d: %w", step, err)
			}
			if line == nil {
				line = Metrics{"step": float64(step)}
			}
			for k, v := range ev {
				line[k] = v
			}
		}
		if line != nil {
			if err := mlog.Append(line); err != nil {
				return nil, err
			}
		}
		bar.Update(step, loss)
		if step%cfg.Train.CheckpointEvery == 0 || step == steps {
			if err := ckpt.Save(sess.store, runDir); err != nil {
				return nil, fmt.Errorf("checkpoint at step %d: %w", step, err)
			}
			_ = writeSessionState(runDir, sessionState{Step: step, Wall: prevWall + time.Since(t0).Seconds(), Resumes: resumes})
		}
		if opts.StopAfter > 0 && ranSteps >= opts.StopAfter && step < steps {
			return nil, fmt.Errorf("%w: after %d steps (at step %d)", ErrStopped, ranSteps, step)
		}
	}
	return finish(StatusDone, steps, nil)
}

// divergence returns what diverged at step, or nil when the loss and the gradient norm
// are finite.
func divergence(step int, loss, gnorm float64) *Divergence {
	for _, m := range []struct {
		name string
		v    float64
	}{{"train_loss", loss}, {"grad_norm", gnorm}} {
		if math.IsNaN(m.v) || math.IsInf(m.v, 0) {
			return &Divergence{Step: step, Metric: m.name, Value: runstore.FormatValue(m.v)}
		}
	}
	return nil
}

// sessionState is kept next to the checkpoint to carry wall time across resumes.
type sessionState struct {
	Step    int     `json:"step"`
	Wall    float64 `json:"wall_seconds"`
	Resumes int     `json:"resumes"`
}

func writeSessionState(runDir string, st sessionState) error {
	return fsx.WriteJSONAtomic(filepath.Join(runDir, "session.json"), st)
}

func readSessionState(runDir string) (sessionState, error) {
	var st sessionState
	data, err := os.ReadFile(filepath.Join(runDir, "session.json"))
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(data, &st)
}

func provenance(cfg *Config, choice backend.Choice, wall float64, steps, resumes int) Provenance {
	v := version.Get()
	p := Provenance{
		Masklab: v.Masklab, Commit: v.Commit, GoMLX: v.GoMLX, Compute: v.Compute, Go: v.Go,
		Backend: choice.Config, BackendSource: choice.Source, SIMD: v.SIMD,
		CPU: cpuModel(), NumCPU: runtime.NumCPU(), Host: runlock.Hostname(),
		Seed: cfg.Seed, ConfigHash: cfg.Hash(), WallSeconds: wall, Finished: runstore.NowString(), Resumes: resumes,
	}
	if wall > 0 {
		p.StepsPerSec = float64(steps) / wall
	}
	return p
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "model name") {
			if _, v, ok := strings.Cut(line, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}
