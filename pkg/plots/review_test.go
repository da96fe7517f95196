package plots

import (
	"bytes"
	"encoding/xml"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// reviewDir is where tests also write their figures for a human to look at
// (MASKLAB_PLOTS_REVIEW=/tmp/plots-review go test ./pkg/plots/); unset, they go to
// the test's temporary directory only.
func reviewDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("MASKLAB_PLOTS_REVIEW"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// saveAll writes f in every format under dir/name.{png,svg,pdf}, checks that each
// file is valid (the PNG decodes at DPI, the SVG parses as XML with an <svg> root,
// the PDF has its header and trailer) and returns the decoded PNG.
func saveAll(t *testing.T, f Figure, dir, name string, size Size) image.Image {
	t.Helper()
	var img image.Image
	for _, ext := range Formats {
		p := filepath.Join(dir, name+"."+ext)
		if err := Save(f, p, size); err != nil {
			t.Fatalf("Save(%s): %v", p, err)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		switch ext {
		case "png":
			img = checkPNG(t, p, data, size)
		case "svg":
			checkSVG(t, p, data)
		case "pdf":
			checkPDF(t, p, data)
		}
	}
	return img
}

func checkPNG(t *testing.T, path string, data []byte, size Size) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: not a PNG: %v", path, err)
	}
	// pHYs chunk: 11811 pixels per metre (300 dpi) both ways, unit metre.
	if !bytes.Contains(data[:64], []byte("pHYs\x00\x00\x2e\x23\x00\x00\x2e\x23\x01")) {
		t.Errorf("%s: no 300-dpi pHYs chunk after IHDR", path)
	}
	wantW := int(float64(size.Width)/72*DPI + 0.5)
	wantH := int(float64(size.Height)/72*DPI + 0.5)
	if b := img.Bounds(); abs(b.Dx()-wantW) > 1 || abs(b.Dy()-wantH) > 1 {
		t.Errorf("%s: %dx%d px, want %dx%d (%.2fx%.2f in at %d dpi)", path, b.Dx(), b.Dy(), wantW, wantH,
			float64(size.Width)/72, float64(size.Height)/72, DPI)
	}
	return img
}

func checkSVG(t *testing.T, path string, data []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(data))
	root, texts := "", 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: invalid SVG/XML: %v", path, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			if se.Name.Local == "text" {
				texts++
			}
		}
	}
	if root != "svg" {
		t.Fatalf("%s: root element %q, want svg", path, root)
	}
	if texts == 0 {
		t.Errorf("%s: SVG has no <text> elements", path)
	}
}

func checkPDF(t *testing.T, path string, data []byte) {
	t.Helper()
	if !bytes.HasPrefix(data, []byte("%PDF-1.")) {
		t.Fatalf("%s: no PDF header: %q", path, data[:min(len(data), 8)])
	}
	if !bytes.Contains(data[max(0, len(data)-64):], []byte("%%EOF")) {
		t.Errorf("%s: no %%%%EOF trailer", path)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// resetFonts forgets the loaded fonts and the warning, so a test can change
// $MASKLAB_CJK_FONT; it restores the original state at the end of the test.
func resetFonts(t *testing.T) {
	t.Helper()
	reset := func() {
		fontsOnce = sync.Once{}
		fonts = fontState{}
		warnOnce = sync.Once{}
	}
	reset()
	t.Cleanup(reset)
}
