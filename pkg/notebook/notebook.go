package notebook

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/masklab/masklab/internal/envvars"
	"github.com/masklab/masklab/pkg/experiments"
	"github.com/masklab/masklab/pkg/hf"
	"github.com/masklab/masklab/pkg/plots"
	"github.com/masklab/masklab/pkg/report"
)

// QuickOverrides shrink every run of a sweep to a smoke test: what the notebooks run when
// MASKLAB_QUICK=1 (the notebook tests) and "scripts/reproduce.sh --quick" passes as --set.
// Quick numbers show that the pipeline works, never what a figure shows.
var QuickOverrides = []string{"train.steps=20", "train.checkpoint_every=20", "train.log_every=5", "eval.every=10", "eval.batches=2", "eval.greedy_examples=32"}

// The environment variables this package reads, through internal/envvars (whose table
// docs/environment.md shows).
const (
	// QuickEnv turns quick mode on when set to 1 (the notebook tests set it).
	QuickEnv = "MASKLAB_QUICK"
	// RunsEnv is the directory under which notebooks keep their sweeps (SweepDir).
	RunsEnv = "MASKLAB_RUNS"
	// WorkersEnv is how many runs of a sweep RunSweep trains at once (default 1).
	WorkersEnv = "MASKLAB_WORKERS"
)

// Workers returns $MASKLAB_WORKERS, the runs a notebook's sweep trains at once: 1 when
// unset, an error naming the variable when it is not a positive integer.
func Workers() (int, error) {
	v := envvars.Get(WorkersEnv)
	if v == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s=%q: want a positive number of runs trained at once", WorkersEnv, v)
	}
	return n, nil
}

// QuickMode reports whether the notebooks' quick mode is on ($MASKLAB_QUICK=1).
func QuickMode() bool { return envvars.Get(QuickEnv) == "1" }

// SweepDir is where a notebook keeps the runs of sweep name: $MASKLAB_RUNS/name (default
// root/runs/notebooks/name), with a "-quick" suffix in quick mode so that quick and full
// runs never mix. root is the repository (".." from notebooks/).
func SweepDir(root, name string) string {
	base := envvars.Get(RunsEnv)
	if base == "" {
		base = filepath.Join(root, "runs", "notebooks")
	}
	if QuickMode() {
		name += "-quick"
	}
	return filepath.Join(base, name)
}

// RunSweep runs root/sweeps/name.yaml the way "masklab sweep" does (finished runs are
// skipped, unfinished ones resumed) into SweepDir(root, name). In quick
// mode it keeps only the sweep's first seed and applies QuickOverrides, then quickExtra
// (a notebook's own further cuts, e.g. "eval.greedy_examples=8"); the full mode runs the
// sweep file as it is. It returns the sweep directory and an error when a run failed
// (diverged runs are results, not errors).
func RunSweep(ctx context.Context, root, name string, quickExtra ...string) (dir string, res experiments.SweepResult, err error) {
	return RunSweepSet(ctx, root, name, nil, quickExtra...)
}

// RunSweepSet is RunSweep with overrides set ("key=value") applied to every run in both
// modes, before the quick cuts: what a notebook computes and a sweep file cannot hold,
// e.g. "init_from=DIR" for a checkpoint the notebook exported from an earlier sweep.
func RunSweepSet(ctx context.Context, root, name string, set []string, quickExtra ...string) (dir string, res experiments.SweepResult, err error) {
	r, err := RunSweepWith(ctx, root, name, SweepOptions{Set: set, Quick: Quick{Set: quickExtra}})
	return r.Dir, r.Result, err
}

// EvaluatePadded evaluates every done run of the sweep in dir on the valid split with
// sources and targets padded to each length in padTo (0 = the padding of training), as
// "masklab eval --pad-to N" does: how masks behave at padding lengths unseen in
// training. It returns, for each cell of the sweep (in plan order), the metric's value
// per seed at each length, ready for report.BarStats and plots.Bars with the lengths as
// categories.
func EvaluatePadded(dir string, padTo []int, metric string) ([]report.BarSeries, error) {
	variants := make([][]string, len(padTo))
	for i, n := range padTo {
		if n > 0 {
			variants[i] = []string{fmt.Sprintf("task.tgt_len=%d", n), fmt.Sprintf("task.src_len=%d", n)}
		}
	}
	bars, _, err := EvaluateVariants(dir, variants, metric, "")
	return bars, err
}

