package experiments

import (
	"cmp"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/datasets"
	"github.com/masklab/masklab/pkg/hf"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
)

// setup is everything a run needs besides its variables: data, model config and the
// strategies, resolved once from a Config.
type setup struct {
	cfg     *Config
	task    *datasets.Task
	bopts   datasets.BatchOptions
	model   layers.Config
	corrupt mask.Corruption
	loss    mask.Loss
	corpus  *mask.Corpus
	S, T    int
}

// newSetup loads the task and parses the strategies of a validated config (a Hugging
// Face init_from's tokenizer and model included; a run directory's vocabulary is not read).
func newSetup(cfg *Config) (*setup, error) {
	initDir := ""
	if cfg.InitSHA256 != "" {
		initDir = cfg.InitFrom
	}
	su, _, err := newSetupInit(cfg, initDir, "")
	return su, err
}

// newSetupInit is newSetup for a run that starts from initDir ("" for none): a Hugging
// Face checkpoint, whose tokenizer encodes the task and whose config is the model (ck is
// returned to load its weights), or a run directory, whose vocabulary (vocab.json in
// vocabDir) encodes it.
func newSetupInit(cfg *Config, initDir, vocabDir string) (su *setup, warm func(*model.Store, compute.Backend) error, err error) {
	var vocab *datasets.Vocab
	var ck *hf.Checkpoint
	var bert *hf.BertCheckpoint
	switch {
	case initDir == "":
	case hf.IsBertCheckpoint(initDir):
		bert, vocab, err = hf.OpenBertFor(initDir, cfg.Model.Kind)
	case hf.IsCheckpoint(initDir):
		if ck, err = hf.Open(initDir); err == nil {
			vocab, err = ck.TaskVocab(cfg.Task.ChatTemplate)
		}
	default:
		vocab, err = datasets.LoadVocab(filepath.Join(vocabDir, "vocab.json"))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("init_from %s: %w", initDir, err)
	}
	if cfg.Task.ChatTemplate != "" && ck == nil {
		return nil, nil, fmt.Errorf("task.chat_template=%q: a chat template renders conversations for a Hugging Face init_from; masklab's own vocabulary writes each message as its role, \":\" and its content", cfg.Task.ChatTemplate)
	}
	if su, err = newSetupVocab(cfg, vocab); err == nil && ck != nil {
		su.model, err = ck.Config.ForRun(su.model)
		warm = func(s *model.Store, be compute.Backend) error { return ck.LoadOn(be, s, "/model") }
	} else if err == nil && bert != nil {
		su.model, err = bert.ForRun(su.model)
		warm = func(s *model.Store, _ compute.Backend) error { return bert.WarmStart(s, "/model", su.model.Kind) }
	}
	if err == nil && cfg.LoRA.Rank > 0 { // lora.targets name modules of the model
		su.model.LoRA = cfg.LoRA.LoRA()
		err = su.model.Validate()
	}
	return su, warm, err
}

