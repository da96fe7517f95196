package hf

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/datasets"
	"github.com/masklab/masklab/pkg/layers"
)

// This file exports masklab's own decoder LMs trained from scratch with a block recipe of
// a Hugging Face family (model.style: layers.Arch without a checkpoint): config.json as
// transformers' LlamaConfig / GPT2Config writes it, the weights (Export), and the
// from-scratch vocabulary as a WordLevel tokenizer.json.

// pyFloat writes a float as Python's json.dumps does (repr: 1e-05, 10000.0, 0.0).
func pyFloat(f float64) json.Number {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0"
	}
	return json.Number(s)
}

func jsonInt(i int) json.Number { return json.Number(strconv.Itoa(i)) }

// ScratchConfig returns the Hugging Face config (config.json's keys in Raw, and
// generation_config.json) of m, a decoder LM with a Llama or GPT-2 block recipe
// (m.Arch) trained from scratch, whose vocabulary's special ids are v's. An m that no
// Hugging Face architecture computes exactly is an error naming the field.
func ScratchConfig(m layers.Config, v *datasets.Vocab) (*Config, error) {
	m = m.WithDefaults()
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("hf: %w", err)
	}
	a := m.Arch
	switch {
	case a == nil:
		return nil, fmt.Errorf("hf: masklab's own blocks (no block recipe) have no Hugging Face architecture: train a decoder with a llama or gpt2 block recipe (model.style)")
	case a.Window > 0 || a.QKNorm || a.Rope.Type != "" || a.Activation != "" && a.Activation != map[string]string{layers.FamilyLlama: layers.ActSiLU, layers.FamilyGPT2: layers.ActGELUTanh}[a.Family]:
		return nil, fmt.Errorf("hf: a from-scratch %s block exports with its family's defaults only (no sliding window, q/k norms, RoPE scaling or other activation)", a.Family)
	}
	c := &Config{Vocab: m.Vocab, Hidden: m.DModel, Layers: m.DecLayers, Heads: m.Heads, KVHeads: m.Heads,
		HeadDim: m.DModel / m.Heads, Intermediate: m.FF, MaxPositions: m.MaxLen, NormEps: m.LayerNormEps,
		Tied: m.Tied, BOS: v.BOS, Pad: v.PAD, EOS: []int{v.EOS}}
	raw := map[string]any{"bos_token_id": jsonInt(v.BOS), "eos_token_id": jsonInt(v.EOS), "pad_token_id": jsonInt(v.PAD),
		"initializer_range": pyFloat(0.02), "torch_dtype": "float32", "use_cache": true, "vocab_size": jsonInt(m.Vocab)}
	if a.Family == layers.FamilyGPT2 {
		c.Architecture, c.ModelType, c.Activation = "GPT2LMHeadModel", "gpt2", "gelu_new"
		c.QKVBias, c.OutBias, c.MLPBias = true, true, true
		drop := pyFloat(m.Dropout)
		for k, val := range map[string]any{"activation_function": "gelu_new", "architectures": []any{c.Architecture},
			"attn_pdrop": drop, "embd_pdrop": drop, "resid_pdrop": drop, "layer_norm_epsilon": pyFloat(m.LayerNormEps),
			"model_type": "gpt2", "n_ctx": jsonInt(m.MaxLen), "n_embd": jsonInt(m.DModel), "n_head": jsonInt(m.Heads),
			"n_inner": jsonInt(m.FF), "n_layer": jsonInt(m.DecLayers), "n_positions": jsonInt(m.MaxLen),
			"reorder_and_upcast_attn": false, "scale_attn_by_inverse_layer_idx": false, "scale_attn_weights": true,
			"summary_activation": nil, "summary_first_dropout": drop, "summary_proj_to_labels": true,
			"summary_type": "cls_index", "summary_use_proj": true} {
			raw[k] = val
		}
	} else {
		c.Architecture, c.ModelType, c.Activation, c.RopeTheta = "LlamaForCausalLM", "llama", "silu", m.RotaryBase
		for k, val := range map[string]any{"architectures": []any{c.Architecture}, "attention_bias": false,
			"attention_dropout": pyFloat(0), "head_dim": jsonInt(c.HeadDim), "hidden_act": "silu",
			"hidden_size": jsonInt(m.DModel), "intermediate_size": jsonInt(m.FF),
			"max_position_embeddings": jsonInt(m.MaxLen), "mlp_bias": false, "model_type": "llama",
			"num_attention_heads": jsonInt(m.Heads), "num_hidden_layers": jsonInt(m.DecLayers),
			"num_key_value_heads": jsonInt(m.Heads), "pretraining_tp": jsonInt(1), "rms_norm_eps": pyFloat(m.LayerNormEps),
			"rope_scaling": nil, "rope_theta": pyFloat(m.RotaryBase), "tie_word_embeddings": m.Tied} {
			raw[k] = val
		}
	}
	c.Raw, c.DType = raw, "float32"
	c.Generation = map[string]any{"_from_model_config": true, "bos_token_id": jsonInt(v.BOS), "eos_token_id": jsonInt(v.EOS), "pad_token_id": jsonInt(v.PAD)}
	return c, nil
}

