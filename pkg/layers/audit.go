package layers

import (
	"fmt"
	"math/rand/v2"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/masklab/masklab/pkg/mask"
)

// AuditSelf and AuditCross name the columns of an audit: the decoder's inputs or the
// source tokens.
const (
	AuditSelf  = "self"
	AuditCross = "cross"
)

// MaxAuditSize bounds the audit's sizes: it runs a batch of Q examples with a
// vocabulary of about Q*K ids, which is cheap up to here.
const MaxAuditSize = 64

// Audit describes one dependence audit: which input positions of an actual, randomly
// initialised model can influence which of its output positions.
type Audit struct {
	Kind   string // model kind: KindDecoder, KindSeq2Seq or KindLSTM
	Layers int    // decoder layers, and encoder layers for seq2seq and lstm (default 1)

	// Self, Cross and Enc are the model's masks (zero values take the model defaults:
	// causal, pad, pad). Self does not apply to an LSTM, which is causal by construction.
	Self, Cross, Enc mask.Attention

	// Score is the decoder self-attention's score modification (zero: none). A finite
	// modification only reweights the pairs the masks allow, so the dependence it
	// measures is the masks' (a masked pair stays exactly independent); the audit shows
	// it, learned tables included (they start at zero).
	Score mask.Score

	What string // AuditSelf (default): columns are decoder inputs; AuditCross: source tokens
	Q    int    // output (decoder) positions: the rows
	K    int    // columns: decoder inputs (must equal Q) for self, source positions for cross; 0 means Q

	// KeyLen is the valid length of the columns' sequence (decoder inputs for self,
	// source for cross); 0 means all valid.
	KeyLen   int
	Segments []int // document id of each decoder position (packing; for the "doc" mask); nil means one
	Prefix   int   // prefix-LM prefix length (for the "prefix" mask)

	Seed int64 // initialisation seed

	// Model sets the model's other fields (DModel, Heads, FF, PostLN, Positions, ...);
	// zero DModel means a small model (d 16, 2 heads, ff 32; one head for an LSTM).
	// Kind, layers, masks, vocabularies, Tied (off) and Dropout (0) are set by the audit.
	Model Config
}

