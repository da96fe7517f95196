package report

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// The intervals of masklab, each defined once, here, and used by tables, figures and
// notebooks alike:
//
//   - Summarize: mean, sample std and a seeded percentile-bootstrap 95% CI of the mean
//     (BootstrapCI), the intervals of the report's tables and of their paired differences;
//   - MeanInterval: the mean with a Student-t 95% CI (CI95), the range (MinMax) or ±1 sd
//     (StdDev), the bands and error bars of figures (ComputeBand, Bands, BarStats).
//
// Every statistic summarizes a metric over seeds and skips the same values: NaN and ±Inf
// (a diverged run, a metric that overflowed), by way of Finite; each says how many values
// it used. Package plots computes none of them: it draws the intervals it is given.

// Finite returns the values that enter every statistic of this package: all but NaN,
// +Inf and -Inf, in their order.
func Finite(values []float64) []float64 {
	out := make([]float64, 0, len(values))
	for _, v := range values {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out = append(out, v)
		}
	}
	return out
}

// Interval is the interval drawn around a mean across seeds in figures: the bands of
// loss curves and the error bars of bar charts (see MeanInterval).
type Interval int

const (
	// CI95 is the 95% confidence interval of the mean: mean ± t(0.975, n-1)·s/√n,
	// with s the sample standard deviation (n-1 denominator) over the n seeds.
	CI95 Interval = iota
	// MinMax spans the smallest and largest value over the seeds.
	MinMax
	// StdDev is mean ± one sample standard deviation.
	StdDev
	// NoInterval is the mean only.
	NoInterval
)

// String names the interval as in captions.
func (iv Interval) String() string {
	switch iv {
	case CI95:
		return "95% CI"
	case MinMax:
		return "min-max"
	case StdDev:
		return "±1 sd"
	case NoInterval:
		return "none"
	}
	return fmt.Sprintf("Interval(%d)", int(iv))
}

// MeanInterval returns the mean of the finite values and the interval iv around it;
// n is the number of values used. With one value lo = hi = mean (so with NoInterval);
// with none, everything is NaN and n = 0.
func MeanInterval(values []float64, iv Interval) (mean, lo, hi float64, n int) {
	finite := Finite(values)
	n = len(finite)
	if n == 0 {
		return math.NaN(), math.NaN(), math.NaN(), 0
	}
	mean = stat.Mean(finite, nil)
	if n == 1 || iv == NoInterval {
		return mean, mean, mean, n
	}
	switch iv {
	case MinMax:
		lo, hi = finite[0], finite[0]
		for _, v := range finite {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	case StdDev:
		sd := stat.StdDev(finite, nil)
		lo, hi = mean-sd, mean+sd
	default: // CI95
		h := TCritical95(n-1) * stat.StdDev(finite, nil) / math.Sqrt(float64(n))
		lo, hi = mean-h, mean+h
	}
	return mean, lo, hi, n
}

// TCritical95 is the two-sided 95% critical value of Student's t with df degrees
// of freedom (12.706 for df = 1, 2.776 for df = 4, → 1.960 as df grows).
func TCritical95(df int) float64 {
	if df < 1 {
		return math.NaN()
	}
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(df)}.Quantile(0.975)
}

// Stat summarizes one metric over seeds, as the report's tables show it.
type Stat struct {
	N      int     `json:"n"`
	Mean   float64 `json:"mean"`
	Std    float64 `json:"std"` // sample standard deviation (n-1); 0 when n < 2
	CILow  float64 `json:"ci_low"`
	CIHigh float64 `json:"ci_high"`
}

// BootstrapResamples is the number of resamples of Summarize's bootstrap.
const BootstrapResamples = 10000

// Summarize returns the mean, sample std and a seeded percentile-bootstrap 95% confidence
// interval of the mean of the finite values: the statistics of the report's tables. With
// one value the interval is that value; with none, everything is NaN and N = 0. The same
// values and seed always give the same interval.
func Summarize(values []float64, seed uint64) Stat {
	xs := Finite(values)
	s := Stat{N: len(xs)}
	if len(xs) == 0 {
		s.Mean, s.Std, s.CILow, s.CIHigh = math.NaN(), math.NaN(), math.NaN(), math.NaN()
		return s
	}
	s.Mean = stat.Mean(xs, nil)
	if len(xs) > 1 {
		s.Std = stat.StdDev(xs, nil)
	}
	s.CILow, s.CIHigh = BootstrapCI(xs, 0.95, BootstrapResamples, seed)
	return s
}

// BootstrapCI returns the percentile bootstrap interval of the mean of the finite values
// at the given level, from n resamples drawn with a PCG generator seeded by seed.
func BootstrapCI(values []float64, level float64, n int, seed uint64) (lo, hi float64) {
	xs := Finite(values)
	if len(xs) == 0 || n < 1 {
		return math.NaN(), math.NaN() // no value, or no resample to take quantiles of
	}
	if len(xs) == 1 {
		return xs[0], xs[0]
	}
	r := rand.New(rand.NewPCG(seed, 0x6d61736b6c6162)) // "masklab"
	means := make([]float64, n)
	for i := range means {
		var t float64
		for range xs {
			t += xs[r.IntN(len(xs))]
		}
		means[i] = t / float64(len(xs))
	}
	sort.Float64s(means)
	alpha := (1 - level) / 2
	return quantile(means, alpha), quantile(means, 1-alpha)
}

// quantile of sorted values with linear interpolation.
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	i := int(math.Floor(pos))
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(i)
	return sorted[i]*(1-f) + sorted[i+1]*f
}
