package hf

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/pkg/layers"
	"github.com/masklab/masklab/pkg/mask"
)

// BertArchitectures lists the Hugging Face BERT classes OpenBert loads (config.json's
// "architectures"). BertForPreTraining's next-sentence head (cls.seq_relationship) is
// left unread.
var BertArchitectures = []string{"BertModel", "BertForMaskedLM", "BertForPreTraining"}

// BertConfig is what masklab reads from a BERT checkpoint's config.json, in Hugging
// Face's terms. Every key of the file is kept in Raw.
type BertConfig struct {
	Architecture string // architectures[0]: "BertModel", "BertForMaskedLM", "BertForPreTraining"

	Vocab        int     // vocab_size
	Hidden       int     // hidden_size
	Layers       int     // num_hidden_layers
	Heads        int     // num_attention_heads
	Intermediate int     // intermediate_size
	MaxPositions int     // max_position_embeddings
	TypeVocab    int     // type_vocab_size
	NormEps      float64 // layer_norm_eps
	Activation   string  // hidden_act, as layers names it
	Dropout      float64 // hidden_dropout_prob
	AttnDropout  float64 // attention_probs_dropout_prob
	Pad          int     // pad_token_id (-1 when absent)
	DType        string  // torch_dtype

	Raw map[string]any
}

// ReadBertConfig reads dir's config.json as a BERT config. A config of another model,
// a decoder BERT (is_decoder, add_cross_attention), relative position embeddings, an
// untied MLM decoder and malformed values are errors that name the file, the key and
// the value.
func ReadBertConfig(dir string) (*BertConfig, error) {
	path := filepath.Join(dir, ConfigFile)
	raw, err := readJSON(path)
	if err != nil {
		return nil, err
	}
	return parseBertConfig(path, raw, "")
}

// parseBertConfig reads a BERT config from raw (path names it in errors). sub is "" for
// a checkpoint's own config.json; "encoder" or "decoder" for an EncoderDecoderModel's
// sub-config, which needs model_type "bert" rather than a listed class, and, as the
// decoder, is_decoder and add_cross_attention.
func parseBertConfig(path string, raw map[string]any, sub string) (*BertConfig, error) {
	k := keys{path: path, m: raw}
	c := &BertConfig{Raw: raw}
	if sub != "" {
		path = path + " (" + sub + ")"
		k.path = path
		if mt, _ := raw["model_type"].(string); mt != "bert" {
			return nil, errorf(path, "model_type %s: masklab reads an EncoderDecoderModel of two BERTs (model_type \"bert\")", show(raw["model_type"]))
		}
		c.Architecture = "BertModel"
		if sub == "decoder" {
			c.Architecture = "BertLMHeadModel"
		}
		if err := c.parseSizes(k, sub == "decoder"); err != nil {
			return nil, err
		}
		return c, nil
	}
	archs, ok := raw["architectures"].([]any)
	if !ok || len(archs) == 0 {
		return nil, errorf(path, "key \"architectures\" must list the model class (one of %s), got %s", strings.Join(BertArchitectures, ", "), show(raw["architectures"]))
	}
	c.Architecture, _ = archs[0].(string)
	if !slices.Contains(BertArchitectures, c.Architecture) {
		hint := ""
		if _, dec := Architectures[c.Architecture]; dec {
			hint = " (a decoder-only LM: open it with hf.Open)"
		}
		return nil, errorf(path, "architectures[0] = %s is not a BERT model masklab loads (%s)%s", show(archs[0]), strings.Join(BertArchitectures, ", "), hint)
	}
	mt, err := k.str("model_type", "bert")
	if err != nil {
		return nil, err
	}
	if mt != "bert" {
		return nil, errorf(path, "model_type %q does not match architectures[0] %q (model_type \"bert\")", mt, c.Architecture)
	}
	if err := c.parseSizes(k, false); err != nil {
		return nil, err
	}
	return c, nil
}

