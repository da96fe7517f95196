package plots

import (
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/recorder"
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

	// shared is set when every panel is a *Heatmap of one shape with the same
	// token labels: then only the left column shows row labels, only the bottom
	// row column labels, and all cells have one size. titles holds panel titles,
	// drawn centred over each panel's cells.
	shared bool
	titles []string
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
	g.shareAxes(sameLabels(items))
	return g, nil
}

// sameLabels reports whether all masks have one shape and the same labels.
func sameLabels(items []MaskPanel) bool {
	for _, it := range items[1:] {
		if len(it.Grid) != len(items[0].Grid) || len(it.Grid[0]) != len(items[0].Grid[0]) ||
			!slices.Equal(it.RowLabels, items[0].RowLabels) || !slices.Equal(it.ColLabels, items[0].ColLabels) {
			return false
		}
	}
	return true
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
	g.shareAxes(true)
	return g, nil
}

// ScoreHeads draws a score modification (an attention bias) per head:
// values[head][q][k] as one panel per head, titled "head h" (headTitles overrides), with
// one colour scale from the smallest to the largest allowed value and a colour bar;
// pairs that allowed (when not nil, [q][k]) forbids are drawn as masked cells (light
// grey), so the picture shows what the bias does where the mask lets it act. cols
// panels per row (0: all heads in one row).
func ScoreHeads(title string, values [][][]float64, allowed [][]bool, headTitles []string, cols int, opts ...Option) (*Grid, error) {
	if len(values) == 0 {
		return nil, fmt.Errorf("score heads %q: no heads", title)
	}
	if headTitles != nil && len(headTitles) != len(values) {
		return nil, fmt.Errorf("score heads %q: %d head titles for %d heads", title, len(headTitles), len(values))
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for h, v := range values {
		rows, ncols, err := shapeOf(len(v), func(i int) int { return len(v[i]) })
		if err != nil {
			return nil, fmt.Errorf("score heads %q: head %d: %w", title, h, err)
		}
		if allowed != nil && (len(allowed) != rows || len(allowed[0]) != ncols) {
			return nil, fmt.Errorf("score heads %q: the mask is %dx%d, head %d is %dx%d", title, len(allowed), len(allowed[0]), h, rows, ncols)
		}
		for q, row := range v {
			if len(row) != ncols {
				return nil, fmt.Errorf("score heads %q: head %d is not rectangular", title, h)
			}
			for k, x := range row {
				if allowed != nil && !allowed[q][k] {
					continue
				}
				if math.IsNaN(x) || math.IsInf(x, 0) {
					return nil, fmt.Errorf("score heads %q: head %d [%d][%d] = %v, want a finite value", title, h, q, k, x)
				}
				lo, hi = math.Min(lo, x), math.Max(hi, x)
			}
		}
	}
	if lo > hi { // everything masked
		lo, hi = 0, 1
	}
	if lo == hi {
		lo, hi = lo-0.5, hi+0.5
	}
	scale := ColorScale{Min: lo, Max: hi}
	if cols <= 0 {
		cols = len(values)
	}
	g := &Grid{Title: title, Cols: cols, Scale: &scale}
	for h, v := range values {
		name := fmt.Sprintf("head %d", h)
		if headTitles != nil {
			name = headTitles[h]
		}
		v := v
		colour := func(r, c int) color.Color {
			if allowed != nil && !allowed[r][c] {
				return MaskBlocked
			}
			return scale.At(v[r][c])
		}
		hm, err := newHeatmap(len(v), len(v[0]), colour, nil, nil, name, "key", "query", collect(opts))
		if err != nil {
			return nil, fmt.Errorf("score heads %q: %w", title, err)
		}
		compactPanel(hm)
		g.Panels = append(g.Panels, hm)
	}
	g.shareAxes(true)
	return g, nil
}

// shareAxes hides inner tick labels and takes over the panel titles (see shared).
func (g *Grid) shareAxes(ok bool) {
	if !ok {
		return
	}
	cols, rows := max(g.Cols, 1), g.rows()
	g.shared = true
	g.titles = make([]string, len(g.Panels))
	for i, f := range g.Panels {
		h := f.(*Heatmap)
		g.titles[i] = h.Plot.Title.Text
		h.Plot.Title.Text = ""
		r, c := i/cols, i%cols
		if c > 0 {
			h.Plot.Y.Tick.Marker = hideLabels(h.Plot.Y.Tick.Marker)
		}
		// The bottom panel of each column shows the key labels.
		if r < rows-1 && i+cols < len(g.Panels) {
			h.Plot.X.Tick.Marker = hideLabels(h.Plot.X.Tick.Marker)
		}
	}
}

// hideLabels keeps a labelTicks' tick marks but drops its labels.
func hideLabels(t plot.Ticker) plot.Ticker {
	if lt, ok := t.(labelTicks); ok {
		lt.labels = make([]string, len(lt.labels))
		return lt
	}
	return t
}

// compactPanel drops the axis names of a heatmap inside a grid (the tokens say it).
// Panel titles are one size smaller than figure titles, as in shared layouts.
func compactPanel(h *Heatmap) {
	h.Plot.X.Label.Text = ""
	h.Plot.Y.Label.Text = ""
	h.Plot.Title.TextStyle.Font.Size = panelTitleStyle().Font.Size
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
		area.Max.Y -= sty.Height(title) + vg.Points(8)
	}
	if g.Scale != nil {
		area.Max.X -= colorBarWidth
	}
	if g.shared {
		g.drawShared(c, area)
		return
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
	w := width - 2*Margin
	if g.Scale != nil {
		w -= colorBarWidth
	}
	if g.shared && len(g.Panels) > 0 {
		g.fitShared(w, 0)
		_, colL, colR, rowB, rowT, _ := g.sharedMargins()
		h0 := g.Panels[0].(*Heatmap)
		ncol, nrow := max(g.Cols, 1), g.rows()
		cell := (w - sum(colL) - sum(colR) - vg.Length(ncol-1)*g.gap()) / vg.Length(ncol*h0.Cols)
		h := cell*vg.Length(nrow*h0.Rows) + sum(rowB) + sum(rowT) + vg.Length(nrow-1)*g.gap() + 2*Margin
		if g.Title != "" {
			h += vg.Points(TitleSize + 10)
		}
		return Size{Width: width, Height: h}
	}
	cols := vg.Length(max(g.Cols, 1))
	panel := (w - (cols-1)*g.gap()) / cols
	h := vg.Length(g.rows())*panel + vg.Length(g.rows()-1)*g.gap() + 2*Margin
	if g.Title != "" {
		h += vg.Points(TitleSize + 10)
	}
	return Size{Width: width, Height: h}
}

// SizeFor returns the size of the heatmap at the given width with square cells
// filling the width (at most 1.6 times the width tall).
func (h *Heatmap) SizeFor(width vg.Length) Size {
	w := width - 2*Margin
	if h.Scale != nil {
		w -= colorBarWidth
	}
	h.setRotation(false)
	m := panelMargins(h)
	h.fitXLabels((w - m.left - m.right) / vg.Length(h.Cols))
	m = panelMargins(h)
	cell := (w - m.left - m.right) / vg.Length(h.Cols)
	ht := cell*vg.Length(h.Rows) + m.top + m.bottom + 2*Margin
	return Size{Width: width, Height: max(min(ht, 1.6*width), 0.5*vg.Inch)}
}

// margins of a panel: the space its plot takes around the data area.
type margins struct{ left, right, bottom, top vg.Length }

func panelMargins(h *Heatmap) margins {
	ref := draw.NewCanvas(&recorder.Canvas{}, vg.Points(1000), vg.Points(1000))
	da := h.Plot.DataCanvas(ref)
	return margins{da.Min.X - ref.Min.X, ref.Max.X - da.Max.X, da.Min.Y - ref.Min.Y, ref.Max.Y - da.Max.Y}
}

// drawShared lays out same-shape heatmaps with one cell size, labels on the outer
// panels only, and titles centred over the cells.
func (g *Grid) drawShared(c, area draw.Canvas) {
	cols, rows := max(g.Cols, 1), g.rows()
	hm := make([]*Heatmap, len(g.Panels))
	for i, f := range g.Panels {
		hm[i] = f.(*Heatmap)
	}
	g.fitShared(area.Max.X-area.Min.X, area.Max.Y-area.Min.Y)
	m, colL, colR, rowB, rowT, titleH := g.sharedMargins()
	titleSty := panelTitleStyle()
	gap := g.gap()
	w := area.Max.X - area.Min.X - sum(colL) - sum(colR) - vg.Length(cols-1)*gap
	h := area.Max.Y - area.Min.Y - sum(rowB) - sum(rowT) - vg.Length(rows-1)*gap
	tr, tc := hm[0].Rows, hm[0].Cols
	cell := min(w/vg.Length(cols*tc), h/vg.Length(rows*tr))
	if cell <= 0 {
		return
	}
	dw, dh := cell*vg.Length(tc), cell*vg.Length(tr)
	// Centre the block.
	x0 := area.Min.X + (w-dw*vg.Length(cols))/2
	yTop := area.Max.Y - (h-dh*vg.Length(rows))/2
	xs := make([]vg.Length, cols) // left edge of each column's canvas
	x := x0
	for k := range cols {
		xs[k] = x
		x += colL[k] + dw + colR[k] + gap
	}
	y := yTop
	ys := make([]vg.Length, rows) // top edge of each row's canvas (below the title)
	for r := range rows {
		ys[r] = y - titleH
		y -= rowT[r] + dh + rowB[r] + gap
	}
	for i, p := range hm {
		r, k := i/cols, i%cols
		// The panel canvas: data area at the column/row position, own margins around.
		dx0 := xs[k] + colL[k]
		dyTop := ys[r] - (rowT[r] - titleH)
		sub := c
		sub.Min.X, sub.Max.X = dx0-m[i].left, dx0+dw+m[i].right
		sub.Max.Y, sub.Min.Y = dyTop+m[i].top, dyTop-dh-m[i].bottom
		p.drawFitted(sub)
		if g.titles[i] != "" {
			var t string
			sty := titleSty
			setText(&t, &sty, g.titles[i])
			sub.FillText(sty, vg.Point{X: dx0 + dw/2, Y: dyTop + vg.Points(2)}, t)
		}
	}
	if g.Scale != nil {
		bar := c
		bar.Min.X = xs[cols-1] + colL[cols-1] + dw + colR[cols-1] + gap
		bar.Max.X = bar.Min.X + colorBarWidth
		bar.Max.Y = ys[0] - (rowT[0] - titleH)
		bar.Min.Y = ys[rows-1] - (rowT[rows-1] - titleH) - dh
		g.Scale.drawBar(bar, plainHandler())
	}
}

func panelTitleStyle() text.Style {
	sty := textStyle(TickSize+1, plainHandler())
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YBottom
	return sty
}

// sharedMargins measures every panel's margins and the per-column and per-row
// maxima of a shared layout, with titleH the space of the panel titles.
func (g *Grid) sharedMargins() (m []margins, colL, colR, rowB, rowT []vg.Length, titleH vg.Length) {
	cols, rows := max(g.Cols, 1), g.rows()
	m = make([]margins, len(g.Panels))
	for i, f := range g.Panels {
		m[i] = panelMargins(f.(*Heatmap))
	}
	sty := panelTitleStyle()
	for _, t := range g.titles {
		if t != "" {
			titleH = sty.Height(t) + vg.Points(2)
		}
	}
	colL, colR = make([]vg.Length, cols), make([]vg.Length, cols)
	rowB, rowT = make([]vg.Length, rows), make([]vg.Length, rows)
	for i := range g.Panels {
		r, k := i/cols, i%cols
		colL[k], colR[k] = max(colL[k], m[i].left), max(colR[k], m[i].right)
		rowB[r], rowT[r] = max(rowB[r], m[i].bottom), max(rowT[r], m[i].top+titleH)
	}
	return m, colL, colR, rowB, rowT, titleH
}

func sum(a []vg.Length) (s vg.Length) {
	for _, v := range a {
		s += v
	}
	return s
}

// fitShared decides, for a shared layout in a w x h area (h <= 0: limited by the
// width only), whether the key labels can stay horizontal.
func (g *Grid) fitShared(w, h vg.Length) {
	cols, rows := max(g.Cols, 1), g.rows()
	for _, f := range g.Panels {
		f.(*Heatmap).setRotation(false)
	}
	_, colL, colR, rowB, rowT, _ := g.sharedMargins()
	h0 := g.Panels[0].(*Heatmap)
	cell := (w - sum(colL) - sum(colR) - vg.Length(cols-1)*g.gap()) / vg.Length(cols*h0.Cols)
	if h > 0 {
		cell = min(cell, (h-sum(rowB)-sum(rowT)-vg.Length(rows-1)*g.gap())/vg.Length(rows*h0.Rows))
	}
	for _, f := range g.Panels {
		f.(*Heatmap).fitXLabels(cell)
	}
}
