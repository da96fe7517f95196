package plots

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// TokenCell is one token of a TokenStrip.
type TokenCell struct {
	Text  string
	Class int  // its class: its fill colour, named in the legend by Classes[Class]
	Faded bool // drawn pale (e.g. a token the loss ignores)
	Break bool // a boundary bar before it (e.g. the start of a new document)
}

// TokenStrip draws a sequence of tokens as labelled cells, left to right in lines that
// wrap at the figure's width, each filled with its class's colour (pale when faded),
// with a bar before each break and a legend below: the view of one training example
// by token role (prompt, completion, trained, ignored, padding, document boundary).
type TokenStrip struct {
	Title   string
	Cells   []TokenCell
	Classes []string // the legend's name of each class
	// Colors, when set, are the classes' colours (default Color(class)).
	Colors []color.RGBA
	// FadedLabel and BreakLabel name faded cells and breaks in the legend ("" = no entry).
	FadedLabel, BreakLabel string
}

// NewTokenStrip checks the cells' classes and returns the strip.
func NewTokenStrip(title string, cells []TokenCell, classes []string) (*TokenStrip, error) {
	if len(cells) == 0 {
		return nil, fmt.Errorf("token strip %q: no tokens", title)
	}
	for i, c := range cells {
		if c.Class < 0 || c.Class >= len(classes) {
			return nil, fmt.Errorf("token strip %q: token %d (%q) has class %d, want 0..%d", title, i, c.Text, c.Class, len(classes)-1)
		}
	}
	return &TokenStrip{Title: title, Cells: cells, Classes: classes}, nil
}

// Sizes of a token strip.
var (
	tokenPad    = vg.Points(2.5) // text to cell edge
	tokenGap    = vg.Points(1)   // between cells
	tokenBreak  = vg.Points(5)   // room for a break bar
	tokenLineSp = vg.Points(3)   // between lines
)

func (s *TokenStrip) cellHeight() vg.Length { return vg.Points(TickSize) * 2 }

// tokenText resolves a token's text and style (the CJK font when it needs one).
func tokenText(t string) (string, text.Style) {
	sty := textStyle(TickSize, plainHandler())
	var out string
	setText(&out, &sty, t)
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
	return out, sty
}

// layout places the cells in lines of the given width: x offsets and line numbers.
func (s *TokenStrip) layout(width vg.Length) (xs []vg.Length, lines []int, nLines int) {
	x, line := vg.Length(0), 0
	h := s.cellHeight()
	for _, c := range s.Cells {
		t, sty := tokenText(c.Text)
		w := max(sty.Width(t)+2*tokenPad, h)
		if c.Break {
			x += tokenBreak
		}
		if x > 0 && x+w > width {
			x, line = 0, line+1
			if c.Break {
				x = tokenBreak
			}
		}
		xs, lines = append(xs, x), append(lines, line)
		x += w + tokenGap
	}
	return xs, lines, line + 1
}

func (s *TokenStrip) titleHeight() vg.Length {
	if s.Title == "" {
		return 0
	}
	return vg.Points(TitleSize) + vg.Points(6)
}

func (s *TokenStrip) legendHeight() vg.Length { return vg.Points(LegendSize) + vg.Points(10) }

// SizeFor returns the size the strip needs at the given width.
func (s *TokenStrip) SizeFor(width vg.Length) Size {
	_, _, n := s.layout(width - 2*Margin)
	h := 2*Margin + s.titleHeight() + vg.Length(n)*(s.cellHeight()+tokenLineSp) + s.legendHeight()
	return Size{Width: width, Height: h}
}

// pale mixes c with white, for faded cells.
func pale(c color.RGBA) color.RGBA {
	mix := func(x uint8) uint8 { return uint8(float64(x) + (255-float64(x))*0.72 + 0.5) }
	return color.RGBA{mix(c.R), mix(c.G), mix(c.B), 0xFF}
}

// breakColor is the colour of break bars.
var breakColor = Palette[1]

func (s *TokenStrip) color(class int) color.RGBA {
	if class < len(s.Colors) {
		return s.Colors[class]
	}
	return Color(class)
}

// Draw implements Figure.
func (s *TokenStrip) Draw(c draw.Canvas) {
	area := c
	area.Min.X += Margin
	area.Max.X -= Margin
	top := c.Max.Y - Margin
	if s.Title != "" {
		sty := textStyle(TitleSize, plainHandler())
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
		var title string
		setText(&title, &sty, s.Title)
		c.FillText(sty, vg.Point{X: c.Center().X, Y: top}, title)
		top -= s.titleHeight()
	}
	h := s.cellHeight()
	xs, lines, n := s.layout(area.Max.X - area.Min.X)
	for i, cell := range s.Cells {
		x0 := area.Min.X + xs[i]
		y1 := top - vg.Length(lines[i])*(h+tokenLineSp)
		t, sty := tokenText(cell.Text)
		w := max(sty.Width(t)+2*tokenPad, h)
		fill := s.color(cell.Class)
		sty.Color = color.White
		if cell.Faded {
			fill = pale(fill)
		}
		if lum := 0.299*float64(fill.R) + 0.587*float64(fill.G) + 0.114*float64(fill.B); lum > 150 {
			sty.Color = color.Black
		}
		rect := vg.Rectangle{Min: vg.Point{X: x0, Y: y1 - h}, Max: vg.Point{X: x0 + w, Y: y1}}
		c.SetColor(fill)
		c.Fill(rect.Path())
		c.FillText(sty, vg.Point{X: x0 + w/2, Y: y1 - h/2}, t)
		if cell.Break {
			bar := draw.LineStyle{Color: breakColor, Width: vg.Points(1.5)}
			bx := x0 - tokenBreak/2
			c.StrokeLine2(bar, bx, y1+vg.Points(1), bx, y1-h-vg.Points(1))
		}
	}
	// The legend, below the last line.
	y := top - vg.Length(n)*(h+tokenLineSp) - vg.Points(4)
	x := area.Min.X
	sw := vg.Points(LegendSize)
	lsty := textStyle(LegendSize, plainHandler())
	lsty.XAlign, lsty.YAlign = draw.XLeft, draw.YTop
	entry := func(label string, swatch func(x vg.Length)) {
		swatch(x)
		var t string
		st := lsty
		setText(&t, &st, label)
		c.FillText(st, vg.Point{X: x + sw + vg.Points(2), Y: y}, t)
		x += sw + vg.Points(2) + st.Width(t) + vg.Points(8)
	}
	box := func(col color.Color) func(x vg.Length) {
		return func(x vg.Length) {
			c.SetColor(col)
			c.Fill(vg.Rectangle{Min: vg.Point{X: x, Y: y - sw}, Max: vg.Point{X: x + sw, Y: y}}.Path())
		}
	}
	for i, name := range s.Classes {
		entry(name, box(s.color(i)))
	}
	if s.FadedLabel != "" {
		entry(s.FadedLabel, box(pale(s.color(0))))
	}
	if s.BreakLabel != "" {
		entry(s.BreakLabel, func(x vg.Length) {
			c.StrokeLine2(draw.LineStyle{Color: breakColor, Width: vg.Points(1.5)}, x+sw/2, y, x+sw/2, y-sw)
		})
	}
}