// newSetupVocab is newSetup for a fine-tuning run: the task is re-encoded with the
// vocabulary of the run it starts from (initVocab), so its embeddings mean the same.
func newSetupVocab(cfg *Config, initVocab *datasets.Vocab) (*setup, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.checkData(); err != nil {
		return nil, err
	}
	su := &setup{cfg: cfg}
	var err error
	if su.corrupt, err = mask.ParseCorruption(cfg.Masks.Input); err != nil {
		return nil, fmt.Errorf("masks.input: %w", err)
	}
	if su.loss, err = mask.ParseLoss(cfg.Masks.Loss); err != nil {
		return nil, fmt.Errorf("masks.loss: %w", err)
	}
	self, err := mask.ParseAttention(cfg.Masks.Self)
	if err != nil {
		return nil, fmt.Errorf("masks.self: %w", err)
	}
	cross, err := mask.ParseCross(cfg.Masks.Cross)
	if err != nil {
		return nil, fmt.Errorf("masks.cross: %w", err)
	}
	score, err := mask.ParseScore(cmp.Or(string(cfg.Masks.Score), "none"))
	if err != nil {
		return nil, fmt.Errorf("masks.score: %w", err)
	}
	opts := datasets.Options{
		Seed:        uint64(cfg.Seed),
		MaxExamples: cfg.Task.MaxExamples,
		MaxEval:     cfg.Task.MaxEval,
		MinLen:      cfg.Task.MinLen,
		MaxLen:      cfg.Task.MaxLen,
		VocabSize:   cfg.Task.Vocab,
		WithMask:    cfg.Masks.Input != "none",
		TrainSize:   cfg.Task.TrainSize,
	}
	// The data must not depend on the run's seed for seeds to be replicates of one
	// task: synthetic data is generated from a fixed seed.
	opts.Seed = 0
	if su.task, err = datasets.Load(cfg.Task.Name, opts); err != nil {
		return nil, err
	}
	if initVocab != nil && initVocab.Codec() != nil {
		// A pretrained tokenizer's ids, which task.max_len, max_examples and max_eval count.
		if strings.HasPrefix(su.task.Description, "synthetic") {
			return nil, fmt.Errorf("init_from a Hugging Face checkpoint: task %q is synthetic; fine-tune it on a text task", cfg.Task.Name)
		}
		maxLen, all := su.task.Options.MaxLen, opts // the task's default (poetry-*: 256)
		all.MaxLen, all.MaxExamples, all.MaxEval = math.MaxInt32, 0, 0
		if su.task, err = datasets.Load(cfg.Task.Name, all); err == nil && layers.IsBert(cfg.Model.Kind) {
			su.task, err = su.task.WithCodecSeq2Seq(initVocab, maxLen, opts.MaxExamples, opts.MaxEval)
		} else if err == nil {
			su.task, err = su.task.WithCodec(initVocab, maxLen, opts.MaxExamples, opts.MaxEval)
		}
	} else if initVocab != nil {
		su.task, err = su.task.WithVocab(initVocab)
	}
	if err != nil {
		return nil, fmt.Errorf("init_from: %w", err)
	}
	if m := cfg.Task.CompletionMarker; m != "" {
		if su.task, _, err = su.task.WithCompletionMarker(m); err != nil {
			return nil, fmt.Errorf("task.completion_marker: %w", err)
		}
	}
	kind := cfg.Model.Kind
	switch su.task.Kind {
	case datasets.Seq2Seq:
		if kind == layers.KindDecoder || kind == layers.KindBert {
			return nil, fmt.Errorf("task %q is seq2seq; model.kind=%s needs an LM or SFT task (cedict-docs, cedict-sft, poetry-lm, poetry-title, jsonl)", cfg.Task.Name, kind)
		}
	default:
		if kind != layers.KindDecoder && kind != layers.KindBert {
			return nil, fmt.Errorf("task %q is %s (decoder-only); set model.kind=decoder (or bert, masked-LM pretraining)", cfg.Task.Name, su.task.Kind)
		}
	}
	su.bopts = datasets.BatchOptions{SrcLen: cfg.Task.SrcLen, TgtLen: cfg.Task.TgtLen, Pack: datasets.Packing(cfg.Task.Packing)}
	su.S, su.T = su.task.SrcLen, su.task.TgtLen
	if cfg.Task.SrcLen > 0 {
		su.S = cfg.Task.SrcLen
	}
	if cfg.Task.TgtLen > 0 {
		su.T = cfg.Task.TgtLen
	}
	v := su.task.Vocab
	su.corpus = &mask.Corpus{
		MaskID: int32(v.MASK),
		UnkID:  int32(v.UNK),
		Freq:   su.task.TokenCounts(),
		Lookup: func(tok string) (int32, bool) {
			if !v.Has(tok) {
				return 0, false
			}
			return int32(v.ID(tok)), true
		},
		Tokenize: func(text string) []int32 {
			ids, _ := v.EncodeText(text)
			return ids
		},
	}
	if v.MASK < 0 && cfg.Masks.Input != "none" {
		return nil, fmt.Errorf("task %q has no MASK token for masks.input=%q", cfg.Task.Name, cfg.Masks.Input)
	}
	if v.UNK < 0 {
		su.corpus.UnkID = su.corpus.MaskID // synthetic tasks have no UNK: word dropout uses MASK
	}
	if err := su.corrupt.Check(su.corpus); err != nil {
		return nil, err
	}
	if _, mlm := su.corrupt.MLM(); mlm != (kind == layers.KindBert) {
		return nil, fmt.Errorf("masks.input=%q, model.kind=%s: the masked-LM strategies (mlm, mlm_span, mlm_word) and model.kind=bert go together", cfg.Masks.Input, kind)
	} else if mlm && strings.Contains(cfg.Masks.Self, "causal") {
		return nil, fmt.Errorf("masks.self=%q: model.kind=bert reads in both directions: set masks.self=pad", cfg.Masks.Self)
	}
	vocab := v.Size()
	if su.corpus.MaskID >= int32(vocab) {
		vocab = int(su.corpus.MaskID) + 1
	}
	srcVocab := vocab
	if su.task.SrcVocab != nil && su.task.SrcVocab.Size() > srcVocab {
		srcVocab = su.task.SrcVocab.Size()
	}
	su.model = layers.Config{
		Kind: kind, Vocab: vocab, SrcVocab: srcVocab,
		DModel: cfg.Model.DModel, Heads: cfg.Model.Heads, FF: cfg.Model.FF,
		DecLayers: cfg.Model.Layers, EncLayers: cfg.Model.EncLayers,
		Dropout: cfg.Model.Dropout, PostLN: cfg.Model.Norm == "post",
		Positions: cfg.Model.Positions, Tied: cfg.Model.TieEmbeddings,
		MaxLen: 0, // the layers default (512): evaluation may pad longer than training (eval --pad-to)
		Self:   self, Cross: cross, Score: score,
	}
	if cfg.Model.Style != "" { // the style names its pretrained-family blocks
		su.model.Arch = &layers.Arch{Family: cfg.Model.Style}
	}
	if kind == layers.KindDecoder {
		su.model.EncLayers = 0
	} else if su.model.EncLayers == 0 {
		su.model.EncLayers = cfg.Model.Layers
	}
	su.model = su.model.WithBert() // the BERT kinds' random encoder; init_from replaces it
	if err := su.model.Validate(); err != nil {
		return nil, err
	}
	return su, nil
}

