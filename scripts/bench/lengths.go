package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/datasets"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
	"github.com/masklab/masklab/pkg/plots"
)

// The length benchmark (scripts/bench.sh --lengths): one pre-LN decoder layer of RB-d64's
// width (d_model 64, 4 heads of 16, FFN 256), forward and backward (gradients of every
// parameter and of the input), at sequence lengths L with a fixed number of tokens per
// step (B = lengthTokens / L), for three self-attention masks, on the dense path (the
// [B,1,L,L] mask built by mask.Env.Build, every (query, key) pair computed) and on the
// sparse-aware path (layers.PlanSparse forced on: only the key blocks the per-row
// intervals touch). Each measurement is its own process (peak RSS per run) under
// prlimit --as and timeout; dense and sparse alternate in interleaved pairs and the
// figure is CPU time per step (user+sys), which other load on the machine disturbs
// less than wall time.

// lengthTokens is the number of tokens per step: B·L.
const lengthTokens = 4096

// lengthMasks are the masks of the benchmark; "causal & doc" reads the segment ids of
// poetry-lm documents packed by concatenation into rows of L.
var lengthMasks = []string{"causal", "causal & doc", "causal & window(128)"}

const (
	lenDModel = 64
	lenHeads  = 4
	lenFF     = 256
	// lenAS is the address-space limit of each measuring process (prlimit --as).
	lenAS = 12_000_000_000
)

// attnResult is what one "attn" worker measured.
type attnResult struct {
	L, B       int
	Mask, Path string
	Steps      int
	CPUMS      float64 // CPU ms per step (user+sys of the process during the measured steps)
	WallMS     float64
	PeakRSSMB  float64
	Skipped    float64 // fraction of the dense tiles the sparse plan does not compute
	Pairs      float64 // fraction of (query, key) pairs allowed
	Auto       string  // the path PlanSparse chooses with its defaults
	Loss       float64 // sum of the layer's output times a fixed random tensor (same on both paths)
}

// attnWorker measures one (L, mask, path) case in this process.
func attnWorker(be compute.Backend, L int, spec, path string, block int, minSeconds float64) (*attnResult, error) {
	B := max(1, lengthTokens/L)
	m, err := mask.ParseAttention(spec)
	if err != nil {
		return nil, err
	}
	side, err := lengthSide(B, L)
	if err != nil {
		return nil, err
	}
	res := &attnResult{L: L, B: B, Mask: spec, Path: path}
	plan, _, err := layers.PlanSparse(m, side, layers.SparseOptions{BQ: block, BK: block, MinSkipped: -1})
	if err != nil {
		return nil, err
	}
	if plan == nil {
		return nil, fmt.Errorf("mask %q is not an interval mask", spec)
	}
	res.Skipped = plan.Blocks.Skipped()
	res.Pairs = float64(plan.Blocks.Pairs) / float64(B*L*L)
	res.Auto = "dense"
	if auto, _, _ := layers.PlanSparse(m, side, layers.SparseOptions{}); auto != nil {
		res.Auto = "sparse"
	}
	sparse := path == "sparse"
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(1); err != nil {
		return nil, err
	}
	exec, err := model.NewExec(be, store, func(scope *model.Scope, in []*graph.Node) []*graph.Node {
		x, r, segs, tileQ, tileK, start, end := in[0], in[1], in[2], in[3], in[4], in[5], in[6]
		g := x.Graph()
		full := graph.Const(g, side.QueryLen)
		env := mask.NewEnv(g, B, lenHeads, L, L, mask.Side{QueryLen: full, KeyLen: full, QuerySeg: segs})
		var dm *layers.Mask
		var sm *layers.SparseMask
		if sparse {
			if sm, err = layers.PrepareSparse(tileQ, tileK, start, end, L, plan.Blocks.BQ, plan.Blocks.BK); err != nil {
				panic(err)
			}
		} else {
			allowed, err := env.Build(m)
			if err != nil {
				panic(err)
			}
			if dm, err = layers.PrepareMask(allowed); err != nil {
				panic(err)
			}
		}
		out := decoderLayer(scope.In("layer"), x, dm, sm)
		loss := graph.ReduceAllSum(graph.Mul(out, r))
		wrt := []*graph.Node{x}
		for v := range scope.IterVariables() {
			if v.Shape().DType == dtypes.Float32 {
				wrt = append(wrt, v.NodeValue(g))
			}
		}
		outs := []*graph.Node{loss}
		for _, d := range graph.Gradient(loss, wrt...) {
			outs = append(outs, graph.ReduceAllSum(d))
		}
		return outs
	})
	if err != nil {
		return nil, err
	}
	x, r := randomTensor(B, L, lenDModel, 1), randomTensor(B, L, lenDModel, 2)
	segs := tensors.FromFlatDataAndDimensions(side.QuerySeg, B, L)
	tq, tk, st, en := plan.Tensors()
	step := func() error {
		out, err := exec.Exec(x, r, segs, tq, tk, st, en)
		if err != nil {
			return err
		}
		res.Loss = float64(tensors.MustCopyFlatData[float32](out[0])[0])
		return nil
	}
	for range 2 { // compile, then one warm-up step
		if err := step(); err != nil {
			return nil, err
		}
	}
	cpu0, t0 := cpuSeconds(), time.Now()
	for res.Steps < 2 || (cpuSeconds()-cpu0 < minSeconds && res.Steps < 50) {
		if err := step(); err != nil {
			return nil, err
		}
		res.Steps++
	}
	res.CPUMS = 1000 * (cpuSeconds() - cpu0) / float64(res.Steps)
	res.WallMS = 1000 * time.Since(t0).Seconds() / float64(res.Steps)
	res.PeakRSSMB = peakRSSMB()
	return res, nil
}

