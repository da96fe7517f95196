package plots

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Mask colours: allowed (true) cells are Palette blue, masked (false) cells light grey.
var (
	MaskAllowed = Palette[0]
	MaskBlocked = color.RGBA{0xEC, 0xEC, 0xEC, 0xFF}
)

// Option changes how heatmaps draw their labels.
type Option func(*options)

type options struct {
	romanize  func(string) string
	maxLabels int
}

// WithRomanize sets the substitute for a token label that no available font can draw
// (e.g. a pinyin converter). Without it such a label is drawn as its index, "[i]".
func WithRomanize(fn func(string) string) Option { return func(o *options) { o.romanize = fn } }

// WithMaxLabels sets how many token labels an axis shows at most (default 40); with
// more tokens every k-th label is shown.
func WithMaxLabels(n int) Option { return func(o *options) { o.maxLabels = n } }

func collect(opts []Option) options {
	o := options{maxLabels: 40}
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	return o
}

// Heatmap is a labelled grid of cells: a mask (boolean) or attention weights. It
// draws with square cells, centred in the canvas, and for weights a colour bar.
type Heatmap struct {
	// Plot holds the grid and its axes; change its titles or styles freely.
	Plot *plot.Plot
	// Scale is the colour scale of weight heatmaps (nil for masks).
	Scale *ColorScale
	// Rows and Cols are the grid's size (queries x keys).
	Rows, Cols int

	cells *cells
}

// MaskHeatmap draws one attention mask: grid[q][k] true means query q may attend to
// key k (drawn blue), false means masked (light grey). Row labels name the queries
// (y axis, top to bottom), column labels the keys (x axis); nil labels draw indices.
func MaskHeatmap(grid [][]bool, rowLabels, colLabels []string, title string, opts ...Option) (*Heatmap, error) {
	rows, cols, err := shapeOf(len(grid), func(i int) int { return len(grid[i]) })
	if err != nil {
		return nil, fmt.Errorf("mask heatmap %q: %w", title, err)
	}
	colour := func(r, c int) color.Color {
		if grid[r][c] {
			return MaskAllowed
		}
		return MaskBlocked
	}
	return newHeatmap(rows, cols, colour, rowLabels, colLabels, title, "key", "query", collect(opts))
}

// AttentionHeatmap draws attention weights[q][k] (rows: queries, columns: keys) with
// the Viridis colour scale from 0 to the largest weight and a colour bar.
func AttentionHeatmap(weights [][]float64, rowLabels, colLabels []string, title string, opts ...Option) (*Heatmap, error) {
	rows, cols, err := shapeOf(len(weights), func(i int) int { return len(weights[i]) })
	if err != nil {
		return nil, fmt.Errorf("attention heatmap %q: %w", title, err)
	}
	scale, err := scaleFor(title, weights)
	if err != nil {
		return nil, err
	}
	colour := func(r, c int) color.Color { return scale.At(weights[r][c]) }
	h, err := newHeatmap(rows, cols, colour, rowLabels, colLabels, title, "key", "query", collect(opts))
	if err != nil {
		return nil, err
	}
	h.Scale = &scale
	return h, nil
}

// scaleFor returns the 0..max scale of the given weight matrices, checking values.
func scaleFor(title string, ws ...[][]float64) (ColorScale, error) {
	hi := 0.0
	for _, w := range ws {
		for r, row := range w {
			for c, v := range row {
				if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
					return ColorScale{}, fmt.Errorf("attention heatmap %q: weight [%d][%d] = %v, want a finite value >= 0", title, r, c, v)
				}
				hi = math.Max(hi, v)
			}
		}
	}
	if hi == 0 {
		hi = 1
	}
	return ColorScale{Min: 0, Max: hi}, nil
}

// shapeOf checks that a grid is non-empty and rectangular.
func shapeOf(rows int, colsOf func(int) int) (int, int, error) {
	if rows == 0 {
		return 0, 0, fmt.Errorf("empty grid")
	}
	cols := colsOf(0)
	if cols == 0 {
		return 0, 0, fmt.Errorf("grid row 0 is empty")
	}
	for r := 1; r < rows; r++ {
		if colsOf(r) != cols {
			return 0, 0, fmt.Errorf("grid is not rectangular: row 0 has %d cells, row %d has %d", cols, r, colsOf(r))
		}
	}
	return rows, cols, nil
}

