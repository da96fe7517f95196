package layers

import (
	"fmt"
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/mask"
)

// GenerateOptions configure Generator.
type GenerateOptions struct {
	BOS, EOS, PAD int32
	// Stop lists more ids that end a row, besides EOS (Hugging Face's eos_token_id list).
	Stop []int32
	// MaxNewTokens is the most tokens generated per row (> 0); a row also ends at EOS or
	// a Stop id, or when its decoder buffer (MaxLen) is full.
	MaxNewTokens int
	// MaxLen is the decoder's length: the key/value cache's, or the recomputed buffer's.
	// A row with a prompt of p tokens generates at most MaxLen-p+1 tokens (as Greedy).
	// One length serves every call with one compiled step; 0 sizes each call to its
	// longest prompt + MaxNewTokens - 1, rounded up to a multiple of 32 (capped at
	// max_len for learned positions).
	MaxLen int
	// SrcLen, if > 0, pads every source to this length (as GreedyOptions.SrcLen).
	SrcLen int
	// Scope is the path of the scope the model was built in ("" or "/" for the root).
	Scope    string
	Sampling Sampling
	// NoCache recomputes the whole prefix at every step (the reference the cache is
	// tested against, and the decoding benchmark's baseline).
	NoCache bool
	// KeepLogits keeps every step's logits in Generation.Logits (for tests).
	KeepLogits bool
}

// Generation is what Generate returns.
type Generation struct {
	// Tokens are each row's generated tokens, up to and including the stop id when one
	// was produced.
	Tokens [][]int32
	// Logits[s][b] are row b's logits at step s (nil once the row has ended); only with
	// GenerateOptions.KeepLogits.
	Logits [][][]float32
}

// Generator generates continuations with a trained or loaded model: greedy or sampled
// (Sampling), with a key/value cache for the transformer decoders (masklab's decoder
// LM and encoder-decoder, and the pretrained blocks of Config.Arch: Llama, Qwen2, Qwen3,
// Mistral, GPT-2). The prompt is run once (the prefill, which also projects a seq2seq
// model's encoder output for every cross-attention layer, once per source); then each
// step runs one token per row against caches of a fixed length (MaxLen), so one compiled
// graph serves every step. Where a cache would not compute what recomputing the prefix
// does (see Cached), each step recomputes the prefix instead.
type Generator struct {
	cfg     Config
	opts    GenerateOptions
	backend compute.Backend
	store   *model.Store
	cached  bool
	reason  string              // why not cached
	enc     *model.Exec         // seq2seq: the encoder
	prefill map[int]*model.Exec // by cache length
	step    map[int]*model.Exec // by cache length
	full    map[int]*model.Exec // recomputing the prefix, by buffer length
	stop    map[int32]bool      // ids that end a row
}

// NewGenerator prepares generation for cfg's model whose variables are in store.
func NewGenerator(backend compute.Backend, store *model.Store, cfg Config, opts GenerateOptions) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := opts.Sampling.Validate(); err != nil {
		return nil, err
	}
	switch {
	case opts.MaxNewTokens < 1:
		return nil, fmt.Errorf("layers: generation needs max new tokens >= 1, got %d", opts.MaxNewTokens)
	case opts.MaxLen < 0:
		return nil, fmt.Errorf("layers: generation max length must be >= 0, got %d", opts.MaxLen)
	case opts.MaxLen > 0 && cfg.WithDefaults().Positions == PosLearned && opts.MaxLen > cfg.MaxLen:
		return nil, fmt.Errorf("layers: generation max length %d exceeds max_len %d of learned positions", opts.MaxLen, cfg.MaxLen)
	}
	g := &Generator{cfg: cfg, opts: opts, backend: backend, store: store,
		prefill: map[int]*model.Exec{}, step: map[int]*model.Exec{}, full: map[int]*model.Exec{},
		stop: map[int32]bool{opts.EOS: true}}
	for _, id := range opts.Stop {
		g.stop[id] = true
	}
	g.reason = cacheBlocker(backend, cfg.WithDefaults())
	if opts.NoCache {
		g.reason = "the prefix is recomputed at every step (NoCache)"
	}
	g.cached = g.reason == ""
	if cfg.Kind == KindSeq2Seq {
		var err error
		g.enc, err = model.NewExec(backend, store, func(scope *model.Scope, src, srcLen *graph.Node) *graph.Node {
			mem, err := Encode(subScope(scope, opts.Scope), cfg, Inputs{Src: src, SrcLen: srcLen})
			if err != nil {
				panic(err)
			}
			return mem
		})
		if err != nil {
			return nil, fmt.Errorf("layers: generation: %w", err)
		}
	}
	return g, nil
}