// EvaluateVariants evaluates every done run of the sweep in dir on the valid split once
// per variant, each variant a list of config overrides applied to the run's config at
// evaluation (experiments.LoadRun), e.g. {"task.packing=none"} to evaluate packed runs on
// unpacked documents. It returns, per cell of the sweep (in plan order, labelled as
// EvaluateRuns labels them), the metric's value per seed for each variant (for
// report.BarStats, variants as categories) and, when byPos names a by-position metric
// (e.g. "valid_loss"), its values by target position for the first variant, one curve
// per seed (for report.Bands, x = position). Each evaluation is kept in the run's
// directory, as EvaluateRuns keeps its own.
func EvaluateVariants(dir string, variants [][]string, metric, byPos string) ([]report.BarSeries, []report.Series, error) {
	var bars []report.BarSeries
	var curves []report.Series
	barIndex, curveIndex := map[string]int{}, map[string]int{}
	err := doneRuns(dir, func(r *experiments.PlannedRun, runDir string, _ *experiments.Summary, label string) error {
		i, ok := barIndex[label]
		if !ok {
			i = len(bars)
			barIndex[label] = i
			bars = append(bars, report.BarSeries{Label: label, Values: make([][]float64, len(variants))})
		}
		for c, sets := range variants {
			pos := ""
			if c == 0 {
				pos = byPos
			}
			v, ys, err := evaluateMetric(r, runDir, sets, metric, pos)
			if err != nil {
				return err
			}
			bars[i].Values[c] = append(bars[i].Values[c], v)
			if pos != "" {
				addCurve(&curves, curveIndex, label, r.Seed, ys)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return bars, curves, nil
}

// ChangeFrom returns bars (as EvaluateVariants gives them: per cell, per variant, one
// value per seed in the same seed order) with every value replaced by its change from
// the same run's value in variant ref: paired differences, e.g. how much the loss moves
// when the same model is evaluated at a longer length. A variant with another number
// of values than ref's cannot be paired and is left empty (a gap in report.BarStats).
func ChangeFrom(bars []report.BarSeries, ref int) []report.BarSeries {
	out := make([]report.BarSeries, len(bars))
	for i, b := range bars {
		out[i] = report.BarSeries{Label: b.Label, Values: make([][]float64, len(b.Values))}
		if ref < 0 || ref >= len(b.Values) {
			continue
		}
		base := b.Values[ref]
		for c, vs := range b.Values {
			if len(vs) != len(base) {
				continue
			}
			d := make([]float64, len(vs))
			for k, v := range vs {
				d[k] = v - base[k]
			}
			out[i].Values[c] = d
		}
	}
	return out
}

// LoadCell loads the finished run of one cell and seed of the sweep in dir, the cell
// named as in the report ("masks.cross=pad", "masks.loss=all, task.max_examples=2000");
// in quick mode, where only the first seed ran, seed 0 takes the first finished seed.
// The error lists the cells there are when cell is not one of them.
func LoadCell(dir, cell string, seed int64) (*experiments.Loaded, error) {
	plan, err := experiments.ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	var cells []string
	for _, r := range plan.Runs {
		if !slices.Contains(cells, r.Cell) {
			cells = append(cells, r.Cell)
		}
		if r.Cell != cell || (seed != 0 && r.Seed != seed) {
			continue
		}
		runDir := experiments.RunDir(dir, r.ID)
		if s, err := experiments.ReadSummary(runDir); err != nil || s.Status != experiments.StatusDone {
			if seed != 0 {
				return nil, fmt.Errorf("sweep %s: the run of %q seed %d (%s) has not finished", dir, cell, seed, r.ID)
			}
			continue
		}
		return experiments.LoadRun(runDir, "")
	}
	if !slices.Contains(cells, cell) {
		return nil, fmt.Errorf("sweep %s has no cell %q; its cells are %q", dir, cell, cells)
	}
	return nil, fmt.Errorf("sweep %s: no finished run of %q with seed %d", dir, cell, seed)
}

// SavePaperFigure writes f as root/figures/name.png and name.pdf (next to the figures
// scripts/reproduce.sh draws) when the notebook runs in full mode, and does nothing in
// quick mode: quick numbers never overwrite a paper figure. It returns the paths written.
func SavePaperFigure(root, name string, f plots.Figure, size plots.Size) ([]string, error) {
	return saveFullMode(root, "figures", "paper figure", name, []string{".png", ".pdf"}, func(p string) error {
		return plots.Save(f, p, size)
	})
}

// SaveResults writes rep's tables as root/results/name.csv and name.md (the layout
// scripts/reproduce.sh writes for every sweep), with further Markdown sections appended
// to name.md (e.g. rep.DiffMarkdown(): the paired differences with their Student-t
// intervals), when the notebook runs in full mode, and does nothing in quick mode:
// quick numbers never overwrite a committed result. It returns the paths written.
func SaveResults(root, name string, rep *report.Report, sections ...[]byte) ([]string, error) {
	return saveFullMode(root, "results", "results", name, []string{".csv", ".md"}, func(p string) error {
		data := rep.CSV()
		if filepath.Ext(p) == ".md" {
			data = rep.Markdown()
			for _, s := range sections {
				data = append(append(data, '\n'), s...)
			}
		}
		return os.WriteFile(p, data, 0o644)
	})
}

// saveFullMode writes root/sub/name+ext with write for each extension, in full mode
// only; what names the kind of file in the error for a name with directories.
func saveFullMode(root, sub, what, name string, exts []string, write func(path string) error) ([]string, error) {
	if QuickMode() {
		return nil, nil
	}
	if name == "" || strings.ContainsAny(name, `/\`) {
		return nil, fmt.Errorf("%s name %q: want a file name without directories or extension", what, name)
	}
	dir := filepath.Join(root, sub)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, ext := range exts {
		p := filepath.Join(dir, name+ext)
		if err := write(p); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// ExportAndReload exports the finished run in runDir as a Hugging Face checkpoint into
// out (what "masklab export" writes: experiments.Loaded.Export) and loads it back the
// way a fine-tuning run does: a run in reloadDir with init_from=out and the run's own
// config, trained one step with a negligible learning rate (1e-30). It returns the files
// of the export and both runs' final validation losses, which an exact export makes
// equal. A reload run already finished is not trained again.
func ExportAndReload(ctx context.Context, runDir, out, reloadDir string) (files []string, runLoss, reloadLoss float64, err error) {
	l, err := experiments.LoadRun(runDir, "")
	if err != nil {
		return nil, 0, 0, err
	}
	if err := l.Export(out, hf.ExportOptions{}); err != nil {
		return nil, 0, 0, err
	}
	es, err := os.ReadDir(out)
	if err != nil {
		return nil, 0, 0, err
	}
	for _, e := range es {
		files = append(files, e.Name())
	}
	s, err := experiments.ReadSummary(runDir)
	if err != nil {
		return nil, 0, 0, err
	}
	cfg := l.Config.Clone()
	if err := cfg.SetAll([]string{"init_from=" + out, "train.steps=1", "optim.lr=1e-30", "optim.min_lr=0", "optim.warmup_steps=0"}); err != nil {
		return nil, 0, 0, err
	}
	if err := cfg.ResolveData("."); err != nil {
		return nil, 0, 0, err
	}
	r, err := experiments.TrainRun(ctx, cfg, reloadDir, experiments.TrainOptions{})
	if err != nil {
		return nil, 0, 0, err
	}
	return files, s.Final["valid_loss"], r.Final["valid_loss"], nil
}
