package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/masklab/masklab/pkg/plots"
)

// writeMaskImage draws one mask grid (grid[q][k], true = may attend) as a labelled
// heatmap (plots.MaskHeatmap) and writes it to out in format "png", "svg" or "pdf".
// The figure is one paper column wide and as tall as its square cells need.
func writeMaskImage(title string, grid [][]bool, rowLabels, colLabels []string, format, out string) error {
	format = strings.ToLower(format)
	h, err := plots.MaskHeatmap(grid, rowLabels, colLabels, title)
	if err != nil {
		return err
	}
	return writeFigure(h, h.SizeFor(plots.SingleColumn.Width), format, out)
}

// writeFigure encodes a figure in format "png", "svg" or "pdf" and writes it to out
// (stdout for "" or "-") through a temporary file.
func writeFigure(f plots.Figure, size plots.Size, format, out string) error {
	format = strings.ToLower(format)
	data, err := plots.Encode(f, format, size)
	if err != nil {
		return fmt.Errorf("mask image %s: %w", out, err)
	}
	if out == "" || out == "-" {
		_, err = os.Stdout.Write(data)
		return err
	}
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		// Name the file the user asked for, not the temporary one.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("cannot write %s: %w", out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("mask image: %w", err)
	}
	return nil
}
