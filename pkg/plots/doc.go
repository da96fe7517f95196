// Package plots draws masklab's paper figures with gonum/plot: loss curves with
// confidence bands, grouped final-metric bars with error bars, mask heatmaps and
// galleries, and attention heatmaps per layer and head.
//
// It depends on no other masklab package: every figure is built from plain data
// (curves with their bands, bars with their error bars, boolean or float grids with
// token labels), so it can be used on any results. It computes no statistics: it draws
// the means and intervals it is given, which package report computes across seeds. All figures share one theme (Liberation
// Sans at paper sizes, the Okabe-Ito colour-blind-safe palette) and are written with
// [Save] to PNG (300 dpi), SVG or PDF at [SingleColumn] or [DoubleColumn] width.
//
// Chinese (and other CJK) labels are drawn with a CJK font found on the system (see
// [CJKFontEnv] and [CJKFontCandidates]); without one they are replaced by a readable
// substitute (the token index, or a caller's romanization, see [WithRomanize]) and a
// warning is printed once. Package nbplot displays figures inline in GoNB notebooks.
package plots
