package notebook

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/masklab/masklab/internal/runstore"
	"github.com/masklab/masklab/pkg/experiments"
)

// Quick is how a notebook's quick mode cuts a sweep beyond the first seed and
// QuickOverrides: what keeps a notebook test of a large sweep within a couple of
// minutes. The full mode runs the sweep file as it is.
type Quick struct {
	// Set are further overrides for every run ("train.steps=10").
	Set []string
	// Stages keeps only these stages of a staged sweep, with the stages they start
	// from (nil: every stage).
	Stages []string
	// Values keeps only these values of an axis, written as in the cell names
	// ("masks.loss": {"plw(0)", "plw(1)"}); the other axes keep all theirs.
	Values map[string][]string
}

// SweepOptions says how RunSweepWith runs a sweep.
type SweepOptions struct {
	// Set are overrides for every run in both modes, applied before the quick cuts
	// (see RunSweepSet).
	Set []string
	// Quick is the notebook's quick-mode cut (ignored in full mode).
	Quick Quick
	// Reuse names other sweeps (sweeps/NAME.yaml, run under SweepDir(root, NAME)) whose
	// finished runs are copied into this sweep when they have the same run id, instead
	// of being trained again: e.g. a fine-tuning sweep whose pre-training stage is
	// another sweep's cell with the same keys (ReuseRuns).
	Reuse []string
}

// SweepRun is what RunSweepWith did.
type SweepRun struct {
	Dir    string                  // the sweep directory, SweepDir(root, name)
	Result experiments.SweepResult // what the runner trained, skipped, ...
	Reused []string                // the run ids copied from the sweeps of SweepOptions.Reuse
}

// prepareSweep plans root/sweeps/name.yaml as RunSweepWith runs it (in quick mode: the
// first seed, the cuts of o.Quick, QuickOverrides and o.Quick.Set) and writes its
// manifest and run configs into SweepDir(root, name), training nothing.
func prepareSweep(root, name string, o SweepOptions) (string, *experiments.Plan, error) {
	sf, err := experiments.LoadSweep(filepath.Join(root, "sweeps", name+".yaml"))
	if err != nil {
		return "", nil, err
	}
	overrides := append([]string(nil), o.Set...)
	if QuickMode() {
		if len(sf.Seeds) > 1 {
			sf.Seeds = sf.Seeds[:1]
		}
		if err := o.Quick.cut(sf); err != nil {
			return "", nil, fmt.Errorf("sweep %s: %w", name, err)
		}
		overrides = append(append(overrides, QuickOverrides...), o.Quick.Set...)
	}
	plan, err := experiments.PlanSweep(sf, overrides)
	if err != nil {
		return "", nil, err
	}
	dir := SweepDir(root, name)
	if err := experiments.WriteManifest(plan, dir); err != nil {
		return dir, nil, err
	}
	return dir, plan, nil
}

// RunSweepWith runs root/sweeps/name.yaml into SweepDir(root, name) as "masklab sweep"
// does (finished runs are skipped, unfinished ones resumed), after copying in the
// finished runs of the sweeps in o.Reuse that have the same run ids. In quick mode it
// plans the cut sweep (prepareSweep). It returns an error when a run failed (diverged
// runs are results, not errors).
func RunSweepWith(ctx context.Context, root, name string, o SweepOptions) (SweepRun, error) {
	dir, plan, err := prepareSweep(root, name, o)
	r := SweepRun{Dir: dir}
	if err != nil {
		return r, err
	}
	for _, from := range o.Reuse {
		ids, err := ReuseRuns(dir, SweepDir(root, from), os.Stderr)
		r.Reused = append(r.Reused, ids...)
		if err != nil {
			return r, err
		}
	}
	workers, err := Workers()
	if err != nil {
		return r, err
	}
	r.Result, err = experiments.RunSweep(ctx, plan, dir, experiments.SweepOptions{Workers: workers})
	if err != nil {
		return r, err
	}
	if r.Result.Failed > 0 {
		return r, fmt.Errorf("sweep %s: %d of %d runs failed; see their summary.json under %s", name, r.Result.Failed, len(plan.Runs), dir)
	}
	return r, nil
}

