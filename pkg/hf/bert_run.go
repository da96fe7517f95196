package hf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/datasets"
	"github.com/masklab/masklab/internal/fsx"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
)

// IsBertCheckpoint reports whether dir's config.json names a BERT class (its
// "architectures" or model_type "bert"): such a checkpoint warm-starts the BERT kinds'
// encoder (OpenBert), not a decoder-only LM (Open).
func IsBertCheckpoint(dir string) bool {
	raw, err := readJSON(filepath.Join(dir, ConfigFile))
	if err != nil {
		return false
	}
	if mt, _ := raw["model_type"].(string); mt == "bert" {
		return true
	}
	archs, _ := raw["architectures"].([]any)
	for _, a := range archs {
		if s, _ := a.(string); strings.HasPrefix(s, "Bert") {
			return true
		}
	}
	return false
}

// OpenBertFor opens dir's BERT checkpoint for a run of model kind kind (one of
// layers.BertKinds, else an error that names them) and returns it with the vocabulary
// the run encodes its task with (TaskVocab).
func OpenBertFor(dir, kind string) (*BertCheckpoint, *datasets.Vocab, error) {
	b, err := OpenBert(dir)
	if err != nil {
		return nil, nil, err
	}
	if !layers.IsBert(kind) {
		return nil, nil, fmt.Errorf("hf: %s is a BERT (%s): it warm-starts the model kinds %s, not %q",
			b.Dir, b.Config.Architecture, strings.Join(layers.BertKinds, ", "), kind)
	}
	v, err := b.TaskVocab()
	return b, v, err
}

// TaskVocab returns the vocabulary a run on the checkpoint encodes its task with: the
// WordPiece tokenizer's ids (Tokenizer), with [PAD] as padding, [CLS] as the decoder's
// first input (BOS: Rothe et al. start decoding from it), [SEP] as the end of a source
// and of a target (EOS), [UNK] and [MASK].
func (b *BertCheckpoint) TaskVocab() (*datasets.Vocab, error) {
	w, err := b.Tokenizer()
	if err != nil {
		return nil, err
	}
	if w.Pad < 0 {
		return nil, fmt.Errorf("hf: %s: the tokenizer's vocabulary has no [PAD]", b.Dir)
	}
	return datasets.NewCodecVocab(b.Config.Vocab, func(id int) string { return w.Token(int32(id)) }, bertTaskCodec{w},
		int(w.Pad), int(w.CLS), int(w.SEP), int(w.UnkID), int(w.Mask))
}

// bertTaskCodec is a BERT run's codec: WordPiece's encoding, and a decoding that joins
// the pieces as masklab's own tokenizer writes text (datasets.Detokenize: "##"
// continuations merged, no space next to a CJK character) instead of BERT's spaces
// between Chinese characters, so that a run's outputs and its character error rate
// compare with the task's text as a character-level run's do. Special tokens stay
// (Vocab.DecodeText drops padding and [CLS] and stops at [SEP]; an [UNK] is a character).
type bertTaskCodec struct{ *WordPiece }

func (c bertTaskCodec) Decode(ids []int32) string {
	var toks []string
	for _, id := range ids {
		t := c.Token(id)
		if rest, ok := strings.CutPrefix(t, c.Options.Prefix); ok && len(toks) > 0 {
			toks[len(toks)-1] += rest
			continue
		}
		toks = append(toks, t)
	}
	return datasets.Detokenize(toks)
}

// ForRun returns run (a BERT kind's layers.Config built from the run's own sizes) with
// the checkpoint's encoder as run.Bert: its sizes, under run.Bert's mask (or the
// encoder mask run.Enc), with the run's dropout, the MLM head for kind bert. The decoder
// keeps the run's sizes but takes the encoder's width (d_model = hidden_size); a task
// whose ids reach past vocab_size is refused.
func (b *BertCheckpoint) ForRun(run layers.Config) (layers.Config, error) {
	if !layers.IsBert(run.Kind) {
		return layers.Config{}, fmt.Errorf("hf: %s is a BERT (%s): it warm-starts the model kinds %s, not %q",
			b.Dir, b.Config.Architecture, strings.Join(layers.BertKinds, ", "), run.Kind)
	}
	if run.Vocab > b.Config.Vocab {
		return layers.Config{}, fmt.Errorf("hf: the task's vocabulary has %d ids, the %s's (vocab_size) %d: tokenize the task with the checkpoint's tokenizer", run.Vocab, b.Config.Architecture, b.Config.Vocab)
	}
	m := run.Enc
	if run.Bert != nil {
		m = run.Bert.Mask
	}
	bc := b.Config.Model(m, false, run.Kind == layers.KindBert)
	bc.Dropout = run.Dropout
	run.Bert, run.DModel, run.SrcVocab = &bc, bc.DModel, bc.Vocab
	if run.Kind == layers.KindBert || run.Kind == layers.KindBert2Bert {
		run.Vocab, run.Heads, run.FF, run.DecLayers = bc.Vocab, bc.Heads, bc.FF, bc.Layers
	}
	return run, run.Validate()
}