// Run measures the dependence of output row q (the logits at decoder position q) on
// column k (the input token embedding at position k) exactly: it differentiates a
// random projection of each output position's logits with respect to the input
// embeddings and reports dep[q][k] = true where the gradient is not zero.
//
// Why this is exact rather than sampled: a position the masks hide reaches the output
// only through attention weights that are exactly 0 (the masked softmax underflows to
// 0), and a product with an exact 0 stays 0 in floating point, so an independent
// (q, k) has a gradient of exactly 0, with no tolerance. A dependent pair has a
// gradient that is a nonzero polynomial in the random weights: zero only on a set of
// measure zero, i.e. with probability ~0 for a random initialisation (the sum of
// |gradient| over the embedding dimensions is used, so every coordinate would have to
// vanish at once).
//
// How: the batch has Q copies of the example, copy b measuring output row b; every
// (copy, column) pair has its own token id, so the gradient with respect to the
// (untied) embedding table's row of that id is the gradient with respect to that one
// input embedding. One forward and one backward pass measure the whole grid.
//
// Each Transformer layer has a residual path, so a position always depends on itself:
// L decoder layers with self mask M give the boolean composition (I | M)^L, which is
// M^L for masks that allow the diagonal (causal, doc, prefix, window, ...).
func (a Audit) Run(be compute.Backend) (dep [][]bool, err error) {
	a, err = a.resolve()
	if err != nil {
		return nil, err
	}
	cfg := a.Model
	Q, K := a.Q, a.K
	S := Q // source length when the columns are decoder inputs
	if a.What == AuditCross {
		S = K
	}
	auditedVocab := cfg.Vocab
	if a.What == AuditCross {
		auditedVocab = cfg.SrcVocab
	}

	// Token ids: audited side distinct per (copy, position), the other side small ids.
	dec := make([][]int32, Q)
	src := make([][]int32, Q)
	for b := range Q {
		dec[b] = make([]int32, Q)
		src[b] = make([]int32, S)
		for i := range Q {
			dec[b][i] = int32(i % auditBase)
			if a.What == AuditSelf {
				dec[b][i] = int32(auditBase + b*K + i)
			}
		}
		for i := range S {
			src[b][i] = int32(i % auditBase)
			if a.What == AuditCross {
				src[b][i] = int32(auditBase + b*K + i)
			}
		}
	}

	rng := rand.New(rand.NewPCG(uint64(a.Seed), 0x6175646974)) // "audit"
	proj := make([]float32, cfg.Vocab)
	for i := range proj {
		proj[i] = float32(rng.NormFloat64())
	}
	decLen, srcLen, prefix := make([]int32, Q), make([]int32, Q), make([]int32, Q)
	var segs, positions [][]int32
	for b := range Q {
		decLen[b], srcLen[b], prefix[b] = int32(Q), int32(S), int32(a.Prefix)
		if a.What == AuditSelf {
			decLen[b] = int32(a.KeyLen)
		} else {
			srcLen[b] = int32(a.KeyLen)
		}
		// Segments always (one document when none are given, as in mask.Example), with
		// positions restarting per document as when packing.
		s, p := make([]int32, Q), make([]int32, Q)
		for i := range Q {
			if a.Segments != nil {
				s[i] = int32(a.Segments[i])
			}
			if i > 0 && s[i] == s[i-1] {
				p[i] = p[i-1] + 1
			}
		}
		segs, positions = append(segs, s), append(positions, p)
	}

	table := "tgt_embedding"
	switch {
	case a.What == AuditCross:
		table = "src_embedding"
	case cfg.Kind == KindDecoder:
		table = "embedding"
	}
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(a.Seed); err != nil {
		return nil, err
	}
	var buildErr error
	exec, err := model.NewExec(be, store, func(scope *model.Scope, ins []*graph.Node) *graph.Node {
		g := ins[0].Graph()
		in := Inputs{Dec: ins[0], DecLen: ins[1], PrefixLen: ins[2]}
		rest := ins[3:]
		if cfg.Kind != KindDecoder {
			in.Src, in.SrcLen, rest = rest[0], rest[1], rest[2:]
		}
		in.Segments, in.Positions = rest[0], rest[1]
		logits, err := Forward(scope, cfg, in)
		if err != nil {
			buildErr = err
			return graph.Zeros(g, shapes.Make(floatDType, auditedVocab))
		}
		// objective = sum_b <proj, logits[b, b, :]>: copy b measures output row b.
		sel := graph.OneHot(graph.Iota(g, shapes.Make(dtypes.Int32, Q), 0), Q, floatDType) // [B=Q, Q]
		perRow := graph.Einsum("bqv,bq->bv", logits, sel)
		objective := graph.ReduceAllSum(graph.Mul(perRow, graph.InsertAxes(graph.Const(g, proj), 0)))
		v := scope.Store().GetVariable(model.JoinPath(scope.Scope(), table, "embeddings"))
		if v == nil {
			buildErr = fmt.Errorf("layers: audit: the %s model has no variable %s/embeddings", cfg.Kind, table)
			return graph.Zeros(g, shapes.Make(floatDType, auditedVocab))
		}
		grad := graph.Gradient(objective, v.NodeValue(g))[0] // [auditedVocab, D]
		return graph.ReduceSum(graph.Abs(grad), -1)          // [auditedVocab]
	})
	if err != nil {
		return nil, fmt.Errorf("layers: audit: %w", err)
	}
	args := []any{dec, decLen, prefix}
	if cfg.Kind != KindDecoder {
		args = append(args, src, srcLen)
	}
	args = append(args, segs, positions)
	out, err := exec.Exec(args...)
	if buildErr != nil {
		return nil, buildErr
	}
	if err != nil {
		return nil, fmt.Errorf("layers: audit: %w", err)
	}
	g := out[0].Value().([]float32)
	dep = make([][]bool, Q)
	for q := range Q {
		dep[q] = make([]bool, K)
		for k := range K {
			dep[q][k] = g[auditBase+q*K+k] != 0
		}
	}
	return dep, nil
}

