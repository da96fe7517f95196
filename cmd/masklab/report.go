package main

import (
	"fmt"
	"io"

	"github.com/masklab/masklab/pkg/report"
)

func init() {
	register(&command{
		name:    "report",
		summary: "per-cell statistics over seeds (mean, std, bootstrap 95% CI, paired differences) as CSV/Markdown/LaTeX, and figures",
		usage:   "report DIR --out FIGDIR",
		run:     runReport,
	})
}

func runReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags(commands["report"], stderr)
	out := fs.String("out", "", "where to write report.{csv,md,tex} and the figures (default DIR/report)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("want one sweep DIR, got %d arguments", len(pos))
	}
	dir := *out
	if dir == "" {
		dir = pos[0] + "/report"
	}
	files, err := report.Write(pos[0], dir)
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Fprintln(stdout, f)
	}
	if r, err := report.Build(pos[0]); err == nil {
		for _, w := range r.Warnings() {
			fmt.Fprintf(stderr, "masklab report: warning: %s\n", w)
		}
	}
	return nil
}