// Cached reports whether the generator decodes with a key/value cache and, when it does
// not, why.
func (g *Generator) Cached() (bool, string) { return g.cached, g.reason }

// cacheBlocker returns why a key/value cache would not compute what recomputing the
// prefix computes for cfg's model ("" when it does): an LSTM, a score modification, or
// a mask under which a position's attention changes as the sequence grows (a position
// that sees later ones, or whose row depends on the filled length). The masks are
// checked on small grids: every row must be the same at every later length, and
// see nothing past the prompt (prompt rows) or past itself (generated rows).
func cacheBlocker(backend compute.Backend, cfg Config) string {
	switch {
	case cfg.Kind == KindLSTM:
		return "an lstm decoder has no attention to cache"
	case cfg.Kind != KindDecoder && cfg.Kind != KindSeq2Seq:
		return fmt.Sprintf("model kind %q takes no key/value cache", cfg.Kind)
	case !cfg.Score.IsZero():
		return fmt.Sprintf("the score modification %q is not applied through a key/value cache", cfg.Score)
	}
	self := []mask.Attention{cfg.Self}
	if cfg.Arch != nil && cfg.Arch.Window > 0 {
		self = append(self, mask.And(cfg.Self, mask.Window(cfg.Arch.Window-1)))
	}
	for _, m := range self {
		if why := growsStably(backend, m, 0); why != "" {
			return fmt.Sprintf("the self mask %q %s", m, why)
		}
	}
	if cfg.Kind == KindSeq2Seq {
		if why := growsStably(backend, cfg.Cross, 5); why != "" {
			return fmt.Sprintf("the cross mask %q %s", cfg.Cross, why)
		}
	}
	return ""
}

// growsStably checks mask m of a decoder of length 10 (self-attention when keys is 0,
// else cross-attention to that many keys) with prompts of 1 and 4 tokens: see
// cacheBlocker. It returns what fails, "" when nothing does.
func growsStably(backend compute.Backend, m mask.Attention, keys int) string {
	const T = 10
	for _, prompt := range []int{1, 4} {
		grids := make([][][][]bool, T+1)
		for L := prompt; L <= T; L++ {
			ex := mask.Example{Q: T, K: T, QueryLen: L, KeyLen: L, PrefixLen: prompt}
			if keys > 0 {
				ex.K, ex.KeyLen = keys, keys
			}
			grid, err := m.GridOn(backend, ex)
			if err != nil {
				return fmt.Sprintf("cannot be evaluated (%v)", err)
			}
			grids[L] = grid
		}
		for L := prompt; L <= T; L++ {
			for j := range L {
				at := max(prompt, j+1) // the filled length when position j's keys are cached
				for h := range grids[L] {
					for k := range grids[L][h][j] {
						if keys == 0 && k >= at && grids[at][h][j][k] {
							return fmt.Sprintf("lets position %d see the later position %d (prompt of %d)", j, k, prompt)
						}
						if grids[L][h][j][k] != grids[at][h][j][k] {
							return fmt.Sprintf("changes the row of position %d as the sequence grows from %d to %d (prompt of %d)", j, at, L, prompt)
						}
					}
				}
			}
		}
	}
	return ""
}

// genBatch is one Generate call's host state.
type genBatch struct {
	B, T        int
	dec         [][]int32 // [B][T] the decoded buffer, PAD after the filled part
	cur, prompt []int32   // filled lengths, prompt lengths
	done        []bool
	src         []any // seq2seq: source, source lengths, encoder output tensors
	out         [][]int32
	logits      [][][]float32
	sampler     *sampler
	keepLogits  bool
	maxNew      int
	stop        map[int32]bool
	selfKV, xKV []*tensors.Tensor // the caches: self K, V per layer; seq2seq cross K, V per layer
}

