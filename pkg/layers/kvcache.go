package layers

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/mask"
)

// KV is one attention layer's cached keys and values, [B,L,Hkv,dh] each: projected,
// with the head norms and rotary positions applied, before grouped-query attention
// repeats the heads.
type KV struct{ K, V *graph.Node }

// KVCache, set as Inputs.Cache, makes Forward run a decoder's n new positions (Dec
// [B,n]) against fixed-size caches of every earlier position's keys and values, instead
// of recomputing the prefix: the prefill (a prompt, Start 0) and then one token per step
// use the same cache shapes, so one compiled graph serves every step of a decoding.
//
// Row b's new positions are Start[b]..Start[b]+n-1 (Inputs.Positions, when nil); their
// keys and values are written there, and the self mask is evaluated for those query
// rows against the Len cached keys with DecLen as the valid length (so a row's cache
// past DecLen holds stale values that "causal" or "pad" hides). Every row is one
// document (segments all one). Only the transformer kinds (seq2seq, decoder) and the
// pretrained blocks (Config.Arch) take a cache, without a score modification.
//
// For a seq2seq model, Cross holds each decoder layer's projected memory (computed once
// per source, by the prefill); nil makes Forward project in.Memory (or the encoder's
// output) and report it in NewCross.
type KVCache struct {
	Len   int         // cache length: key positions 0..Len-1
	Start *graph.Node // integer [B]: where each row's new positions begin
	Self  []KV        // per decoder layer, the caches before this call; nil: all zeros
	Cross []KV        // seq2seq: per decoder layer, the projected memory; nil: computed here

	// Filled by Forward: the caches after this call (Self with the new positions
	// written) and, when Cross was nil, the projected memory.
	NewSelf, NewCross []KV
}

// layerKV is one attention layer's view of the cache (nil: no cache).
type layerKV struct {
	c     *KVCache
	cross bool
	layer int
}

// layer returns the view of decoder layer l's self- (cross false) or cross-attention.
func (c *KVCache) layer(cross bool, l int) *layerKV {
	if c == nil {
		return nil
	}
	return &layerKV{c: c, cross: cross, layer: l}
}

// normalize checks the cache against the model and the batch (Dec [B,n]) and sets the
// positions of the new tokens when the caller gave none.
func (c *KVCache) normalize(in *Inputs, cfg Config, B, n int) error {
	switch {
	case cfg.Kind == KindLSTM:
		return fmt.Errorf("layers: an lstm decoder takes no key/value cache")
	case !cfg.Score.IsZero():
		return fmt.Errorf("layers: a key/value cache does not apply a score modification (%s): decode without one", cfg.Score)
	case c.Len < n:
		return fmt.Errorf("layers: key/value cache of length %d is shorter than the %d new positions", c.Len, n)
	case c.Start == nil:
		return fmt.Errorf("layers: key/value cache without Start positions")
	case c.Self != nil && len(c.Self) != cfg.DecLayers:
		return fmt.Errorf("layers: key/value cache has %d self-attention layers for %d decoder layers", len(c.Self), cfg.DecLayers)
	case c.Cross != nil && len(c.Cross) != cfg.DecLayers:
		return fmt.Errorf("layers: key/value cache has %d cross-attention layers for %d decoder layers", len(c.Cross), cfg.DecLayers)
	case cfg.Positions == PosLearned && c.Len > cfg.MaxLen:
		return fmt.Errorf("layers: key/value cache of length %d exceeds max_len %d of learned positions", c.Len, cfg.MaxLen)
	}
	if err := checkVec(c.Start, "Cache.Start", B); err != nil {
		return err
	}
	g := in.Dec.Graph()
	start := graph.ConvertDType(c.Start, dtypes.Int32)
	if in.Positions == nil {
		in.Positions = graph.Add(graph.Reshape(start, B, 1), graph.Iota(g, shapes.Make(dtypes.Int32, 1, n), 1))
	}
	c.NewSelf = make([]KV, cfg.DecLayers)
	if cfg.Kind == KindSeq2Seq && c.Cross == nil {
		c.NewCross = make([]KV, cfg.DecLayers)
	}
	return nil
}

// decoderMask builds a decoder mask (self, or cross with keys 0..K-1) for the rows of
// the new positions against the cache: the rows of the mask a full decoder of length
// Len would build.
func (c *KVCache) decoderMask(scope *model.Scope, m mask.Attention, in Inputs, B, H, K int, side mask.Side, what string) (*Mask, error) {
	g := in.Dec.Graph()
	n := in.Dec.Shape().Dim(1)
	side.QuerySeg = graph.Ones(g, shapes.Make(dtypes.Int32, B, n))
	side.KeySeg = graph.Ones(g, shapes.Make(dtypes.Int32, B, K))
	allowed, err := mask.NewEnvRows(g, B, H, c.Len, K, in.Positions, side).Build(m)
	if err != nil {
		return nil, fmt.Errorf("layers: %s mask: %w", what, err)
	}
	return PrepareMask(allowed)
}

// decMask is buildMask for a decoder mask of T queries and K keys (K = T for the self
// mask), or its rows for the new positions when decoding with a cache.
func decMask(scope *model.Scope, m mask.Attention, in Inputs, B, H, T, K int, self bool, side mask.Side, what string) (*Mask, error) {
	if c := in.Cache; c != nil {
		if self {
			K = c.Len
		}
		return c.decoderMask(scope, m, in, B, H, K, side, what)
	}
	return buildMask(scope, m, B, H, T, K, side, what)
}

