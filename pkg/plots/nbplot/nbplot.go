// Package nbplot shows masklab figures inline in GoNB (Jupyter) notebooks: as
// image/png, or as a real image/svg+xml output (gonbui.DisplaySvg would wrap the SVG
// in text/html instead). It is kept apart from package plots so that command-line
// binaries do not link GoNB.
package nbplot

import (
	"fmt"

	"github.com/janpfeifer/gonb/gonbui"
	"github.com/janpfeifer/gonb/gonbui/protocol"
	"gonum.org/v1/plot/vg"

	"github.com/masklab/masklab/pkg/plots"
)

// ScreenDPI is the CSS pixel density notebooks lay images out at: a PNG rendered at
// plots.DPI is shown at its printed size (and stays sharp on high-density screens).
const ScreenDPI = 96

// Data returns the display message of f drawn at size in format "png" or "svg":
// the image under its MIME type, its printed width as metadata, and alt text.
func Data(f plots.Figure, format string, size plots.Size, alt string) (*protocol.DisplayData, error) {
	var mime protocol.MIMEType
	switch format {
	case "png":
		mime = protocol.MIMEImagePNG
	case "svg":
		mime = protocol.MIMEImageSVG
	default:
		return nil, fmt.Errorf("nbplot: format %q cannot be displayed inline (want png or svg)", format)
	}
	raw, err := plots.Encode(f, format, size)
	if err != nil {
		return nil, fmt.Errorf("nbplot: %w", err)
	}
	var content any = raw
	if mime == protocol.MIMEImageSVG {
		content = string(raw) // Jupyter expects SVG as text
	}
	if alt == "" {
		alt = "masklab figure"
	}
	width := int(float64(size.Width/vg.Inch)*ScreenDPI + 0.5)
	height := int(float64(size.Height/vg.Inch)*ScreenDPI + 0.5)
	return &protocol.DisplayData{
		Data: map[protocol.MIMEType]any{
			mime:                   content,
			protocol.MIMETextPlain: alt,
		},
		Metadata: map[string]any{
			string(mime): map[string]any{"width": width, "height": height},
		},
	}, nil
}

// Display shows f as a PNG (plots.DPI) at its printed size in the current cell.
// Outside a GoNB notebook it does nothing.
func Display(f plots.Figure, size plots.Size) error { return show(f, "png", size) }

// DisplaySVG shows f as an image/svg+xml output in the current cell. Outside a GoNB
// notebook it does nothing.
func DisplaySVG(f plots.Figure, size plots.Size) error { return show(f, "svg", size) }

func show(f plots.Figure, format string, size plots.Size) error {
	d, err := Data(f, format, size, "")
	if err != nil {
		return err
	}
	if !gonbui.IsNotebook {
		return nil
	}
	gonbui.SendData(d)
	// Wait until GoNB has read the figure: it stops reading its pipe when the cell's
	// program exits, so a large PNG sent just before the end could otherwise be lost.
	gonbui.Sync()
	return nil
}
