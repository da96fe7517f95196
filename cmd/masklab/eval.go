package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/masklab/masklab/internal/textutil"
	"github.com/masklab/masklab/pkg/experiments"
)

func init() {
	register(&command{
		name:    "eval",
		summary: "evaluate a trained run (teacher-forced loss/accuracy, greedy exact match, loss by position)",
		usage:   "eval RUN_DIR [--split valid|test] [--pad-to N] [--backend B]",
		run:     runEval,
	})
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlags(commands["eval"], stderr)
	split := fs.String("split", "valid", "valid or test (test only when you mean it)")
	padTo := fs.Int("pad-to", 0, "pad targets (and sources) to N positions, e.g. longer than in training")
	be := fs.String("backend", "", "backend override")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("want one RUN_DIR, got %d arguments", len(pos))
	}
	if *split != "valid" && *split != "test" {
		return usageError("--split must be valid or test, got %q", *split)
	}
	var sets []string
	if *padTo > 0 {
		sets = append(sets, fmt.Sprintf("task.tgt_len=%d", *padTo), fmt.Sprintf("task.src_len=%d", *padTo))
	} else if *padTo < 0 {
		return usageError("--pad-to must be > 0, got %d", *padTo)
	}
	l, err := experiments.LoadRun(pos[0], *be, sets...)
	if err != nil {
		return err
	}
	trainedS, trainedT := l.TrainedLengths()
	m, byPos, err := l.Evaluate(*split)
	if err != nil {
		return err
	}
	padded := ""
	if *padTo > 0 {
		padded = fmt.Sprintf(", padded to %d (trained at target length %d", *padTo, trainedT)
		if trainedS > 0 {
			padded += fmt.Sprintf(", source length %d", trainedS)
		}
		padded += ")"
	}
	fmt.Fprintf(stdout, "%s at step %d, %s split%s:\n", pos[0], l.Step, *split, padded)
	for _, k := range sortedMetricKeys(m) {
		fmt.Fprintf(stdout, "  %s = %.4f\n", k, m[k])
	}
	for _, k := range textutil.SortedKeys(byPos) {
		var parts []string
		for _, v := range byPos[k] {
			parts = append(parts, fmt.Sprintf("%.3f", v))
		}
		fmt.Fprintf(stdout, "  %s by position: %s\n", k, strings.Join(parts, " "))
	}
	return nil
}