// hostBatch is one batch as the graph's inputs, corrupted and weighted.
type hostBatch struct {
	b       datasets.Batch
	dec     []int32            // corrupted decoder inputs
	weights []float32          // loss weights [B*T] (0 on padding)
	prefix  []int32            // [B]
	sparse  *layers.SparsePlan // the decoder self-attention's block-sparse plan; nil: dense
}

// makeBatch fetches batch step of split and applies the input corruption and loss mask.
// Corruption randomness is seeded by (seed, step), so it is the same on resume.
func (su *setup) makeBatch(split string, step int, seed uint64, corruptStep int) (*hostBatch, error) {
	b, err := su.task.Batch(split, su.cfg.Train.BatchSize, seed, step, su.bopts)
	if err != nil {
		return nil, err
	}
	return su.prepare(b, seed, corruptStep)
}

func (su *setup) prepare(b datasets.Batch, seed uint64, corruptStep int) (*hostBatch, error) {
	hb := &hostBatch{b: b, prefix: make([]int32, b.B)}
	lens := make([]int, b.B)
	var sources [][]int32
	if b.S > 0 {
		sources = make([][]int32, b.B)
	}
	for i := 0; i < b.B; i++ {
		lens[i] = int(b.TgtLen[i])
		if sources != nil {
			// interactive(copy, p) compares target ids with source ids, so the source must be
			// in the decoder's vocabulary: text tasks have separate source and target
			// vocabularies, and SrcInTgt is Src mapped into the target one (-1 if absent).
			src := b.Src
			if b.SrcInTgt != nil {
				src = b.SrcInTgt
			}
			n := int(b.SrcLen[i])
			sources[i] = src[i*b.S : i*b.S+n]
		}
		if b.PromptLen != nil && b.PromptLen[i] > 0 {
			hb.prefix[i] = b.PromptLen[i] + 1
		}
	}
	if m, ok := su.corrupt.MLM(); ok {
		return su.prepareMLM(hb, m, lens, seed, corruptStep)
	}
	dec, _, err := su.corrupt.Apply(mask.Batch{IDs: b.Dec, B: b.B, T: b.T, Lens: lens, Sources: sources, Step: corruptStep, Seed: seed}, su.corpus)
	if err != nil {
		return nil, err
	}
	hb.dec = dec
	if hb.weights, err = su.loss.PackedWeights(b.B, b.T, lens, b.Segments, b.Prompt); err != nil {
		return nil, err
	}
	side := mask.HostSide{B: b.B, Q: b.T, K: b.T, QueryLen: b.TgtLen, KeyLen: b.TgtLen, QuerySeg: b.Segments}
	if su.task.Kind == datasets.SFT { // as modelInputs
		side.PrefixLen = hb.prefix
	}
	if su.cfg.Train.GradAccum <= 1 { // micro-batches split the inputs by rows: dense
		hb.sparse, _, err = layers.PlanDecoderSelf(su.model, su.cfg.Model.Attention, side)
	}
	return hb, err
}