// auditBase is the first audited token id: ids below it are the other side's tokens,
// and the audited side's token at position k of copy b is auditBase + b*K + k.
const auditBase = 4

// Check reports the first problem with the audit (sizes, kinds, masks the model cannot
// apply), naming the value, without running anything.
func (a Audit) Check() error {
	_, err := a.resolve()
	return err
}

// resolve checks the audit and fills defaults, building the model config.
func (a Audit) resolve() (Audit, error) {
	if a.What == "" {
		a.What = AuditSelf
	}
	if a.Layers == 0 {
		a.Layers = 1
	}
	if a.K == 0 {
		a.K = a.Q
	}
	switch {
	case a.Kind != KindDecoder && a.Kind != KindSeq2Seq && a.Kind != KindLSTM:
		return a, fmt.Errorf("layers: audit: model must be %s, %s or %s, got %q", KindDecoder, KindSeq2Seq, KindLSTM, a.Kind)
	case a.What != AuditSelf && a.What != AuditCross:
		return a, fmt.Errorf("layers: audit: what must be %s or %s, got %q", AuditSelf, AuditCross, a.What)
	case a.What == AuditCross && a.Kind == KindDecoder:
		return a, fmt.Errorf("layers: audit: a decoder-only model has no source: what must be self")
	case a.Layers < 1 || a.Layers > 8:
		return a, fmt.Errorf("layers: audit: layers must be in 1..8, got %d", a.Layers)
	case a.Q < 1 || a.Q > MaxAuditSize || a.K < 1 || a.K > MaxAuditSize:
		return a, fmt.Errorf("layers: audit: q and k must be in 1..%d, got q=%d k=%d", MaxAuditSize, a.Q, a.K)
	case a.What == AuditSelf && a.K != a.Q:
		return a, fmt.Errorf("layers: audit: self columns are the decoder inputs, so k must equal q, got q=%d k=%d", a.Q, a.K)
	case a.KeyLen < 0 || a.KeyLen > a.K:
		return a, fmt.Errorf("layers: audit: klen %d outside 1..%d", a.KeyLen, a.K)
	case a.Prefix < 0 || a.Prefix > a.Q:
		return a, fmt.Errorf("layers: audit: prefix %d outside 0..%d", a.Prefix, a.Q)
	case a.Segments != nil && len(a.Segments) != a.Q:
		return a, fmt.Errorf("layers: audit: %d segment ids for q=%d (one per decoder position)", len(a.Segments), a.Q)
	}
	if a.KeyLen == 0 {
		a.KeyLen = a.K
	}
	c := a.Model
	if c.DModel == 0 {
		c.DModel, c.Heads, c.FF = 16, 2, 32
		if a.Kind == KindLSTM {
			c.Heads = 0
		}
	}
	c.Kind, c.Tied, c.Dropout = a.Kind, false, 0
	c.DecLayers, c.EncLayers = a.Layers, a.Layers
	if a.Kind == KindDecoder {
		c.EncLayers = 0
	}
	c.Self, c.Cross, c.Enc, c.Score = a.Self, a.Cross, a.Enc, a.Score
	c.MaxLen = max(c.MaxLen, a.Q, a.K)
	c.Vocab, c.SrcVocab = auditBase, auditBase
	if a.What == AuditSelf {
		c.Vocab = auditBase + a.Q*a.K
	} else {
		c.SrcVocab = auditBase + a.Q*a.K
	}
	if err := c.Validate(); err != nil {
		return a, err
	}
	if c.Kind == KindLSTM {
		if err := c.validateLSTM(); err != nil {
			return a, err
		}
	}
	a.Model = c
	return a, nil
}