func newHeatmap(rows, cols int, colour func(r, c int) color.Color, rowLabels, colLabels []string,
	title, xLabel, yLabel string, o options) (*Heatmap, error) {
	if rowLabels != nil && len(rowLabels) != rows {
		return nil, fmt.Errorf("heatmap %q: %d row labels for %d rows", title, len(rowLabels), rows)
	}
	if colLabels != nil && len(colLabels) != cols {
		return nil, fmt.Errorf("heatmap %q: %d column labels for %d columns", title, len(colLabels), cols)
	}
	p := newPlot(title, xLabel, yLabel)
	cl := &cells{rows: rows, cols: cols, colour: colour}
	p.Add(cl)
	p.X.Min, p.X.Max = -0.5, float64(cols)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(rows)-0.5
	p.X.Padding, p.Y.Padding = 0, 0
	p.X.LineStyle.Width, p.Y.LineStyle.Width = 0, 0

	xl, xf := tokenLabels(colLabels, cols, o)
	yl, yf := tokenLabels(rowLabels, rows, o)
	p.X.Tick.Marker = labelTicks{labels: xl, max: o.maxLabels}
	p.Y.Tick.Marker = labelTicks{labels: yl, max: o.maxLabels, reversed: true}
	p.X.Tick.Label.Font = withFace(p.X.Tick.Label.Font, xf)
	p.Y.Tick.Label.Font = withFace(p.Y.Tick.Label.Font, yf)
	h := &Heatmap{Plot: p, Rows: rows, Cols: cols, cells: cl}
	h.setRotation(needsRotation(xl, cols))
	return h, nil
}

// setRotation turns the key (x) labels vertical or back to horizontal.
func (h *Heatmap) setRotation(rot bool) {
	sty := &h.Plot.X.Tick.Label
	lt, ok := h.Plot.X.Tick.Marker.(labelTicks)
	if !ok {
		return
	}
	lt.pad = ""
	sty.Rotation, sty.XAlign, sty.YAlign = 0, draw.XCenter, draw.YTop
	if rot {
		// gonum anchors rotated labels a few points into the tick marks: pad them.
		lt.pad = "  "
		sty.Rotation, sty.XAlign, sty.YAlign = math.Pi/2, draw.XRight, draw.YCenter
	}
	h.Plot.X.Tick.Marker = lt
}

// fitXLabels keeps the key labels horizontal when each fits in the room it has
// (cellW per cell; every k-th label shown gets k cells), and turns them vertical
// otherwise.
func (h *Heatmap) fitXLabels(cellW vg.Length) {
	lt, ok := h.Plot.X.Tick.Marker.(labelTicks)
	if !ok {
		return
	}
	step := lt.step()
	widest := vg.Length(0)
	sty := h.Plot.X.Tick.Label
	sty.Rotation = 0
	for i, l := range lt.labels {
		if i%step == 0 && l != "" {
			widest = max(widest, sty.Width(l))
		}
	}
	h.setRotation(widest > vg.Length(step)*cellW-vg.Points(3))
}

// needsRotation reports whether x tick labels are too wide to sit side by side.
func needsRotation(labels []string, n int) bool {
	for _, l := range labels {
		if len([]rune(l)) > 2 {
			return true
		}
	}
	return n > 24
}

// tokenLabels resolves one axis's labels: indices when labels is nil; otherwise the
// labels in Liberation Sans or the CJK font, and substitutes for labels no font
// covers (the romanization, or "[i]").
func tokenLabels(labels []string, n int, o options) ([]string, font.Font) {
	latin := font.Font{Typeface: latinTypeface, Variant: latinVariant}
	out := make([]string, n)
	if labels == nil {
		for i := range out {
			out[i] = fmt.Sprint(i)
		}
		return out, latin
	}
	face := latin
	for i, l := range labels {
		idx := i
		r := resolveText(l, func(s string) string {
			if o.romanize != nil {
				if rs := o.romanize(s); rs != "" {
					return escapeUncovered(rs)
				}
			}
			return fmt.Sprintf("[%d]", idx)
		})
		out[i] = r.text
		if r.font.Typeface == cjkTypeface {
			face = r.font // the CJK font also draws the Latin labels
		}
	}
	return out, face
}

