package report

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/masklab/masklab/pkg/plots"
)

// Run is one training run's metric: Y[i] logged at step X[i], from one seed.
type Run struct {
	Seed int
	X, Y []float64
}

// Series is one strategy's runs across seeds; Label names it in a figure's legend (a
// spec string such as "self: causal & pad", or any label the caller gives).
type Series struct {
	Label string
	Runs  []Run
}

// BarSeries is one strategy's final metric: Values[c] holds one value per seed for
// category c (e.g. c indexes data sizes). Label names it in a figure's legend.
type BarSeries struct {
	Label  string
	Values [][]float64
}

// ComputeBand aggregates runs across seeds: at each x logged by any run (sorted), the
// mean and interval iv (MeanInterval) over the runs that logged a finite value there.
// Runs that stop early (or diverge to NaN) simply stop contributing. If smoothing > 0,
// each run is first smoothed with EMA(smoothing). With NoInterval the band has no Lo and
// Hi, and plots.LossCurves draws the mean line alone.
func ComputeBand(runs []Run, iv Interval, smoothing float64) (plots.Band, error) {
	if len(runs) == 0 {
		return plots.Band{}, fmt.Errorf("no runs")
	}
	if smoothing < 0 || smoothing >= 1 {
		return plots.Band{}, fmt.Errorf("smoothing must be in [0, 1), got %v", smoothing)
	}
	byX := map[float64][]float64{}
	for i, r := range runs {
		if len(r.X) != len(r.Y) {
			return plots.Band{}, fmt.Errorf("run %d (seed %d): %d x values but %d y values", i, r.Seed, len(r.X), len(r.Y))
		}
		y := r.Y
		if smoothing > 0 {
			y = EMA(r.Y, smoothing)
		}
		for j, x := range r.X {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return plots.Band{}, fmt.Errorf("run %d (seed %d): x[%d] = %v is not finite", i, r.Seed, j, x)
			}
			byX[x] = append(byX[x], y[j])
		}
	}
	xs := make([]float64, 0, len(byX))
	for x := range byX {
		xs = append(xs, x)
	}
	sort.Float64s(xs)
	var b plots.Band
	for _, x := range xs {
		m, lo, hi, n := MeanInterval(byX[x], iv)
		if n == 0 {
			continue
		}
		b.X = append(b.X, x)
		b.Mean = append(b.Mean, m)
		if iv != NoInterval {
			b.Lo = append(b.Lo, lo)
			b.Hi = append(b.Hi, hi)
		}
		b.N = append(b.N, n)
	}
	if len(b.X) == 0 {
		return plots.Band{}, fmt.Errorf("no finite values in %d runs", len(runs))
	}
	return b, nil
}

// EMA smooths y with a debiased exponential moving average (as TensorBoard does):
// s_t = alpha·s_{t-1} + (1-alpha)·y_t, divided by 1-alpha^t. alpha = 0 returns a
// copy of y; larger alpha smooths more. Non-finite values are passed through and
// do not enter the average.
func EMA(y []float64, alpha float64) []float64 {
	out := make([]float64, len(y))
	acc, weight := 0.0, 0.0
	for i, v := range y {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			out[i] = v
			continue
		}
		acc = alpha*acc + (1-alpha)*v
		weight = alpha*weight + (1 - alpha)
		out[i] = acc / weight
	}
	return out
}

// Bands returns what plots.LossCurves draws for series: one curve per series, its band
// by ComputeBand(runs, iv, smoothing).
func Bands(series []Series, iv Interval, smoothing float64) ([]plots.Curve, error) {
	curves := make([]plots.Curve, len(series))
	for i, s := range series {
		b, err := ComputeBand(s.Runs, iv, smoothing)
		if err != nil {
			return nil, fmt.Errorf("series %q: %w", s.Label, err)
		}
		curves[i] = plots.Curve{Label: s.Label, Band: b}
	}
	return curves, nil
}

// BarStats returns what plots.Bars draws for series: per series and category, the mean
// and interval iv of the seeds' values (MeanInterval); a category without a finite value
// has N = 0, which plots.Bars leaves as a gap.
func BarStats(series []BarSeries, iv Interval) []plots.BarSeries {
	out := make([]plots.BarSeries, len(series))
	for s, ser := range series {
		out[s] = plots.BarSeries{Label: ser.Label, Stats: make([]plots.BarStat, len(ser.Values))}
		for c, vals := range ser.Values {
			m, lo, hi, n := MeanInterval(vals, iv)
			out[s].Stats[c] = plots.BarStat{Mean: m, Lo: lo, Hi: hi, N: n}
		}
	}
	return out
}

// MetricRange is the range a metric's values can take, by its name: losses, character
// error rates (an edit distance over the reference's length, above 1 when the output is
// longer than the reference: a model that does not stop) and times in seconds are >= 0;
// accuracies and exact-match rates lie in [0, 1]; anything else is unbounded. Figures clip their intervals to it (a Student-t band from 2 seeds can
// reach below a loss of 0 or above an accuracy of 1, which no run can).
func MetricRange(metric string) (lo, hi float64) {
	switch {
	case strings.HasSuffix(metric, "_loss") || metric == "loss" || strings.HasSuffix(metric, "_cer") || strings.HasSuffix(metric, "_seconds"):
		return 0, math.Inf(1)
	case strings.HasSuffix(metric, "_acc") || strings.HasSuffix(metric, "_exact"):
		return 0, 1
	}
	return math.Inf(-1), math.Inf(1)
}

// ClipCurves clips the bands of curves of metric to MetricRange(metric).
func ClipCurves(metric string, curves []plots.Curve) {
	lo, hi := MetricRange(metric)
	for i := range curves {
		b := &curves[i].Band
		for j := range b.Lo {
			b.Lo[j] = min(max(b.Lo[j], lo), hi)
			b.Hi[j] = min(max(b.Hi[j], lo), hi)
		}
	}
}

// ClipBars clips the error bars of bars to the range of each category's metric
// (metrics[c] for category c, or metrics[0] for every category when there is one).
func ClipBars(metrics []string, bars []plots.BarSeries) {
	for s := range bars {
		for c := range bars[s].Stats {
			m := metrics[0]
			if len(metrics) > 1 {
				m = metrics[c]
			}
			lo, hi := MetricRange(m)
			st := &bars[s].Stats[c]
			st.Lo, st.Hi = min(max(st.Lo, lo), hi), min(max(st.Hi, lo), hi)
		}
	}
}

// withN appends the number of seeds to a legend label: "none (n=3)".
func withN(label string, n int) string { return fmt.Sprintf("%s (n=%d)", label, n) }

// FewSeeds is the number of seeds below which intervals are not read as confidence
// intervals: Warnings names the cells that have fewer.
const FewSeeds = 3

// Warnings says what a reader of the report must know before trusting its intervals:
// the cells with fewer than FewSeeds finished seeds (with 2 seeds a bootstrap interval
// is just [min, max] and a Student-t interval is 12.7 standard errors wide; with 1 there
// is no interval).
func (r *Report) Warnings() []string {
	var few []string
	for _, c := range r.Cells {
		if n := len(c.Seeds); n > 0 && n < FewSeeds {
			few = append(few, fmt.Sprintf("%s (%d)", r.label(c), n))
		}
	}
	if len(few) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("fewer than %d finished seeds in %d cell(s): %s. Their intervals are ranges, not confidence intervals: with 2 seeds the bootstrap interval is [min, max] and the Student-t one 12.7 standard errors wide; with 1 there is none. Add seeds before drawing conclusions.",
		FewSeeds, len(few), strings.Join(few, ", "))}
}
