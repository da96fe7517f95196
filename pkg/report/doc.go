// Package report turns a sweep's results into statistics over seeds: tables (CSV, Markdown,
// LaTeX) and the plain data that pkg/plots draws, with each interval defined once (stats.go).
package report
