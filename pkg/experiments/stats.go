package experiments

import (
	"math"
	"math/rand/v2"
	"sort"
)

// Stat summarizes one metric over seeds.
type Stat struct {
	N      int     `json:"n"`
	Mean   float64 `json:"mean"`
	Std    float64 `json:"std"` // sample standard deviation (n-1); 0 when n < 2
	CILow  float64 `json:"ci_low"`
	CIHigh float64 `json:"ci_high"`
}

// BootstrapResamples is the number of resamples of Summarize's bootstrap.
const BootstrapResamples = 10000

// Summarize returns mean, sample std and a seeded percentile-bootstrap 95% confidence
// interval of the mean. With one value the interval is that value; NaNs are skipped.
// The same values and seed always give the same interval.
func Summarize(values []float64, seed uint64) Stat {
	var xs []float64
	for _, v := range values {
		if !math.IsNaN(v) {
			xs = append(xs, v)
		}
	}
	s := Stat{N: len(xs)}
	if len(xs) == 0 {
		s.Mean, s.Std, s.CILow, s.CIHigh = math.NaN(), math.NaN(), math.NaN(), math.NaN()
		return s
	}
	s.Mean = mean(xs)
	if len(xs) > 1 {
		var ss float64
		for _, x := range xs {
			ss += (x - s.Mean) * (x - s.Mean)
		}
		s.Std = math.Sqrt(ss / float64(len(xs)-1))
	}
	s.CILow, s.CIHigh = BootstrapCI(xs, 0.95, BootstrapResamples, seed)
	return s
}

func mean(xs []float64) float64 {
	var t float64
	for _, x := range xs {
		t += x
	}
	return t / float64(len(xs))
}

// BootstrapCI returns the percentile bootstrap interval of the mean at the given level,
// from n resamples drawn with a PCG generator seeded by seed.
func BootstrapCI(xs []float64, level float64, n int, seed uint64) (lo, hi float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
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
