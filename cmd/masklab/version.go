package main

import (
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/masklab/masklab/internal/envvars"
	"github.com/masklab/masklab/pkg/backend"
	"github.com/masklab/masklab/pkg/version"
)

func init() {
	register(&command{
		name:    "version",
		summary: "print the masklab commit, GoMLX version and the backend that would be used",
		usage:   "version [--backend CONFIG] [--verbose]",
		run:     runVersion,
	})
}

func runVersion(args []string, stdout, stderr io.Writer) error {
	c := commands["version"]
	fs := newFlags(c, stderr)
	override := fs.String("backend", "", "backend override (go, xla:cpu, xla:cuda, with options after a colon); checked, not loaded; default: $GOMLX_BACKEND, then "+backend.Default)
	verbose := fs.Bool("verbose", false, "also list the environment variables that change what masklab does, with their values here")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	v := version.Get()
	// A binary built without module information (e.g. outside the module) says so
	// instead of printing empty versions.
	known := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	// The backend is checked, not created: version answers at once, even for XLA.
	b := backend.Resolve(*override, "")
	if err := b.Check(); err != nil {
		if b.Source == "override" {
			return usageError("%v", err)
		}
		return err
	}
	fmt.Fprintf(stdout, "masklab %s (commit %s)\n", known(v.Masklab), known(v.Commit))
	fmt.Fprintf(stdout, "gomlx %s (compute %s, go-xla %s)\n", known(v.GoMLX), known(v.Compute), known(v.GoXLA))
	fmt.Fprintf(stdout, "go %s, simd %v\n", v.Go, v.SIMD)
	fmt.Fprintf(stdout, "backend %s (from %s)\n", b.Config, b.Source)
	if *verbose {
		fmt.Fprintln(stdout, "environment (docs/environment.md):")
		for _, e := range envvars.Table {
			val, set := os.LookupEnv(e.Name)
			if !set {
				val = "(unset)"
			} else {
				val = strconv.Quote(val)
			}
			fmt.Fprintf(stdout, "  %-29s %-10s %s: %s\n", e.Name, val, e.Package, e.Effect)
		}
	}
	return nil
}