// labelTicks places one tick per cell, labelled with its token; with more than max
// cells only every k-th label is shown. Reversed puts index 0 at the top.
type labelTicks struct {
	labels   []string
	max      int
	reversed bool
	pad      string // appended to every shown label
}

// step is k when only every k-th label is shown.
func (t labelTicks) step() int {
	if n := len(t.labels); t.max > 0 && n > t.max {
		return (n + t.max - 1) / t.max
	}
	return 1
}

// Ticks implements plot.Ticker.
func (t labelTicks) Ticks(min, max float64) []plot.Tick {
	n, step := len(t.labels), t.step()
	ticks := make([]plot.Tick, 0, n)
	for i := range n {
		pos := float64(i)
		if t.reversed {
			pos = float64(n - 1 - i)
		}
		lbl := ""
		if i%step == 0 && t.labels[i] != "" {
			lbl = t.labels[i] + t.pad
		}
		ticks = append(ticks, plot.Tick{Value: pos, Label: lbl})
	}
	return ticks
}

// cells is a plotter that fills one rectangle per grid cell; row 0 is at the top.
type cells struct {
	rows, cols int
	colour     func(r, c int) color.Color
}

// Plot implements plot.Plotter.
func (g *cells) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	for r := range g.rows {
		y := float64(g.rows - 1 - r)
		for k := range g.cols {
			x := float64(k)
			rect := vg.Rectangle{
				Min: vg.Point{X: trX(x - 0.5), Y: trY(y - 0.5)},
				Max: vg.Point{X: trX(x + 0.5), Y: trY(y + 0.5)},
			}
			c.SetColor(g.colour(r, k))
			c.Fill(rect.Path())
		}
	}
	// Thin white separators while cells are large enough to show them.
	cw := (trX(1) - trX(0))
	ch := (trY(1) - trY(0))
	if cw < vg.Points(4) || ch < vg.Points(4) {
		return
	}
	sep := draw.LineStyle{Color: color.White, Width: vg.Points(0.5)}
	for k := 1; k < g.cols; k++ {
		x := trX(float64(k) - 0.5)
		c.StrokeLine2(sep, x, trY(-0.5), x, trY(float64(g.rows)-0.5))
	}
	for r := 1; r < g.rows; r++ {
		y := trY(float64(r) - 0.5)
		c.StrokeLine2(sep, trX(-0.5), y, trX(float64(g.cols)-0.5), y)
	}
}

// DataRange implements plot.DataRanger.
func (g *cells) DataRange() (xmin, xmax, ymin, ymax float64) {
	return -0.5, float64(g.cols) - 0.5, -0.5, float64(g.rows) - 0.5
}

// colorBarWidth is the width reserved on the right for a colour bar and its ticks.
const colorBarWidth = 0.5 * vg.Inch

// Draw implements Figure: the grid with square cells, centred, and the colour bar.
func (h *Heatmap) Draw(c draw.Canvas) {
	h.setRotation(false)
	da := h.Plot.DataCanvas(h.plotArea(c))
	h.fitXLabels((da.Max.X - da.Min.X) / vg.Length(h.Cols))
	h.drawFitted(c)
}

// drawFitted draws the heatmap with its labels as they are.
func (h *Heatmap) drawFitted(c draw.Canvas) {
	area := h.plotArea(c)
	h.Plot.Draw(area)
	if h.Scale != nil {
		bar := c
		bar.Min.X = area.Max.X + vg.Points(4)
		bar.Max.X = bar.Min.X + colorBarWidth - vg.Points(4)
		// Align the bar with the data area of the heatmap.
		da := h.Plot.DataCanvas(area)
		bar.Min.Y, bar.Max.Y = da.Min.Y, da.Max.Y
		h.Scale.drawBar(bar, h.Plot.TextHandler)
	}
}

// plotArea is the part of c that Draw gives to the plot (square cells, centred).
func (h *Heatmap) plotArea(c draw.Canvas) draw.Canvas {
	if h.Scale != nil {
		c.Max.X -= colorBarWidth
	}
	return squareCells(h.Plot, c, h.Rows, h.Cols)
}

