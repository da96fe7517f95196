package experiments

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/masklab/masklab/datasets"
	"github.com/masklab/masklab/pkg/layers"
)

// AttentionMap is one attention layer's weights for one input, labelled with their
// tokens, ready for plots.AttentionLayers: queries are the real (unpadded) positions,
// keys the real decoder positions or every source position, padding included.
type AttentionMap struct {
	Block   string        // "encoder", "self" (decoder self-attention) or "cross"
	Layer   int           // 0-based layer within the block
	Weights [][][]float64 // [head][query][key]
	Queries []string      // one label per query row
	Keys    []string      // one label per key column
}

// AttentionReading is what a trained model does with one input: its greedy output and
// the attention weights of every layer while it reads that output back (teacher forcing
// on its own prediction, with the decoder inputs corrupted as in evaluation).
type AttentionReading struct {
	Input  string
	Output string
	Maps   []AttentionMap
}

// Block returns the maps of one block ("encoder", "self", "cross") as
// weights[layer][head][q][k] with their query and key labels (those of the first
// layer: all layers of a block share them), or an error naming the blocks there are.
func (r *AttentionReading) Block(name string) (weights [][][][]float64, queries, keys []string, err error) {
	var have []string
	for _, m := range r.Maps {
		if m.Block == name {
			if weights == nil {
				queries, keys = m.Queries, m.Keys
			}
			weights = append(weights, m.Weights)
		} else if len(have) == 0 || have[len(have)-1] != m.Block {
			have = append(have, m.Block)
		}
	}
	if weights == nil {
		return nil, nil, nil, fmt.Errorf("attention of %q: the model has no %q block (it has %v)", r.Input, name, have)
	}
	return weights, queries, keys, nil
}

// Attention decodes text greedily (as Generate does), then runs the model once more on
// the source and its own output with the attention weights returned. Query rows are
// labelled with the token predicted at that position (the output tokens, then EOS), so
// a cross-attention row shows where in the source the model looked to emit that token.
// Decoder-only models return their self-attention over prompt and answer.
func (l *Loaded) Attention(text string) (*AttentionReading, error) {
	b, err := l.generationBatch(text)
	if err != nil {
		return nil, err
	}
	preds, err := l.sess.greedy(b, l.Step)
	if err != nil {
		return nil, err
	}
	su := l.sess.su
	v := su.task.Vocab
	out := trimEOS(preds[0], v.EOS)
	reading := &AttentionReading{Input: text, Output: strings.TrimSpace(v.DecodeText(out))}

	// Decoder inputs: the known prefix, then the output; targets: what each position predicted.
	known := int(b.TgtLen[0])
	n := known + len(out) // filled decoder inputs, the last predicts EOS
	if n > b.T {
		n = b.T
	}
	for p := known; p < n; p++ {
		b.Dec[p] = out[p-known]
	}
	for p := 0; p < n; p++ {
		switch {
		case p+1 < n:
			b.Tgt[p] = b.Dec[p+1]
		case p-known+1 < len(preds[0]):
			b.Tgt[p] = preds[0][p-known+1]
		default:
			b.Tgt[p] = int32(v.EOS)
		}
	}
	b.TgtLen[0] = int32(n)
	hb, err := su.prepare(b, evalSeed, l.Step)
	if err != nil {
		return nil, err
	}
	hb.sparse = nil // the weights take the dense path

	if l.attEx == nil {
		l.attEx, err = model.NewExec(l.sess.be, l.sess.store, func(scope *model.Scope, in []*graph.Node) []*graph.Node {
			x := inputNodes(in, false)
			layers.VariablesAsParameters(x.Dec.Graph())
			res, err := layers.Run(scope.In("model"), su.model, l.sess.modelInputs(x, false), true)
			if err != nil {
				panic(err)
			}
			l.attBlocks = l.attBlocks[:0]
			// The logits are an output too, although unused: a graph whose only outputs are
			// the attention weights (the rest dead code) has failed at execution on the Go
			// backend (docs/performance.md, "GoMLX issues met").
			nodes := []*graph.Node{res.Logits}
			for _, a := range res.Attention {
				l.attBlocks = append(l.attBlocks, layers.AttentionWeights{Block: a.Block, Layer: a.Layer})
				nodes = append(nodes, a.Weights)
			}
			if len(nodes) == 1 {
				panic(fmt.Errorf("model kind %s returned no attention weights", su.model.Kind))
			}
			return nodes
		})
		if err != nil {
			return nil, err
		}
	}
	res, err := call(l.attEx, hb.inputs(nil)...)
	if err != nil {
		return nil, fmt.Errorf("attention of %q: %w", text, err)
	}

	// Labels: decoder rows by predicted token, decoder columns by input token, source by token.
	tgtLabels := make([]string, n)
	decLabels := make([]string, n)
	for p := 0; p < n; p++ {
		tgtLabels[p] = v.Token(int(b.Tgt[p]))
		decLabels[p] = v.Token(int(hb.dec[p]))
	}
	// Source keys include the padding positions (labelled by the PAD token), so a cross
	// mask without the padding mask ("full") shows the weight it gives to padding.
	var srcLabels, srcReal []string
	if b.S > 0 {
		for k := 0; k < b.S; k++ {
			srcLabels = append(srcLabels, su.task.SrcVocab.Token(int(b.Src[k])))
		}
		srcReal = srcLabels[:b.SrcLen[0]]
	}
	for i, t := range res[1:] {
		info := l.attBlocks[i]
		m := AttentionMap{Block: info.Block, Layer: info.Layer}
		switch info.Block {
		case "encoder":
			m.Queries, m.Keys = srcReal, srcLabels
		case "cross":
			m.Queries, m.Keys = tgtLabels, srcLabels
		default:
			m.Queries, m.Keys = tgtLabels, decLabels
		}
		w, err := weightsOfRow0(t.Value(), t.Shape().Dimensions, len(m.Queries), len(m.Keys))
		if err != nil {
			return nil, fmt.Errorf("attention of %q, %s layer %d: %w", text, info.Block, info.Layer, err)
		}
		m.Weights = w
		reading.Maps = append(reading.Maps, m)
	}
	return reading, nil
}

