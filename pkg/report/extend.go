package report

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/masklab/masklab/pkg/plots"
)

// RunKey names one run of a report: its stage ("main" in a sweep without stages), its
// cell as in Cell.Cell, and its seed.
type RunKey struct {
	Stage, Cell string
	Seed        int64
}

// AddMetric adds metric to the report from values measured outside the runs' final
// evaluation, one per done run: an evaluation of the finished model under other settings
// (an unpacked validation set), the run's wall-clock time from its provenance. It enters
// the tables like the sweep's metrics: per cell the mean, std and bootstrap CI over the
// seeds that have a value, and the paired difference with the baseline cell seed by
// seed. It has no best value (Cell.Best N = 0). A key that is not a done run of the
// report is an error, as is a metric the report has already; every key is checked
// before anything is written, so a report AddMetric refused is unchanged.
func (r *Report) AddMetric(metric string, values map[RunKey]float64) error {
	if slices.Contains(r.Metrics, metric) {
		return fmt.Errorf("report %s has metric %q already", r.Name, metric)
	}
	for k := range values {
		finals, ok := r.finals[cellKey(k.Stage, k.Cell)]
		if !ok {
			return fmt.Errorf("report %s has no cell %q in stage %q", r.Name, k.Cell, k.Stage)
		}
		if _, ok := finals[k.Seed]; !ok {
			return fmt.Errorf("report %s: cell %q of stage %q has no done run with seed %d", r.Name, k.Cell, k.Stage, k.Seed)
		}
	}
	for k, v := range values {
		r.finals[cellKey(k.Stage, k.Cell)][k.Seed]["final_"+metric] = v
	}
	r.Metrics = append(r.Metrics, metric)
	for _, c := range r.Cells {
		var xs []float64
		for _, seed := range c.Seeds {
			if v, ok := r.finals[cellKey(c.Stage, c.Cell)][seed]["final_"+metric]; ok {
				xs = append(xs, v)
			}
		}
		c.Final[metric] = Summarize(xs, reportSeed(c.Stage, c.Cell, "final", metric))
		c.Best[metric] = Summarize(nil, 0)
	}
	r.computeDiffs([]string{metric})
	return nil
}

// WithBaseline returns a copy of the report whose paired differences (Cell.Diff, the Δ
// of the tables) are taken against another cell, in every stage that has it: e.g. a
// fine-tuning sweep compared with its all-tokens cell as well as with its sweep
// baseline. The copy is independent of r: a metric added to one (AddMetric) is not
// added to the other.
func (r *Report) WithBaseline(cell string) (*Report, error) {
	var cells []string
	for _, c := range r.Cells {
		if c.Cell == cell {
			out := r.clone()
			out.Baseline = cell
			for _, c := range out.Cells {
				c.Diff = nil
			}
			out.computeDiffs(out.Metrics)
			return out, nil
		}
		cells = append(cells, c.Cell)
	}
	return nil, fmt.Errorf("report %s has no cell %q; its cells are %q", r.Name, cell, cells)
}

// clone copies the report deeply enough that AddMetric and computeDiffs on the copy
// leave r alone: its metrics, cells and the runs' final values. The curves, which
// nothing changes after Build, are shared.
func (r *Report) clone() *Report {
	out := *r
	out.Metrics = slices.Clone(r.Metrics)
	out.Cells = make([]*Cell, len(r.Cells))
	for i, c := range r.Cells {
		cp := *c
		cp.Values, cp.States = maps.Clone(c.Values), maps.Clone(c.States)
		cp.Seeds = slices.Clone(c.Seeds)
		cp.Final, cp.Best, cp.Diff = maps.Clone(c.Final), maps.Clone(c.Best), maps.Clone(c.Diff)
		out.Cells[i] = &cp
	}
	out.finals = make(map[string]map[int64]map[string]float64, len(r.finals))
	for key, bySeed := range r.finals {
		m := make(map[int64]map[string]float64, len(bySeed))
		for seed, vals := range bySeed {
			m[seed] = maps.Clone(vals)
		}
		out.finals[key] = m
	}
	return &out
}

