package report

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"gonum.org/v1/plot"

	"github.com/masklab/masklab/internal/fsx"
	"github.com/masklab/masklab/pkg/experiments"
	"github.com/masklab/masklab/pkg/plots"
)

// Cell is one cell of a sweep (one stage's axis values) over its seeds.
type Cell struct {
	Stage, Cell string
	Values      map[string]string // axis key -> value
	Seeds       []int64
	States      map[string]int  // done / diverged / failed / running / pending counts
	Final, Best map[string]Stat // per metric, over the done seeds
	// Diff holds the paired difference (this cell minus the baseline cell of the same
	// stage, seed by seed) of each final metric; nil for the baseline itself.
	Diff map[string]Stat
}

// Report is a sweep's results: per-cell statistics and the data of its figures.
type Report struct {
	Name     string
	Baseline string
	Metrics  []string
	Cells    []*Cell
	curves   map[string][]Run // cell key -> runs of the curve metric
	// stageCurve is the metric drawn as curves per stage: the report's curve metric,
	// or valid_loss for a stage that does not log it.
	stageCurve map[string]string
	finals     map[string]map[int64]map[string]float64
	spec       experiments.ReportSpec
}

func cellKey(stage, cell string) string { return stage + "\x00" + cell }

// reportSeed makes the bootstrap of one (cell, metric) reproducible.
func reportSeed(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// Build reads a sweep directory and computes per-cell statistics. Only done runs enter
// the statistics; the state counts say how many seeds are missing.
func Build(dir string) (*Report, error) {
	p, err := experiments.ReadManifest(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%s is not a sweep directory (no %s; masklab sweep writes one)", dir, experiments.ManifestFile)
		}
		return nil, err
	}
	states, err := experiments.States(dir)
	if err != nil {
		return nil, err
	}
	rep := &Report{Name: p.Name, Baseline: p.Baseline, spec: p.Report,
		curves: map[string][]Run{}, stageCurve: map[string]string{}, finals: map[string]map[int64]map[string]float64{}}
	curve := p.Report.Curve
	if curve == "" {
		curve = "valid_loss"
	}
	byKey := map[string]*Cell{}
	metricSet := map[string]bool{}
	for _, st := range states {
		r := st.Run
		key := cellKey(r.Stage, r.Cell)
		c := byKey[key]
		if c == nil {
			c = &Cell{Stage: r.Stage, Cell: r.Cell, Values: r.Values, States: map[string]int{}, Final: map[string]Stat{}, Best: map[string]Stat{}}
			byKey[key] = c
			rep.Cells = append(rep.Cells, c)
			rep.finals[key] = map[int64]map[string]float64{}
		}
		runDir := st.Dir
		c.States[st.State]++
		if st.State != experiments.StatusDone {
			continue
		}
		s, err := experiments.ReadSummary(runDir)
		if err != nil {
			return nil, err
		}
		c.Seeds = append(c.Seeds, r.Seed)
		vals := map[string]float64{}
		for k, v := range s.Final {
			vals["final_"+k] = v
			metricSet[k] = true
		}
		for k, v := range s.Best {
			vals["best_"+k] = v
		}
		rep.finals[key][r.Seed] = vals
		lines, err := experiments.ReadMetrics(filepath.Join(runDir, experiments.MetricsFile))
		if err != nil {
			return nil, err
		}
		// A stage that does not log the sweep's curve metric (a pre-training stage of an
		// SFT sweep has no completion loss) is drawn with valid_loss instead.
		m := rep.stageCurve[r.Stage]
		if m == "" {
			m = curve
			if !slices.ContainsFunc(lines, func(l experiments.Metrics) bool { _, ok := l[curve]; return ok }) {
				m = "valid_loss"
			}
			rep.stageCurve[r.Stage] = m
		}
		run := Run{Seed: int(r.Seed)}
		for _, l := range lines {
			if v, ok := l[m]; ok {
				run.X = append(run.X, float64(l.Step()))
				run.Y = append(run.Y, v)
			}
		}
		rep.curves[key] = append(rep.curves[key], run)
	}
	rep.Metrics = p.Report.Metrics
	if len(rep.Metrics) == 0 {
		rep.Metrics = slices.Sorted(maps.Keys(metricSet))
	}
	for _, c := range rep.Cells {
		key := cellKey(c.Stage, c.Cell)
		for _, m := range rep.Metrics {
			for _, kind := range []string{"final", "best"} {
				var xs []float64
				for _, seed := range c.Seeds {
					if v, ok := rep.finals[key][seed][kind+"_"+m]; ok {
						xs = append(xs, v)
					}
				}
				st := Summarize(xs, reportSeed(c.Stage, c.Cell, kind, m))
				if kind == "final" {
					c.Final[m] = st
				} else {
					c.Best[m] = st
				}
			}
		}
	}
	rep.computeDiffs(rep.Metrics)
	return rep, nil
}

