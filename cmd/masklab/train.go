package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/masklab/masklab/internal/sysmem"
	"github.com/masklab/masklab/pkg/experiments"
)

// setFlags collects repeated --set key=value flags.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, " ") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

func init() {
	register(&command{
		name:    "train",
		summary: "train one run from a YAML config (resumes an unfinished run in the same --out)",
		usage:   "train [CONFIG.yaml] [--set key=value ...] [--out DIR] [--backend B] | train --print-defaults",
		run:     runTrain,
	})
}

// signalContext is cancelled on SIGINT/SIGTERM, so a run stops between steps (its last
// checkpoint stays valid; the next invocation resumes it).
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func runTrain(args []string, stdout, stderr io.Writer) error {
	c := commands["train"]
	fs := newFlags(c, stderr)
	var sets setFlags
	fs.Var(&sets, "set", "override one config key, e.g. --set model.layers=4 --set masks.input='span(0.15,3)' (repeatable)")
	out := fs.String("out", "", "results directory (default runs/<config hash>)")
	be := fs.String("backend", "", "backend override (go, xla:cpu, ...); precedence: this, $GOMLX_BACKEND, the config's, go:parallelism=-1")
	printDefaults := fs.Bool("print-defaults", false, "print the default config with every key documented, and exit")
	quiet := fs.Bool("quiet", false, "no progress output")
	maxMem := memoryFlag(fs)
	dryRun := fs.Bool("dry-run", false, "print the run's id, estimated memory and time, and exit, writing nothing")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *printDefaults {
		fmt.Fprint(stdout, experiments.DefaultYAML)
		return nil
	}
	if len(pos) > 1 {
		return usageError("want at most one CONFIG file, got %d: %s", len(pos), strings.Join(pos, " "))
	}
	cfg := experiments.Default()
	if len(pos) == 1 {
		if cfg, err = experiments.LoadConfig(pos[0]); err != nil {
			return usageError("%v", err)
		}
	}
	if err := cfg.SetAll(sets); err != nil {
		return usageError("%v", err)
	}
	if err := cfg.Validate(); err != nil {
		return usageError("%v", err)
	}
	if err := cfg.ResolveData("."); err != nil {
		return usageError("%v", err)
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join("runs", cfg.ID())
	}
	if *dryRun {
		e, err := experiments.EstimateRun(cfg)
		if err != nil {
			return usageError("%v", err)
		}
		fmt.Fprintf(stdout, "run %s into %s: %s (estimated; nothing written)\n", cfg.ID(), dir, e)
		return nil
	}
	var progress io.Writer = stderr
	if *quiet {
		progress = nil
	}
	ctx, cancel := signalContext()
	defer cancel()
	s, err := experiments.TrainRun(ctx, cfg, dir, experiments.TrainOptions{Backend: *be, Progress: progress, Label: cfg.ID(), MaxMemory: maxMem.bytes})
	if err != nil {
		return interrupted(err, "the same command")
	}
	fmt.Fprintf(stdout, "%s: %s at step %d; results in %s\n", cfg.ID(), s.Status, s.Step, dir)
	for _, k := range sortedMetricKeys(s.Final) {
		fmt.Fprintf(stdout, "  %s = %.4f\n", k, s.Final[k])
	}
	if s.Status == experiments.StatusDiverged {
		what := fmt.Sprintf("at step %d", s.DivergedAt)
		if s.Divergence != nil {
			what = s.Divergence.String()
		}
		return fmt.Errorf("run %s diverged: %s (lower optim.lr, or set optim.clip_norm)", dir, what)
	}
	return nil
}

// interrupted turns the cancellation by SIGINT/SIGTERM into a line that says how to
// resume; other errors pass through.
func interrupted(err error, rerun string) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted; %s resumes from the last checkpoint", rerun)
	}
	return err
}

func sortedMetricKeys(m map[string]float64) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sortStrings(ks)
	return ks
}

// memFlag is --max-memory: a size ("8GiB"), "off", or empty for the machine's memory.
type memFlag struct{ bytes int64 }

func (m *memFlag) String() string { return "" }

func (m *memFlag) Set(s string) error {
	if strings.EqualFold(strings.TrimSpace(s), "off") {
		m.bytes = -1
		return nil
	}
	b, err := sysmem.Parse(s)
	if err != nil {
		return err
	}
	if b <= 0 {
		return fmt.Errorf("want a positive size or off, got %q", s)
	}
	m.bytes = b
	return nil
}

func memoryFlag(fs *flag.FlagSet) *memFlag {
	m := &memFlag{}
	fs.Var(m, "max-memory", "refuse a run whose estimated memory exceeds this size (e.g. 8GiB; off: no check; default: the machine's or cgroup's total memory)")
	return m
}
