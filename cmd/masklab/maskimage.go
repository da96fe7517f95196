package main

import "fmt"

// writeMaskImage draws one mask grid (grid[q][k], true = may attend) as a labelled
// heatmap and writes it to out in format "png" or "svg". Owned by the plots work:
// it becomes a call into pkg/plots.
func writeMaskImage(title string, grid [][]bool, rowLabels, colLabels []string, format, out string) error {
	return fmt.Errorf("--format %s is not available yet (pkg/plots pending)", format)
}
