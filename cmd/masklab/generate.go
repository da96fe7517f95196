package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/experiments"
	"github.com/masklab/masklab/pkg/hf"
	"github.com/masklab/masklab/pkg/layers"
)

func init() {
	register(&command{
		name: "generate",
		summary: "continue --text with a trained run (the source of a seq2seq run, the prompt of a decoder-only one), a Hugging Face checkpoint directory " +
			"or a model id (owner/name, from the Hugging Face cache): greedy by default, or sampled (--temperature, --top-k, --top-p, --seed), " +
			"with a key/value cache (--no-cache recomputes the prefix at every step)",
		usage: "generate RUN_DIR|CHECKPOINT_DIR|MODEL_ID --text TEXT [--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--no-cache] [--backend B]",
		run:   runGenerate,
	})
}

func runGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags(commands["generate"], stderr)
	text := fs.String("text", "", "the source or prompt text (tokenized with the run's vocabulary or the checkpoint's tokenizer.json)")
	maxNew := fs.Int("max-new-tokens", 0, "the most tokens to generate (0: a run's trained length; 64 for a checkpoint)")
	temp := fs.Float64("temperature", 0, "sampling temperature (0: greedy)")
	topK := fs.Int("top-k", 0, "sample among the k most likely tokens only (0: all)")
	topP := fs.Float64("top-p", 0, "sample among the most likely tokens whose probabilities reach p only (0 or 1: all)")
	seed := fs.Uint64("seed", 0, "the sampling seed (the same seed gives the same text)")
	noCache := fs.Bool("no-cache", false, "recompute the prefix at every step instead of using the key/value cache (slower, same tokens)")
	be := fs.String("backend", "", "backend override")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("want one RUN_DIR, CHECKPOINT_DIR or MODEL_ID, got %d arguments", len(pos))
	}
	if *text == "" {
		return usageError("--text is required")
	}
	if *maxNew < 0 {
		return usageError("--max-new-tokens must be >= 0, got %d", *maxNew)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	opts := layers.GenerateOptions{MaxNewTokens: *maxNew, NoCache: *noCache,
		Sampling: layers.Sampling{Temperature: *temp, TopK: *topK, TopP: *topP, Seed: *seed}}
	if err := opts.Sampling.Validate(); err != nil {
		return usageError("%v", err)
	}
	where := pos[0]
	_, statErr := os.Stat(where)
	if hf.IsCheckpoint(where) || (statErr != nil && hf.IsModelID(where)) {
		return generateCheckpoint(where, *text, *be, opts, set, stdout, stderr)
	}
	l, err := experiments.LoadRun(where, *be)
	if err != nil {
		return err
	}
	out, cached, err := l.GenerateWith(*text, opts)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, out)
	if !cached && !*noCache {
		fmt.Fprintf(stderr, "masklab generate: note: decoded without the key/value cache (the run's masks need the prefix recomputed)\n")
	}
	if out == "" {
		fmt.Fprintf(stderr, "masklab generate: the output is empty: the model's first token was EOS (an undertrained run? %s is at step %d)\n", where, l.Step)
	}
	return nil
}

// generateCheckpoint generates with a Hugging Face checkpoint directory or model id;
// sampling flags that are not set come from its generation_config.json, as Hugging
// Face's generate takes them.
func generateCheckpoint(where, text, be string, opts layers.GenerateOptions, set map[string]bool, stdout, stderr io.Writer) error {
	dir := where
	if !hf.IsCheckpoint(where) {
		var err error
		if dir, err = hf.ResolveModel(where); err != nil {
			return err
		}
	}
	ck, store, err := hf.Load(dir)
	if err != nil {
		return err
	}
	tok, err := ck.Tokenizer()
	if err != nil {
		return err
	}
	if s, ok := ck.Config.GenerationSampling(); ok && !set["temperature"] && !set["top-k"] && !set["top-p"] {
		s.Seed = opts.Sampling.Seed
		opts.Sampling = s
		if !s.Greedy() {
			fmt.Fprintf(stderr, "masklab generate: sampling as generation_config.json says (temperature %g, top-k %d, top-p %g, seed %d); --temperature 0 decodes greedily\n",
				s.Temperature, s.TopK, s.TopP, s.Seed)
		}
	}
	// Hugging Face generate options masklab does not apply, with their neutral values.
	for k, neutral := range map[string]float64{"repetition_penalty": 1, "no_repeat_ngram_size": 0, "num_beams": 1, "min_p": 0, "typical_p": 1} {
		if v, ok := ck.Config.Generation[k]; ok && v != nil {
			if f, err := strconv.ParseFloat(fmt.Sprint(v), 64); err != nil || f != neutral {
				fmt.Fprintf(stderr, "masklab generate: note: generation_config.json sets %s=%v, which masklab does not apply\n", k, v)
			}
		}
	}
	if opts.MaxNewTokens == 0 {
		opts.MaxNewTokens = 64
	}
	b, err := backend.New(backend.Resolve(be, ""))
	if err != nil {
		return err
	}
	out, err := hf.Generate(b, ck, store, tok, text, opts)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, out.Text)
	return nil
}