// lengthSide is the side data of the benchmark batch: B rows of L positions of
// poetry-lm documents concatenated in shuffled order and cut into rows (segment ids 1, 2, ... per document,
// 0 on the padding at a row's end), every position valid.
func lengthSide(B, L int) (mask.HostSide, error) {
	task, err := datasets.Load("poetry-lm", datasets.Options{})
	if err != nil {
		return mask.HostSide{}, err
	}
	batch, err := task.Batch("train", B, 0, 0, datasets.BatchOptions{TgtLen: L, Pack: datasets.Concat})
	if err != nil {
		return mask.HostSide{}, err
	}
	full := make([]int32, B)
	for i := range full {
		full[i] = int32(L)
	}
	return mask.HostSide{B: B, Q: L, K: L, QueryLen: full, KeyLen: full, QuerySeg: batch.Segments}, nil
}

func randomTensor(B, L, D int, seed uint64) *tensors.Tensor {
	v := make([]float32, B*L*D)
	s := seed*0x9E3779B97F4A7C15 + 1
	for i := range v {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		v[i] = float32(s%2000)/1000 - 1
	}
	return tensors.FromFlatDataAndDimensions(v, B, L, D)
}

// decoderLayer is a pre-LN decoder layer: y = x + attn(LN(x)), out = y + FFN(LN(y)).
func decoderLayer(scope *model.Scope, x *graph.Node, dm *layers.Mask, sm *layers.SparseMask) *graph.Node {
	h := layerNorm(scope.In("norm1"), x)
	a, err := layers.MultiHeadAttention(scope.In("self"), h, h, h, lenHeads, lenDModel/lenHeads).WithMask(dm).WithSparse(sm).Done()
	if err != nil {
		panic(err)
	}
	y := graph.Add(x, a)
	h = layerNorm(scope.In("norm2"), y)
	f := linear(scope.In("ff2"), graph.Max(linear(scope.In("ff1"), h, lenFF), graph.ScalarZero(h.Graph(), h.DType())), lenDModel)
	return graph.Add(y, f)
}

func linear(scope *model.Scope, x *graph.Node, out int) *graph.Node {
	g := x.Graph()
	in := x.Shape().Dim(-1)
	w := scope.VariableWithShape("w", shapes.Make(x.DType(), in, out)).NodeValue(g)
	b := scope.VariableWithShape("b", shapes.Make(x.DType(), out)).NodeValue(g)
	y := graph.DotGeneral(x, []int{x.Rank() - 1}, nil, w, []int{0}, nil)
	return graph.Add(y, graph.Reshape(b, 1, 1, out))
}

func layerNorm(scope *model.Scope, x *graph.Node) *graph.Node {
	g := x.Graph()
	d := x.Shape().Dim(-1)
	mean := graph.ReduceAndKeep(x, graph.ReduceMean, -1)
	c := graph.Sub(x, mean)
	v := graph.ReduceAndKeep(graph.Square(c), graph.ReduceMean, -1)
	y := graph.Div(c, graph.Sqrt(graph.AddScalar(v, 1e-5)))
	gain := scope.VariableWithValue("gain", slices.Repeat([]float32{1}, d)).NodeValue(g)
	return graph.Mul(y, graph.Reshape(gain, 1, 1, d))
}

// lengthOptions configure the orchestration of the length benchmark.
type lengthOptions struct {
	lengths    []int
	block      int // sparse block size (0: the default)
	pairs      int
	threads    int
	minSeconds float64
	figure     string // PNG path of the log-log figure ("" for none)
	jsonOut    string
}