// ExportScratch writes a from-scratch decoder LM (m, with its variables in store under
// scope) and its vocabulary v to dir as a Hugging Face checkpoint: ScratchConfig's
// config.json and generation_config.json, the weights (Export), and v as a WordLevel
// tokenizer (WriteWordLevel).
func ExportScratch(dir string, m layers.Config, v *datasets.Vocab, store *model.Store, scope string, opts ExportOptions) error {
	c, err := ScratchConfig(m, v)
	if err != nil {
		return err
	}
	if err := Export(dir, c, store, scope, opts); err != nil {
		return err
	}
	return WriteWordLevel(dir, v, m.WithDefaults().MaxLen)
}

// wordLevelSplit is the pre-tokenizer that splits text as datasets.Tokenize does, as two
// Split steps that Hugging Face's tokenizers (Oniguruma), transformers.js (JavaScript's
// RegExp) and Go's regexp all run the same: whitespace (\p{Z}: Go's unicode.IsSpace
// beyond the controls) and controls (\p{Cc}) are removed; then every character that is
// not a letter, decimal digit or mark, and every CJK character (Han, Hiragana,
// Katakana, Hangul: datasets' isCJK, spelled out as ranges of literal characters from
// Go's tables, since the engines name scripts differently), is a piece of its own, and a
// run of the other letters, digits and marks is one piece.
func wordLevelSplit() []any {
	var ranges [][2]rune
	for _, tab := range []*unicode.RangeTable{unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul, {R16: []unicode.Range16{{Lo: 0x4e00, Hi: 0x9fff, Stride: 1}}}} {
		for _, r := range tab.R16 {
			for lo := rune(r.Lo); lo <= rune(r.Hi); lo += rune(r.Stride) {
				hi := lo
				if r.Stride == 1 {
					hi = rune(r.Hi)
				}
				ranges = append(ranges, [2]rune{lo, hi})
			}
		}
		for _, r := range tab.R32 {
			for lo := rune(r.Lo); lo <= rune(r.Hi); lo += rune(r.Stride) {
				hi := lo
				if r.Stride == 1 {
					hi = rune(r.Hi)
				}
				ranges = append(ranges, [2]rune{lo, hi})
			}
		}
	}
	sort.Slice(ranges, func(i, j int) bool { return ranges[i][0] < ranges[j][0] })
	var cls strings.Builder
	var cur [2]rune
	flush := func() {
		cls.WriteRune(cur[0])
		if cur[1] > cur[0] {
			cls.WriteByte('-')
			cls.WriteRune(cur[1])
		}
	}
	for i, r := range ranges {
		switch {
		case i == 0:
			cur = r
		case r[0] <= cur[1]+1:
			cur[1] = max(cur[1], r[1])
		default:
			flush()
			cur = r
		}
	}
	flush()
	split := func(re, behavior string) map[string]any {
		return map[string]any{"type": "Split", "pattern": map[string]any{"Regex": re}, "behavior": behavior, "invert": false}
	}
	return []any{split(`[\p{Z}\p{Cc}]+`, "Removed"), split(`[^\p{L}\p{Nd}\p{M}]|[`+cls.String()+`]`, "Isolated")}
}

