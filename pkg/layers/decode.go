package layers

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// GreedyOptions configure greedy decoding.
type GreedyOptions struct {
	BOS, EOS, PAD int32
	// MaxLen is the decoder's input length T (the graph's, as in training). Decoding of
	// a row stops at EOS or after the prediction at the last input position, so a row
	// with a prompt of p tokens yields at most MaxLen-p+1 tokens: as many as the labels
	// of teacher forcing on T inputs.
	MaxLen int
	// SrcLen, if > 0, pads every source to this length (the training length, so that
	// one compiled graph serves every batch); 0 pads to the longest source of the call.
	SrcLen int
	// Scope is the path of the scope the model was built in ("" or "/" for the root),
	// as in the training graph.
	Scope string
}

// Greedy decodes with a trained model: a seq2seq model encodes the sources once per
// call; at each step it runs the decoder's forward pass on the current prefixes (no KV
// cache), computes the logits only at each row's last
// filled position and appends their argmax to every unfinished row. One compiled graph serves all steps (the buffer has a fixed length; DecLen says
// how much is filled), so any self mask that hides keys beyond DecLen ("pad") or later
// positions ("causal") decodes correctly.
type Greedy struct {
	cfg  Config
	opts GreedyOptions
	exec *model.Exec
	enc  *model.Exec // seq2seq: the encoder, run once per call (nil: exec runs the whole model)
	full bool        // logits over all T positions, argmax taken per row (the reference path for tests)
}

// NewGreedy prepares greedy decoding for cfg's model whose variables are in store.
func NewGreedy(backend compute.Backend, store *model.Store, cfg Config, opts GreedyOptions) (*Greedy, error) {
	return newGreedy(backend, store, cfg, opts, false)
}

// newGreedy is NewGreedy; full computes the logits at every position (the original,
// slower path, kept to test that the fast one decodes the same tokens).
func newGreedy(backend compute.Backend, store *model.Store, cfg Config, opts GreedyOptions, full bool) (*Greedy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.MaxLen < 2 {
		return nil, fmt.Errorf("layers: greedy decoding needs MaxLen >= 2, got %d", opts.MaxLen)
	}
	d := &Greedy{cfg: cfg, opts: opts, full: full}
	fn := func(scope *model.Scope, ins []*graph.Node) *graph.Node {
		scope = subScope(scope, opts.Scope)
		// One document per row: a "doc" mask of a model trained on packed rows sees
		// the row as one document.
		in := Inputs{Dec: ins[0], DecLen: ins[1], PrefixLen: ins[2], Segments: graph.OnesLike(ins[0])}
		if len(ins) > 3 {
			in.Src, in.SrcLen = ins[3], ins[4]
		}
		if len(ins) > 5 {
			in.Memory = ins[5]
		}
		if !full {
			// Only the prediction after the last filled input (DecLen-1) is used.
			in.LogitsAt = graph.AddScalar(ins[1], -1)
		}
		logits, err := Forward(scope, cfg, in)
		if err != nil {
			panic(err)
		}
		return graph.ArgMax(logits, -1, dtypes.Int32)
	}
	exec, err := model.NewExec(backend, store, fn)
	if err != nil {
		return nil, fmt.Errorf("layers: greedy decoding: %w", err)
	}
	d.exec = exec
	if cfg.Kind == KindSeq2Seq && !full {
		d.enc, err = model.NewExec(backend, store, func(scope *model.Scope, src, srcLen *graph.Node) *graph.Node {
			mem, err := Encode(subScope(scope, opts.Scope), cfg, Inputs{Src: src, SrcLen: srcLen})
			if err != nil {
				panic(err)
			}
			return mem
		})
		if err != nil {
			return nil, fmt.Errorf("layers: greedy decoding: %w", err)
		}
	}
	return d, nil
}

func subScope(scope *model.Scope, path string) *model.Scope {
	start := 0
	for i := 0; i <= len(path); i++ {
		if i == len(path) || path[i] == '/' {
			if i > start {
				scope = scope.In("%s", path[start:i])
			}
			start = i + 1
		}
	}
	return scope
}

// Decode continues each prompt (nil or empty means [BOS]) greedily and returns the
// generated tokens of each row, up to and including EOS when one was produced. For a
// seq2seq or lstm model, src holds each row's unpadded source ids; for a decoder-only
// model src must be nil and the prompt is the context (its length is also passed as the
// prefix length, for prefix-LM masks).
func (d *Greedy) Decode(src, prompts [][]int32) (out [][]int32, err error) {
	return d.DecodeCorrupted(src, prompts, nil)
}

