package layers

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/ml/model"
)

// Model kinds built on a BERT encoder (Config.Bert): BERT itself as a masked-LM model,
// and Rothe et al.'s encoder-decoders. Forward, Run, greedy decoding and Footprint
// take them like the other kinds.
const (
	// KindBert is BERT with its masked-LM head (Bert, variables under BertScope): it reads
	// Inputs.Dec (the corrupted tokens, lengths DecLen, positions Positions) under the
	// self mask Bert.Mask, and its logits predict the original tokens at every position.
	KindBert = "bert"
	// KindBert2Rnd is Bert2Rnd: the BERT encoder and masklab's Transformer decoder.
	KindBert2Rnd = "bert2rnd"
	// KindBert2Bert is Bert2Bert: the BERT encoder and a BERT decoder of the same sizes
	// (Config.Vocab ids, causal self mask Config.Self, new cross-attention under Cross).
	KindBert2Bert = "bert2bert"
	// KindBertLSTM is BertLSTM: the BERT encoder and the article's LSTM decoder.
	KindBertLSTM = "bert-lstm"
)

// BertKinds lists the kinds that need Config.Bert.
var BertKinds = []string{KindBert, KindBert2Rnd, KindBert2Bert, KindBertLSTM}

func init() {
	registerKind(KindBert, bertKind)
	registerKind(KindBert2Rnd, bertKind)
	registerKind(KindBert2Bert, bertKind)
	registerKind(KindBertLSTM, bertKind)
}

// IsBert reports whether kind is one of BertKinds.
func IsBert(kind string) bool {
	for _, k := range BertKinds {
		if k == kind {
			return true
		}
	}
	return false
}

// bertDecoder returns the decoder's Config of a BERT encoder-decoder kind: c with the
// decoder's kind (seq2seq for bert2rnd, lstm for bert-lstm) and no Bert.
func (c Config) bertDecoder() Config {
	d := c
	d.Bert = nil
	d.Kind = map[string]string{KindBert2Rnd: KindSeq2Seq, KindBertLSTM: KindLSTM}[c.Kind]
	d.SrcVocab, d.EncLayers = c.Bert.Vocab, c.Bert.Layers
	if d.Kind == KindLSTM {
		d.EncLayers = 1
	}
	return d
}

// bertDecoderConfig returns the BERT decoder of bert2bert: the encoder's sizes, c.Vocab
// ids, the MLM head as output, the self mask c.Self and dropout c.Dropout.
func (c Config) bertDecoderConfig() BertConfig {
	d := *c.Bert
	d.Vocab, d.MLM, d.Pooler, d.Mask, d.Dropout = c.Vocab, true, false, c.Self, c.Dropout
	return d
}

// validateBert checks a BERT kind's Config.
func (c Config) validateBert() error {
	if c.Bert == nil {
		return fmt.Errorf("layers: model kind %q needs Config.Bert (the BERT encoder's sizes)", c.Kind)
	}
	if err := c.Bert.Validate(); err != nil {
		return err
	}
	switch c.Kind {
	case KindBert:
		if !c.Bert.MLM {
			return fmt.Errorf("layers: model kind %q predicts tokens with BERT's MLM head: set Bert.MLM", c.Kind)
		}
		if c.Vocab != c.Bert.Vocab {
			return fmt.Errorf("layers: model kind %q: vocab %d must be the BERT's vocab %d", c.Kind, c.Vocab, c.Bert.Vocab)
		}
		return nil
	case KindBert2Bert:
		if !c.Score.IsZero() {
			return fmt.Errorf("layers: score modification %q: the BERT decoder of %s has none", c.Score, c.Kind)
		}
		if c.DModel != c.Bert.DModel {
			return fmt.Errorf("layers: %s: d_model %d must be the BERT's hidden size %d", c.Kind, c.DModel, c.Bert.DModel)
		}
		return c.bertDecoderConfig().Validate()
	}
	if c.DModel != c.Bert.DModel {
		return fmt.Errorf("layers: %s: the decoder's d_model %d must be the BERT's hidden size %d", c.Kind, c.DModel, c.Bert.DModel)
	}
	return c.bertDecoder().Validate()
}

