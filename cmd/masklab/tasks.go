package main

import (
	"fmt"
	"io"

	"github.com/masklab/masklab/datasets"
)

func init() {
	register(&command{
		name:    "tasks",
		summary: "list the tasks a config's task.name can name, with what each one is",
		usage: `tasks

Prints one line per task: its name and what it is. A config names one as task.name
(e.g. --set task.name=cedict-pinyin); user files are tsv:PATH or jsonl:PATH (or a path
ending in .tsv or .jsonl), and the poetry tasks take arguments after a colon
(poetry-lm:tang,by-author).`,
		run: runTasks,
	})
}

func runTasks(args []string, stdout, stderr io.Writer) error {
	fs := newFlags(commands["tasks"], stderr)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError("tasks takes no arguments, got %q", pos)
	}
	names := datasets.Names()
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	for _, n := range names {
		fmt.Fprintf(stdout, "%-*s  %s\n", width, n, datasets.Describe(n))
	}
	fmt.Fprintln(stdout, "\nUse one as task.name in a config or with --set task.name=NAME; user files are tsv:PATH or jsonl:PATH.")
	return nil
}
