// Package textutil holds the small text helpers every masklab package shares: the one
// "did you mean" rule, plurals, and sorted map keys.
package textutil

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Distance is the optimal-string-alignment distance between a and b, counted in runes:
// insertions, deletions, substitutions and swaps of adjacent characters ("dco" is one
// edit from "doc").
func Distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// near is the one threshold of a suggestion: at most a third of the typed length in
// edits (rounded up), and at least 1.
func near(s string, d int) bool { return d <= max(1, (len([]rune(s))+1)/3) }

// Closest returns the candidate nearest to s (compared in lower case) by Distance, or ""
// when none is near enough to be what the user meant.
func Closest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if d := Distance(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" && near(s, bestD) {
		return best
	}
	return ""
}

// ClosestKey is Closest for dotted keys ("model.layers"): s may be the whole key or just
// its last element ("layers", one edit more), and the whole key is returned.
func ClosestKey(s string, keys []string) string {
	best, bestD := "", 1<<30
	for _, k := range keys {
		d := Distance(s, k)
		if leaf := k[strings.LastIndex(k, ".")+1:]; leaf != k {
			d = min(d, Distance(s, leaf)+1)
		}
		if d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" && near(s, bestD) {
		return best
	}
	return ""
}

// Plural returns "s" unless n is 1.
func Plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// SortedKeys returns m's keys in order.
func SortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}

// Levenshtein is the edit distance of a and b (insertions, deletions, substitutions):
// the numerator of the character error rate.
func Levenshtein(a, b []rune) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Count writes a count with a metric suffix: "950", "23.1k", "1.2M", "3.4G".
func Count(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.3gG", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.3gM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.3gk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

// Duration writes seconds roughly: "40 s", "12 min", "2.5 h".
func Duration(s float64) string {
	switch {
	case s < 90:
		return fmt.Sprintf("%.0f s", s)
	case s < 5400:
		return fmt.Sprintf("%.0f min", s/60)
	}
	return fmt.Sprintf("%.1f h", s/3600)
}
