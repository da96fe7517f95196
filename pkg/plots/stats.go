package plots

import (
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Run is one training run's metric: Y[i] logged at step X[i], from one seed.
type Run struct {
	Seed int
	X, Y []float64
}

// Series is one strategy's runs across seeds; Label names it in the legend (a spec
// string such as "self: causal & pad", or any label the user gives).
type Series struct {
	Label string
	Runs  []Run
}

// Interval is the kind of band or error bar drawn around a mean across seeds.
type Interval int

const (
	// CI95 is the 95% confidence interval of the mean: mean ± t(0.975, n-1)·s/√n,
	// with s the sample standard deviation (n-1 denominator) over the n seeds.
	CI95 Interval = iota
	// MinMax spans the smallest and largest value over the seeds.
	MinMax
	// StdDev is mean ± one sample standard deviation.
	StdDev
	// NoInterval draws the mean only.
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

// Summarize returns the mean of values and the interval around it. NaN and ±Inf
// values (diverged runs) are skipped; n is the number of values used. With one
// value lo = hi = mean; with none, everything is NaN and n = 0.
func Summarize(values []float64, iv Interval) (mean, lo, hi float64, n int) {
	finite := make([]float64, 0, len(values))
	for _, v := range values {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			finite = append(finite, v)
		}
	}
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

// Band is the mean and interval of a series across seeds at each x.
type Band struct {
	X, Mean, Lo, Hi []float64
	// N[i] is how many seeds had a finite value at X[i].
	N []int
}

// ComputeBand aggregates runs across seeds: at each x logged by any run (sorted),
// the mean and interval over the runs that logged a finite value there. Runs that
// stop early (or diverge to NaN) simply stop contributing. If smoothing > 0, each
// run is first smoothed with EMA(smoothing).
func ComputeBand(runs []Run, iv Interval, smoothing float64) (Band, error) {
	if len(runs) == 0 {
		return Band{}, fmt.Errorf("no runs")
	}
	if smoothing < 0 || smoothing >= 1 {
		return Band{}, fmt.Errorf("smoothing must be in [0, 1), got %v", smoothing)
	}
	byX := map[float64][]float64{}
	for i, r := range runs {
		if len(r.X) != len(r.Y) {
			return Band{}, fmt.Errorf("run %d (seed %d): %d x values but %d y values", i, r.Seed, len(r.X), len(r.Y))
		}
		y := r.Y
		if smoothing > 0 {
			y = EMA(r.Y, smoothing)
		}
		for j, x := range r.X {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return Band{}, fmt.Errorf("run %d (seed %d): x[%d] = %v is not finite", i, r.Seed, j, x)
			}
			byX[x] = append(byX[x], y[j])
		}
	}
	xs := make([]float64, 0, len(byX))
	for x := range byX {
		xs = append(xs, x)
	}
	sort.Float64s(xs)
	var b Band
	for _, x := range xs {
		m, lo, hi, n := Summarize(byX[x], iv)
		if n == 0 {
			continue
		}
		b.X = append(b.X, x)
		b.Mean = append(b.Mean, m)
		b.Lo = append(b.Lo, lo)
		b.Hi = append(b.Hi, hi)
		b.N = append(b.N, n)
	}
	if len(b.X) == 0 {
		return Band{}, fmt.Errorf("no finite values in %d runs", len(runs))
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
