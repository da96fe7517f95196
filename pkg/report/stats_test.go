package report

import (
	"math"
	"testing"

	"github.com/masklab/masklab/pkg/plots"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// Hand-computed: values 1..5 have mean 3, sample sd sqrt(2.5) = 1.5811388,
// t(0.975, df 4) = 2.7764451, so the 95% CI half-width is
// 2.7764451 * 1.5811388 / sqrt(5) = 1.9632432.
func TestMeanIntervalHandComputed(t *testing.T) {
	vals := []float64{3, 1, 5, 2, 4}
	m, lo, hi, n := MeanInterval(vals, CI95)
	if n != 5 || !near(m, 3, 1e-12) || !near(lo, 3-1.9632432, 1e-6) || !near(hi, 3+1.9632432, 1e-6) {
		t.Errorf("CI95 of 1..5 = (%v, %v, %v, n=%d), want (3, 1.0367568, 4.9632432, 5)", m, lo, hi, n)
	}
	if m, lo, hi, _ := MeanInterval(vals, MinMax); m != 3 || lo != 1 || hi != 5 {
		t.Errorf("MinMax = (%v, %v, %v), want (3, 1, 5)", m, lo, hi)
	}
	if _, lo, hi, _ := MeanInterval(vals, StdDev); !near(lo, 3-1.5811388, 1e-6) || !near(hi, 3+1.5811388, 1e-6) {
		t.Errorf("StdDev band = (%v, %v), want 3 ± 1.5811388", lo, hi)
	}
	// Diverged seeds (NaN, Inf) are skipped; one value has no spread.
	if m, lo, hi, n := MeanInterval([]float64{math.NaN(), 2, math.Inf(1)}, CI95); n != 1 || m != 2 || lo != 2 || hi != 2 {
		t.Errorf("one finite value: (%v, %v, %v, n=%d), want (2, 2, 2, 1)", m, lo, hi, n)
	}
	if _, _, _, n := MeanInterval(nil, CI95); n != 0 {
		t.Errorf("no values: n = %d", n)
	}
	for df, want := range map[int]float64{1: 12.7062047, 4: 2.7764451, 9: 2.2621572, 1000: 1.9623391} {
		if got := TCritical95(df); !near(got, want, 1e-6) {
			t.Errorf("TCritical95(%d) = %v, want %v", df, got, want)
		}
	}
}

// The tables' bootstrap statistics skip exactly what the figures' intervals skip (NaN and
// ±Inf), and count the same values.
func TestSummarizeSkipsLikeMeanInterval(t *testing.T) {
	vals := []float64{0.6, math.NaN(), 0.7, math.Inf(1), 0.8, math.Inf(-1)}
	s := Summarize(vals, 7)
	m, _, _, n := MeanInterval(vals, CI95)
	if s.N != 3 || n != 3 || !near(s.Mean, 0.7, 1e-12) || !near(m, 0.7, 1e-12) || !near(s.Std, 0.1, 1e-12) {
		t.Errorf("Summarize = %+v, MeanInterval mean %v n %d; want 3 values, mean 0.7, std 0.1", s, m, n)
	}
	if s.CILow < 0.6-1e-9 || s.CIHigh > 0.8+1e-9 || !(s.CILow < s.Mean && s.Mean < s.CIHigh) {
		t.Errorf("bootstrap CI [%v, %v] not inside [0.6, 0.8] around 0.7", s.CILow, s.CIHigh)
	}
	if again := Summarize(vals, 7); again != s {
		t.Errorf("same values and seed: %+v, then %+v", s, again)
	}
	if lo, hi := BootstrapCI(vals, 0.95, BootstrapResamples, 7); lo != s.CILow || hi != s.CIHigh {
		t.Errorf("BootstrapCI = [%v, %v], Summarize's [%v, %v]", lo, hi, s.CILow, s.CIHigh)
	}
	if one := Summarize([]float64{math.Inf(1), 2}, 1); one.N != 1 || one.Mean != 2 || one.Std != 0 || one.CILow != 2 || one.CIHigh != 2 {
		t.Errorf("one finite value: %+v", one)
	}
	if none := Summarize([]float64{math.NaN()}, 1); none.N != 0 || !math.IsNaN(none.Mean) || !math.IsNaN(none.CILow) {
		t.Errorf("no finite value: %+v", none)
	}
}

func TestComputeBand(t *testing.T) {
	// Three seeds; seed 2 stops after x=20 and has a NaN at x=10.
	runs := []Run{
		{Seed: 0, X: []float64{0, 10, 20, 30}, Y: []float64{4, 3, 2, 1}},
		{Seed: 1, X: []float64{0, 10, 20, 30}, Y: []float64{6, 5, 4, 3}},
		{Seed: 2, X: []float64{0, 10, 20}, Y: []float64{5, math.NaN(), 3}},
	}
	b, err := ComputeBand(runs, MinMax, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := struct {
		X, Mean, Lo, Hi []float64
		N               []int
	}{
		X: []float64{0, 10, 20, 30}, Mean: []float64{5, 4, 3, 2},
		Lo: []float64{4, 3, 2, 1}, Hi: []float64{6, 5, 4, 3}, N: []int{3, 2, 3, 2},
	}
	for i := range want.X {
		if b.X[i] != want.X[i] || b.Mean[i] != want.Mean[i] || b.Lo[i] != want.Lo[i] || b.Hi[i] != want.Hi[i] || b.N[i] != want.N[i] {
			t.Errorf("band[%d] = x %v mean %v [%v, %v] n %d; want x %v mean %v [%v, %v] n %d", i,
				b.X[i], b.Mean[i], b.Lo[i], b.Hi[i], b.N[i], want.X[i], want.Mean[i], want.Lo[i], want.Hi[i], want.N[i])
		}
	}
	// CI at x=0 over {4, 6, 5}: mean 5, sd 1, half-width t(0.975,2)=4.3026527 / sqrt(3).
	b, _ = ComputeBand(runs, CI95, 0)
	if h := 4.3026527 / math.Sqrt(3); !near(b.Lo[0], 5-h, 1e-6) || !near(b.Hi[0], 5+h, 1e-6) {
		t.Errorf("CI at x=0 = [%v, %v], want 5 ± %v", b.Lo[0], b.Hi[0], h)
	}
	// No interval: the mean line alone.
	if b, _ = ComputeBand(runs, NoInterval, 0); b.Lo != nil || b.Hi != nil || b.Mean[0] != 5 {
		t.Errorf("NoInterval band: %+v, want means without Lo and Hi", b)
	}
	if _, err := ComputeBand([]Run{{X: []float64{1, 2}, Y: []float64{1}}}, CI95, 0); err == nil {
		t.Error("mismatched X/Y lengths should be an error")
	}
	if _, err := ComputeBand(runs, CI95, 1); err == nil {
		t.Error("smoothing 1 should be an error")
	}
	// Bands names the series whose runs are wrong.
	if _, err := Bands([]Series{{Label: "bad", Runs: []Run{{X: []float64{1, 2}, Y: []float64{1}}}}}, CI95, 0); err == nil || err.Error()[:12] != `series "bad"` {
		t.Errorf("Bands with a bad run: error %v, want one naming the series", err)
	}
}

func TestEMA(t *testing.T) {
	// alpha 0.5, debiased: 1, (0.25+1)/0.75, (0.625+1.5)/0.875.
	got := EMA([]float64{1, 2, 3}, 0.5)
	want := []float64{1, 1.25 / 0.75, 2.125 / 0.875}
	for i := range want {
		if !near(got[i], want[i], 1e-12) {
			t.Errorf("EMA[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	if got := EMA([]float64{2, 7}, 0); got[0] != 2 || got[1] != 7 {
		t.Errorf("EMA alpha 0 = %v, want the input", got)
	}
}

func TestBarStats(t *testing.T) {
	series := []BarSeries{
		{Label: "a", Values: [][]float64{{1, 2, 3}, {4, 4, 4}}},
		{Label: "b", Values: [][]float64{{2, 2, 2}, {1, 3, 5}}},
	}
	stats := BarStats(series, CI95)
	// {1,2,3}: mean 2, sd 1, half-width t(0.975,2)/sqrt(3) = 2.4841377.
	if st := stats[0].Stats[0]; stats[0].Label != "a" || !near(st.Mean, 2, 1e-12) || !near(st.Hi-st.Mean, 2.4841377, 1e-6) || st.N != 3 {
		t.Errorf("stats[a][0] = %+v, want mean 2 ± 2.4841377 over 3", st)
	}
	if st := stats[1].Stats[1]; !near(st.Mean, 3, 1e-12) || st.N != 3 {
		t.Errorf("stats[b][1] = %+v, want mean 3 over 3", st)
	}
	// No interval: Lo = Hi = mean, which plots.Bars draws without an error bar.
	if st := BarStats(series, NoInterval)[1].Stats[1]; st.Lo != 3 || st.Hi != 3 {
		t.Errorf("NoInterval bar: %+v", st)
	}
	// A category of diverged seeds only is a gap (N = 0).
	if st := BarStats([]BarSeries{{Values: [][]float64{{math.NaN(), math.Inf(1)}}}}, CI95)[0].Stats[0]; st.N != 0 {
		t.Errorf("all NaN: %+v, want N = 0", st)
	}
}

// Smoothed min-max bands, and bands without an interval, draw on a log scale (what
// pkg/plots' review figures drew before plots took precomputed bands).
func TestBandsDraw(t *testing.T) {
	var runs []Run
	for s := range 5 {
		r := Run{Seed: s}
		for i := range 60 {
			r.X = append(r.X, float64(i*50))
			r.Y = append(r.Y, 0.4+3.6*math.Exp(-0.08*float64(i))+0.08*math.Sin(float64(i*(s+3))+float64(s))*math.Exp(-0.02*float64(i)))
		}
		runs = append(runs, r)
	}
	series := []Series{{Label: "self: causal", Runs: runs}}
	for _, iv := range []Interval{MinMax, NoInterval} {
		curves, err := Bands(series, iv, 0.6)
		if err != nil {
			t.Fatal(err)
		}
		if b := curves[0].Band; len(b.X) != 60 || b.N[0] != 5 || (iv == MinMax) != (b.Lo != nil) {
			t.Errorf("%v: band of %d points, N[0] %d, Lo %v", iv, len(b.X), b.N[0], b.Lo != nil)
		}
		if _, err := plots.LossCurves(curves, plots.CurveOptions{Title: "Training loss, log scale, EMA 0.6, " + iv.String(), LogY: true}); err != nil {
			t.Errorf("%v: %v", iv, err)
		}
	}
}

// BootstrapCI with no resample returns NaN instead of indexing an empty slice.
func TestBootstrapCINoResamples(t *testing.T) {
	for _, n := range []int{0, -3} {
		if lo, hi := BootstrapCI([]float64{1, 2, 3}, 0.95, n, 1); !math.IsNaN(lo) || !math.IsNaN(hi) {
			t.Errorf("n=%d: [%v, %v], want NaN", n, lo, hi)
		}
	}
}
