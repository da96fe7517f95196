package main

import (
	"fmt"
	"io"

	"github.com/masklab/masklab/pkg/experiments"
)

func init() {
	register(&command{
		name:    "status",
		summary: "count a sweep's runs by state (done, running, diverged, failed, pending) and list them",
		usage:   "status DIR",
		run:     runStatus,
	})
}

func runStatus(args []string, stdout, stderr io.Writer) error {
	fs := newFlags(commands["status"], stderr)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("want one sweep DIR, got %d arguments", len(pos))
	}
	states, err := experiments.States(pos[0])
	if err != nil {
		return fmt.Errorf("%s: not a sweep directory: %v", pos[0], err)
	}
	counts := experiments.CountStates(states)
	for _, s := range experiments.StateOrder {
		fmt.Fprintf(stdout, "%s: %d\n", s, counts[s])
	}
	for _, s := range experiments.StateOrder {
		if counts[s] == 0 {
			continue
		}
		fmt.Fprintf(stdout, "\n%s:\n", s)
		for _, st := range states {
			if st.State != s {
				continue
			}
			line := fmt.Sprintf("  %s  %s  %s  seed %d  step %d", st.Run.ID, st.Run.Stage, st.Run.Cell, st.Run.Seed, st.Step)
			if st.Detail != "" {
				line += "  (" + st.Detail + ")"
			}
			fmt.Fprintln(stdout, line)
		}
	}
	return nil
}
