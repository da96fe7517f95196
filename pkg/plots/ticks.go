package plots

import (
	"math"
	"strconv"

	"gonum.org/v1/plot"
)

// niceTicks places about five major ticks at 1, 2 or 5 times a power of ten, with
// labels of as few digits as they need ("0", "500", "1000", "2.5"; "10k", "1.5M"
// for large values), and one or four minor ticks between majors.
type niceTicks struct{}

// Ticks implements plot.Ticker.
func (niceTicks) Ticks(min, max float64) []plot.Tick {
	if !(max > min) || math.IsInf(max-min, 0) {
		return []plot.Tick{{Value: min, Label: formatTick(min, 0)}}
	}
	raw := (max - min) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step, minors := mag, 5
	switch r := raw / mag; {
	case r > 5:
		step, minors = 10*mag, 5
	case r > 2:
		step, minors = 5*mag, 5
	case r > 1:
		step, minors = 2*mag, 2
	}
	var ticks []plot.Tick
	minor := step / float64(minors)
	first := math.Ceil(min/minor-1e-9) * minor
	for i := 0; ; i++ {
		v := first + float64(i)*minor
		if v > max+minor*1e-9 {
			break
		}
		if math.Abs(v) < minor*1e-9 {
			v = 0
		}
		if q := v / step; math.Abs(q-math.Round(q)) < 1e-6 {
			ticks = append(ticks, plot.Tick{Value: v, Label: formatTick(v, step)})
		} else {
			ticks = append(ticks, plot.Tick{Value: v})
		}
	}
	return ticks
}

// formatTick writes v with the digits its step needs, abbreviating thousands and
// millions when the step is a multiple of them.
func formatTick(v, step float64) string {
	switch {
	case step >= 1e6 && math.Abs(v) >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case step >= 1e4 && math.Abs(v) >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	prec := 0
	if step > 0 && step < 1 {
		prec = int(math.Ceil(-math.Log10(step) - 1e-9))
		if s := step * math.Pow(10, float64(prec)); math.Abs(s-math.Round(s)) > 1e-6 {
			prec++
		}
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// logTicks labels 1, 2 and 5 times each power of ten in range (only powers of ten
// when the range spans more than two decades), with minor ticks at the others.
type logTicks struct{}

// Ticks implements plot.Ticker.
func (logTicks) Ticks(min, max float64) []plot.Tick {
	if min <= 0 || !(max > min) {
		return niceTicks{}.Ticks(min, max)
	}
	lo, hi := math.Floor(math.Log10(min)), math.Ceil(math.Log10(max))
	decades := math.Log10(max) - math.Log10(min)
	var ticks []plot.Tick
	for e := lo; e <= hi; e++ {
		p := math.Pow(10, e)
		for m := 1; m <= 9; m++ {
			v := float64(m) * p
			if v < min*(1-1e-9) || v > max*(1+1e-9) {
				continue
			}
			label := ""
			if m == 1 || (decades <= 2 && (m == 2 || m == 5)) || (decades <= 0.6) {
				label = strconv.FormatFloat(v, 'g', -1, 64)
			}
			ticks = append(ticks, plot.Tick{Value: v, Label: label})
		}
	}
	return ticks
}
