package check

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/mask"
)

// grid is an attention mask evaluated for a whole batch on the host: allowed[b][h][q][k]
// flattened, with H = 1 for masks shared by the heads.
type grid struct {
	B, H, Q, K int
	allowed    []bool
}

func (g *grid) at(b, h, q, k int) bool { return g.allowed[((b*g.H+h)*g.Q+q)*g.K+k] }

// side is the host side data of one attention, as pkg/layers gives it to the masks:
// valid query and key lengths [B], the prefix [B] (nil when the model reads none) and
// the query segment ids [B*Q] (also the keys' for self-attention, unless kseg [B*K]).
type side struct {
	qlen, klen, prefix, seg, kseg []int32
}

// evaluator evaluates masks on batches with the graph code training uses, on the Go
// backend; one compiled graph per mask and batch shape.
type evaluator struct {
	be    compute.Backend
	execs map[string]*maskExec
}

type maskExec struct {
	exec     *graph.Exec
	buildErr error
}

func newEvaluator() (*evaluator, error) {
	be, err := backend.New(backend.Choice{Config: backend.Default, Source: "default"})
	if err != nil {
		return nil, err
	}
	return &evaluator{be: be, execs: map[string]*maskExec{}}, nil
}

// eval evaluates m for a batch of B rows, H heads, Q queries and K keys. training turns
// random atoms on (drawn from seed); off, they allow everything, as at evaluation.
func (ev *evaluator) eval(m mask.Attention, B, H, Q, K int, s side, training bool, seed int64) (*grid, error) {
	h := 1
	if m.PerHead() {
		h = H
	}
	key := fmt.Sprintf("%s\x00%d,%d,%d,%d,%v,%v,%v,%v,%d", m, B, h, Q, K, s.prefix != nil, s.seg != nil, s.kseg != nil, training, seed)
	me := ev.execs[key]
	if me == nil {
		me = &maskExec{}
		hasPrefix, hasSeg, hasKSeg := s.prefix != nil, s.seg != nil, s.kseg != nil
		fn := func(qlen, klen, prefix, seg, kseg *graph.Node) *graph.Node {
			g := qlen.Graph()
			sd := mask.Side{QueryLen: qlen, KeyLen: klen, Training: training}
			if hasPrefix {
				sd.PrefixLen = prefix
			}
			if hasSeg {
				sd.QuerySeg = seg
			}
			if hasKSeg {
				sd.KeySeg = kseg
			}
			if training {
				state := graph.RNGStateFromSeedForGraph(g, seed)
				sd.Uniform = func(s shapes.Shape) *graph.Node {
					var v *graph.Node
					state, v = graph.RandomUniform(state, s)
					return graph.ConvertDType(v, dtypes.Float32)
				}
			}
			out, err := mask.NewEnv(g, B, h, Q, K, sd).Build(m)
			if err != nil {
				me.buildErr = err
				return graph.BroadcastToDims(graph.Const(g, false), B, h, Q, K)
			}
			return graph.BroadcastToDims(out, B, h, Q, K)
		}
		exec, err := graph.NewExec(ev.be, fn)
		if err != nil {
			return nil, err
		}
		me.exec = exec
		ev.execs[key] = me
	}
	prefix, seg, kseg := s.prefix, s.seg, s.kseg
	if prefix == nil {
		prefix = make([]int32, B)
	}
	if seg == nil {
		seg = make([]int32, B*Q)
	}
	if kseg == nil {
		kseg = make([]int32, B*K)
	}
	out, err := call(me.exec, tensors.FromFlatDataAndDimensions(s.qlen, B),
		tensors.FromFlatDataAndDimensions(s.klen, B), tensors.FromFlatDataAndDimensions(prefix, B),
		tensors.FromFlatDataAndDimensions(seg, B, Q), tensors.FromFlatDataAndDimensions(kseg, B, K))
	if me.buildErr != nil {
		return nil, me.buildErr
	}
	if err != nil {
		return nil, fmt.Errorf("mask %q: %w", m, err)
	}
	return &grid{B: B, H: h, Q: Q, K: K, allowed: tensors.MustCopyFlatData[bool](out[0])}, nil
}

// call runs an exec, turning panics into errors.
func call(e *graph.Exec, args ...any) (out []*tensors.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return e.Call(args...)
}

// alignment says how a mask aligns its causal part when query and key lengths differ:
// "top-left" (key <= query, as causal), "bottom-right" (key <= query + K - Q, as
// causal_br), "both" (it stays within both), "none" (it lets some query see a later key
// in both alignments: no causal part), or "" when it cannot be evaluated. The probes
// are 3 queries by 5 keys and 5 by 3: full lengths, prefix 0, one document.
func (ev *evaluator) alignment(m mask.Attention) string {
	tl, br := true, true
	for _, qk := range [][2]int{{3, 5}, {5, 3}} {
		Q, K := qk[0], qk[1]
		g, err := ev.eval(m, 1, 1, Q, K, side{qlen: []int32{int32(Q)}, klen: []int32{int32(K)}, prefix: []int32{0},
			seg: make([]int32, Q), kseg: make([]int32, K)}, false, 0)
		if err != nil {
			return ""
		}
		for h := range g.H {
			for q := range Q {
				for k := range K {
					if !g.at(0, h, q, k) {
						continue
					}
					tl = tl && k <= q
					br = br && k <= q+K-Q
				}
			}
		}
	}
	switch {
	case tl && !br:
		return "top-left"
	case br && !tl:
		return "bottom-right"
	case tl && br:
		return "both"
	}
	return "none"
}
