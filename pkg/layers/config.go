package layers

import (
	"fmt"
	"strings"

	"github.com/masklab/masklab/pkg/mask"
)

// Model kinds accepted by Config.Kind.
const (
	KindSeq2Seq = "seq2seq" // Transformer encoder-decoder with cross-attention
	KindDecoder = "decoder" // decoder-only Transformer language model
	KindLSTM    = "lstm"    // LSTM encoder + LSTM decoder with attention (lstm.go)
)

// Position encodings accepted by Config.Positions.
const (
	PosSinusoidal = "sinusoidal" // fixed sin/cos table added to the token embeddings
	PosLearned    = "learned"    // a learned [MaxLen, DModel] table added to the embeddings
	PosRotary     = "rotary"     // RoPE on queries and keys of self-attention (not cross)
	// PosNone adds no position information: for a score modification that carries it
	// (Config.Score: ALiBi, T5's relative bias), or a causal decoder without any (NoPE).
	// A seq2seq encoder, which the score modification does not reach, is then
	// order-blind.
	PosNone = "none"
)

// DefaultLayerNormEps is PyTorch's LayerNorm epsilon (GoMLX's own default is 1e-3).
const DefaultLayerNormEps = 1e-5

// Config describes one model. The zero value is not valid: fill at least Kind, Vocab,
// DModel and Heads (see Validate, and WithDefaults for the fields that have defaults).
type Config struct {
	Kind     string // "seq2seq", "decoder", "lstm", or a BERT kind (bert_kinds.go)
	Vocab    int    // target (decoder) vocabulary size
	SrcVocab int    // source vocabulary size for seq2seq/lstm; 0 means Vocab

	DModel    int // model width
	Heads     int // attention heads; DModel must be a multiple
	FF        int // feed-forward hidden width; 0 means 4*DModel
	EncLayers int // encoder layers (seq2seq, lstm)
	DecLayers int // decoder layers

	Dropout      float64 // dropout on residual branches, embeddings and attention weights (training only)
	PostLN       bool    // post-LN blocks (x = LN(x + f(x))); default pre-LN (x = x + f(LN(x)))
	Positions    string  // "sinusoidal" (default), "learned", "rotary" or "none"
	RotaryBase   float64 // RoPE base frequency; 0 means 10000
	Tied         bool    // output projection shares the decoder's token embedding table
	MaxLen       int     // longest sequence (learned positions, sinusoidal table); 0 means 512
	LayerNormEps float64 // LayerNorm epsilon; 0 means DefaultLayerNormEps (1e-5)

	// Self is the decoder self-attention mask (default causal). Cross is the decoder's
	// cross-attention mask over the source (default pad). Enc is the encoder's
	// self-attention mask (default pad).
	Self, Cross, Enc mask.Attention

	// Score is the score modification of the decoder's self-attention (ALiBi, T5's
	// relative bias, soft-capping; zero = none), applied in every decoder layer to the
	// scaled scores before Self's mask. It reaches neither the seq2seq encoder (whose
	// positions stay the model's Positions) nor cross-attention, where a relative
	// distance between target and source positions means nothing. Its parameters (t5's
	// table) live under the scope "score", shared by all layers.
	Score mask.Score

	// FusedQKV projects self-attention queries, keys and values with one matmul
	// (variables under "qkv" like GoMLX's UseQKVProjection) instead of three.
	FusedQKV bool

	// Arch, when set (decoder-only models), builds the blocks of a pretrained LM family
	// (Llama, Qwen2, Qwen3, Mistral, GPT-2: arch.go) instead of masklab's own; pkg/hf
	// fills it from a Hugging Face config.json. nil: masklab's blocks.
	Arch *Arch

	// Bert is the BERT encoder of the BERT kinds (bert_kinds.go: bert, bert2rnd,
	// bert2bert, bert-lstm); nil for the others. The decoder's fields (DModel, Heads,
	// DecLayers, ...) describe the decoder; EncLayers and SrcVocab come from Bert.
	Bert *BertConfig

	// LoRA, when set, adds low-rank adapters to an Arch model's linear layers and freezes
	// the rest (lora.go). nil: full fine-tuning.
	LoRA *LoRA
}