// WriteWordLevel writes v, a masklab vocabulary (datasets.Vocab, as a from-scratch run
// builds it: one token per CJK character, word or punctuation character), to dir as a
// Hugging Face tokenizer: tokenizer.json with a WordLevel model (unknown words become
// <unk>), the pre-tokenizer that splits as datasets.Tokenize does (wordLevelSplit), v's
// special tokens as added tokens, a template that puts <bos> first (the first decoder
// input of every masklab document), and a decoder that joins tokens without spaces
// when every token is CJK (as datasets.Detokenize does) or one character (a
// character-level vocabulary, as its text was written); else Hugging Face's default, one
// space between tokens; tokenizer_config.json names the special tokens. model_max_length
// is maxLen (the model's positions).
func WriteWordLevel(dir string, v *datasets.Vocab, maxLen int) error {
	if v.Codec() != nil {
		return fmt.Errorf("hf: the vocabulary is a pretrained tokenizer's, not masklab's own: export its checkpoint's tokenizer files instead")
	}
	if v.UNK < 0 || v.BOS < 0 || v.EOS < 0 || v.PAD < 0 {
		return fmt.Errorf("hf: a WordLevel tokenizer needs %s, %s, %s and %s in the vocabulary (a text task's), got ids %d, %d, %d, %d",
			datasets.UnkToken, datasets.PadToken, datasets.BosToken, datasets.EosToken, v.UNK, v.PAD, v.BOS, v.EOS)
	}
	vocab := make(map[string]any, v.Size())
	var added []any
	fuse, chars := true, true
	for id, tok := range v.Tokens {
		vocab[tok] = jsonInt(id)
		if v.IsSpecial(id) {
			added = append(added, map[string]any{"id": jsonInt(id), "content": tok, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true})
			continue
		}
		if datasets.Detokenize([]string{"a", tok, "a"}) != "a"+tok+"a" {
			// Detokenize would put a space next to tok: not a vocabulary Fuse decodes as it.
			fuse = false
		}
		if utf8.RuneCountInString(tok) != 1 {
			chars = false
		}
	}
	// A character-level vocabulary (poetry: Han characters and a few symbols such as
	// "[" and "□") came from text without spaces between its tokens: Fuse gives it back
	// as written, where Hugging Face's default would put a space between every two.
	var decoder any
	if fuse || chars {
		decoder = map[string]any{"type": "Fuse"}
	}
	bos := v.Tokens[v.BOS]
	seq := func(id string, typ int) any {
		return map[string]any{"Sequence": map[string]any{"id": id, "type_id": jsonInt(typ)}}
	}
	special := func(typ int) any {
		return map[string]any{"SpecialToken": map[string]any{"id": bos, "type_id": jsonInt(typ)}}
	}
	tok := map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": added, "normalizer": nil,
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": wordLevelSplit()},
		"post_processor": map[string]any{"type": "TemplateProcessing",
			"single":         []any{special(0), seq("A", 0)},
			"pair":           []any{special(0), seq("A", 0), special(1), seq("B", 1)},
			"special_tokens": map[string]any{bos: map[string]any{"id": bos, "ids": []any{jsonInt(v.BOS)}, "tokens": []any{bos}}}},
		"decoder": decoder,
		"model":   map[string]any{"type": "WordLevel", "vocab": vocab, "unk_token": v.Tokens[v.UNK]},
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	if err := writeJSON(dir+"/"+TokenizerFile, tok); err != nil {
		return err
	}
	decl := map[string]any{}
	for id := range v.Tokens {
		if v.IsSpecial(id) {
			decl[strconv.Itoa(id)] = map[string]any{"content": v.Tokens[id], "lstrip": false, "normalized": false, "rstrip": false, "single_word": false, "special": true}
		}
	}
	cfg := map[string]any{"added_tokens_decoder": decl, "bos_token": bos, "eos_token": v.Tokens[v.EOS],
		"pad_token": v.Tokens[v.PAD], "unk_token": v.Tokens[v.UNK], "clean_up_tokenization_spaces": false,
		"model_max_length": jsonInt(maxLen), "tokenizer_class": "PreTrainedTokenizerFast"}
	if v.SEP >= 0 {
		cfg["sep_token"] = v.Tokens[v.SEP]
	}
	if v.MASK >= 0 {
		cfg["mask_token"] = v.Tokens[v.MASK]
	}
	return writeJSON(dir+"/"+TokenizerConfigFile, cfg)
}
