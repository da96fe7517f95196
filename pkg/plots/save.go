package plots

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/masklab/masklab/internal/fsx"
	"golang.org/x/text/encoding/charmap"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/recorder"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Figure is anything that draws itself on a canvas: a *plot.Plot from this package's
// constructors, or a *Grid of panels.
type Figure interface {
	Draw(c draw.Canvas)
}

// Size is a figure's printed size.
type Size struct {
	Width, Height vg.Length
}

// Paper sizes: one column (3.5 in) and the full text width (7 in) of a two-column
// paper. Change the height with WithHeight.
var (
	SingleColumn = Size{Width: 3.5 * vg.Inch, Height: 2.4 * vg.Inch}
	DoubleColumn = Size{Width: 7 * vg.Inch, Height: 2.8 * vg.Inch}
)

// WithHeight returns s with height h.
func (s Size) WithHeight(h vg.Length) Size { s.Height = h; return s }

// DPI is the resolution of PNG output (and of the raster fallback inside PDFs).
const DPI = 300

// Formats lists the output formats Save and Write accept.
var Formats = []string{"png", "svg", "pdf"}

// Save writes f to path at the given size; the format comes from the extension
// (.png, .svg or .pdf). The file is written to a temporary name and renamed, so a
// failed save leaves no half-written figure; the umask decides its permissions.
func Save(f Figure, path string, size Size) error {
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	data, err := Encode(f, format, size)
	if err != nil {
		return fmt.Errorf("saving figure %s: %w", path, err)
	}
	// Written like every result: atomically, with the umask's permissions.
	if err := fsx.WriteFileAtomic(path, data); err != nil {
		return fmt.Errorf("saving figure: %w", err)
	}
	return nil
}

// Write draws f in format ("png", "svg" or "pdf") at the given size to w.
func Write(w io.Writer, f Figure, format string, size Size) error {
	data, err := Encode(f, format, size)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// Encode draws f in format ("png", "svg" or "pdf") at the given size and returns the
// file's bytes.
//
// PDF text goes through gonum's PDF backend, which encodes text as Windows-1252 and
// cannot embed font collections; a figure whose text falls outside Windows-1252 (CJK
// token labels) is therefore embedded in the PDF as a DPI-resolution image, so the
// characters still show.
func Encode(f Figure, format string, size Size) (data []byte, err error) {
	if f == nil {
		return nil, fmt.Errorf("nil figure")
	}
	if size.Width <= 0 || size.Height <= 0 {
		return nil, fmt.Errorf("figure size must be positive, got %.2fin x %.2fin", size.Width/vg.Inch, size.Height/vg.Inch)
	}
	defer func() {
		// gonum/plot reports some drawing failures by panicking.
		if r := recover(); r != nil {
			data, err = nil, fmt.Errorf("drawing %s figure: %v", format, r)
		}
	}()
	var buf bytes.Buffer
	switch strings.ToLower(format) {
	case "png":
		c := vgimg.PngCanvas{Canvas: rasterCanvas(size)}
		f.Draw(padded(draw.New(c)))
		if _, err = c.WriteTo(&buf); err == nil {
			var withDPI []byte
			withDPI, err = setPNGDPI(buf.Bytes(), DPI)
			buf.Reset()
			buf.Write(withDPI)
		}
	case "svg":
		// Embed the (Liberation) fonts so the SVG looks the same everywhere; a figure
		// with CJK text is left to the viewer's fonts (a CJK font is megabytes).
		cjk, _ := scanText(f, size)
		c := vgsvg.NewWith(vgsvg.UseWH(size.Width, size.Height), vgsvg.EmbedFonts(!cjk))
		fillBackground(draw.New(c))
		f.Draw(padded(draw.New(c)))
		_, err = c.WriteTo(&buf)
	case "pdf":
		c := vgpdf.New(size.Width, size.Height)
		dc := draw.New(c)
		if cjk, non1252 := scanText(f, size); cjk || non1252 {
			img := rasterCanvas(size)
			f.Draw(padded(draw.New(img)))
			dc.DrawImage(dc.Rectangle, flipVertical(img.Image()))
		} else {
			fillBackground(dc)
			f.Draw(padded(dc))
		}
		_, err = c.WriteTo(&buf)
	default:
		return nil, fmt.Errorf("unknown figure format %q (want one of %s)", format, strings.Join(Formats, ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("encoding %s figure: %w", format, err)
	}
	return buf.Bytes(), nil
}

// Margin is the white space left around every figure.
const Margin = 3 * vg.Millimeter / 2

// padded is c less Margin on every side.
func padded(c draw.Canvas) draw.Canvas {
	return draw.Crop(c, Margin, -Margin, Margin, -Margin)
}

// rasterCanvas is a white DPI-resolution image canvas of the given size.
func rasterCanvas(size Size) *vgimg.Canvas {
	return vgimg.NewWith(vgimg.UseWH(size.Width, size.Height), vgimg.UseDPI(DPI),
		vgimg.UseBackgroundColor(color.White))
}

// fillBackground paints the canvas white (SVG and PDF are transparent otherwise).
func fillBackground(c draw.Canvas) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
}

// scanText reports whether f draws text in the CJK font, and whether it draws text
// that Windows-1252 (the PDF backend's text encoding) cannot encode.
func scanText(f Figure, size Size) (cjk, non1252 bool) {
	var rec recorder.Canvas
	f.Draw(padded(draw.NewCanvas(&rec, size.Width, size.Height)))
	for _, a := range rec.Actions {
		fs, ok := a.(*recorder.FillString)
		if !ok {
			continue
		}
		if fs.Font.Typeface == cjkTypeface {
			cjk = true
		}
		for _, r := range fs.String {
			if _, ok := charmap.Windows1252.EncodeRune(r); !ok {
				non1252 = true
			}
		}
	}
	return cjk, non1252
}

// flipVertical returns img upside down: vgpdf draws images with y pointing down.
func flipVertical(img image.Image) image.Image {
	b := img.Bounds()
	out := image.NewRGBA(b)
	if src, ok := img.(*image.RGBA); ok {
		for y := 0; y < b.Dy(); y++ {
			copy(out.Pix[y*out.Stride:(y+1)*out.Stride], src.Pix[(b.Dy()-1-y)*src.Stride:][:out.Stride])
		}
		return out
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			out.Set(x, b.Max.Y-1-(y-b.Min.Y), img.At(x, y))
		}
	}
	return out
}

// setPNGDPI inserts a pHYs chunk after the IHDR chunk of a PNG, so that LaTeX and
// image viewers know its resolution (and so its printed size).
func setPNGDPI(data []byte, dpi int) ([]byte, error) {
	const sig, ihdrLen = 8, 8 + 13 + 4 // signature; IHDR: length+type, data, CRC
	if len(data) < sig+ihdrLen || string(data[12:16]) != "IHDR" {
		return nil, fmt.Errorf("PNG without IHDR chunk")
	}
	ppm := uint32(math.Round(float64(dpi) / 0.0254))
	chunk := make([]byte, 0, 21)
	chunk = binary.BigEndian.AppendUint32(chunk, 9)
	chunk = append(chunk, "pHYs"...)
	chunk = binary.BigEndian.AppendUint32(chunk, ppm)
	chunk = binary.BigEndian.AppendUint32(chunk, ppm)
	chunk = append(chunk, 1) // unit: metre
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	out := make([]byte, 0, len(data)+len(chunk))
	out = append(out, data[:sig+ihdrLen]...)
	out = append(out, chunk...)
	return append(out, data[sig+ihdrLen:]...), nil
}