// WithDefaults returns c with empty optional fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.SrcVocab == 0 {
		c.SrcVocab = c.Vocab
	}
	if c.FF == 0 {
		c.FF = 4 * c.DModel
	}
	if c.Positions == "" {
		c.Positions = PosSinusoidal
	}
	if c.RotaryBase == 0 {
		c.RotaryBase = 10000
	}
	if c.MaxLen == 0 {
		c.MaxLen = 512
	}
	if c.LayerNormEps == 0 {
		c.LayerNormEps = DefaultLayerNormEps
	}
	if c.Self.IsZero() {
		c.Self = mask.Causal
	}
	if c.Cross.IsZero() {
		c.Cross = mask.Pad
	}
	if c.Enc.IsZero() {
		c.Enc = mask.Pad
	}
	return c
}

// Validate reports the first problem with c (after defaults), naming the field and
// its value.
func (c Config) Validate() error {
	c = c.WithDefaults()
	if c.Arch != nil {
		if err := c.validateArch(); err != nil {
			return err
		}
		return c.validateLoRA()
	}
	if c.LoRA != nil {
		return c.validateLoRA()
	}
	if IsBert(c.Kind) {
		return c.validateBert()
	}
	if c.Bert != nil {
		return fmt.Errorf("layers: model kind %q has no BERT encoder: Config.Bert is for the kinds %s", c.Kind, strings.Join(BertKinds, ", "))
	}
	switch c.Kind {
	case KindSeq2Seq, KindDecoder, KindLSTM:
	default:
		return fmt.Errorf("layers: model kind must be one of %q, %q, %q, %s; got %q", KindSeq2Seq, KindDecoder, KindLSTM, strings.Join(BertKinds, ", "), c.Kind)
	}
	if c.Vocab < 2 {
		return fmt.Errorf("layers: vocab must be >= 2, got %d", c.Vocab)
	}
	if c.SrcVocab < 2 {
		return fmt.Errorf("layers: source vocab must be >= 2, got %d", c.SrcVocab)
	}
	if c.DModel <= 0 {
		return fmt.Errorf("layers: d_model must be > 0, got %d", c.DModel)
	}
	if c.Kind == KindLSTM {
		if c.EncLayers < 1 || c.DecLayers < 1 {
			return fmt.Errorf("layers: lstm needs >= 1 encoder and decoder layers, got %d and %d", c.EncLayers, c.DecLayers)
		}
		if c.Dropout < 0 || c.Dropout >= 1 {
			return fmt.Errorf("layers: dropout must be in [0, 1), got %g", c.Dropout)
		}
		if !c.Score.IsZero() {
			return fmt.Errorf("layers: score modification %q: an lstm decoder has no self-attention to modify", c.Score)
		}
		return c.validateLSTM() // an LSTM decoder is causal by construction
	}
	if c.Heads <= 0 {
		return fmt.Errorf("layers: heads must be > 0, got %d", c.Heads)
	}
	if c.DModel%c.Heads != 0 {
		return fmt.Errorf("layers: d_model %d is not a multiple of heads %d", c.DModel, c.Heads)
	}
	if c.FF <= 0 {
		return fmt.Errorf("layers: ff must be > 0, got %d", c.FF)
	}
	if c.DecLayers < 1 {
		return fmt.Errorf("layers: decoder layers must be >= 1, got %d", c.DecLayers)
	}
	if c.Kind == KindSeq2Seq && c.EncLayers < 1 {
		return fmt.Errorf("layers: seq2seq needs encoder layers >= 1, got %d", c.EncLayers)
	}
	if c.Kind == KindDecoder && c.EncLayers != 0 {
		return fmt.Errorf("layers: a decoder-only model has no encoder, got encoder layers %d", c.EncLayers)
	}
	if c.Dropout < 0 || c.Dropout >= 1 {
		return fmt.Errorf("layers: dropout must be in [0, 1), got %g", c.Dropout)
	}
	switch c.Positions {
	case PosSinusoidal, PosLearned, PosNone:
	case PosRotary:
		if (c.DModel/c.Heads)%2 != 0 {
			return fmt.Errorf("layers: rotary positions need an even head dimension, got d_model/heads = %d", c.DModel/c.Heads)
		}
	default:
		return fmt.Errorf("layers: positions must be one of %s; got %q",
			strings.Join([]string{PosSinusoidal, PosLearned, PosRotary, PosNone}, ", "), c.Positions)
	}
	if c.MaxLen < 1 {
		return fmt.Errorf("layers: max_len must be >= 1, got %d", c.MaxLen)
	}
	if c.LayerNormEps < 0 {
		return fmt.Errorf("layers: layer norm epsilon must be >= 0, got %g", c.LayerNormEps)
	}
	return nil
}