// weightsOfRow0 cuts batch row 0 of a [B,H,Q,K] float32 array to [H][nq][nk].
func weightsOfRow0(v any, dims []int, nq, nk int) ([][][]float64, error) {
	if len(dims) != 4 {
		return nil, fmt.Errorf("weights have shape %v, want [B,H,Q,K]", dims)
	}
	if nq > dims[2] || nk > dims[3] {
		return nil, fmt.Errorf("weights have shape %v, fewer than %d queries and %d keys", dims, nq, nk)
	}
	a, ok := v.([][][][]float32)
	if !ok {
		return nil, fmt.Errorf("weights are %T, want float32", v)
	}
	out := make([][][]float64, dims[1])
	for h := range out {
		out[h] = make([][]float64, nq)
		for q := range out[h] {
			out[h][q] = make([]float64, nk)
			for k := range out[h][q] {
				out[h][q][k] = float64(a[0][h][q][k])
			}
		}
	}
	return out, nil
}

// generationBatch is the one-row batch Generate decodes from: the source (seq2seq) or
// the prompt and SEP (decoder-only), BOS first; TgtLen holds the known prefix length.
func (l *Loaded) generationBatch(text string) (datasets.Batch, error) {
	su := l.sess.su
	task := su.task
	S, T := su.S, su.T
	b := datasets.Batch{B: 1, S: 0, T: T, Rows: 1,
		Dec: make([]int32, T), Tgt: make([]int32, T), TgtLen: []int32{1},
		Segments: make([]int32, T), Positions: make([]int32, T), PromptLen: []int32{0},
		Prompt: make([]int32, T), Prefix: make([]int32, T), Examples: []int32{0}}
	pad := int32(task.Vocab.PAD)
	for i := range b.Dec {
		b.Dec[i], b.Tgt[i] = pad, pad
	}
	for p := 0; p < T; p++ {
		b.Segments[p], b.Positions[p] = 1, int32(p)
	}
	b.Dec[0] = int32(task.Vocab.BOS)
	if task.Kind == datasets.Seq2Seq {
		ids, err := task.SrcVocab.EncodeText(text)
		if err != nil {
			return b, fmt.Errorf("encoding %q: %w", text, err)
		}
		if len(ids)+1 > S {
			return b, fmt.Errorf("%q has %d tokens; the model's source length is %d (with EOS)", text, len(ids), S)
		}
		b.S = S
		b.Src, b.SrcLen = make([]int32, S), []int32{int32(len(ids) + 1)}
		for i := range b.Src {
			b.Src[i] = pad
		}
		copy(b.Src, ids)
		b.Src[len(ids)] = int32(task.SrcVocab.EOS)
		return b, nil
	}
	ids, err := task.Vocab.EncodeText(text)
	if err != nil {
		return b, fmt.Errorf("encoding %q: %w", text, err)
	}
	if task.Vocab.SEP >= 0 && task.Kind == datasets.SFT {
		ids = append(ids, int32(task.Vocab.SEP))
	}
	if len(ids)+1 >= T {
		return b, fmt.Errorf("%q has %d tokens; the model's length is %d", text, len(ids), T)
	}
	copy(b.Dec[1:], ids)
	b.PromptLen[0] = int32(len(ids))
	for p := 0; p < len(ids); p++ {
		b.Prompt[p] = 1
	}
	b.TgtLen[0] = int32(len(ids) + 1)
	return b, nil
}