// lengthRun runs one attn worker process, bounded by timeout and prlimit --as.
func lengthRun(o lengthOptions, L int, spec, path string) (*attnResult, *procStats, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	args := []string{"900", "prlimit", "--as=" + strconv.Itoa(lenAS), self, "-worker", "attn", "-attn-len", strconv.Itoa(L),
		"-attn-mask", spec, "-attn-path", path, "-attn-block", strconv.Itoa(o.block), "-min-seconds", strconv.FormatFloat(o.minSeconds, 'g', -1, 64)}
	cmd := exec.Command("timeout", args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(o.threads))
	var out bytes.Buffer
	cmd.Stdout = &out
	ps, log, err := runMeasured(cmd)
	if err != nil {
		return nil, nil, fmt.Errorf("attention L=%d mask=%q %s: %v: %s", L, spec, path, err, lastLines(log, 3))
	}
	var res attnResult
	sc := bufio.NewScanner(&out)
	var last string
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "{") {
			last = sc.Text()
		}
	}
	if err := json.Unmarshal([]byte(last), &res); err != nil {
		return nil, nil, fmt.Errorf("attention L=%d mask=%q %s: no result: %v", L, spec, path, err)
	}
	return &res, ps, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}

// denseScoresMB is the size of one float32 [B,H,L,L] tensor of the dense path.
func denseScoresMB(L int) float64 {
	B := max(1, lengthTokens/L)
	return float64(B*lenHeads*L*L) * 4 / 1e6
}

// lengthCase is the medians of one (L, mask) case.
type lengthCase struct {
	L                      int
	Mask                   string
	B                      int
	DenseMS, SparseMS      float64 // CPU ms per step, medians of the pairs
	DenseRSS, SparseRSS    float64
	Speedup                float64 // median of the pairs' dense/sparse
	SpeedupMin, SpeedupMax float64
	Skipped, Pairs         float64
	Auto                   string
	OtherCores             float64
	Dense, Sparse          []*attnResult
}

func orchestrateLengths(o lengthOptions, stdout, stderr io.Writer) error {
	t0 := time.Now()
	logf := func(format string, args ...any) {
		fmt.Fprintf(stderr, "[%5.0fs] "+format+"\n", append([]any{time.Since(t0).Seconds()}, args...)...)
	}
	fmt.Fprintf(stdout, "machine: %s, %d CPUs, load average %s\n", cpuModel(), numCPU(), loadAvg())
	fmt.Fprintf(stdout, "attention benchmark: one pre-LN decoder layer (d_model %d, %d heads, FFN %d), forward+backward, %d tokens per step (B = %d/L), %d thread(s); "+
		"figures are CPU ms per step (user+sys), medians of %d interleaved dense/sparse pair(s); sparse blocks %dx%d\n",
		lenDModel, lenHeads, lenFF, lengthTokens, lengthTokens, o.threads, o.pairs, cmp.Or(o.block, layers.DefaultSparseBQ), cmp.Or(o.block, layers.DefaultSparseBK))
	for _, L := range o.lengths {
		fmt.Fprintf(stdout, "attention L=%d dense scores tensor [%d,%d,%d,%d] float32 = %.0f MB each (the dense path holds several)\n",
			L, max(1, lengthTokens/L), lenHeads, L, L, denseScoresMB(L))
	}
	var cases []*lengthCase
	for _, L := range o.lengths {
		for _, spec := range lengthMasks {
			c := &lengthCase{L: L, Mask: spec}
			var speedups, others []float64
			for i := range o.pairs {
				order := []string{"dense", "sparse"}
				if i%2 == 1 {
					order = []string{"sparse", "dense"}
				}
				var d, s *attnResult
				for _, path := range order {
					r, ps, err := lengthRun(o, L, spec, path)
					if err != nil {
						return err
					}
					others = append(others, ps.OtherCores)
					logf("attention L=%d mask=%q %s: %.1f CPU ms/step (%.1f wall), %d steps, peak RSS %.0f MB, other load %.2f cores",
						L, spec, path, r.CPUMS, r.WallMS, r.Steps, r.PeakRSSMB, ps.OtherCores)
					if path == "dense" {
						d = r
					} else {
						s = r
					}
				}
				if math.Abs(d.Loss-s.Loss) > 1e-3*(1+math.Abs(d.Loss)) {
					return fmt.Errorf("attention L=%d mask=%q: dense and sparse layers disagree: loss %g against %g", L, spec, d.Loss, s.Loss)
				}
				c.Dense, c.Sparse = append(c.Dense, d), append(c.Sparse, s)
				speedups = append(speedups, d.CPUMS/s.CPUMS)
			}
			pick := func(rs []*attnResult, f func(*attnResult) float64) float64 {
				var v []float64
				for _, r := range rs {
					v = append(v, f(r))
				}
				return median(v)
			}
			c.B = c.Dense[0].B
			c.DenseMS = pick(c.Dense, func(r *attnResult) float64 { return r.CPUMS })
			c.SparseMS = pick(c.Sparse, func(r *attnResult) float64 { return r.CPUMS })
			c.DenseRSS = pick(c.Dense, func(r *attnResult) float64 { return r.PeakRSSMB })
			c.SparseRSS = pick(c.Sparse, func(r *attnResult) float64 { return r.PeakRSSMB })
			c.Speedup, c.SpeedupMin, c.SpeedupMax = median(speedups), slices.Min(speedups), slices.Max(speedups)
			c.Skipped, c.Pairs, c.Auto = c.Sparse[0].Skipped, c.Sparse[0].Pairs, c.Sparse[0].Auto
			c.OtherCores = median(others)
			fmt.Fprintf(stdout, "attention L=%d mask=%q dense_ms=%.1f sparse_ms=%.1f speedup=%.2f B=%d n=%d range=%.2f..%.2f dense_rss_mb=%.0f sparse_rss_mb=%.0f allowed=%.1f%% skipped=%.1f%% auto=%s other_cores=%.2f\n",
				L, spec, c.DenseMS, c.SparseMS, c.Speedup, c.B, o.pairs, c.SpeedupMin, c.SpeedupMax, c.DenseRSS, c.SparseRSS, 100*c.Pairs, 100*c.Skipped, c.Auto, c.OtherCores)
			cases = append(cases, c)
		}
	}
	if o.jsonOut != "" {
		data, err := json.MarshalIndent(map[string]any{"started": t0.UTC().Format(time.RFC3339), "cases": cases}, "", " ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.jsonOut, data, 0o644); err != nil {
			return err
		}
	}
	if o.figure != "" {
		if err := lengthFigure(cases, o.figure); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "figure: %s\n", o.figure)
	}
	return nil
}