// Generate continues each prompt (nil or empty means [BOS]). For a seq2seq model, src
// holds each row's unpadded source ids; for a decoder-only model src must be nil and
// the prompt is the context (its length is also the prefix length of prefix-LM masks).
func (g *Generator) Generate(src, prompts [][]int32) (res *Generation, err error) {
	B := max(len(src), len(prompts))
	if B == 0 {
		return &Generation{}, nil
	}
	cfg := g.cfg
	switch {
	case cfg.Kind == KindDecoder && src != nil:
		return nil, fmt.Errorf("layers: a decoder-only model takes no source, got %d sources", len(src))
	case cfg.Kind != KindDecoder && len(src) != B:
		return nil, fmt.Errorf("layers: %s generation needs one source per row, got %d sources for %d rows", cfg.Kind, len(src), B)
	case prompts != nil && len(prompts) != B:
		return nil, fmt.Errorf("layers: got %d prompts for %d rows", len(prompts), B)
	}
	ps := make([][]int32, B)
	longest := 0
	for b := range B {
		ps[b] = []int32{g.opts.BOS}
		if prompts != nil && len(prompts[b]) > 0 {
			ps[b] = prompts[b]
		}
		longest = max(longest, len(ps[b]))
	}
	T := g.opts.MaxLen
	if T == 0 {
		T = (longest + g.opts.MaxNewTokens - 1 + 31) / 32 * 32
		if cfg.WithDefaults().Positions == PosLearned {
			T = min(T, cfg.MaxLen)
		}
	}
	s := &genBatch{B: B, T: T, cur: make([]int32, B), prompt: make([]int32, B), done: make([]bool, B),
		out: make([][]int32, B), sampler: newSampler(g.opts.Sampling), keepLogits: g.opts.KeepLogits,
		maxNew: g.opts.MaxNewTokens, stop: g.stop}
	for b, p := range ps {
		if len(p) > T {
			return nil, fmt.Errorf("layers: prompt %d has %d tokens, more than the decoder length %d", b, len(p), T)
		}
		s.dec = append(s.dec, slices.Repeat([]int32{g.opts.PAD}, T))
		copy(s.dec[b], p)
		s.cur[b], s.prompt[b] = int32(len(p)), int32(len(p))
	}
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("layers: generation: %v", r)
		}
	}()
	if src != nil {
		if s.src, err = g.encode(src); err != nil {
			return nil, err
		}
	}
	var logits *tensors.Tensor
	if g.cached {
		logits, err = g.runPrefill(s, longest)
	} else {
		logits, err = g.runFull(s)
	}
	for err == nil {
		if !s.choose(logits) {
			break
		}
		if g.cached {
			logits, err = g.runStep(s)
		} else {
			logits, err = g.runFull(s)
		}
	}
	if err != nil {
		return nil, err
	}
	return &Generation{Tokens: s.out, Logits: s.logits}, nil
}

// choose appends each unfinished row's next token and advances its buffer; it reports
// whether some row goes on.
func (s *genBatch) choose(logits *tensors.Tensor) bool {
	flat := tensors.MustCopyFlatData[float32](logits)
	V := len(flat) / s.B
	var kept [][]float32
	if s.keepLogits {
		kept = make([][]float32, s.B)
	}
	active := false
	for b := range s.B {
		if s.done[b] {
			continue
		}
		row := flat[b*V : (b+1)*V]
		if kept != nil {
			kept[b] = row
		}
		tok := s.sampler.next(row)
		s.out[b] = append(s.out[b], tok)
		if s.stop[tok] || len(s.out[b]) >= s.maxNew || int(s.cur[b]) >= s.T {
			s.done[b] = true
			continue
		}
		s.dec[b][s.cur[b]] = tok
		active = true
	}
	if kept != nil {
		s.logits = append(s.logits, kept)
	}
	return active
}