// parseSizes reads the sizes and options of a BERT config; decoder: is_decoder and
// add_cross_attention must be true (an EncoderDecoderModel's decoder), else false.
func (c *BertConfig) parseSizes(k keys, decoder bool) (err error) {
	path := k.path
	for _, f := range []struct {
		dst *int
		key string
		min int
	}{
		{&c.Vocab, "vocab_size", 2}, {&c.Hidden, "hidden_size", 1}, {&c.Layers, "num_hidden_layers", 1},
		{&c.Heads, "num_attention_heads", 1}, {&c.Intermediate, "intermediate_size", 1},
		{&c.MaxPositions, "max_position_embeddings", 1},
	} {
		if *f.dst, err = k.int(f.key, f.min); err != nil {
			return err
		}
	}
	if c.TypeVocab, err = k.intOr("type_vocab_size", 2); err != nil {
		return err
	}
	if c.TypeVocab < 1 {
		return errorf(path, "key \"type_vocab_size\" must be an integer >= 1, got %d", c.TypeVocab)
	}
	if c.Hidden%c.Heads != 0 {
		return errorf(path, "hidden_size %d is not a multiple of num_attention_heads %d", c.Hidden, c.Heads)
	}
	if c.NormEps, err = k.float("layer_norm_eps", 1e-12); err != nil {
		return err
	}
	act, err := k.str("hidden_act", "gelu")
	if err != nil {
		return err
	}
	if c.Activation, err = activation(path, "hidden_act", act); err != nil {
		return err
	}
	if c.Dropout, err = k.float("hidden_dropout_prob", 0.1); err != nil {
		return err
	}
	if c.AttnDropout, err = k.float("attention_probs_dropout_prob", 0.1); err != nil {
		return err
	}
	if c.Pad, err = k.intOr("pad_token_id", -1); err != nil {
		return err
	}
	if c.DType, err = k.str("torch_dtype", ""); err != nil {
		return err
	}
	pe, err := k.str("position_embedding_type", "absolute")
	if err != nil {
		return err
	}
	if pe != "absolute" {
		return errorf(path, "position_embedding_type = %q is not supported; masklab's BERT has absolute (learned) positions", pe)
	}
	for _, key := range []string{"is_decoder", "add_cross_attention"} {
		if on, err := k.bool(key, false); err != nil {
			return err
		} else if on != decoder && decoder {
			return errorf(path, "%s = false: an EncoderDecoderModel's decoder is a BERT with is_decoder and add_cross_attention", key)
		} else if on != decoder {
			return errorf(path, "%s = true: masklab loads BERT as an encoder only (an EncoderDecoderModel: hf.LoadEncoderDecoder)", key)
		}
	}
	if tied, err := k.bool("tie_word_embeddings", true); err != nil {
		return err
	} else if !tied {
		return errorf(path, "tie_word_embeddings = false is not supported: masklab's MLM head is tied to the word embeddings")
	}
	if q, _ := k.sub("quantization_config"); q != nil {
		return errorf(path, "quantized checkpoints are not supported; masklab loads F32, F16 and BF16 weights")
	}
	return nil
}

// Model returns the layers configuration of the encoder (Dropout: hidden_dropout_prob;
// masklab has one rate for residual branches and attention weights), with the pooler
// and the MLM head as asked, under the self-attention mask self (zero: mask.Pad).
func (c *BertConfig) Model(self mask.Attention, pooler, mlm bool) layers.BertConfig {
	return layers.BertConfig{
		Vocab: c.Vocab, DModel: c.Hidden, Heads: c.Heads, FF: c.Intermediate, Layers: c.Layers,
		MaxLen: c.MaxPositions, TypeVocab: c.TypeVocab, LayerNormEps: c.NormEps,
		Activation: c.Activation, Dropout: c.Dropout, Mask: self, Pooler: pooler, MLM: mlm,
	}
}

// BertCheckpoint is an opened BERT checkpoint directory: its config, which parts it has
// (the pooler, the masked-LM head) and where each tensor is. OpenBert reads only headers;
// Load reads the weights.
type BertCheckpoint struct {
	Dir    string
	Config *BertConfig

	// Prefix is "bert." for the task models' checkpoints (BertForMaskedLM,
	// BertForPreTraining), "" for BertModel's.
	Prefix string
	Pooler bool // the checkpoint has the pooler (pooler.dense)
	MLM    bool // the checkpoint has the masked-LM head (cls.predictions)

	ck *Checkpoint // the weight files, the stored tensors, the loader
}