// Corrupter returns the decoder inputs the model sees, given the decoded buffer dec
// ([B][MaxLen], PAD after the filled part) and each row's filled length: decoder-input
// corruption applied at evaluation as in training. It must not modify dec.
type Corrupter func(dec [][]int32, filled []int32) ([][]int32, error)

// DecodeCorrupted is Decode with the decoder inputs passed through corrupt before each
// step (nil = as decoded); the model's argmax is appended to the uncorrupted buffer.
func (d *Greedy) DecodeCorrupted(src, prompts [][]int32, corrupt Corrupter) (out [][]int32, err error) {
	B := max(len(src), len(prompts))
	if B == 0 {
		return nil, nil
	}
	if d.cfg.Kind == KindDecoder && src != nil {
		return nil, fmt.Errorf("layers: a decoder-only model takes no source, got %d sources", len(src))
	}
	if d.cfg.Kind != KindDecoder && len(src) != B {
		return nil, fmt.Errorf("layers: %s decoding needs one source per row, got %d sources for %d rows", d.cfg.Kind, len(src), B)
	}
	if prompts != nil && len(prompts) != B {
		return nil, fmt.Errorf("layers: got %d prompts for %d rows", len(prompts), B)
	}
	T := d.opts.MaxLen
	dec := make([][]int32, B)
	cur := make([]int32, B)
	prefix := make([]int32, B)
	done := make([]bool, B)
	for b := range B {
		dec[b] = make([]int32, T)
		for i := range dec[b] {
			dec[b][i] = d.opts.PAD
		}
		p := []int32{d.opts.BOS}
		if prompts != nil && len(prompts[b]) > 0 {
			p = prompts[b]
		}
		if len(p) > T {
			return nil, fmt.Errorf("layers: prompt %d has %d tokens, more than MaxLen %d", b, len(p), T)
		}
		copy(dec[b], p)
		cur[b] = int32(len(p))
		prefix[b] = int32(len(p))
	}
	var srcT, srcLenT *tensors.Tensor
	if src != nil {
		S := max(1, d.opts.SrcLen)
		for _, s := range src {
			S = max(S, len(s))
		}
		padded := make([][]int32, B)
		lens := make([]int32, B)
		for b, s := range src {
			padded[b] = make([]int32, S)
			for i := range padded[b] {
				padded[b][i] = d.opts.PAD
			}
			copy(padded[b], s)
			lens[b] = int32(len(s))
		}
		srcT, srcLenT = tensors.FromValue(padded), tensors.FromValue(lens)
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("layers: greedy decoding: %v", r)
		}
	}()
	var memT *tensors.Tensor // the encoder output, computed once for every step
	if d.enc != nil && srcT != nil {
		res, err := d.enc.Exec(srcT, srcLenT)
		if err != nil {
			return nil, fmt.Errorf("layers: greedy decoding: encoding the sources: %w", err)
		}
		memT = res[0]
	}
	out = make([][]int32, B)
	for {
		active := false
		for b := range B {
			active = active || !done[b]
		}
		if !active {
			break
		}
		seen := dec
		if corrupt != nil {
			if seen, err = corrupt(dec, cur); err != nil {
				return nil, fmt.Errorf("layers: greedy decoding: corrupting the inputs: %w", err)
			}
		}
		args := []any{tensors.FromValue(seen), tensors.FromValue(cur), tensors.FromValue(prefix)}
		if srcT != nil {
			args = append(args, srcT, srcLenT)
		}
		if memT != nil {
			args = append(args, memT)
		}
		res, err := d.exec.Exec(args...)
		if err != nil {
			return nil, fmt.Errorf("layers: greedy decoding: %w", err)
		}
		pred := res[0].Value().([][]int32)
		for b := range B {
			if done[b] {
				continue
			}
			next := pred[b][0]
			if d.full {
				next = pred[b][cur[b]-1]
			}
			out[b] = append(out[b], next)
			if next == d.opts.EOS || int(cur[b]) >= T {
				done[b] = true
				continue
			}
			dec[b][cur[b]] = next
			cur[b]++
		}
	}
	return out, nil
}

// GreedyDecode is NewGreedy followed by one Decode (compiles a graph per call; keep a
// Greedy for repeated evaluation).
func GreedyDecode(backend compute.Backend, store *model.Store, cfg Config, opts GreedyOptions, src, prompts [][]int32) ([][]int32, error) {
	d, err := NewGreedy(backend, store, cfg, opts)
	if err != nil {
		return nil, err
	}
	return d.Decode(src, prompts)
}