// bertKind builds the BERT kinds.
func bertKind(scope *model.Scope, c Config, in Inputs, wantWeights bool) (*Result, error) {
	switch c.Kind {
	case KindBert:
		if in.Src != nil || in.Drop != nil {
			return nil, fmt.Errorf("layers: model kind %s reads Inputs.Dec only (its corruption is in the ids): Src and Drop must be nil", c.Kind)
		}
		br, err := Bert(scope.In(BertScope), *c.Bert, BertInputs{IDs: in.Dec, Lengths: in.DecLen, Positions: in.Positions, Training: in.Training}, wantWeights)
		if err != nil {
			return nil, err
		}
		return &Result{Logits: atPositions(br.Logits, in.LogitsAt), Attention: br.Attention}, nil
	case KindBert2Rnd:
		return Bert2Rnd(scope, *c.Bert, c.bertDecoder(), in, nil, wantWeights)
	case KindBertLSTM:
		return BertLSTM(scope, *c.Bert, c.bertDecoder(), in, nil, wantWeights)
	default: // KindBert2Bert: its decoder numbers positions 0..T-1 itself.
		in.Positions = nil
		return Bert2Bert(scope, *c.Bert, c.bertDecoderConfig(), c.Cross, in, nil, wantWeights)
	}
}

// bertFootprint is the Footprint of a BERT kind: that of the masklab model of the same
// shape (BERT's blocks cost what masklab's do), plus BERT's extra tables and heads.
func (c Config) bertFootprint(batch, srcLen, tgtLen int) Footprint {
	b := *c.Bert
	eq := c
	eq.Bert = nil
	switch c.Kind {
	case KindBert:
		eq.Kind, eq.DecLayers, eq.EncLayers, eq.FF, eq.Tied = KindDecoder, b.Layers, 0, b.FF, true
	case KindBert2Bert:
		eq.Kind, eq.DecLayers, eq.EncLayers, eq.FF, eq.Tied = KindSeq2Seq, b.Layers, b.Layers, b.FF, true
	default:
		eq = c.bertDecoder()
	}
	eq.SrcVocab, eq.Positions = b.Vocab, PosLearned
	f := eq.Footprint(batch, srcLen, tgtLen)
	f.Params += int64(b.TypeVocab+b.MaxLen) * int64(b.DModel)
	return f
}

// WithBert returns c (a BERT kind) with a random BERT of c's own sizes as Bert: for the
// encoder-decoder kinds, the encoder's (SrcVocab ids, DModel, Heads, FF, EncLayers
// layers, the encoder mask Enc); for kind bert, the model's (Vocab ids, DecLayers
// layers, the self mask Self, the MLM head). BERT's defaults fill the rest: 512
// positions, 2 token types, LayerNorm epsilon 1e-12, erf GELU. Other kinds are
// returned as they are.
func (c Config) WithBert() Config {
	if !IsBert(c.Kind) {
		return c
	}
	d := c.WithDefaults()
	b := BertConfig{Vocab: d.SrcVocab, DModel: c.DModel, Heads: c.Heads, FF: d.FF, Layers: c.EncLayers,
		MaxLen: 512, TypeVocab: 2, LayerNormEps: 1e-12, Dropout: c.Dropout, Mask: d.Enc}
	if c.Kind == KindBert {
		b.Vocab, b.Layers, b.Mask, b.MLM = c.Vocab, c.DecLayers, d.Self, true
	}
	c.Bert = &b
	return c
}

// PretrainedScales returns the variables of a BERT kind's training (model variables
// under scope paths like "/model/bert/...") without the BERT encoder's when freeze, and
// each one's learning-rate multiplier for optim.AdamWScaled: scale for the pretrained
// part (the encoder, and bert2bert's decoder but its new cross-attention), 1 for the
// rest. scale 0 means 1.
func PretrainedScales(vars []*model.Variable, freeze bool, scale float64) ([]*model.Variable, []float64) {
	if scale == 0 {
		scale = 1
	}
	var keep []*model.Variable
	var scales []float64
	for _, v := range vars {
		p := v.Path() + "/"
		enc := strings.Contains(p, "/"+BertScope+"/")
		dec := strings.Contains(p, "/"+BertDecoderScope+"/") && !strings.Contains(p, "/cross/")
		if freeze && enc {
			continue
		}
		keep = append(keep, v)
		if enc || dec {
			scales = append(scales, scale)
		} else {
			scales = append(scales, 1)
		}
	}
	return keep, scales
}

// BertDecoder returns bert2bert's BERT decoder config (its sizes, Vocab ids, the MLM
// head, the self mask Self): what an export writes as a BertLMHeadModel.
func (c Config) BertDecoder() BertConfig { return c.bertDecoderConfig() }