// OpenBert reads dir's config.json and the headers of its weights and checks that every
// tensor of the encoder is there with the shape the config implies and a loadable dtype,
// that the pooler and the masked-LM head are whole or absent, and that no unknown tensor
// is (the tied cls.predictions.decoder.*, position_ids and the next-sentence head are
// left unread).
func OpenBert(dir string) (*BertCheckpoint, error) {
	c, err := ReadBertConfig(dir)
	if err != nil {
		return nil, err
	}
	ck := &Checkpoint{Dir: dir, stored: map[string]*stored{}, headers: map[string]*stFile{}}
	where, err := ck.readWeightHeaders()
	if err != nil {
		return nil, err
	}
	b := &BertCheckpoint{Dir: dir, Config: c, ck: ck}
	if _, ok := where["bert.embeddings.word_embeddings.weight"]; ok {
		b.Prefix = "bert."
	}
	_, b.Pooler = where[b.Prefix+"pooler.dense.weight"]
	_, b.MLM = where["cls.predictions.transform.dense.weight"]
	ck.tensors = b.tensors()
	files := strings.Join(ck.Files, ", ")
	var missing []string
	used := map[string]bool{}
	for _, t := range ck.tensors {
		f, ok := where[t.Name]
		if !ok {
			missing = append(missing, t.Name)
			continue
		}
		used[t.Name] = true
		st := ck.headers[f].Tensors[t.Name]
		if !slices.Equal(st.Shape, t.Shape) {
			return nil, fmt.Errorf("hf: %s: tensor %q has shape %v, but %s (%s) implies %v",
				filepath.Join(dir, f), t.Name, st.Shape, ConfigFile, c.shapeKeys(), t.Shape)
		}
		switch st.DType {
		case F32, F16, BF16:
		default:
			return nil, fmt.Errorf("hf: %s: tensor %q has dtype %s; masklab loads F32, F16 and BF16 weights", filepath.Join(dir, f), t.Name, st.DType)
		}
		ck.stored[t.Name] = &stored{file: f, st: st}
	}
	if len(missing) > 0 {
		hint := ""
		if _, old := where[b.Prefix+"embeddings.LayerNorm.gamma"]; old {
			hint = " (its LayerNorm tensors are named gamma/beta, the original TensorFlow names: re-save it with a current transformers)"
		}
		return nil, fmt.Errorf("hf: %s: %d tensor(s) of the %s that %s describes are missing from %s: %s%s",
			dir, len(missing), c.Architecture, ConfigFile, files, listSome(missing), hint)
	}
	var extra []string
	for name := range where {
		if !used[name] && !bertIgnorable(name) {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return nil, fmt.Errorf("hf: %s: %s: %d tensor(s) that the %s of %s (%s) does not have: %s",
			dir, files, len(extra), c.Architecture, ConfigFile, c.shapeKeys(), listSome(extra))
	}
	return b, nil
}

// bertIgnorable reports whether a stored tensor may be left unread: the MLM decoder tied
// to the word embeddings and its bias (the same as cls.predictions.bias), the
// position_ids buffer older versions saved, and BertForPreTraining's next-sentence head.
func bertIgnorable(name string) bool {
	switch {
	case name == "cls.predictions.decoder.weight", name == "cls.predictions.decoder.bias":
		return true
	case strings.HasSuffix(name, "embeddings.position_ids"):
		return true
	case strings.HasPrefix(name, "cls.seq_relationship."):
		return true
	}
	return false
}

// shapeKeys names the config keys that determine the tensor shapes.
func (c *BertConfig) shapeKeys() string {
	return fmt.Sprintf("vocab_size=%d, hidden_size=%d, num_hidden_layers=%d, intermediate_size=%d, max_position_embeddings=%d, type_vocab_size=%d",
		c.Vocab, c.Hidden, c.Layers, c.Intermediate, c.MaxPositions, c.TypeVocab)
}

// tensors lists the checkpoint's tensors (stored names) with their masklab variables
// (layers.BertConfig's names).
func (b *BertCheckpoint) tensors() []Tensor {
	c := b.Config
	D, V, I := c.Hidden, c.Vocab, c.Intermediate
	var ts []Tensor
	add := func(name string, shape []int, transpose bool, v string) {
		ts = append(ts, Tensor{Name: name, Shape: shape, Vars: []string{v}, Transpose: transpose})
	}
	linear := func(name string, out, in int, scope string) {
		add(name+".weight", []int{out, in}, true, scope+"/dense/weights")
		add(name+".bias", []int{out}, false, scope+"/dense/biases")
	}
	norm := func(name, scope string) {
		add(name+".weight", []int{D}, false, scope+"/layer_normalization/gain")
		add(name+".bias", []int{D}, false, scope+"/layer_normalization/offset")
	}
	p := b.Prefix
	add(p+"embeddings.word_embeddings.weight", []int{V, D}, false, "/embeddings/word/embeddings")
	add(p+"embeddings.position_embeddings.weight", []int{c.MaxPositions, D}, false, "/embeddings/position/embeddings")
	add(p+"embeddings.token_type_embeddings.weight", []int{c.TypeVocab, D}, false, "/embeddings/token_type/embeddings")
	norm(p+"embeddings.LayerNorm", "/embeddings/norm")
	for l := range c.Layers {
		h := fmt.Sprintf("%sencoder.layer.%d.", p, l)
		ls := fmt.Sprintf("/encoder/layer_%d", l)
		attn := ls + "/self/MultiHeadAttention"
		linear(h+"attention.self.query", D, D, attn+"/query")
		linear(h+"attention.self.key", D, D, attn+"/key")
		linear(h+"attention.self.value", D, D, attn+"/value")
		linear(h+"attention.output.dense", D, D, attn+"/output")
		norm(h+"attention.output.LayerNorm", ls+"/self/norm")
		linear(h+"intermediate.dense", I, D, ls+"/ffn/hidden")
		linear(h+"output.dense", D, I, ls+"/ffn/output")
		norm(h+"output.LayerNorm", ls+"/ffn/norm")
	}
	if b.Pooler {
		linear(p+"pooler.dense", D, D, "/pooler")
	}
	if b.MLM {
		linear("cls.predictions.transform.dense", D, D, "/mlm/transform")
		norm("cls.predictions.transform.LayerNorm", "/mlm/norm")
		add("cls.predictions.bias", []int{V}, false, "/mlm/biases")
	}
	return ts
}

// Tensors lists the checkpoint's tensors (stored names) and the masklab variables that
// hold them.
func (b *BertCheckpoint) Tensors() []Tensor { return b.ck.tensors }

// Files are the weight files (names relative to Dir).
func (b *BertCheckpoint) Files() []string { return b.ck.Files }

// Model returns the layers configuration of the checkpoint's encoder, with its pooler and
// MLM head when it has them, under the self-attention mask self (zero: mask.Pad).
func (b *BertCheckpoint) Model(self mask.Attention) layers.BertConfig {
	return b.Config.Model(self, b.Pooler, b.MLM)
}

// Load reads every tensor into float32 variables of store under scope ("" or "/" for the
// root), creating them or setting existing ones (whose shapes must match).
func (b *BertCheckpoint) Load(store *model.Store, scope string) error {
	return b.ck.Load(store, scope)
}

// LoadBert opens dir and loads its weights into a new store (variables under the root
// scope), ready for layers.Bert with b.Model(...).
func LoadBert(dir string) (*BertCheckpoint, *model.Store, error) {
	b, err := OpenBert(dir)
	if err != nil {
		return nil, nil, err
	}
	store := model.NewStore()
	if err := b.Load(store, ""); err != nil {
		return nil, nil, err
	}
	return b, store, nil
}

// Tokenizer loads the checkpoint's WordPiece tokenizer (LoadWordPiece on its directory)
// and checks it against the embeddings: a vocabulary larger than config.json's
// vocab_size is an error (a smaller one is allowed, as Hugging Face allows padding the
// embedding table), and so is a tokenizer without [CLS] or [SEP].
func (b *BertCheckpoint) Tokenizer() (*WordPiece, error) {
	w, err := LoadWordPiece(b.Dir)
	if err != nil {
		return nil, err
	}
	if w.Vocab() > b.Config.Vocab {
		return nil, fmt.Errorf("hf: %s: the tokenizer has %d ids, but %s's vocab_size is %d: the vocabulary does not match the word embeddings",
			b.Dir, w.Vocab(), ConfigFile, b.Config.Vocab)
	}
	if w.CLS < 0 || w.SEP < 0 {
		return nil, fmt.Errorf("hf: %s: the tokenizer's vocabulary has no [CLS] or no [SEP]", b.Dir)
	}
	return w, nil
}
