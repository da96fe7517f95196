package plots

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"unicode"

	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/recorder"
)

var zhTokens = []string{"<s>", "我", "爱", "北京", "。"}

// drawnStrings draws f into a recorder and returns every string drawn with the
// typeface it was drawn in.
func drawnStrings(f Figure, size Size) map[string]string {
	var rec recorder.Canvas
	f.Draw(padded(draw.NewCanvas(&rec, size.Width, size.Height)))
	out := map[string]string{}
	for _, a := range rec.Actions {
		if fs, ok := a.(*recorder.FillString); ok {
			out[strings.TrimSpace(fs.String)] = string(fs.Font.Typeface)
		}
	}
	return out
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

func TestCJKLabelsUseCJKFont(t *testing.T) {
	resetFonts(t)
	t.Setenv(CJKFontEnv, "")
	path, err := CJKFont()
	if err != nil {
		t.Skipf("no CJK font on this machine (%v); scripts/setup-ci.d/20-fonts.sh installs one", err)
	}
	t.Logf("CJK font: %s", path)
	var warned []string
	warnf = func(f string, a ...any) { warned = append(warned, fmt.Sprintf(f, a...)) }
	t.Cleanup(func() { warnf = func(f string, a ...any) { fmt.Fprintf(os.Stderr, f, a...) } })

	h, err := MaskHeatmap(causalGrid(len(zhTokens)), zhTokens, zhTokens, "因果掩码")
	if err != nil {
		t.Fatal(err)
	}
	size := h.SizeFor(SingleColumn.Width)
	drawn := drawnStrings(h, size)
	for _, tok := range append(zhTokens, "因果掩码") {
		if tf, ok := drawn[tok]; !ok {
			t.Errorf("label %q not drawn (drawn: %v)", tok, drawn)
		} else if hasHan(tok) && tf != string(cjkTypeface) {
			t.Errorf("label %q drawn in %q, want the CJK font", tok, tf)
		}
	}
	if tf := drawn["query"]; tf != string(latinTypeface) {
		t.Errorf("Latin axis label drawn in %q, want %q", tf, latinTypeface)
	}
	if len(warned) != 0 {
		t.Errorf("unexpected fallback warning: %v", warned)
	}
	saveAll(t, h, reviewDir(t), "cjk_font", size)
	// The PDF keeps the Chinese labels by embedding the figure as an image.
	pdf, err := Encode(h, "pdf", size)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(pdf, []byte("/Subtype /Image")) {
		t.Error("PDF with CJK labels should embed the figure as an image")
	}
	// A Latin-only figure stays vector text in the PDF.
	l, _ := MaskHeatmap(causalGrid(2), []string{"a", "b"}, nil, "latin")
	if pdf, _ := Encode(l, "pdf", size); bytes.Contains(pdf, []byte("/Subtype /Image")) {
		t.Error("Latin-only PDF should not be rasterized")
	}
}

func TestCJKFallback(t *testing.T) {
	resetFonts(t)
	t.Setenv(CJKFontEnv, "none") // force the path of a machine without CJK fonts
	if _, err := CJKFont(); err == nil || !strings.Contains(err.Error(), "none") {
		t.Fatalf("CJKFont with %s=none: err = %v", CJKFontEnv, err)
	}
	var warned []string
	warnf = func(f string, a ...any) { warned = append(warned, fmt.Sprintf(f, a...)) }
	t.Cleanup(func() { warnf = func(f string, a ...any) { fmt.Fprintf(os.Stderr, f, a...) } })

	h, err := MaskHeatmap(causalGrid(len(zhTokens)), zhTokens, zhTokens, "因果 mask")
	if err != nil {
		t.Fatal(err)
	}
	size := h.SizeFor(SingleColumn.Width)
	drawn := drawnStrings(h, size)
	for s := range drawn {
		if hasHan(s) {
			t.Errorf("Han characters drawn without a CJK font (empty boxes): %q", s)
		}
	}
	for _, want := range []string{"<s>", "[1]", "[2]", "[3]", "[4]", "U+56E0U+679C mask"} {
		if _, ok := drawn[want]; !ok {
			t.Errorf("substitute %q not drawn; drawn: %v", want, drawn)
		}
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "warning") {
		t.Errorf("want exactly one warning, got %q", warned)
	}
	saveAll(t, h, reviewDir(t), "cjk_fallback_index", size)

	pinyin := map[string]string{"我": "wǒ", "爱": "ài", "北京": "Běijīng", "。": "."}
	h, err = MaskHeatmap(causalGrid(len(zhTokens)), zhTokens, zhTokens, "romanized", WithRomanize(func(s string) string { return pinyin[s] }))
	if err != nil {
		t.Fatal(err)
	}
	drawn = drawnStrings(h, size)
	for _, want := range []string{"wǒ", "ài", "Běijīng"} {
		if _, ok := drawn[want]; !ok {
			t.Errorf("romanization %q not drawn; drawn: %v", want, drawn)
		}
	}
	if len(warned) != 1 {
		t.Errorf("the warning must be printed once per process, got %d", len(warned))
	}
	saveAll(t, h, reviewDir(t), "cjk_fallback_pinyin", size)
}

func TestCJKFontEnv(t *testing.T) {
	resetFonts(t)
	t.Setenv(CJKFontEnv, "/nonexistent/font.ttf")
	if _, err := CJKFont(); err == nil || !strings.Contains(err.Error(), "/nonexistent/font.ttf") {
		t.Errorf("bad %s: err = %v, want it to name the path", CJKFontEnv, err)
	}
	// A Latin-only font is refused as a CJK font.
	if dejavu := "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"; fileExists(dejavu) {
		resetFonts(t)
		t.Setenv(CJKFontEnv, dejavu)
		if _, err := CJKFont(); err == nil || !strings.Contains(err.Error(), "no Chinese glyphs") {
			t.Errorf("a font without Chinese glyphs should be refused, err = %v", err)
		}
	}
	for _, p := range CJKFontCandidates {
		if _, err := os.Stat(p); err != nil || !strings.HasSuffix(p, ".ttc") {
			continue
		}
		resetFonts(t)
		t.Setenv(CJKFontEnv, p+"#1")
		if got, err := CJKFont(); err != nil || got != p+"#1" {
			t.Errorf("%s=%s#1: got %q, %v", CJKFontEnv, p, got, err)
		}
		resetFonts(t)
		t.Setenv(CJKFontEnv, p+"#99")
		if _, err := CJKFont(); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("index 99: err = %v, want out of range", err)
		}
		return
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
