package hf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gomlx/gomlx/ml/model"
	"github.com/masklab/masklab/internal/fsx"
)

// tokenizerFiles are the files of a checkpoint's tokenizer (and chat template) that an
// export of its fine-tuned weights copies, so that the export loads as the original did.
var tokenizerFiles = []string{
	TokenizerFile, TokenizerConfigFile, "special_tokens_map.json", "added_tokens.json",
	"vocab.json", "merges.txt", "tokenizer.model", "chat_template.jinja",
}

// ExportFineTuned writes the weights of a model fine-tuned from ck (in store under
// scope, as ck.Load put them there) to dir as a Hugging Face checkpoint that loads as ck
// does: Export's config.json, model.safetensors (or shards) and generation_config.json
// (one with config.json's bos_token_id and eos_token_id when ck has none), and ck's
// tokenizer files copied as they are. opts.DType "" (and no opts.Like) writes every tensor
// as ck stores it: its dtype, name and file (Like: ck), as save_pretrained keeps a
// model's dtype; a merged LoRA model is then the base's layout with merged values.
func ExportFineTuned(dir string, ck *Checkpoint, store *model.Store, scope string, opts ExportOptions) error {
	if opts.DType == "" && opts.Like == nil {
		opts.Like = ck
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("hf: export: %w", err)
	}
	if abs, err := filepath.Abs(dir); err == nil {
		if orig, err := filepath.Abs(ck.Dir); err == nil && abs == orig {
			return fmt.Errorf("hf: export to %s would overwrite the checkpoint the run was fine-tuned from", dir)
		}
	}
	if err := Export(dir, ck.Config, store, scope, opts); err != nil {
		return err
	}
	if ck.Config.Generation == nil {
		gen := map[string]any{}
		for _, key := range []string{"bos_token_id", "eos_token_id", "pad_token_id"} {
			if v, ok := ck.Config.Raw[key]; ok && v != nil {
				gen[key] = v
			}
		}
		if err := writeJSON(filepath.Join(dir, GenerationConfigFile), gen); err != nil {
			return err
		}
	}
	for _, name := range tokenizerFiles {
		data, err := os.ReadFile(filepath.Join(ck.Dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("hf: export: %w", err)
		}
		if err := fsx.WriteFileAtomic(filepath.Join(dir, name), data); err != nil {
			return fmt.Errorf("hf: export: %w", err)
		}
	}
	return nil
}
