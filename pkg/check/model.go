package check

import (
	"fmt"
	"math"
	"sort"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/masklab/masklab/datasets"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/layers"
)

// modelChecks runs the actual (randomly initialised) model: the exact dependency audit
// of one packed row, and a forward and backward pass over rows whose attention has
// fully masked rows.
func (a *analysis) modelChecks() error {
	be, err := backend.New(backend.Choice{Config: backend.Default, Source: "default"})
	if err != nil {
		return err
	}
	if a.packedRows > 0 {
		if err := a.audit(be); err != nil {
			return fmt.Errorf("model audit: %w", err)
		}
	}
	if len(a.fmRows) > 0 {
		if err := a.policy(be); err != nil {
			return fmt.Errorf("model pass over fully masked rows: %w", err)
		}
	}
	return nil
}

// audit measures, with layers.Audit, which inputs of the first packed row (its first
// layers.MaxAuditSize positions) each output of the model depends on, and counts the
// dependencies across documents.
func (a *analysis) audit(be compute.Backend) error {
	// The first packed row with two documents inside the audited window.
	for bi := range a.bs.List {
		b := &a.bs.List[bi]
		for r := range b.B {
			n := min(int(b.TgtLen[r]), layers.MaxAuditSize)
			seg := b.Segments[r*b.T : r*b.T+n]
			if n == 0 || seg[n-1] == seg[0] {
				continue
			}
			m := a.bs.Model
			au := layers.Audit{Kind: m.Kind, Layers: min(a.layers, 8), Self: m.Self, Score: m.Score, Q: n, Seed: a.seed,
				Model: layers.Config{DModel: m.DModel, Heads: m.Heads, FF: m.FF, PostLN: m.PostLN, Positions: m.Positions}}
			au.Segments = make([]int, n)
			for i, s := range seg {
				au.Segments[i] = int(s)
			}
			if b.PrefixLen != nil {
				au.Prefix = min(int(b.PrefixLen[r]), n)
			}
			dep, err := au.Run(be)
			if err != nil {
				return err
			}
			first := ""
			for q := range n {
				for k := range n {
					if dep[q][k] && seg[q] != seg[k] {
						a.auditLeaks++
						if first == "" {
							first = fmt.Sprintf(", e.g. output %d (document %d) on input %d (document %d)", q, seg[q], k, seg[k])
						}
					}
				}
			}
			docs := map[int32]bool{}
			for _, s := range seg {
				docs[s] = true
			}
			if a.auditLeaks > 0 {
				a.auditDetail = fmt.Sprintf("measured on the model (exact audit, %d layer%s, batch %d row %d, first %d positions, %d documents): %d (output, input) pairs across documents%s",
					au.Layers, plural(au.Layers), bi, r, n, len(docs), a.auditLeaks, first)
			} else {
				a.auditDetail = fmt.Sprintf("measured on the model (exact audit, %d layer%s, batch %d row %d, first %d positions, %d documents): no output depends on another document",
					au.Layers, plural(au.Layers), bi, r, n, len(docs))
			}
			return nil
		}
	}
	return nil
}

// maxPolicyRows bounds the rows of the model pass over fully masked rows.
const maxPolicyRows = 4