// squareCells shrinks c (keeping it centred) so that p's data area has square cells.
func squareCells(p *plot.Plot, c draw.Canvas, rows, cols int) draw.Canvas {
	da := p.DataCanvas(c)
	w, hgt := da.Max.X-da.Min.X, da.Max.Y-da.Min.Y
	if w <= 0 || hgt <= 0 {
		return c
	}
	cell := vg.Length(math.Min(float64(w)/float64(cols), float64(hgt)/float64(rows)))
	dx := w - cell*vg.Length(cols)
	dy := hgt - cell*vg.Length(rows)
	c.Min.X += dx / 2
	c.Max.X -= dx / 2
	c.Min.Y += dy / 2
	c.Max.Y -= dy / 2
	return c
}

// ColorScale maps values in [Min, Max] to the Viridis colour map (perceptually
// uniform, colour-blind safe, readable in greyscale).
type ColorScale struct {
	Min, Max float64
}

// viridis holds Viridis at 0, 0.1, ..., 1.
var viridis = []color.RGBA{
	{0x44, 0x01, 0x54, 0xFF}, {0x48, 0x24, 0x75, 0xFF}, {0x41, 0x44, 0x87, 0xFF},
	{0x35, 0x5F, 0x8D, 0xFF}, {0x2A, 0x78, 0x8E, 0xFF}, {0x21, 0x91, 0x8C, 0xFF},
	{0x22, 0xA8, 0x84, 0xFF}, {0x44, 0xBF, 0x70, 0xFF}, {0x7A, 0xD1, 0x51, 0xFF},
	{0xBD, 0xDF, 0x26, 0xFF}, {0xFD, 0xE7, 0x25, 0xFF},
}

// At returns the colour of v (clamped to the scale's range).
func (s ColorScale) At(v float64) color.RGBA {
	t := 0.0
	if s.Max > s.Min {
		t = (v - s.Min) / (s.Max - s.Min)
	}
	t = math.Max(0, math.Min(1, t))
	f := t * float64(len(viridis)-1)
	i := int(math.Floor(f))
	if i >= len(viridis)-1 {
		return viridis[len(viridis)-1]
	}
	a, b, u := viridis[i], viridis[i+1], f-float64(i)
	mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x) + u*(float64(y)-float64(x)))) }
	return color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 0xFF}
}

// drawBar draws a vertical colour bar with value ticks on its right into c.
func (s ColorScale) drawBar(c draw.Canvas, hdlr text.Handler) {
	const bands = 64
	barW := vg.Points(7)
	h := c.Max.Y - c.Min.Y
	for i := range bands {
		y0 := c.Min.Y + h*vg.Length(i)/bands
		y1 := c.Min.Y + h*vg.Length(i+1)/bands
		c.SetColor(s.At(s.Min + (s.Max-s.Min)*(float64(i)+0.5)/bands))
		c.Fill(vg.Rectangle{Min: vg.Point{X: c.Min.X, Y: y0}, Max: vg.Point{X: c.Min.X + barW, Y: y1 + vg.Points(0.2)}}.Path())
	}
	frame := draw.LineStyle{Color: color.Black, Width: AxisWidth}
	c.StrokeLines(frame, []vg.Point{{X: c.Min.X, Y: c.Min.Y}, {X: c.Min.X + barW, Y: c.Min.Y},
		{X: c.Min.X + barW, Y: c.Max.Y}, {X: c.Min.X, Y: c.Max.Y}, {X: c.Min.X, Y: c.Min.Y}})
	sty := textStyle(TickSize, hdlr)
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YCenter
	for _, t := range (plot.DefaultTicks{}).Ticks(s.Min, s.Max) {
		if t.Label == "" || t.Value < s.Min || t.Value > s.Max {
			continue
		}
		y := c.Min.Y + h*vg.Length((t.Value-s.Min)/(s.Max-s.Min))
		c.StrokeLine2(frame, c.Min.X+barW, y, c.Min.X+barW+vg.Points(2), y)
		c.FillText(sty, vg.Point{X: c.Min.X + barW + vg.Points(3), Y: y}, t.Label)
	}
}