// lengthFigure draws CPU ms per step against L on log-log axes: dense (solid) and
// sparse (dashed) per mask, one colour per mask, and the slope a cost proportional to
// the B·L² pairs of dense attention would follow at a fixed number of tokens (∝ L).
func lengthFigure(cases []*lengthCase, path string) error {
	var lines []plots.CostLine
	for g, spec := range lengthMasks {
		for style, p := range []string{"dense", "sparse"} {
			l := plots.CostLine{Label: p + " " + spec, Group: g, Style: style}
			for _, c := range cases {
				if c.Mask != spec {
					continue
				}
				l.X = append(l.X, float64(c.L))
				if p == "dense" {
					l.Y = append(l.Y, c.DenseMS)
				} else {
					l.Y = append(l.Y, c.SparseMS)
				}
			}
			if len(l.X) > 0 {
				lines = append(lines, l)
			}
		}
	}
	if len(lines) == 0 {
		return fmt.Errorf("no measurements to draw")
	}
	ref := plots.CostLine{Label: "∝ L (dense pairs B·L² at fixed tokens)", Group: len(lengthMasks), Style: 2}
	for _, x := range lines[0].X {
		ref.X, ref.Y = append(ref.X, x), append(ref.Y, lines[0].Y[0]*x/lines[0].X[0])
	}
	fig, err := plots.CostCurves(fmt.Sprintf("One decoder layer, forward+backward, %d tokens per step, 1 thread", lengthTokens),
		"sequence length L", "CPU ms per step", append(lines, ref))
	if err != nil {
		return err
	}
	return plots.Save(fig, path, plots.DoubleColumn.WithHeight(plots.DoubleColumn.Height*1.3))
}

// runAttnWorker is the "attn" worker: one measurement, its result as JSON on out.
func runAttnWorker(L int, spec, path string, block int, minSeconds float64, cpuProfile string, out io.Writer) error {
	if L < 1 {
		return fmt.Errorf("-attn-len must be >= 1, got %d", L)
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	be, err := backend.New(backend.Resolve("", ""))
	if err != nil {
		return err
	}
	res, err := attnWorker(be, L, spec, path, block, minSeconds)
	if err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(res)
}

// redrawLengths draws the figure of an earlier run from its -json output.
func redrawLengths(jsonPath, figure string) error {
	if figure == "" {
		return fmt.Errorf("-redraw needs -figure PATH")
	}
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		return err
	}
	var run struct{ Cases []*lengthCase }
	if err := json.Unmarshal(data, &run); err != nil {
		return fmt.Errorf("%s: %w", jsonPath, err)
	}
	return lengthFigure(run.Cases, figure)
}
