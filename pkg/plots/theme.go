package plots

import (
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
)

// Palette is the Okabe-Ito colour-blind-safe palette (Okabe & Ito 2008), in the order
// series are coloured: blue, vermillion, bluish green, orange, reddish purple, sky
// blue, black, yellow. Yellow is last because it is faint on white.
var Palette = []color.RGBA{
	{0x00, 0x72, 0xB2, 0xFF}, // blue
	{0xD5, 0x5E, 0x00, 0xFF}, // vermillion
	{0x00, 0x9E, 0x73, 0xFF}, // bluish green
	{0xE6, 0x9F, 0x00, 0xFF}, // orange
	{0xCC, 0x79, 0xA7, 0xFF}, // reddish purple
	{0x56, 0xB4, 0xE9, 0xFF}, // sky blue
	{0x00, 0x00, 0x00, 0xFF}, // black
	{0xF0, 0xE4, 0x42, 0xFF}, // yellow
}

// Color returns the colour of series i: Palette[i] for the first len(Palette) series,
// then the palette again mixed with white (40% for the second round, 65% for the
// third, ...), so that bars, which have no dash pattern, stay distinct beyond eight
// series (notebook 04 draws ten).
func Color(i int) color.RGBA {
	n := len(Palette)
	i = ((i % (4 * n)) + 4*n) % (4 * n)
	c := Palette[i%n]
	round := i / n
	if round == 0 {
		return c
	}
	w := []float64{0, 0.4, 0.65, 0.8}[round]
	mix := func(x uint8) uint8 { return uint8(float64(x) + (255-float64(x))*w + 0.5) }
	return color.RGBA{mix(c.R), mix(c.G), mix(c.B), 0xFF}
}

// dashes distinguish series in greyscale prints as well as by colour.
var dashes = [][]vg.Length{
	nil,
	{vg.Points(4), vg.Points(2)},
	{vg.Points(1), vg.Points(1.5)},
	{vg.Points(5), vg.Points(1.5), vg.Points(1), vg.Points(1.5)},
	{vg.Points(2), vg.Points(2)},
}

// Dashes returns the line dash pattern of series i (solid for 0, cycling).
func Dashes(i int) []vg.Length { return dashes[((i%len(dashes))+len(dashes))%len(dashes)] }

// Font sizes shared by every figure, in points, chosen for figures printed at their
// real size in a two-column paper (captions are usually 8-9 pt).
const (
	TitleSize  = 9
	LabelSize  = 8
	TickSize   = 7
	LegendSize = 7
)

// Line widths shared by every figure.
var (
	LineWidth = vg.Points(1.2)
	AxisWidth = vg.Points(0.6)
)

// newPlot returns a plot with the masklab theme: fonts, sizes, axis lines, padding.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	hdlr := plainHandler()
	p.TextHandler = hdlr
	// Keep gonum's alignments (it rotates the y label itself); set fonts and sizes.
	restyle := func(sty *text.Style, size float64) {
		sty.Font = textStyle(size, hdlr).Font
		sty.Handler = hdlr
	}
	restyle(&p.Title.TextStyle, TitleSize)
	p.Title.Padding = vg.Points(4)
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		restyle(&ax.Label.TextStyle, LabelSize)
		ax.Label.Padding = vg.Points(2)
		restyle(&ax.Tick.Label, TickSize)
		ax.LineStyle.Width = AxisWidth
		ax.Tick.LineStyle.Width = AxisWidth
		ax.Tick.Length = vg.Points(3)
		ax.Padding = vg.Points(2)
		ax.Tick.Marker = niceTicks{}
	}
	restyle(&p.Legend.TextStyle, LegendSize)
	p.Legend.Padding = vg.Points(1)
	p.Legend.ThumbnailWidth = vg.Points(14)
	setText(&p.Title.Text, &p.Title.TextStyle, title)
	setText(&p.X.Label.Text, &p.X.Label.TextStyle, xLabel)
	setText(&p.Y.Label.Text, &p.Y.Label.TextStyle, yLabel)
	return p
}

// textStyle is the theme's text style at the given size.
func textStyle(size float64, hdlr text.Handler) text.Style {
	return text.Style{
		Color:   color.Black,
		Font:    font.Font{Typeface: latinTypeface, Variant: latinVariant, Size: vg.Points(size)},
		Handler: hdlr,
	}
}

// setText stores s in *dst and switches sty to a font that can draw it (see
// resolveText); without such a font, uncovered runes are spelled "U+XXXX".
func setText(dst *string, sty *text.Style, s string) {
	if s == "" {
		*dst = ""
		return
	}
	r := resolveText(s, escapeUncovered)
	*dst = r.text
	sty.Font = withFace(sty.Font, r.font)
}

// withFace returns base with the typeface and variant of face (keeping size,
// weight and style).
func withFace(base, face font.Font) font.Font {
	base.Typeface, base.Variant = face.Typeface, face.Variant
	return base
}
