package plots

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Grid lays several panels out in rows of Cols, under an optional title, with an
// optional colour bar shared by all panels on the right.
type Grid struct {
	Title  string
	Panels []Figure
	Cols   int
	// Scale, when set, draws one colour bar for all panels (attention grids).
	Scale *ColorScale
	// Gap is the space between panels (default 6 pt).
	Gap vg.Length
}

// MaskPanel is one mask of a gallery: a grid (grid[q][k], true = may attend), its
// title (e.g. the spec string) and optional token labels.
type MaskPanel struct {
	Title                string
	Grid                 [][]bool
	RowLabels, ColLabels []string
}

// MaskGallery draws several masks side by side, cols per row, each titled.
func MaskGallery(title string, items []MaskPanel, cols int, opts ...Option) (*Grid, error) {
	if len(items) == 0 {
		return nil, fmt.Errorf("mask gallery %q: no masks", title)
	}
	if cols <= 0 {
		return nil, fmt.Errorf("mask gallery %q: cols must be > 0, got %d", title, cols)
	}
	g := &Grid{Title: title, Cols: cols}
	for _, it := range items {
		h, err := MaskHeatmap(it.Grid, it.RowLabels, it.ColLabels, it.Title, opts...)
		if err != nil {
			return nil, fmt.Errorf("mask gallery %q: %w", title, err)
		}
		compactPanel(h)
		g.Panels = append(g.Panels, h)
	}
	return g, nil
}

// AttentionLayers draws attention weights[layer][head][q][k] as a grid with one row
// per layer and one column per head, titled "L<l> H<h>", sharing one colour scale
// (0 to the largest weight) and the token labels.
func AttentionLayers(title string, weights [][][][]float64, rowLabels, colLabels []string, opts ...Option) (*Grid, error) {
	if len(weights) == 0 || len(weights[0]) == 0 {
		return nil, fmt.Errorf("attention layers %q: no layers or heads", title)
	}
	heads := len(weights[0])
	var all [][][]float64
	for l, layer := range weights {
		if len(layer) != heads {
			return nil, fmt.Errorf("attention layers %q: layer 0 has %d heads, layer %d has %d", title, heads, l, len(layer))
		}
		all = append(all, layer...)
	}
	scale, err := scaleFor(title, all...)
	if err != nil {
		return nil, err
	}
	g := &Grid{Title: title, Cols: heads, Scale: &scale}
	for l, layer := range weights {
		for h, w := range layer {
			hm, err := AttentionHeatmap(w, rowLabels, colLabels, fmt.Sprintf("L%d H%d", l, h), opts...)
			if err != nil {
				return nil, fmt.Errorf("attention layers %q: layer %d head %d: %w", title, l, h, err)
			}
			// Recolour with the shared scale and drop the per-panel colour bar.
			w := w
			hm.cells.colour = func(r, c int) color.Color { return scale.At(w[r][c]) }
			hm.Scale = nil
			compactPanel(hm)
			g.Panels = append(g.Panels, hm)
		}
	}
	return g, nil
}

// compactPanel drops the axis names of a heatmap inside a grid (the tokens say it).
func compactPanel(h *Heatmap) {
	h.Plot.X.Label.Text = ""
	h.Plot.Y.Label.Text = ""
}

// rows is the number of panel rows.
func (g *Grid) rows() int {
	cols := max(g.Cols, 1)
	return (len(g.Panels) + cols - 1) / cols
}

func (g *Grid) gap() vg.Length {
	if g.Gap > 0 {
		return g.Gap
	}
	return vg.Points(6)
}

// titleHeight is the space taken by the grid's title.
func (g *Grid) titleStyle() text.Style {
	sty := textStyle(TitleSize, plainHandler())
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
	return sty
}

// Draw implements Figure.
func (g *Grid) Draw(c draw.Canvas) {
	if len(g.Panels) == 0 {
		return
	}
	area := c
	if g.Title != "" {
		sty := g.titleStyle()
		var title string
		setText(&title, &sty, g.Title)
		c.FillText(sty, vg.Point{X: c.Center().X, Y: c.Max.Y}, title)
		area.Max.Y -= sty.Height(title) + vg.Points(4)
	}
	if g.Scale != nil {
		area.Max.X -= colorBarWidth
	}
	cols := max(g.Cols, 1)
	tiles := draw.Tiles{Rows: g.rows(), Cols: cols, PadX: g.gap(), PadY: g.gap()}
	var first draw.Canvas
	for i, p := range g.Panels {
		sub := tiles.At(area, i%cols, i/cols)
		if i == 0 {
			first = sub
		}
		p.Draw(sub)
	}
	if g.Scale != nil {
		bar := c
		bar.Min.X = area.Max.X + vg.Points(4)
		bar.Max.X = c.Max.X
		// Span the data areas of the first and last panel rows.
		top := first
		if h, ok := g.Panels[0].(*Heatmap); ok {
			top = h.Plot.DataCanvas(squareCells(h.Plot, first, h.Rows, h.Cols))
		}
		lastIdx := (g.rows() - 1) * cols
		bottom := tiles.At(area, 0, g.rows()-1)
		if h, ok := g.Panels[lastIdx].(*Heatmap); ok {
			bottom = h.Plot.DataCanvas(squareCells(h.Plot, bottom, h.Rows, h.Cols))
		}
		bar.Max.Y, bar.Min.Y = top.Max.Y, bottom.Min.Y
		g.Scale.drawBar(bar, plainHandler())
	}
}

// SizeFor returns the size of the grid at the given width with square panels.
func (g *Grid) SizeFor(width vg.Length) Size {
	w := width
	if g.Scale != nil {
		w -= colorBarWidth
	}
	cols := vg.Length(max(g.Cols, 1))
	panel := (w - (cols-1)*g.gap()) / cols
	h := vg.Length(g.rows())*panel + vg.Length(g.rows()-1)*g.gap()
	if g.Title != "" {
		h += vg.Points(TitleSize + 6)
	}
	return Size{Width: width, Height: h}
}

// SizeFor returns the size of the heatmap at the given width with square cells
// (at most 1.6 times the width tall).
func (h *Heatmap) SizeFor(width vg.Length) Size {
	w := width
	if h.Scale != nil {
		w -= colorBarWidth
	}
	// Room for tick labels, axis names and the title (about 0.8 in each way).
	margin := 0.8 * vg.Inch
	ht := (w-margin)*vg.Length(float64(h.Rows)/float64(h.Cols)) + margin
	return Size{Width: width, Height: min(ht, 1.6*width)}
}