func fmtNum(x float64) string {
	if math.IsNaN(x) {
		return "NaN"
	}
	return fmt.Sprintf("%.4g", x)
}

// CSV returns one row per cell and metric: final and best mean, std, CI, and the
// paired difference with the baseline.
func (r *Report) CSV() []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"stage", "cell", "metric", "n", "done", "diverged", "failed", "final_mean", "final_std", "final_ci_low", "final_ci_high",
		"best_mean", "best_std", "best_ci_low", "best_ci_high", "diff_vs_baseline_mean", "diff_ci_low", "diff_ci_high"})
	for _, c := range r.Cells {
		for _, m := range r.Metrics {
			f, b := c.Final[m], c.Best[m]
			row := []string{c.Stage, c.Cell, m, fmt.Sprint(f.N), fmt.Sprint(c.States[experiments.StatusDone]), fmt.Sprint(c.States[experiments.StatusDiverged]), fmt.Sprint(c.States[experiments.StatusFailed]),
				fmtNum(f.Mean), fmtNum(f.Std), fmtNum(f.CILow), fmtNum(f.CIHigh), fmtNum(b.Mean), fmtNum(b.Std), fmtNum(b.CILow), fmtNum(b.CIHigh)}
			if d, ok := c.Diff[m]; ok {
				row = append(row, fmtNum(d.Mean), fmtNum(d.CILow), fmtNum(d.CIHigh))
			} else {
				row = append(row, "", "", "")
			}
			w.Write(row)
		}
	}
	w.Flush()
	return buf.Bytes()
}

func (r *Report) tableRows(cell func(c *Cell, m string) string) (header []string, rows [][]string) {
	header = []string{"stage", "cell", "seeds"}
	header = append(header, r.Metrics...)
	for _, c := range r.Cells {
		seeds := fmt.Sprint(len(c.Seeds))
		if n := c.States[experiments.StatusDiverged]; n > 0 {
			seeds += fmt.Sprintf(" (+%d diverged)", n)
		}
		row := []string{c.Stage, c.Cell, seeds}
		for _, m := range r.Metrics {
			row = append(row, cell(c, m))
		}
		rows = append(rows, row)
	}
	return
}

func statCell(c *Cell, m string) string {
	s := c.Final[m]
	if s.N == 0 {
		return "–"
	}
	out := fmt.Sprintf("%s ± %s [%s, %s]", fmtNum(s.Mean), fmtNum(s.Std), fmtNum(s.CILow), fmtNum(s.CIHigh))
	if d, ok := c.Diff[m]; ok && d.N > 0 {
		out += fmt.Sprintf(" Δ %+.3g [%+.3g, %+.3g]", d.Mean, d.CILow, d.CIHigh)
	}
	return out
}

// Markdown returns the table of final metrics: mean ± std [bootstrap 95% CI], and
// Δ the paired difference with the baseline [its CI].
func (r *Report) Markdown() []byte {
	header, rows := r.tableRows(statCell)
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\nFinal metrics over seeds: mean ± std [seeded percentile-bootstrap 95%% CI of the mean]", r.Name)
	if r.Baseline != "" {
		fmt.Fprintf(&b, "; Δ = paired difference with the baseline `%s` [bootstrap 95%% CI]", r.Baseline)
	}
	b.WriteString(". Figures name their interval in their titles: the report's curves and bars draw Student-t 95% intervals of the mean, bars of Δ (DiffBars) the bootstrap intervals of this table.\n\n| " + strings.Join(header, " | ") + " |\n|" + strings.Repeat(" --- |", len(header)) + "\n")
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = strings.ReplaceAll(c, "|", `\|`) // a spec's "|" would end the cell
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	for _, w := range r.Warnings() {
		b.WriteString("\n**Warning:** " + w + "\n")
	}
	return []byte(b.String())
}

