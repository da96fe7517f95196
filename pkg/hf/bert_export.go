package hf

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/internal/fsx"
	"github.com/masklab/masklab/pkg/layers"
)

// NewBertLayout describes, as a checkpoint to export, the BERT that cfg builds: a
// BertForMaskedLM (names prefixed "bert.", the MLM head "cls.predictions.*") when
// cfg.MLM, else a BertModel; config.json's keys are those transformers' BertConfig
// writes. It is for a BERT masklab trained from scratch; one loaded from a checkpoint
// exports with its own BertCheckpoint.
func NewBertLayout(cfg layers.BertConfig) (*BertCheckpoint, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	act := map[string]string{layers.ActGELU: "gelu", layers.ActGELUTanh: "gelu_new", layers.ActReLU: "relu", layers.ActSiLU: "silu", "": "gelu"}[cfg.Activation]
	arch, prefix := "BertModel", ""
	if cfg.MLM {
		arch, prefix = "BertForMaskedLM", "bert."
	}
	num := func(v any) json.Number { return json.Number(fmt.Sprint(v)) }
	raw := map[string]any{
		"architectures": []any{arch}, "model_type": "bert",
		"vocab_size": num(cfg.Vocab), "hidden_size": num(cfg.DModel), "num_hidden_layers": num(cfg.Layers),
		"num_attention_heads": num(cfg.Heads), "intermediate_size": num(cfg.FF), "hidden_act": act,
		"hidden_dropout_prob": num(cfg.Dropout), "attention_probs_dropout_prob": num(cfg.Dropout),
		"max_position_embeddings": num(cfg.MaxLen), "type_vocab_size": num(cfg.TypeVocab),
		"initializer_range": num(0.02), "layer_norm_eps": json.Number(strconv.FormatFloat(cfg.LayerNormEps, 'g', -1, 64)),
		"pad_token_id": num(0), "position_embedding_type": "absolute", "use_cache": true, "torch_dtype": "float32",
	}
	c := &BertConfig{
		Architecture: arch, Vocab: cfg.Vocab, Hidden: cfg.DModel, Layers: cfg.Layers, Heads: cfg.Heads,
		Intermediate: cfg.FF, MaxPositions: cfg.MaxLen, TypeVocab: cfg.TypeVocab, NormEps: cfg.LayerNormEps,
		Activation: cmpOr(cfg.Activation, layers.ActGELU), Dropout: cfg.Dropout, AttnDropout: cfg.Dropout, Pad: 0,
		DType: "float32", Raw: raw,
	}
	b := &BertCheckpoint{Config: c, Prefix: prefix, Pooler: cfg.Pooler, MLM: cfg.MLM,
		ck: &Checkpoint{stored: map[string]*stored{}, headers: map[string]*stFile{}}}
	b.ck.tensors = b.tensors()
	return b, nil
}

// ExportBert writes the BERT that b lays out (a loaded checkpoint, or NewBertLayout's),
// with the values of store's variables under scope, to dir: config.json (b.Config.Raw,
// torch_dtype set to dtype) and one model.safetensors. dtype is "F32", "F16" or "BF16";
// "" keeps each tensor's stored dtype (F32 for NewBertLayout's). Exporting an unmodified
// loaded checkpoint reproduces its files byte for byte. Every variable is checked before
// anything is written.
func ExportBert(dir string, b *BertCheckpoint, store *model.Store, scope, dtype string) error {
	scope = strings.TrimSuffix(scope, "/")
	if dtype != "" && torchDTypes[dtype] == "" {
		return fmt.Errorf("hf: export dtype must be F32, F16 or BF16, got %q", dtype)
	}
	if b.Config.Raw == nil {
		return fmt.Errorf("hf: export needs the config.json keys of the model (BertConfig.Raw)")
	}
	var entries []stEntry
	used := map[string]bool{}
	metadata := map[string]string{"format": "pt"}
	for _, t := range b.ck.tensors {
		d := dtype
		if s := b.ck.stored[t.Name]; s != nil {
			if d == "" {
				d = s.st.DType
			}
			if h := b.ck.headers[s.file]; h != nil && h.Metadata != nil {
				metadata = h.Metadata
			}
		}
		d = cmpOr(d, F32)
		var vals []*model.Variable
		for i, p := range t.Vars {
			v := store.GetVariable(scope + p)
			if v == nil {
				return fmt.Errorf("hf: export: the store has no variable %s (tensor %q)", scope+p, t.Name)
			}
			if want := t.VarShape(i); !slices.Equal(v.Shape().Dimensions, want) || v.Shape().DType != dtypes.Float32 {
				return fmt.Errorf("hf: export: variable %s is %s, tensor %q needs (Float32)%v", scope+p, v.Shape(), t.Name, want)
			}
			vals = append(vals, v)
		}
		used[d] = true
		entries = append(entries, stEntry{Name: t.Name, DType: d, Shape: t.Shape, Data: func(dst []byte) []byte {
			return appendEncoded(dst, d, hfValues(t, vals))
		}})
	}
	if err := os.MkdirAll(dir, fsx.DirMode); err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	if err := writeSafetensors(filepath.Join(dir, WeightsFile), metadata, entries); err != nil {
		return err
	}
	if err := removeStale(dir, []string{WeightsFile}, false); err != nil {
		return err
	}
	raw := b.Config.Raw
	if len(used) == 1 {
		raw = make(map[string]any, len(b.Config.Raw))
		for k, v := range b.Config.Raw {
			raw[k] = v
		}
		for d := range used {
			raw["torch_dtype"] = torchDTypes[d]
		}
	}
	return writeJSON(filepath.Join(dir, ConfigFile), raw)
}