// encode pads the sources and runs a seq2seq model's encoder once.
func (g *Generator) encode(src [][]int32) ([]any, error) {
	S := max(1, g.opts.SrcLen)
	for _, r := range src {
		S = max(S, len(r))
	}
	padded := make([][]int32, len(src))
	lens := make([]int32, len(src))
	for b, r := range src {
		padded[b] = slices.Repeat([]int32{g.opts.PAD}, S)
		copy(padded[b], r)
		lens[b] = int32(len(r))
	}
	srcT, lenT := tensors.FromValue(padded), tensors.FromValue(lens)
	if g.enc == nil { // lstm: the model encodes its source at every step
		return []any{srcT, lenT}, nil
	}
	mem, err := g.enc.Exec(srcT, lenT)
	if err != nil {
		return nil, fmt.Errorf("layers: generation: encoding the sources: %w", err)
	}
	return []any{srcT, lenT, mem[0]}, nil
}

// inputs returns the model's Inputs from a graph's inputs: Dec, DecLen, PrefixLen, then
// for seq2seq and lstm Src and SrcLen, and for seq2seq with memory the encoder's output
// Memory; it returns the rest. Without memory (the steps, whose cross-attention reads the projected memory
// from the cache), Memory is a zero placeholder that only gives the shapes: a step that
// read it would decode other tokens than the prefill-projected cache gives.
func (g *Generator) inputs(ins []*graph.Node, memory bool) (Inputs, []*graph.Node) {
	in := Inputs{Dec: ins[0], DecLen: ins[1], PrefixLen: ins[2]}
	rest := ins[3:]
	if g.cfg.Kind != KindDecoder {
		in.Src, in.SrcLen = rest[0], rest[1]
		rest = rest[2:]
	}
	if g.cfg.Kind == KindSeq2Seq {
		if memory {
			in.Memory, rest = rest[0], rest[1:]
		} else {
			in.Memory = graph.Zeros(in.Src.Graph(), shapes.Make(floatDType, in.Src.Shape().Dim(0), in.Src.Shape().Dim(1), g.cfg.DModel))
		}
	}
	return in, rest
}

// logitsOf returns the logits [B,1,V] as [B,V].
func logitsOf(l *graph.Node) *graph.Node {
	return graph.Reshape(l, l.Shape().Dim(0), l.Shape().Dim(2))
}

// runFull runs the whole buffer and returns the logits after each row's last filled
// position (Greedy's graph, with logits instead of their argmax).
func (g *Generator) runFull(s *genBatch) (*tensors.Tensor, error) {
	ex := g.full[s.T]
	if ex == nil {
		var err error
		ex, err = model.NewExec(g.backend, g.store, func(scope *model.Scope, ins []*graph.Node) *graph.Node {
			in, _ := g.inputs(ins, true)
			in.Segments = graph.OnesLike(in.Dec)
			in.LogitsAt = graph.AddScalar(in.DecLen, -1)
			logits, err := Forward(subScope(scope, g.opts.Scope), g.cfg, in)
			if err != nil {
				panic(err)
			}
			return logitsOf(logits)
		})
		if err != nil {
			return nil, fmt.Errorf("layers: generation: %w", err)
		}
		g.full[s.T] = ex
	}
	// Rows advance after their token is chosen: cur counts the filled positions.
	for b := range s.B {
		if !s.done[b] && len(s.out[b]) > 0 {
			s.cur[b]++
		}
	}
	args := append([]any{tensors.FromValue(s.dec), tensors.FromValue(s.cur), tensors.FromValue(s.prompt)}, s.src...)
	res, err := ex.Exec(args...)
	if err != nil {
		return nil, fmt.Errorf("layers: generation: %w", err)
	}
	return res[0], nil
}

// cacheOutputs returns the logits and the caches the graph returns.
func cacheOutputs(logits *graph.Node, c *KVCache, withCross bool) []*graph.Node {
	outs := []*graph.Node{logitsOf(logits)}
	for _, kv := range c.NewSelf {
		outs = append(outs, kv.K, kv.V)
	}
	if withCross {
		for _, kv := range c.NewCross {
			outs = append(outs, kv.K, kv.V)
		}
	}
	return outs
}