// prepareMLM corrupts a masked-LM batch (model.kind=bert): the model reads the target
// rows (the tokens and their EOS, unshifted), corrupted by m (the EOS kept), and
// predicts the original tokens at the chosen positions only; mlm_word's words are the
// rows' CC-CEDICT words.
func (su *setup) prepareMLM(hb *hostBatch, m mask.MLM, lens []int, seed uint64, step int) (*hostBatch, error) {
	b, err := hb.b, error(nil)
	mb := mask.MLMBatch{IDs: b.Tgt, B: b.B, T: b.T, Lens: lens, KeepLast: true, MaskID: su.corpus.MaskID, Vocab: su.model.Vocab, Seed: seed, Step: step}
	if m.WholeWord {
		mb.Words = make([][]int32, b.B)
		for i := range mb.Words {
			if mb.Words[i], err = datasets.WordIDs(su.task.Vocab.Decode(b.Tgt[i*b.T : i*b.T+lens[i]])); err != nil {
				return nil, err
			}
		}
	}
	hb.dec, hb.weights, err = m.ApplyBatch(mb)
	return hb, err
}

// graphInputs is a batch as the training and evaluation graphs take it, by name: T is
// *tensors.Tensor on the host (hostBatch.inputs) and *graph.Node inside a graph
// (inputNodes). fields is the one place that fixes the order executables take them in.
type graphInputs[T any] struct {
	Src, SrcLen         T // [B,S] source ids, [B] lengths ([B,1] and [B] zeros for decoder-only tasks)
	Dec, DecLen         T // [B,T] corrupted decoder inputs, [B] valid lengths
	Tgt, Weights        T // [B,T] labels, [B,T] float32 loss weights (mask.Loss.PackedWeights)
	Segments, Positions T // [B,T] document ids and positions within the document
	PrefixLen           T // [B] prefix-LM prefix (SFT: prompt + SEP)
	LR                  T // scalar float32 learning rate: training graph only
	TileQ, TileK        T // [Tiles] the sparse plan's tiles (layers.SparsePlan.Tensors): sparse batches only
	Start, End          T // [B,T,N] its row intervals
}

func (g *graphInputs[T]) fields(train, sparse bool) []*T {
	f := []*T{&g.Src, &g.SrcLen, &g.Dec, &g.DecLen, &g.Tgt, &g.Weights, &g.Segments, &g.Positions, &g.PrefixLen}
	if train {
		f = append(f, &g.LR)
	}
	if sparse {
		f = append(f, &g.TileQ, &g.TileK, &g.Start, &g.End)
	}
	return f
}

// inputNodes names a graph's inputs (train: the training graph's, with the learning
// rate; four more: a sparse batch's).
func inputNodes(in []*graph.Node, train bool) graphInputs[*graph.Node] {
	var g graphInputs[*graph.Node]
	f := g.fields(train, len(in) == len(g.fields(train, true)))
	if len(in) != len(f) {
		panic(fmt.Sprintf("experiments: graph built with %d inputs, want %d", len(in), len(f)))
	}
	for i, p := range f {
		*p = in[i]
	}
	return g
}

// inputs returns the graph inputs of the batch, in the order of graphInputs.fields; with
// lr != nil, the training graph's (the learning rate last).
func (hb *hostBatch) inputs(lr *float32) []any {
	b := hb.b
	src, srcLen, S := b.Src, b.SrcLen, b.S
	if S == 0 {
		S, src, srcLen = 1, make([]int32, b.B), make([]int32, b.B)
	}
	g := graphInputs[*tensors.Tensor]{
		Src:       tensors.FromFlatDataAndDimensions(src, b.B, S),
		SrcLen:    tensors.FromFlatDataAndDimensions(srcLen, b.B),
		Dec:       tensors.FromFlatDataAndDimensions(hb.dec, b.B, b.T),
		DecLen:    tensors.FromFlatDataAndDimensions(b.TgtLen, b.B),
		Tgt:       tensors.FromFlatDataAndDimensions(b.Tgt, b.B, b.T),
		Weights:   tensors.FromFlatDataAndDimensions(hb.weights, b.B, b.T),
		Segments:  tensors.FromFlatDataAndDimensions(b.Segments, b.B, b.T),
		Positions: tensors.FromFlatDataAndDimensions(b.Positions, b.B, b.T),
		PrefixLen: tensors.FromFlatDataAndDimensions(hb.prefix, b.B),
	}
	if lr != nil {
		g.LR = tensors.FromScalar(*lr)
	}
	if hb.sparse != nil {
		g.TileQ, g.TileK, g.Start, g.End = hb.sparse.Tensors()
	}
	var out []any
	for _, p := range g.fields(lr != nil, hb.sparse != nil) {
		out = append(out, *p)
	}
	return out
}