func texEscape(s string) string {
	r := strings.NewReplacer(`\`, `\textbackslash{}`, "&", `\&`, "%", `\%`, "_", `\_`, "#", `\#`, "$", `\$`, "{", `\{`, "}", `\}`, "~", `\~{}`, "^", `\^{}`, "|", `\textbar{}`, "Δ", `$\Delta$`, "±", `$\pm$`, "–", "--")
	return r.Replace(s)
}

// LaTeX returns the same table as Markdown, as a booktabs tabular.
func (r *Report) LaTeX() []byte {
	header, rows := r.tableRows(statCell)
	var b strings.Builder
	b.WriteString("% " + r.Name + ": final metrics, mean ± std [seeded percentile-bootstrap 95% CI of the mean]; needs \\usepackage{booktabs}\n")
	b.WriteString("\\begin{tabular}{" + strings.Repeat("l", len(header)) + "}\n\\toprule\n")
	esc := func(xs []string) string {
		out := make([]string, len(xs))
		for i, x := range xs {
			out[i] = texEscape(x)
		}
		return strings.Join(out, " & ")
	}
	b.WriteString(esc(header) + " \\\\\n\\midrule\n")
	for _, row := range rows {
		b.WriteString(esc(row) + " \\\\\n")
	}
	b.WriteString("\\bottomrule\n\\end{tabular}\n")
	return []byte(b.String())
}

// stageFinals returns, sorted, the metrics that some done run of the stage has a final
// value of.
func (r *Report) stageFinals(stage string) []string {
	var have []string
	for _, c := range r.Cells {
		if c.Stage != stage {
			continue
		}
		for _, vals := range r.finals[cellKey(c.Stage, c.Cell)] {
			for k := range vals {
				if m, ok := strings.CutPrefix(k, "final_"); ok && !slices.Contains(have, m) {
					have = append(have, m)
				}
			}
		}
	}
	slices.Sort(have)
	return have
}

// stageHas reports whether a done run of the stage has a final value of metric.
func (r *Report) stageHas(stage, metric string) bool {
	return slices.Contains(r.stageFinals(stage), metric)
}

// label of a cell in figures: the cell, prefixed by its stage when there are several.
func (r *Report) label(c *Cell) string {
	stages := map[string]bool{}
	for _, x := range r.Cells {
		stages[x.Stage] = true
	}
	l := c.Cell
	if len(r.Cells) > 0 && len(stages) > 1 {
		l = c.Stage + ": " + l
	}
	return l
}

// axisName is the single axis key shared by the cells of a stage (else the stage name).
func (r *Report) axisName(stage string) string {
	keys := map[string]bool{}
	for _, c := range r.Cells {
		if c.Stage != stage {
			continue
		}
		for k := range c.Values {
			keys[k] = true
		}
	}
	if len(keys) == 0 {
		return stage
	}
	// Several axes: name them all (a stage name here read as "valid_loss by main").
	return strings.Join(slices.Sorted(maps.Keys(keys)), " × ")
}

// shortLabel is a cell's legend label: its value alone when the sweep has one axis (the
// axis is named in the caption), else the full "key=value, ..." label.
func (r *Report) shortLabel(c *Cell) string {
	if len(c.Values) == 1 {
		for _, v := range c.Values {
			return v
		}
	}
	return c.Cell
}

// Write builds the report of a sweep directory and writes report.csv, report.md,
// report.tex and the figures (curves and bars, PNG, SVG and PDF) into out. It returns
// the paths written.
func Write(dir, out string) ([]string, error) {
	rep, err := Build(dir)
	if err != nil {
		return nil, err
	}
	done, total := 0, 0
	for _, c := range rep.Cells {
		done += c.States[experiments.StatusDone]
		for _, n := range c.States {
			total += n
		}
	}
	if done == 0 {
		return nil, fmt.Errorf("%s: no finished run to report yet (0 of %d done; see masklab status %s)", dir, total, dir)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	var written []string
	for name, data := range map[string][]byte{"report.csv": rep.CSV(), "report.md": rep.Markdown(), "report.tex": rep.LaTeX()} {
		p := filepath.Join(out, name)
		if err := fsx.WriteFileAtomic(p, data); err != nil {
			return nil, err
		}
		written = append(written, p)
	}
	figs, err := rep.Figures()
	if err != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(figs)) {
		for _, ext := range []string{"png", "svg", "pdf"} {
			p := filepath.Join(out, name+"."+ext)
			if err := plots.Save(figs[name], p, plots.DoubleColumn.WithHeight(plots.DoubleColumn.Height*1.2)); err != nil {
				return nil, err
			}
			written = append(written, p)
		}
	}
	sort.Strings(written)
	return written, nil
}

// Figures returns the report's figures: "curves" (the curve metric against step, one
// line per cell with a 95% CI band across seeds) and "bars" (the bar metric's final
// value per cell with 95% CI error bars), per stage when there are several. The
// figures' intervals are Student-t intervals (CI95: mean ± t·s/√n), not the tables'
// bootstrap intervals (Summarize); their titles say so.
func (r *Report) Figures() (map[string]plots.Figure, error) {
	curve := r.spec.Curve
	if curve == "" {
		curve = "valid_loss"
	}
	bar := r.spec.Bar
	if bar == "" {
		bar = "valid_acc"
	}
	figs := map[string]plots.Figure{}
	stages := []string{}
	seen := map[string]bool{}
	for _, c := range r.Cells {
		if !seen[c.Stage] {
			seen[c.Stage] = true
			stages = append(stages, c.Stage)
		}
	}
	for _, st := range stages {
		suffix := ""
		if len(stages) > 1 {
			suffix = "_" + st
		}
		var series []Series
		var bars []BarSeries
		curve := curve
		if m := r.stageCurve[st]; m != "" {
			curve = m
		}
		// The bar metric, or the first fallback the stage's runs have (a pre-training
		// stage without greedy decoding has no valid_exact).
		bar := bar
		for _, m := range []string{bar, "valid_acc", "valid_loss"} {
			if r.stageHas(st, m) {
				bar = m
				break
			}
		}
		for _, c := range r.Cells {
			if c.Stage != st {
				continue
			}
			key := cellKey(c.Stage, c.Cell)
			if runs := r.curves[key]; len(runs) > 0 && len(runs[0].X) > 0 {
				series = append(series, Series{Label: withN(r.shortLabel(c), len(runs)), Runs: runs})
			}
			var vals []float64
			for _, seed := range c.Seeds {
				if v, ok := r.finals[key][seed]["final_"+bar]; ok {
					vals = append(vals, v)
				}
			}
			if len(vals) > 0 {
				bars = append(bars, BarSeries{Label: withN(r.shortLabel(c), len(vals)), Values: [][]float64{vals}})
			}
		}
		if len(series) > 0 {
			by := " by " + r.axisName(st)
			name := r.Name
			if r.axisName(st) == st { // a stage without axes: one cell
				by, name = "", fmt.Sprintf("%s (stage %s)", r.Name, st)
			}
			title := fmt.Sprintf("%s: %s%s (mean, Student-t 95%% CI over seeds)", name, curve, by)
			curves, err := Bands(series, CI95, 0)
			if err != nil {
				return nil, fmt.Errorf("loss curves %q: %w", title, err)
			}
			ClipCurves(curve, curves)
			p, err := plots.LossCurves(curves, plots.CurveOptions{Title: title, YLabel: curve, LogY: r.spec.LogY})
			if err != nil {
				return nil, err
			}
			figs["curves"+suffix] = p
		}
		if len(bars) > 0 {
			stats := BarStats(bars, CI95)
			ClipBars([]string{bar}, stats)
			p, err := plots.Bars([]string{r.axisName(st)}, stats, plots.BarOptions{Title: fmt.Sprintf("%s: final %s (mean, Student-t 95%% CI over seeds)", r.Name, bar), YLabel: bar})
			if err != nil {
				return nil, err
			}
			figs["bars"+suffix] = p
		}
	}
	return figs, nil
}

// MetricBars draws the final value of several metrics side by side for the cells of one
// stage ("" = the first): one group per metric, one bar per cell (mean over seeds with a
// Student-t 95% CI), e.g. teacher-forced valid_acc next to free-running valid_exact.
// A metric no run of the stage has is an error naming the metrics there are.
func (r *Report) MetricBars(stage string, metrics ...string) (*plot.Plot, error) {
	if len(metrics) == 0 {
		return nil, fmt.Errorf("report %s: MetricBars needs at least one metric", r.Name)
	}
	if stage == "" && len(r.Cells) > 0 {
		stage = r.Cells[0].Stage
	}
	for _, m := range metrics {
		if have := r.stageFinals(stage); !slices.Contains(have, m) {
			return nil, fmt.Errorf("report %s, stage %q: no run has the final metric %q (there are %v)", r.Name, stage, m, have)
		}
	}
	var bars []BarSeries
	for _, c := range r.Cells {
		if c.Stage != stage || len(c.Seeds) == 0 {
			continue
		}
		s := BarSeries{Label: withN(r.shortLabel(c), len(c.Seeds)), Values: make([][]float64, len(metrics))}
		for i, m := range metrics {
			for _, seed := range c.Seeds {
				if v, ok := r.finals[cellKey(c.Stage, c.Cell)][seed]["final_"+m]; ok {
					s.Values[i] = append(s.Values[i], v)
				}
			}
		}
		bars = append(bars, s)
	}
	stats := BarStats(bars, CI95)
	ClipBars(metrics, stats)
	return plots.Bars(metrics, stats, plots.BarOptions{
		Title: fmt.Sprintf("%s: final %s by %s (mean, Student-t 95%% CI over seeds)", r.Name, strings.Join(metrics, " and "), r.axisName(stage))})
}

// GroupedBars draws the final value of metric for the cells of one stage ("" = the
// first) with one group per value of the axis groupBy (e.g. task.max_examples) and,
// within a group, one bar per value of the other axes (e.g. masks.loss), so that an
// interaction between two axes reads off one figure. Bars are the mean over seeds with a
// Student-t 95% CI.
func (r *Report) GroupedBars(stage, metric, groupBy string) (*plot.Plot, error) {
	if stage == "" && len(r.Cells) > 0 {
		stage = r.Cells[0].Stage
	}
	cats, bars, err := r.groupedSeries(stage, metric, groupBy)
	if err != nil {
		return nil, err
	}
	stats := BarStats(bars, CI95)
	ClipBars([]string{metric}, stats)
	return plots.Bars(cats, stats, plots.BarOptions{YLabel: metric,
		Title: fmt.Sprintf("%s: final %s by %s (mean, Student-t 95%% CI over %s)", r.Name, metric, r.axisName(stage), seedsPhrase(stats))})
}

// groupedSeries is GroupedBars' data: the categories and one series per other-axes label.
func (r *Report) groupedSeries(stage, metric, groupBy string) ([]string, []BarSeries, error) {
	if !r.stageHas(stage, metric) {
		return nil, nil, fmt.Errorf("report %s, stage %q: no run has the final metric %q", r.Name, stage, metric)
	}
	var groups, labels []string
	var axes []string
	for _, c := range r.Cells {
		if c.Stage != stage {
			continue
		}
		for k := range c.Values {
			if !slices.Contains(axes, k) {
				axes = append(axes, k)
			}
		}
		g, ok := c.Values[groupBy]
		if !ok {
			continue
		}
		if !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
		if l := otherValues(c.Values, groupBy); !slices.Contains(labels, l) {
			labels = append(labels, l)
		}
	}
	if len(groups) == 0 {
		slices.Sort(axes)
		return nil, nil, fmt.Errorf("report %s, stage %q: no axis %q (the axes are %v)", r.Name, stage, groupBy, axes)
	}
	bars := make([]BarSeries, len(labels))
	for i, l := range labels {
		bars[i] = BarSeries{Label: l, Values: make([][]float64, len(groups))}
	}
	for _, c := range r.Cells {
		g, ok := c.Values[groupBy]
		if c.Stage != stage || !ok {
			continue
		}
		gi := slices.Index(groups, g)
		si := slices.Index(labels, otherValues(c.Values, groupBy))
		for _, seed := range c.Seeds {
			if v, ok := r.finals[cellKey(c.Stage, c.Cell)][seed]["final_"+metric]; ok {
				bars[si].Values[gi] = append(bars[si].Values[gi], v)
			}
		}
	}
	cats := make([]string, len(groups))
	for i, g := range groups {
		cats[i] = groupBy + "=" + g
	}
	return cats, bars, nil
}

// otherValues is a cell's legend label without the axis skip: the remaining value, or
// the remaining "key=value"s joined when there are several.
func otherValues(values map[string]string, skip string) string {
	var keys []string
	for k := range values {
		if k != skip {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if len(keys) == 1 {
		return values[keys[0]]
	}
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + values[k]
	}
	return strings.Join(parts, ", ") // "" with no other axis: plots.Bars names it "series 1"
}

// seedsPhrase says how many seeds the bars summarize: "3 seeds" or "2-3 seeds".
func seedsPhrase(bars []plots.BarSeries) string {
	lo, hi := -1, 0
	for _, b := range bars {
		for _, st := range b.Stats {
			if st.N > 0 && (lo < 0 || st.N < lo) {
				lo = st.N
			}
			hi = max(hi, st.N)
		}
	}
	return seedRange(lo, hi)
}

// seedRange says "1 seed", "5 seeds" or "2-5 seeds" (lo < 0: none had a value).
func seedRange(lo, hi int) string {
	switch {
	case lo == hi && hi == 1:
		return "1 seed"
	case lo == hi || lo < 0:
		return fmt.Sprintf("%d seeds", hi)
	}
	return fmt.Sprintf("%d-%d seeds", lo, hi)
}

// FinalValues returns the final value of metric in each done seed of a cell (stage ""
// = any stage), in seed order: the raw values behind Cell.Final, for figures that set
// cells of several sweeps side by side (BarSeries). A cell the report does not have is
// an error that lists its cells.
func (r *Report) FinalValues(stage, cell, metric string) ([]float64, error) {
	bySeed, err := r.finalBySeed(stage, cell, metric)
	if err != nil {
		return nil, err
	}
	var out []float64
	for _, s := range slices.Sorted(maps.Keys(bySeed)) {
		out = append(out, bySeed[s])
	}
	return out, nil
}

// PairedValues returns, for every seed done in the same cell of both reports, metric's
// final value in a minus its value in b, in seed order: the paired differences of two
// sweeps with the same cells and seeds (e.g. one with a warm-started encoder, one with a
// random one), ready for BarSeries and Summarize. A seed done in one sweep only is left
// out, so a difference never pairs two seeds; a cell either report lacks is an error.
func PairedValues(a, b *Report, stage, cell, metric string) ([]float64, error) {
	va, err := a.finalBySeed(stage, cell, metric)
	if err != nil {
		return nil, err
	}
	vb, err := b.finalBySeed(stage, cell, metric)
	if err != nil {
		return nil, err
	}
	return pairedDiffs(slices.Sorted(maps.Keys(va)), va, vb), nil
}

// pairedDiffs returns a[s] - b[s] for every seed s of seeds that both have, in the
// order of seeds: the one pairing of seeds behind PairedValues and the tables' Δ
// (Cell.Diff), so that a difference never pairs two seeds.
func pairedDiffs(seeds []int64, a, b map[int64]float64) []float64 {
	var out []float64
	for _, s := range seeds {
		if y, ok := b[s]; ok {
			out = append(out, a[s]-y)
		}
	}
	return out
}

// finalBySeed is metric's final value per done seed of a cell (stage "" = any stage).
func (r *Report) finalBySeed(stage, cell, metric string) (map[int64]float64, error) {
	var names []string
	for _, c := range r.Cells {
		names = append(names, c.Cell)
		if c.Cell != cell || (stage != "" && c.Stage != stage) {
			continue
		}
		return r.cellFinals(c, metric), nil
	}
	return nil, fmt.Errorf("report %s has no cell %q; its cells are %q", r.Name, cell, names)
}

// cellFinals is metric's final value per done seed of c (seeds without one left out).
func (r *Report) cellFinals(c *Cell, metric string) map[int64]float64 {
	out := map[int64]float64{}
	for _, s := range c.Seeds {
		if v, ok := r.finals[cellKey(c.Stage, c.Cell)][s]["final_"+metric]; ok {
			out[s] = v
		}
	}
	return out
}