// runPrefill runs the prompts (padded to P, a multiple of 8 of the longest) through an
// empty cache, keeps the caches and returns the logits after each prompt.
func (g *Generator) runPrefill(s *genBatch, longest int) (*tensors.Tensor, error) {
	T := s.T
	ex := g.prefill[T]
	if ex == nil {
		var err error
		ex, err = model.NewExec(g.backend, g.store, func(scope *model.Scope, ins []*graph.Node) []*graph.Node {
			in, _ := g.inputs(ins, true)
			in.Cache = &KVCache{Len: T, Start: graph.Zeros(in.Dec.Graph(), in.DecLen.Shape())}
			in.LogitsAt = graph.AddScalar(in.DecLen, -1)
			logits, err := Forward(subScope(scope, g.opts.Scope), g.cfg, in)
			if err != nil {
				panic(err)
			}
			return cacheOutputs(logits, in.Cache, g.cfg.Kind == KindSeq2Seq)
		})
		if err != nil {
			return nil, fmt.Errorf("layers: generation: %w", err)
		}
		g.prefill[T] = ex
	}
	P := min(T, (longest+7)/8*8)
	dec := make([][]int32, s.B)
	for b := range dec {
		dec[b] = s.dec[b][:P]
	}
	args := append([]any{tensors.FromValue(dec), tensors.FromValue(s.cur), tensors.FromValue(s.prompt)}, s.src...)
	res, err := ex.Exec(args...)
	if err != nil {
		return nil, fmt.Errorf("layers: generation: the prompts: %w", err)
	}
	L := g.cfg.DecLayers
	s.selfKV = res[1 : 1+2*L]
	s.xKV = res[1+2*L:]
	return res[0], nil
}

// runStep feeds each row's last token at its next position and returns the logits
// after it, updating the caches.
func (g *Generator) runStep(s *genBatch) (*tensors.Tensor, error) {
	T, L := s.T, g.cfg.DecLayers
	cross := g.cfg.Kind == KindSeq2Seq
	ex := g.step[T]
	if ex == nil {
		var err error
		ex, err = model.NewExec(g.backend, g.store, func(scope *model.Scope, ins []*graph.Node) []*graph.Node {
			in, rest := g.inputs(ins, false)
			start := rest[0]
			c := &KVCache{Len: T, Start: start}
			for l := range L {
				c.Self = append(c.Self, KV{rest[1+2*l], rest[2+2*l]})
			}
			if cross {
				x := rest[1+2*L:]
				for l := range L {
					c.Cross = append(c.Cross, KV{x[2*l], x[2*l+1]})
				}
			}
			in.Cache = c
			logits, err := Forward(subScope(scope, g.opts.Scope), g.cfg, in)
			if err != nil {
				panic(err)
			}
			return cacheOutputs(logits, c, false)
		})
		if err != nil {
			return nil, fmt.Errorf("layers: generation: %w", err)
		}
		g.step[T] = ex
	}
	tok := make([][]int32, s.B)
	start := make([]int32, s.B)
	for b := range s.B {
		tok[b] = []int32{g.opts.PAD}
		start[b] = min(s.cur[b], int32(T-1)) // a finished row rewrites a slot nobody reads
		if !s.done[b] {
			tok[b][0] = s.dec[b][s.cur[b]]
			start[b] = s.cur[b]
			s.cur[b]++
		}
	}
	args := []any{tensors.FromValue(tok), tensors.FromValue(s.cur), tensors.FromValue(s.prompt)}
	if s.src != nil {
		args = append(args, s.src[:2]...) // the source and its lengths; the memory is in the cache
	}
	args = append(args, tensors.FromValue(start))
	for _, t := range s.selfKV {
		args = append(args, t)
	}
	for _, t := range s.xKV {
		args = append(args, t)
	}
	res, err := ex.Exec(args...)
	if err != nil {
		return nil, fmt.Errorf("layers: generation: %w", err)
	}
	s.selfKV = res[1:]
	return res[0], nil
}