// policy runs the model (training mode, random initialisation) over up to maxPolicyRows
// rows holding fully masked attention rows, and checks that its loss, logits and
// gradients are finite and that every fully masked row gets all-zero attention weights.
func (a *analysis) policy(be compute.Backend) error {
	var keys [][2]int
	for k := range a.fmRows {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i][0] < keys[j][0] || keys[i][0] == keys[j][0] && keys[i][1] < keys[j][1]
	})
	bi := keys[0][0]
	b := &a.bs.List[bi]
	var rows []int
	for _, k := range keys {
		if k[0] == bi && len(rows) < maxPolicyRows {
			rows = append(rows, k[1])
		}
	}
	R, T, S := len(rows), b.T, b.S
	take := func(x []int32, w int) []int32 {
		out := make([]int32, 0, R*w)
		for _, r := range rows {
			out = append(out, x[r*w:(r+1)*w]...)
		}
		return out
	}
	weights := make([]float32, 0, R*T)
	for _, r := range rows {
		weights = append(weights, b.Weights[r*T:(r+1)*T]...)
	}
	m := a.bs.Model
	sft := a.bs.Task.Kind == datasets.SFT && b.PrefixLen != nil
	seq2seq := m.Kind != layers.KindDecoder && S > 0
	args := []any{
		tensors.FromFlatDataAndDimensions(take(b.Inputs, T), R, T),
		tensors.FromFlatDataAndDimensions(take(b.TgtLen, 1), R),
		tensors.FromFlatDataAndDimensions(take(b.Tgt, T), R, T),
		tensors.FromFlatDataAndDimensions(weights, R, T),
		tensors.FromFlatDataAndDimensions(take(b.Segments, T), R, T),
		tensors.FromFlatDataAndDimensions(take(b.Positions, T), R, T),
	}
	if sft {
		args = append(args, tensors.FromFlatDataAndDimensions(take(b.PrefixLen, 1), R))
	}
	if seq2seq {
		args = append(args, tensors.FromFlatDataAndDimensions(take(b.Src, S), R, S), tensors.FromFlatDataAndDimensions(take(b.SrcLen, 1), R))
	}
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(a.seed); err != nil {
		return err
	}
	var buildErr error
	var blocks []string
	exec, err := model.NewExec(be, store, func(scope *model.Scope, in []*graph.Node) []*graph.Node {
		li := layers.Inputs{Dec: in[0], DecLen: in[1], Segments: in[4], Positions: in[5], Training: true}
		rest := in[6:]
		if sft {
			li.PrefixLen, rest = rest[0], rest[1:]
		}
		if seq2seq {
			li.Src, li.SrcLen = rest[0], rest[1]
		}
		g := in[0].Graph()
		res, err := layers.Run(scope.In("model"), m, li, true)
		if err != nil {
			buildErr = err
			return []*graph.Node{graph.Const(g, float32(0))}
		}
		loss := layers.WeightedCrossEntropy(res.Logits, in[2], in[3])
		var nodes []*graph.Node
		for v := range scope.IterVariables() {
			if v.Trainable && v.InUseByGraph(g) {
				nodes = append(nodes, v.NodeValue(g))
			}
		}
		// finite = 1 when the loss, the logits and every gradient are finite.
		finite := graph.ConvertDType(graph.LogicalAll(graph.IsFinite(res.Logits)), loss.DType())
		finite = graph.Mul(finite, graph.ConvertDType(graph.IsFinite(loss), loss.DType()))
		for _, gr := range graph.Gradient(loss, nodes...) {
			finite = graph.Mul(finite, graph.ConvertDType(graph.LogicalAll(graph.IsFinite(gr)), loss.DType()))
		}
		out := []*graph.Node{loss, finite}
		for _, w := range res.Attention {
			blocks = append(blocks, w.Block)
			out = append(out, w.Weights)
		}
		return out
	})
	if err != nil {
		return err
	}
	out, err := callModel(exec, args...)
	if buildErr != nil {
		return buildErr
	}
	if err != nil {
		return err
	}
	loss := tensors.MustCopyFlatData[float32](out[0])[0]
	finite := tensors.MustCopyFlatData[float32](out[1])[0] == 1
	// Attention weights of the fully masked rows: their sum over the keys must be 0.
	nonZero, masked := 0, 0
	for i, w := range out[2:] {
		d := w.Shape().Dimensions // [R,H,Q,K]
		vals := tensors.MustCopyFlatData[float32](w)
		for ri, r := range rows {
			g := a.policyGrid(blocks[i], bi)
			if g == nil {
				continue
			}
			for h := range d[1] {
				for q := range d[2] {
					gh := min(h, g.H-1)
					base := ((r*g.H+gh)*g.Q + q) * g.K
					allowed := false
					for _, ok := range g.allowed[base : base+g.K] {
						allowed = allowed || ok
					}
					if allowed {
						continue
					}
					masked++
					sum := 0.0
					wb := ((ri*d[1]+h)*d[2] + q) * d[3]
					for _, v := range vals[wb : wb+d[3]] {
						sum += math.Abs(float64(v))
					}
					if sum != 0 {
						nonZero++
					}
				}
			}
		}
	}
	a.policyFailed = !finite || nonZero > 0
	verdict := "verified on this model"
	if a.policyFailed {
		verdict = "NOT as documented on this model"
	}
	a.policyDetail = fmt.Sprintf("%s: a training-mode forward and backward pass over %d row%s of batch %d gives loss %.4g, finite logits and gradients: %v; %d of %d fully masked (row, head, query) attention rows have all-zero weights",
		verdict, R, plural(R), bi, loss, finite, masked-nonZero, masked)
	return nil
}

// policyGrid returns the (evaluation-mode) mask grid of one attention block ("self",
// "cross"; the encoder's is not kept) for batch bi.
func (a *analysis) policyGrid(block string, bi int) *grid {
	return a.grids[gridKey{block, bi}]
}

// callModel runs a model exec, turning panics into errors.
func callModel(e *model.Exec, args ...any) (out []*tensors.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return e.Call(args...)
}
