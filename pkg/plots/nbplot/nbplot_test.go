package nbplot

import (
	"bytes"
	"encoding/xml"
	"image/png"
	"strings"
	"testing"

	"github.com/janpfeifer/gonb/gonbui/protocol"

	"github.com/masklab/masklab/pkg/plots"
)

func TestData(t *testing.T) {
	h, err := plots.MaskHeatmap([][]bool{{true, false}, {true, true}}, nil, nil, "causal")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Data(h, "png", plots.SingleColumn, "causal mask")
	if err != nil {
		t.Fatal(err)
	}
	raw, ok := d.Data[protocol.MIMEImagePNG].([]byte)
	if !ok {
		t.Fatalf("png data is %T, want []byte", d.Data[protocol.MIMEImagePNG])
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("decoding PNG: %v", err)
	}
	if w := img.Bounds().Dx(); w != int(3.5*plots.DPI) {
		t.Errorf("PNG width %d px, want %d", w, int(3.5*plots.DPI))
	}
	if md := d.Metadata["image/png"].(map[string]any); md["width"] != 336 {
		t.Errorf("PNG display width %v, want 336 (3.5in at 96 dpi)", md["width"])
	}

	d, err = Data(h, "svg", plots.SingleColumn, "")
	if err != nil {
		t.Fatal(err)
	}
	svg, ok := d.Data[protocol.MIMEImageSVG].(string)
	if !ok {
		t.Fatalf("svg data is %T, want string", d.Data[protocol.MIMEImageSVG])
	}
	if _, isHTML := d.Data[protocol.MIMETextHTML]; isHTML {
		t.Error("SVG must be sent as image/svg+xml, not wrapped in text/html")
	}
	dec := xml.NewDecoder(strings.NewReader(svg))
	var root struct{ XMLName xml.Name }
	if err := dec.Decode(&root); err != nil || root.XMLName.Local != "svg" {
		t.Fatalf("SVG output does not parse as <svg>: root %v, err %v", root.XMLName, err)
	}
	if _, err := Data(h, "pdf", plots.SingleColumn, ""); err == nil {
		t.Error("pdf should not be accepted for inline display")
	}
	// Outside a notebook Display is a no-op that still renders (and so reports errors).
	if err := Display(h, plots.SingleColumn); err != nil {
		t.Error(err)
	}
	if err := DisplaySVG(h, plots.Size{}); err == nil {
		t.Error("zero size should be an error")
	}
}