// WarmStart loads the checkpoint into a run of kind whose model is under scope: the
// encoder under scope/bert (layers.BertScope), and for bert2bert the decoder too
// (scope/bert_decoder: every tensor but the new cross-attention, as Rothe et al.). A
// checkpoint without the MLM head leaves a kind bert's head (and bert2bert's output)
// random.
func (b *BertCheckpoint) WarmStart(store *model.Store, scope, kind string) error {
	scope = strings.TrimSuffix(scope, "/")
	if err := b.Load(store, scope+"/"+layers.BertScope); err != nil {
		return err
	}
	if kind == layers.KindBert2Bert {
		return b.Load(store, scope+"/"+layers.BertDecoderScope)
	}
	return nil
}

// bertSpecials renames masklab's special tokens to BERT's in an exported vocab.txt.
var bertSpecials = map[string]string{
	datasets.PadToken: "[PAD]", datasets.UnkToken: "[UNK]", datasets.BosToken: "[CLS]",
	datasets.EosToken: "[SEP]", datasets.MaskToken: "[MASK]", datasets.SepToken: "[unused1]",
}

// WriteBertVocab writes a masklab vocabulary as a BERT tokenizer in dir: vocab.txt
// (one token a line, the line its id; <pad>, <unk>, <bos>, <eos>, <mask> renamed [PAD],
// [UNK], [CLS], [SEP], [MASK]; a token no line can hold, with whitespace, becomes
// [unusedN]) and tokenizer_config.json (BertTokenizer, no lower-casing or accent
// stripping, every CJK character split out). WordPiece over it gives masklab's own ids
// for text of characters in the vocabulary (masklab's character tokenization of Chinese
// is BERT's).
func WriteBertVocab(dir string, v *datasets.Vocab) error {
	var sb strings.Builder
	for id, tok := range v.Tokens {
		if s, ok := bertSpecials[tok]; ok {
			tok = s
		} else if tok == "" || strings.ContainsFunc(tok, bertSpace) {
			tok = fmt.Sprintf("[unused%d]", id+2)
		}
		sb.WriteString(tok)
		sb.WriteByte('\n')
	}
	if err := os.MkdirAll(dir, fsx.DirMode); err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	if err := fsx.WriteFileAtomic(filepath.Join(dir, VocabFile), []byte(sb.String())); err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	return writeJSON(filepath.Join(dir, TokenizerConfigFile), map[string]any{
		"tokenizer_class": "BertTokenizer", "do_lower_case": false, "strip_accents": nil, "tokenize_chinese_chars": true,
		"do_basic_tokenize": true, "pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]",
		"mask_token": "[MASK]", "model_max_length": 512,
	})
}

// ExportBertRun writes a masklab BERT (cfg, variables in store under scope, e.g. a
// masked-LM pretraining run's) with its vocabulary v as a BertForMaskedLM (or BertModel)
// checkpoint: config.json, model.safetensors, vocab.txt and tokenizer_config.json, which
// OpenBert and LoadWordPiece read back (and transformers' BertForMaskedLM and
// BertTokenizer load).
func ExportBertRun(dir string, cfg layers.BertConfig, v *datasets.Vocab, store *model.Store, scope, tokDir string) error {
	if cfg.Vocab != v.Size() {
		return fmt.Errorf("hf: export: the BERT has %d word embeddings, the vocabulary %d tokens", cfg.Vocab, v.Size())
	}
	if !cfg.Mask.IsZero() && cfg.Mask.String() != mask.Pad.String() {
		return fmt.Errorf("hf: export: the BERT was trained under the self-attention mask %q; a Hugging Face BERT attends under its padding mask only", cfg.Mask)
	}
	lay, err := NewBertLayout(cfg)
	if err != nil {
		return err
	}
	if store.GetVariable(scope+"/pooler/dense/weights") != nil {
		cfg.Pooler = true // loaded from a checkpoint that has one: kept
	}
	lay.Config.Raw["pad_token_id"] = v.PAD
	if err := ExportBert(dir, lay, store, scope, ""); err != nil {
		return err
	}
	return writeTokenizer(dir, v, tokDir)
}

