package notebook

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/masklab/masklab/internal/fsx"
	"github.com/masklab/masklab/pkg/experiments"
	"github.com/masklab/masklab/pkg/report"
	"github.com/masklab/masklab/pkg/version"
)

// doneRuns calls f for every done run of the sweep in dir, in plan order, with its
// summary and its label in figures: its cell, prefixed by its stage ("stage: cell") when
// the sweep has several stages, as the report labels cells (a staged sweep may have the
// same cell in every stage).
func doneRuns(dir string, f func(r *experiments.PlannedRun, runDir string, s *experiments.Summary, label string) error) error {
	plan, err := experiments.ReadManifest(dir)
	if err != nil {
		return err
	}
	n := 0
	for _, r := range plan.Runs {
		runDir := experiments.RunDir(dir, r.ID)
		s, err := experiments.ReadSummary(runDir)
		if err != nil || s.Status != experiments.StatusDone {
			continue
		}
		n++
		label := r.Cell
		if len(plan.Stages) > 1 {
			label = r.Stage + ": " + r.Cell
		}
		if err := f(r, runDir, s, label); err != nil {
			return err
		}
	}
	if n == 0 {
		return fmt.Errorf("sweep %s: no finished run", dir)
	}
	return nil
}

// WallSeconds returns the wall-clock training time of every done run of the sweep in
// dir (summary.json's provenance.wall_seconds, summed over the sessions of a resumed
// run), keyed for report.AddMetric: the cost of each cell. A run copied from another
// sweep (ReuseRuns) keeps the time it took there.
func WallSeconds(dir string) (map[report.RunKey]float64, error) {
	out := map[report.RunKey]float64{}
	err := doneRuns(dir, func(r *experiments.PlannedRun, _ string, s *experiments.Summary, _ string) error {
		if s.Provenance.WallSeconds <= 0 {
			return fmt.Errorf("run %s of %s: summary.json records no wall time", r.ID, dir)
		}
		out[report.RunKey{Stage: r.Stage, Cell: r.Cell, Seed: r.Seed}] = s.Provenance.WallSeconds
		return nil
	})
	return out, err
}

// EvaluateRuns evaluates every done run of the sweep in dir on the valid split with the
// config overrides sets applied at evaluation (experiments.LoadRun), e.g.
// {"task.packing=none"} to score packed runs on one document a row. It returns metric
// per run, keyed for report.AddMetric, and, when byPos names a by-position metric
// ("valid_loss"), its values by target position, one series per cell (in plan order;
// labelled "stage: cell" in a sweep with several stages) with one run per seed (for report.Bands, x = position; NaN positions left out).
//
// Each run's evaluation is kept in its directory (evalCachePrefix + a hash of sets,
// the run's config hash and the masklab commit + ".json"), so that the cells of a notebook, and a notebook run again on finished runs,
// evaluate each run once: a finished run does not change.
func EvaluateRuns(dir string, sets []string, metric, byPos string) (map[report.RunKey]float64, []report.Series, error) {
	values := map[report.RunKey]float64{}
	var curves []report.Series
	index := map[string]int{}
	err := doneRuns(dir, func(r *experiments.PlannedRun, runDir string, _ *experiments.Summary, label string) error {
		v, ys, err := evaluateMetric(r, runDir, sets, metric, byPos)
		if err != nil {
			return err
		}
		values[report.RunKey{Stage: r.Stage, Cell: r.Cell, Seed: r.Seed}] = v
		if byPos != "" {
			addCurve(&curves, index, label, r.Seed, ys)
		}
		return nil
	})
	return values, curves, err
}

// evaluateMetric evaluates run r (in runDir) with the overrides sets, through the kept
// evaluation, and returns metric's value and, when byPos is not "", that metric by position.
func evaluateMetric(r *experiments.PlannedRun, runDir string, sets []string, metric, byPos string) (float64, []float64, error) {
	m, pos, err := evaluateCached(runDir, sets)
	if err != nil {
		return 0, nil, fmt.Errorf("run %s with %q: %w", r.ID, sets, err)
	}
	v, ok := m[metric]
	if !ok {
		return 0, nil, fmt.Errorf("run %s: evaluation has no metric %q", r.ID, metric)
	}
	if byPos == "" {
		return v, nil, nil
	}
	ys, ok := pos[byPos]
	if !ok {
		return 0, nil, fmt.Errorf("run %s: evaluation has no by-position metric %q", r.ID, byPos)
	}
	return v, ys, nil
}

