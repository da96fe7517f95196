package main

import (
	"fmt"
	"io"
	"regexp"

	"github.com/masklab/masklab/pkg/experiments"
	"github.com/masklab/masklab/pkg/hf"
)

func init() {
	register(&command{
		name:    "export",
		summary: "write a run as a Hugging Face checkpoint: one fine-tuned from a Hugging Face checkpoint (init_from), a decoder LM with model.style, a masked-LM run (model.kind=bert) or a bert2bert run",
		usage:   "export RUN_DIR --out DIR [--dtype F32|F16|BF16|auto] [--shard-bytes N] [--adapters] [--backend B]",
		run:     runExport,
	})
}

func runExport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags(commands["export"], stderr)
	out := fs.String("out", "", "the directory to write config.json, model.safetensors, generation_config.json and the tokenizer files to")
	dtype := fs.String("dtype", hf.F32, "the weights' dtype: F32 (as trained, exact), F16 or BF16 (round to nearest even), "+
		"or auto (a run fine-tuned from a Hugging Face checkpoint: each tensor in that checkpoint's dtype, names and files, as save_pretrained keeps a model's dtype)")
	shard := fs.Int64("shard-bytes", 0, "split the weights into files of at most N bytes with model.safetensors.index.json (0: one file)")
	adapters := fs.Bool("adapters", false, "a LoRA run: write its adapters as PEFT's adapter_config.json and adapter_model.safetensors instead of the merged model")
	be := fs.String("backend", "", "backend override")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("want one RUN_DIR, got %d arguments", len(pos))
	}
	if *out == "" {
		return usageError("--out is required")
	}
	l, err := experiments.LoadRun(pos[0], *be)
	if err != nil {
		return err
	}
	if *adapters {
		if l.Config.LoRA.Rank == 0 {
			return fmt.Errorf("run %s has no LoRA adapters (lora.rank=0: full fine-tuning): export it without --adapters", pos[0])
		}
		if err := l.ExportAdapters(*out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "exported the LoRA adapters of %s (step %d, on %s) to %s\n", pos[0], l.Step, l.Config.InitFrom, *out)
		return nil
	}
	if *dtype == "auto" {
		*dtype = ""
	}
	if err := l.Export(*out, hf.ExportOptions{DType: *dtype, MaxShardBytes: *shard}); err != nil {
		return err
	}
	// What Hugging Face's model will not do as the run did: it attends causally within
	// one sequence, with no score modification.
	if sc := string(l.Config.Masks.Score); sc != "" && sc != "none" {
		fmt.Fprintf(stderr, "masklab export: warning: the run trained with masks.score=%s, which the exported model's architecture does not have: it runs without it\n", sc)
	}
	for _, term := range regexp.MustCompile(`[a-z_]+`).FindAllString(l.Config.Masks.Self, -1) {
		if term != "causal" && term != "doc" && term != "pad" {
			fmt.Fprintf(stderr, "masklab export: warning: the run trained with masks.self=%q; the exported model attends causally (causal & pad), as Hugging Face runs it\n", l.Config.Masks.Self)
			break
		}
	}
	from := "fine-tuned from " + l.Config.InitFrom
	switch {
	case l.Config.InitSHA256 == "" && l.Config.Model.Style != "":
		from = "model.style=" + l.Config.Model.Style
	case l.Config.InitSHA256 == "":
		from = "model.kind=" + l.Config.Model.Kind
	}
	fmt.Fprintf(stdout, "exported %s (step %d, %s) to %s\n", pos[0], l.Step, from, *out)
	return nil
}