// writeTokenizer writes v as a BERT tokenizer to dir (WriteBertVocab), or, when the run
// encoded its task with a BERT checkpoint's tokenizer (tokDir), copies that one's files.
func writeTokenizer(dir string, v *datasets.Vocab, tokDir string) error {
	if tokDir == "" {
		return WriteBertVocab(dir, v)
	}
	for _, name := range []string{VocabFile, TokenizerFile, TokenizerConfigFile, "special_tokens_map.json"} {
		data, err := os.ReadFile(filepath.Join(tokDir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return fmt.Errorf("hf: export: %w", err)
		}
		if err := fsx.WriteFileAtomic(filepath.Join(dir, name), data); err != nil {
			return fmt.Errorf("hf: export: %w", err)
		}
	}
	return nil
}

// ExportEncoderDecoder writes a BERT encoder-decoder run (m, variables in store under
// scope) in transformers' EncoderDecoderModel layout: config.json ("encoder-decoder",
// the encoder's BertConfig and the decoder's with is_decoder and add_cross_attention,
// decoder_start_token_id [CLS]), one model.safetensors ("encoder." a BertModel,
// "decoder." a BertLMHeadModel: "bert." without pooler, each layer's "crossattention",
// "cls.predictions") and the tokenizer (writeTokenizer). Only bert2bert maps: masklab's
// BERT decoder is BertLMHeadModel's (post-LN self-attention, cross-attention and MLP, the
// tied MLM head). bert2rnd's and bert-lstm's decoders (masklab's Transformer and LSTM
// decoders) have no Hugging Face counterpart: their encoder is written to dir/encoder
// as a BertModel, and the error says the decoder was not exported.
func ExportEncoderDecoder(dir string, m layers.Config, v *datasets.Vocab, store *model.Store, scope, tokDir string) error {
	scope = strings.TrimSuffix(scope, "/")
	if m.Bert == nil || !layers.IsBert(m.Kind) || m.Kind == layers.KindBert {
		return fmt.Errorf("hf: export: not a BERT encoder-decoder (model kind %q)", m.Kind)
	}
	enc := *m.Bert
	enc.MLM, enc.Mask = false, mask.Attention{}
	if m.Kind != layers.KindBert2Bert {
		sub := filepath.Join(dir, "encoder")
		if err := ExportBertRun(sub, enc, v, store, scope+"/"+layers.BertScope, tokDir); err != nil {
			return err
		}
		return fmt.Errorf("hf: export: the %s decoder (masklab's %s decoder) has no Hugging Face counterpart (an EncoderDecoderModel's decoder is a BertLMHeadModel): "+
			"not exported; its BERT encoder is written to %s as a BertModel", m.Kind, map[bool]string{true: "Transformer", false: "LSTM"}[m.Kind == layers.KindBert2Rnd], sub)
	}
	if m.Self.String() != mask.Causal.String() && m.Self.String() != mask.And(mask.Causal, mask.Pad).String() {
		return fmt.Errorf("hf: export: the decoder was trained under the self-attention mask %q; BertLMHeadModel's is causal (and padding)", m.Self)
	}
	if m.Cross.String() != mask.Pad.String() {
		return fmt.Errorf("hf: export: the decoder's cross-attention was trained under the mask %q; an EncoderDecoderModel's attends under the source padding only", m.Cross)
	}
	if v.Size() != m.Vocab || m.Bert.Vocab != m.Vocab {
		return fmt.Errorf("hf: export: an EncoderDecoderModel shares one tokenizer: the encoder has %d word embeddings, the decoder %d, the vocabulary %d tokens", m.Bert.Vocab, m.Vocab, v.Size())
	}
	if store.GetVariable(scope+"/"+layers.BertScope+"/pooler/dense/weights") != nil {
		enc.Pooler = true
	}
	el, err := NewBertLayout(enc)
	if err != nil {
		return err
	}
	dl, err := NewBertLayout(m.BertDecoder())
	if err != nil {
		return err
	}
	ts := encoderDecoderTensors(el, dl, scope)
	encRaw, decRaw := el.Config.Raw, dl.Config.Raw
	encRaw["pad_token_id"], decRaw["pad_token_id"] = v.PAD, v.PAD
	encRaw["architectures"], decRaw["architectures"] = []any{"BertModel"}, []any{"BertLMHeadModel"}
	decRaw["is_decoder"], decRaw["add_cross_attention"] = true, true
	raw := map[string]any{
		"architectures": []any{"EncoderDecoderModel"}, "model_type": "encoder-decoder", "is_encoder_decoder": true,
		"encoder": encRaw, "decoder": decRaw, "decoder_start_token_id": v.BOS, "bos_token_id": v.BOS,
		"eos_token_id": v.EOS, "pad_token_id": v.PAD, "tie_word_embeddings": false, "torch_dtype": "float32",
	}
	out := &BertCheckpoint{Config: &BertConfig{Raw: raw}, ck: &Checkpoint{stored: map[string]*stored{}, headers: map[string]*stFile{}, tensors: ts}}
	if err := ExportBert(dir, out, store, "", ""); err != nil {
		return err
	}
	return writeTokenizer(dir, v, tokDir)
}

func prefixed(scope string, vars []string) []string {
	out := make([]string, len(vars))
	for i, v := range vars {
		out[i] = scope + v
	}
	return out
}

// encoderDecoderTensors lists an EncoderDecoderModel's tensors (enc a BertModel's layout,
// dec a BertForMaskedLM's, as NewBertLayout gives them) with bert2bert's variables under
// scope: "encoder." + enc's under scope/bert, "decoder." + dec's under scope/bert_decoder
// and, after each decoder layer's self-attention, its "crossattention" (masklab's
// encoder/layer_L/cross).
func encoderDecoderTensors(enc, dec *BertCheckpoint, scope string) []Tensor {
	D := dec.Config.Hidden
	var ts []Tensor
	for _, t := range enc.ck.tensors {
		t.Name, t.Vars = "encoder."+t.Name, prefixed(scope+"/"+layers.BertScope, t.Vars)
		ts = append(ts, t)
	}
	for _, t := range dec.ck.tensors {
		t.Name, t.Vars = "decoder."+t.Name, prefixed(scope+"/"+layers.BertDecoderScope, t.Vars)
		ts = append(ts, t)
		l, ok := strings.CutSuffix(t.Name, ".attention.output.LayerNorm.bias")
		if !ok {
			continue
		}
		at := fmt.Sprintf("%s/%s/encoder/layer_%s/cross", scope, layers.BertDecoderScope, strings.TrimPrefix(l, "decoder.bert.encoder.layer."))
		for _, p := range []struct{ name, v string }{{"self.query", "query"}, {"self.key", "key"}, {"self.value", "value"}, {"output.dense", "output"}} {
			ts = append(ts, Tensor{Name: l + ".crossattention." + p.name + ".weight", Shape: []int{D, D}, Transpose: true, Vars: []string{at + "/MultiHeadAttention/" + p.v + "/dense/weights"}},
				Tensor{Name: l + ".crossattention." + p.name + ".bias", Shape: []int{D}, Vars: []string{at + "/MultiHeadAttention/" + p.v + "/dense/biases"}})
		}
		ts = append(ts, Tensor{Name: l + ".crossattention.output.LayerNorm.weight", Shape: []int{D}, Vars: []string{at + "/norm/layer_normalization/gain"}},
			Tensor{Name: l + ".crossattention.output.LayerNorm.bias", Shape: []int{D}, Vars: []string{at + "/norm/layer_normalization/offset"}})
	}
	return ts
}

// LoadEncoderDecoder reads dir's EncoderDecoderModel of two BERTs (config.json
// "encoder-decoder": a BertModel encoder and a BertLMHeadModel decoder with
// cross-attention, of the encoder's sizes but its vocabulary) into store as a bert2bert
// model's variables under scope, and returns that model's layers.Config (decoder self
// mask causal & pad, cross mask pad; no dropout). Every tensor is checked against the
// config before any is read; other decoders, sizes masklab's bert2bert does not have and
// unknown tensors are errors that name them.
func LoadEncoderDecoder(dir string, store *model.Store, scope string) (layers.Config, error) {
	scope = strings.TrimSuffix(scope, "/")
	path := filepath.Join(dir, ConfigFile)
	raw, err := readJSON(path)
	if err != nil {
		return layers.Config{}, err
	}
	if mt, _ := raw["model_type"].(string); mt != "encoder-decoder" {
		return layers.Config{}, errorf(path, "model_type %s is not \"encoder-decoder\" (an EncoderDecoderModel)", show(raw["model_type"]))
	}
	var cfgs [2]*BertConfig
	for i, sub := range []string{"encoder", "decoder"} {
		m, ok := raw[sub].(map[string]any)
		if !ok {
			return layers.Config{}, errorf(path, "key %q must be the %s's config, got %s", sub, sub, show(raw[sub]))
		}
		if cfgs[i], err = parseBertConfig(path, m, sub); err != nil {
			return layers.Config{}, err
		}
	}
	e, d := cfgs[0], cfgs[1]
	if e.Hidden != d.Hidden || e.Layers != d.Layers || e.Heads != d.Heads || e.Intermediate != d.Intermediate ||
		e.MaxPositions != d.MaxPositions || e.TypeVocab != d.TypeVocab || e.NormEps != d.NormEps || e.Activation != d.Activation {
		return layers.Config{}, errorf(path, "the decoder (%s) differs from the encoder (%s) beyond its vocabulary: masklab's bert2bert decoder has the encoder's sizes", d.shapeKeys(), e.shapeKeys())
	}
	ck := &Checkpoint{Dir: dir, stored: map[string]*stored{}, headers: map[string]*stFile{}}
	where, err := ck.readWeightHeaders()
	if err != nil {
		return layers.Config{}, err
	}
	_, pooler := where["encoder.pooler.dense.weight"]
	enc := e.Model(mask.Pad, pooler, false)
	el, err := NewBertLayout(enc)
	if err != nil {
		return layers.Config{}, err
	}
	m := layers.Config{Kind: layers.KindBert2Bert, Vocab: d.Vocab, DModel: d.Hidden, Heads: d.Heads, FF: d.Intermediate,
		DecLayers: d.Layers, Bert: &enc, Self: mask.And(mask.Causal, mask.Pad), Cross: mask.Pad}
	dl, err := NewBertLayout(m.BertDecoder())
	if err != nil {
		return layers.Config{}, err
	}
	ck.tensors = encoderDecoderTensors(el, dl, scope)
	var missing []string
	used := map[string]bool{}
	for _, t := range ck.tensors {
		f, ok := where[t.Name]
		if !ok {
			missing = append(missing, t.Name)
			continue
		}
		st := ck.headers[f].Tensors[t.Name]
		if !slices.Equal(st.Shape, t.Shape) {
			return layers.Config{}, fmt.Errorf("hf: %s: tensor %q has shape %v, %s implies %v", filepath.Join(dir, f), t.Name, st.Shape, ConfigFile, t.Shape)
		}
		if st.DType != F32 && st.DType != F16 && st.DType != BF16 {
			return layers.Config{}, fmt.Errorf("hf: %s: tensor %q has dtype %s; masklab loads F32, F16 and BF16 weights", filepath.Join(dir, f), t.Name, st.DType)
		}
		used[t.Name], ck.stored[t.Name] = true, &stored{file: f, st: st}
	}
	if len(missing) > 0 {
		return layers.Config{}, fmt.Errorf("hf: %s: %d tensor(s) of the EncoderDecoderModel %s describes are missing: %s", dir, len(missing), ConfigFile, listSome(missing))
	}
	var extra []string
	for name := range where {
		if !used[name] && !bertIgnorable(strings.TrimPrefix(strings.TrimPrefix(name, "decoder."), "encoder.")) {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return layers.Config{}, fmt.Errorf("hf: %s: %d tensor(s) that a BERT2BERT EncoderDecoderModel does not have: %s", dir, len(extra), listSome(extra))
	}
	if err := ck.Load(store, ""); err != nil {
		return layers.Config{}, err
	}
	return m, m.Validate()
}