// DocPositionLoss returns the final validation loss by position within the document of
// every done run of the sweep in dir, as its summary.json recorded it during training
// (no evaluation): by_position.valid_loss_doc for packed decoder runs, else
// by_position.valid_loss (one document a row: row position = document position). One
// series per cell in plan order (labelled as EvaluateRuns labels them), one run per
// seed, for report.Bands.
func DocPositionLoss(dir string) ([]report.Series, error) {
	var curves []report.Series
	index := map[string]int{}
	err := doneRuns(dir, func(r *experiments.PlannedRun, _ string, s *experiments.Summary, label string) error {
		ys, ok := s.ByPosition["valid_loss_doc"]
		if !ok {
			ys, ok = s.ByPosition["valid_loss"]
		}
		if !ok {
			return fmt.Errorf("run %s of %s: summary.json has no by_position.valid_loss_doc or valid_loss", r.ID, dir)
		}
		addCurve(&curves, index, label, r.Seed, ys)
		return nil
	})
	return curves, err
}

// addCurve appends one seed's values by position to the series labelled label.
func addCurve(curves *[]report.Series, index map[string]int, label string, seed int64, ys []float64) {
	i, ok := index[label]
	if !ok {
		i = len(*curves)
		index[label] = i
		*curves = append(*curves, report.Series{Label: label})
	}
	run := report.Run{Seed: int(seed)}
	for p, y := range ys {
		if !math.IsNaN(y) {
			run.X = append(run.X, float64(p))
			run.Y = append(run.Y, y)
		}
	}
	(*curves)[i].Runs = append((*curves)[i].Runs, run)
}

// evalCachePrefix starts the name of the files in which EvaluateRuns keeps a run's
// evaluations.
const evalCachePrefix = "eval-"

// evalCache is one evaluation of a finished run, kept in its directory (NaN values by
// position as null), with what it was computed from: the overrides, the run's config
// hash and the masklab commit that evaluated.
type evalCache struct {
	Sets       []string              `json:"sets"`
	ConfigHash string                `json:"config_hash"`
	Commit     string                `json:"commit"`
	Metrics    map[string]float64    `json:"metrics"`
	ByPosition map[string][]*float64 `json:"by_position"`
}

// evaluateCached evaluates the finished run in runDir on the valid split with sets
// applied, or reads the evaluation an earlier call kept. The evaluation is kept under a
// key of the overrides, the run's config hash and the masklab commit (version.Get), so
// that another config in the same directory or another version of the evaluation code
// evaluates again instead of reusing old numbers; uncommitted changes of a "+dirty"
// build are not in the key. An evaluation with a non-finite metric is not kept.
func evaluateCached(runDir string, sets []string) (map[string]float64, map[string][]float64, error) {
	cfg, err := experiments.LoadConfig(filepath.Join(runDir, experiments.ConfigFile))
	if err != nil {
		return nil, nil, err
	}
	key := evalCache{Sets: append([]string{}, sets...), ConfigHash: cfg.Hash(), Commit: version.Get().Commit}
	h := sha256.Sum256([]byte(strings.Join(append([]string{key.ConfigHash, key.Commit}, sets...), "\n")))
	path := filepath.Join(runDir, evalCachePrefix+hex.EncodeToString(h[:6])+".json")
	if data, err := os.ReadFile(path); err == nil {
		var c evalCache
		if json.Unmarshal(data, &c) == nil && slices.Equal(c.Sets, sets) && c.ConfigHash == key.ConfigHash && c.Commit == key.Commit && c.Metrics != nil {
			pos := map[string][]float64{}
			for k, ys := range c.ByPosition {
				pos[k] = make([]float64, len(ys))
				for i, y := range ys {
					pos[k][i] = math.NaN()
					if y != nil {
						pos[k][i] = *y
					}
				}
			}
			return c.Metrics, pos, nil
		}
	}
	l, err := experiments.LoadRun(runDir, "", sets...)
	if err != nil {
		return nil, nil, err
	}
	m, pos, err := l.Evaluate("valid")
	if err != nil {
		return nil, nil, err
	}
	c := key
	c.Metrics, c.ByPosition = m, map[string][]*float64{}
	for _, v := range m {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return m, pos, nil
		}
	}
	for k, ys := range pos {
		c.ByPosition[k] = make([]*float64, len(ys))
		for i := range ys {
			if !math.IsNaN(ys[i]) && !math.IsInf(ys[i], 0) {
				c.ByPosition[k][i] = &ys[i]
			}
		}
	}
	if err := fsx.WriteJSONAtomic(path, c); err != nil {
		return nil, nil, err
	}
	return m, pos, nil
}
