package main

import (
	"fmt"
	"io"

	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/version"
)

func init() {
	register(&command{
		name:    "version",
		summary: "print the masklab commit, GoMLX version and the backend that would be used",
		usage:   "version [--backend CONFIG]",
		run:     runVersion,
	})
}

func runVersion(args []string, stdout, stderr io.Writer) error {
	c := commands["version"]
	fs := newFlags(c, stderr)
	override := fs.String("backend", "", "backend override (e.g. go, xla:cpu); default: $GOMLX_BACKEND, then "+backend.Default)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	v := version.Get()
	commit := v.Commit
	if commit == "" {
		commit = "unknown"
	}
	b := backend.Resolve(*override, "")
	fmt.Fprintf(stdout, "masklab %s (commit %s)\n", v.Masklab, commit)
	fmt.Fprintf(stdout, "gomlx %s (compute %s, go-xla %s)\n", v.GoMLX, v.Compute, v.GoXLA)
	fmt.Fprintf(stdout, "go %s, simd %v\n", v.Go, v.SIMD)
	fmt.Fprintf(stdout, "backend %s (from %s)\n", b.Config, b.Source)
	return nil
}