// ReuseRuns copies into the sweep directory dir (its manifest written: RunSweepWith,
// "masklab sweep") every finished run of the sweep directory from whose run id (config
// hash) is a run of dir's plan that has not finished there (runstore.CopyRun: a run
// being trained is left alone, a failed one replaced; the copy records where it came
// from in its runstore.ReusedFile). The two config.yaml files are compared as a sweep
// compares a run directory's config with its plan's (the config hash, which leaves out
// the backend): a run of from whose config differs all the same (edited by hand,
// written by another masklab) is not copied, with a line on warn (nil: none) saying so,
// and is trained as if from lacked it. A from that does not exist yet copies nothing.
// It returns the ids copied, in plan order. "masklab sweep --reuse DIR" does the same.
func ReuseRuns(dir, from string, warn io.Writer) ([]string, error) {
	plan, err := experiments.ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	if filepath.Clean(dir) == filepath.Clean(from) {
		return nil, nil
	}
	var ids []string
	for _, r := range plan.Runs {
		src, dst := experiments.RunDir(from, r.ID), experiments.RunDir(dir, r.ID)
		if s, err := experiments.ReadSummary(src); err != nil || s.Status != experiments.StatusDone {
			continue
		}
		if why := differentRun(src, dst); why != "" {
			if warn != nil {
				fmt.Fprintf(warn, "not reusing run %s of %s: %s; it is trained instead\n", r.ID, from, why)
			}
			continue
		}
		copied, err := runstore.CopyRun(src, dst)
		if err != nil {
			return ids, fmt.Errorf("reusing run %s of %s in %s: %w", r.ID, from, dir, err)
		}
		if copied {
			ids = append(ids, r.ID)
		}
	}
	return ids, nil
}

// differentRun says why the run directories src and dst do not hold the same run
// ("" when they do): their config.yaml files parse to configs with different hashes,
// or one does not parse. Like the check of a sweep's run directories, the backend
// (not part of the hash) may differ.
func differentRun(src, dst string) string {
	hash := func(dir string) (string, error) {
		path := filepath.Join(dir, experiments.ConfigFile)
		data, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		c, err := experiments.ParseConfig(data, path)
		if err != nil {
			return "", err
		}
		return c.Hash(), nil
	}
	a, err := hash(src)
	if err != nil {
		return err.Error()
	}
	b, err := hash(dst)
	if err != nil {
		return err.Error()
	}
	if a != b {
		return fmt.Sprintf("its %s has config hash %s, this sweep's run %s", experiments.ConfigFile, a[:12], b[:12])
	}
	return ""
}

// cut applies the stage and value cuts to a sweep file.
func (q Quick) cut(sf *experiments.SweepFile) error {
	if q.Stages != nil {
		keep := map[string]bool{}
		byName := map[string]experiments.StageFile{}
		for _, s := range sf.Stages {
			byName[s.Name] = s
		}
		for _, name := range q.Stages {
			for name != "" && !keep[name] {
				s, ok := byName[name]
				if !ok {
					return fmt.Errorf("quick mode keeps stage %q, which the sweep does not have (its stages: %s)", name, stageNames(sf.Stages))
				}
				keep[name] = true
				name = s.From
			}
		}
		sf.Stages = slices.DeleteFunc(sf.Stages, func(s experiments.StageFile) bool { return !keep[s.Name] })
	}
	for key, values := range q.Values {
		found := map[string]bool{}
		cutAxes := func(axes experiments.Axes) {
			for i := range axes {
				if axes[i].Key != key {
					continue
				}
				axes[i].Values = slices.DeleteFunc(axes[i].Values, func(v any) bool {
					s := fmt.Sprint(v)
					if slices.Contains(values, s) {
						found[s] = true
						return false
					}
					return true
				})
			}
		}
		cutAxes(sf.Axes)
		for i := range sf.Stages {
			cutAxes(sf.Stages[i].Axes)
		}
		for _, v := range values {
			if !found[v] {
				return fmt.Errorf("quick mode keeps %s=%s, which no axis of the sweep has", key, v)
			}
		}
	}
	return nil
}

func stageNames(stages []experiments.StageFile) string {
	var names []string
	for _, s := range stages {
		names = append(names, s.Name)
	}
	return fmt.Sprint(names)
}
