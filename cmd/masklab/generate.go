package main

import (
	"fmt"
	"io"

	"github.com/masklab/masklab/pkg/experiments"
)

func init() {
	register(&command{
		name:    "generate",
		summary: "decode greedily with a trained run: the source (seq2seq) or prompt (decoder-only) given by --text",
		usage:   "generate RUN_DIR --text TEXT [--backend B]",
		run:     runGenerate,
	})
}

func runGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags(commands["generate"], stderr)
	text := fs.String("text", "", "the source or prompt text (tokenized with the run's vocabulary)")
	be := fs.String("backend", "", "backend override")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("want one RUN_DIR, got %d arguments", len(pos))
	}
	if *text == "" {
		return usageError("--text is required")
	}
	l, err := experiments.LoadRun(pos[0], *be)
	if err != nil {
		return err
	}
	out, err := l.Generate(*text)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, out)
	if out == "" {
		fmt.Fprintf(stderr, "masklab generate: the output is empty: the model's first token was EOS (an undertrained run? %s is at step %d)\n", pos[0], l.Step)
	}
	return nil
}