// fixed returns the cached projected memory of a cross-attention layer, when the cache
// holds it.
func (l *layerKV) fixed() (k, v *graph.Node, ok bool) {
	if l == nil || !l.cross || l.c.Cross == nil {
		return nil, nil, false
	}
	kv := l.c.Cross[l.layer]
	return kv.K, kv.V, true
}

// keyLen returns the number of keys the layer attends to, given its key input's length.
func (l *layerKV) keyLen(inputLen int) int {
	if l == nil || l.cross {
		return inputLen
	}
	return l.c.Len
}

// update writes the new keys and values [B,n,Hkv,dh] of a self-attention layer into its
// cache and returns the whole cache [B,Len,Hkv,dh]; a cross-attention layer's are
// recorded (the prefill's projected memory) and returned as they are.
func (l *layerKV) update(k, v *graph.Node) (*graph.Node, *graph.Node) {
	if l == nil {
		return k, v
	}
	c := l.c
	if l.cross {
		if c.Cross == nil {
			c.NewCross[l.layer] = KV{k, v}
		}
		return k, v
	}
	var old KV
	if c.Self != nil {
		old = c.Self[l.layer]
	} else {
		dims := append([]int{k.Shape().Dim(0), c.Len}, k.Shape().Dimensions[2:]...)
		zeros := graph.Zeros(k.Graph(), shapes.Make(k.DType(), dims...))
		old = KV{zeros, zeros}
	}
	nk, nv := writeRows(old.K, k, c.Start), writeRows(old.V, v, c.Start)
	c.NewSelf[l.layer] = KV{nk, nv}
	return nk, nv
}

// writeRows returns cache [B,Len,...] with x [B,n,...] written at positions
// start[b]..start[b]+n-1 of each row b (start+n <= Len; a start past that is clamped,
// as DynamicUpdateSlice does). Each row is one DynamicUpdateSlice, a copy at memory
// speed: a select over the whole cache costs several times more on the Go backend.
func writeRows(cache, x, start *graph.Node) *graph.Node {
	g := cache.Graph()
	B := cache.Shape().Dim(0)
	st := graph.ConvertDType(start, dtypes.Int32)
	zero := graph.ScalarZero(g, dtypes.Int32)
	rows := make([]*graph.Node, B)
	for b := range B {
		idx := []*graph.Node{zero, graph.Reshape(graph.Slice(st, graph.AxisRange(b, b+1)))}
		for range cache.Rank() - 2 {
			idx = append(idx, zero)
		}
		if B == 1 { // no row to cut out (a slice is a copy)
			return graph.DynamicUpdateSlice(cache, x, idx)
		}
		rows[b] = graph.DynamicUpdateSlice(graph.Slice(cache, graph.AxisRange(b, b+1)), graph.Slice(x, graph.AxisRange(b, b+1)), idx)
	}
	return graph.Concatenate(rows, 0)
}

// grouped reports whether the layer attends with its query heads grouped per
// key/value head (attendGrouped) instead of repeating the cached keys and values to
// every query head: decoding self-attention with grouped-query attention, no weights
// asked, no additive bias, no block-sparse mask.
func (l *layerKV) grouped(b *AttentionBuilder, wantWeights bool) bool {
	return l != nil && !l.cross && b.kvHeads() < b.heads && !wantWeights && b.bias == nil && b.sparse == nil
}

// attendGrouped is attend for grouped-query attention without repeating the keys and
// values [B,Len,Hkv,dh] (a copy of the whole cache per layer and step): the G = H/Hkv
// query heads of each key/value head become G query rows of that head (query head
// h = kv·G + g, as Hugging Face's repeat_kv pairs them), each with its position's mask
// row, and the output is put back in head order [B,n,H·dh].
func (b *AttentionBuilder) attendGrouped(scope *model.Scope, q, k, v *graph.Node) *graph.Node {
	B, n, H, dh := q.Shape().Dim(0), q.Shape().Dim(1), q.Shape().Dim(2), q.Shape().Dim(3)
	Hkv := k.Shape().Dim(2)
	G := H / Hkv
	q = graph.Reshape(graph.TransposeAllAxes(graph.Reshape(q, B, n, Hkv, G, dh), 0, 1, 3, 2, 4), B, n*G, Hkv, dh)
	saved := b.mask
	if m := saved; m != nil {
		rows := func(x *graph.Node) *graph.Node { // [B,h,n,K] -> [B,h,n·G,K], each row G times
			d := x.Shape().Dimensions
			x = graph.BroadcastToDims(graph.InsertAxes(x, 3), d[0], d[1], d[2], G, d[3])
			return graph.Reshape(x, d[0], d[1], d[2]*G, d[3])
		}
		b.mask = &Mask{Allowed: rows(m.Allowed), bias: rows(m.bias), rowValid: rows(m.rowValid)}
	}
	out, _ := b.attend(scope, q, k, v, false)
	b.mask = saved
	out = graph.TransposeAllAxes(graph.Reshape(out, B, n, G, Hkv, dh), 0, 1, 3, 2, 4)
	return graph.Reshape(out, B, n, H*dh)
}

// withCache makes the layer read and write its keys and values through l (nil: none).
func (b *AttentionBuilder) withCache(l *layerKV) *AttentionBuilder {
	b.ext.cache = l
	return b
}