// computeDiffs sets Cell.Diff of metrics for every cell but the baseline of its stage:
// the paired differences of pairFinals.
func (r *Report) computeDiffs(metrics []string) {
	if r.Baseline == "" {
		return
	}
	byKey := map[string]*Cell{}
	for _, c := range r.Cells {
		byKey[cellKey(c.Stage, c.Cell)] = c
	}
	for _, c := range r.Cells {
		base := byKey[cellKey(c.Stage, r.Baseline)]
		if base == nil || base == c {
			continue
		}
		if c.Diff == nil {
			c.Diff = map[string]Stat{}
		}
		for _, m := range metrics {
			ds := pairedDiffs(c.Seeds, r.cellFinals(c, m), r.cellFinals(base, m))
			c.Diff[m] = Summarize(ds, reportSeed(c.Stage, c.Cell, "diff", m))
		}
	}
}

// DiffMarkdown returns the paired differences with the baseline as a Markdown table,
// one row per cell but the baseline and metric: the number of seed pairs, the mean Δ,
// and two 95% intervals of it: the seeded percentile bootstrap of the report's tables
// (Cell.Diff) and the paired Student-t interval (MeanInterval with CI95 over the
// per-seed differences). With few seeds the bootstrap interval is too narrow (it
// covers about 85% at 5 seeds, not 95%): read a claim off the Student-t one. A report
// without a baseline has no such table (nil).
func (r *Report) DiffMarkdown() []byte {
	if r.Baseline == "" {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "## Paired differences with the baseline `%s`\n\n", r.Baseline)
	b.WriteString("Δ = cell minus baseline, seed by seed (the same seed in both), mean over the seed pairs, with two 95% intervals of the mean: " +
		"the seeded percentile bootstrap of the table above, and the paired Student-t interval (mean ± t(0.975, n-1)·s/√n), " +
		"the one to read a claim from at a handful of seeds (a percentile bootstrap of 5 values covers about 85%, not 95%).\n\n")
	b.WriteString("| stage | cell | metric | pairs | Δ | bootstrap 95% CI | Student-t 95% CI |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	byKey := map[string]*Cell{}
	for _, c := range r.Cells {
		byKey[cellKey(c.Stage, c.Cell)] = c
	}
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	for _, c := range r.Cells {
		base := byKey[cellKey(c.Stage, r.Baseline)]
		if base == nil || base == c {
			continue
		}
		for _, m := range r.Metrics {
			d, ok := c.Diff[m]
			if !ok || d.N == 0 {
				continue
			}
			_, lo, hi, _ := MeanInterval(pairedDiffs(c.Seeds, r.cellFinals(c, m), r.cellFinals(base, m)), CI95)
			t := "–"
			if d.N > 1 {
				t = fmt.Sprintf("[%+.3g, %+.3g]", lo, hi)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %d | %+.3g | [%+.3g, %+.3g] | %s |\n", esc(c.Stage), esc(c.Cell), m, d.N, d.Mean, d.CILow, d.CIHigh, t)
		}
	}
	return []byte(b.String())
}

// Stages returns the report's stages in plan order ("main" for a sweep without stages).
func (r *Report) Stages() []string {
	var out []string
	for _, c := range r.Cells {
		if !slices.Contains(out, c.Stage) {
			out = append(out, c.Stage)
		}
	}
	return out
}

// StagesWith returns the stages, in plan order, with a done run that has a final value
// of metric: e.g. the fine-tuning stages of a staged sweep ("valid_completion_loss"),
// not its pre-training stage.
func (r *Report) StagesWith(metric string) []string {
	return slices.DeleteFunc(r.Stages(), func(s string) bool { return !r.stageHas(s, metric) })
}

// StageCells returns the cells of a stage in plan order.
func (r *Report) StageCells(stage string) []string {
	var out []string
	for _, c := range r.Cells {
		if c.Stage == stage {
			out = append(out, c.Cell)
		}
	}
	return out
}

// DiffBars returns what plots.Bars draws for the paired differences of metric with the
// report's baseline: one series per stage, one category per cell (cells[c]), each bar
// the mean difference over seeds with its bootstrap 95% CI (Cell.Diff, the interval of
// the tables, not a Student-t one), N the number of seed pairs. The baseline itself is
// a bar at 0 without an interval; a cell a stage lacks is a gap (N = 0).
func (r *Report) DiffBars(metric string, stages, cells []string) ([]plots.BarSeries, error) {
	if r.Baseline == "" {
		return nil, fmt.Errorf("report %s has no baseline to take differences from", r.Name)
	}
	if !slices.Contains(r.Metrics, metric) {
		return nil, fmt.Errorf("report %s has no metric %q; its metrics are %q", r.Name, metric, r.Metrics)
	}
	out := make([]plots.BarSeries, len(stages))
	for s, stage := range stages {
		out[s] = plots.BarSeries{Label: stage, Stats: make([]plots.BarStat, len(cells))}
		for i, cell := range cells {
			for _, c := range r.Cells {
				if c.Stage != stage || c.Cell != cell {
					continue
				}
				if cell == r.Baseline {
					out[s].Stats[i] = plots.BarStat{N: c.Final[metric].N}
				} else if d, ok := c.Diff[metric]; ok && d.N > 0 {
					out[s].Stats[i] = plots.BarStat{Mean: d.Mean, Lo: d.CILow, Hi: d.CIHigh, N: d.N}
				}
			}
		}
	}
	return out, nil
}

// PairedSeries returns, for each series, its runs minus the run of the same seed in
// ref at the same x (the x both logged), e.g. the loss by position of a packed model
// minus the unpacked model's of the same seed: per-seed differences, for Bands. A seed
// that ref lacks is left out.
func PairedSeries(series []Series, ref Series) []Series {
	refBySeed := map[int]map[float64]float64{}
	for _, run := range ref.Runs {
		m := map[float64]float64{}
		for i, x := range run.X {
			m[x] = run.Y[i]
		}
		refBySeed[run.Seed] = m
	}
	out := make([]Series, len(series))
	for i, s := range series {
		out[i].Label = s.Label
		for _, run := range s.Runs {
			base, ok := refBySeed[run.Seed]
			if !ok {
				continue
			}
			d := Run{Seed: run.Seed}
			for j, x := range run.X {
				if b, ok := base[x]; ok {
					d.X = append(d.X, x)
					d.Y = append(d.Y, run.Y[j]-b)
				}
			}
			out[i].Runs = append(out[i].Runs, d)
		}
	}
	return out
}

// BinnedBars averages each run of each series over x ranges, for a bar figure of a
// by-position curve too noisy to read point by point (the loss at each character of a
// poem, or its paired difference from PairedSeries). Bin b is [edges[b], edges[b+1]);
// a run's value there is the plain mean of its finite y at the x in the bin (each x
// counts once, however many tokens the point averaged), and Values[b] holds one value
// per run that logged an x there (a run without one is left out of that bin). The
// labels name the bins: "4-7" when the edges are integers (positions 4 to 7), else
// "[a, b)". Give the bars to BarStats for means and intervals.
func BinnedBars(series []Series, edges []float64) (labels []string, bars []BarSeries, err error) {
	if len(edges) < 2 {
		return nil, nil, fmt.Errorf("bins need at least 2 edges, got %v", edges)
	}
	integral := true
	for i, e := range edges {
		if math.IsNaN(e) || math.IsInf(e, 0) || (i > 0 && e <= edges[i-1]) {
			return nil, nil, fmt.Errorf("bin edges must be finite and increasing, got %v", edges)
		}
		integral = integral && e == math.Trunc(e)
	}
	for b := range len(edges) - 1 {
		lo, hi := edges[b], edges[b+1]
		switch {
		case integral && hi-lo == 1:
			labels = append(labels, fmt.Sprintf("%g", lo))
		case integral:
			labels = append(labels, fmt.Sprintf("%g-%g", lo, hi-1))
		default:
			labels = append(labels, fmt.Sprintf("[%g, %g)", lo, hi))
		}
	}
	for _, s := range series {
		bs := BarSeries{Label: s.Label, Values: make([][]float64, len(edges)-1)}
		for _, run := range s.Runs {
			if len(run.X) != len(run.Y) {
				return nil, nil, fmt.Errorf("series %q, seed %d: %d x values but %d y values", s.Label, run.Seed, len(run.X), len(run.Y))
			}
			sum := make([]float64, len(edges)-1)
			n := make([]int, len(edges)-1)
			for i, x := range run.X {
				b := sort.Search(len(edges), func(i int) bool { return edges[i] > x }) - 1
				if b < 0 || b >= len(edges)-1 || math.IsNaN(run.Y[i]) || math.IsInf(run.Y[i], 0) {
					continue
				}
				sum[b] += run.Y[i]
				n[b]++
			}
			for b := range sum {
				if n[b] > 0 {
					bs.Values[b] = append(bs.Values[b], sum[b]/float64(n[b]))
				}
			}
		}
		bars = append(bars, bs)
	}
	return labels, bars, nil
}

// SpansOrders reports whether the curves' means span at least a factor of ten (the
// largest positive mean over the smallest): the figures of masklab draw such losses on
// a log scale (plots.CurveOptions.LogY), where a linear axis would flatten all but the
// first positions or steps.
func SpansOrders(curves []plots.Curve) bool {
	lo, hi := math.Inf(1), 0.0
	for _, c := range curves {
		for _, m := range c.Band.Mean {
			if m > 0 && !math.IsInf(m, 0) {
				lo, hi = min(lo, m), max(hi, m)
			}
		}
	}
	return hi > 0 && hi >= 10*lo
}

// StageBars returns the final values of metric for each stage (a series, labelled by
// the stage) and cell (a category, cells[c]), one value per done seed in seed order
// (FinalValues): for BarStats and plots.Bars, e.g. a fine-tuning sweep's loss weights as
// categories and its tasks and data sizes as series. A cell a stage lacks is empty (a
// gap).
func (r *Report) StageBars(metric string, stages, cells []string) ([]BarSeries, error) {
	if !slices.Contains(r.Metrics, metric) {
		return nil, fmt.Errorf("report %s has no metric %q; its metrics are %q", r.Name, metric, r.Metrics)
	}
	out := make([]BarSeries, len(stages))
	for s, stage := range stages {
		out[s] = BarSeries{Label: stage, Values: make([][]float64, len(cells))}
		for i, cell := range cells {
			if slices.Contains(r.StageCells(stage), cell) {
				vs, err := r.FinalValues(stage, cell, metric)
				if err != nil {
					return nil, err
				}
				out[s].Values[i] = vs
			}
		}
	}
	return out, nil
}

// SeedsCaption says how many seeds a figure's bars summarize and what their intervals
// are, for a title: SeedsCaption(bars, "95% CI") is "5 seeds, 95% CI", "1 seed, 95% CI",
// or "1-5 seeds, 95% CI" when the bars' N differ.
func SeedsCaption(bars []plots.BarSeries, interval string) string {
	return seedsPhrase(bars) + ", " + interval
}

// CurveSeedsCaption is SeedsCaption for curves: the seed counts of their bands (N at
// each x).
func CurveSeedsCaption(curves []plots.Curve, interval string) string {
	lo, hi := -1, 0
	for _, c := range curves {
		for _, n := range c.Band.N {
			if n > 0 && (lo < 0 || n < lo) {
				lo = n
			}
			hi = max(hi, n)
		}
	}
	return seedRange(lo, hi) + ", " + interval
}
