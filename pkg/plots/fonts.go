package plots

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/masklab/masklab/internal/envvars"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/font/liberation"
	"gonum.org/v1/plot/text"
)

// CJKFontEnv names the environment variable that points masklab at a CJK-capable
// font file (.ttf, .otf, .ttc or .otc), e.g. MASKLAB_CJK_FONT=/usr/share/fonts/my.ttc.
// A collection member other than the first is chosen with a "#N" suffix
// (MASKLAB_CJK_FONT=/path/NotoSansCJK-Regular.ttc#2). The value "none" disables CJK
// fonts, so labels take the fallback path (token index or the Romanize callback).
const CJKFontEnv = "MASKLAB_CJK_FONT"

// CJKFontCandidates are the files searched, in order, when $MASKLAB_CJK_FONT is unset:
// the Debian/Ubuntu packages fonts-wqy-microhei, fonts-wqy-zenhei and fonts-noto-cjk,
// then common macOS and Windows locations. scripts/setup-ci.d/20-fonts.sh installs
// fonts-wqy-microhei on CI machines.
var CJKFontCandidates = []string{
	"/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
	"/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
	"/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
	"/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
	"/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
	"/usr/share/fonts/truetype/arphic/uming.ttc",
	"/Library/Fonts/Arial Unicode.ttf",
	"/System/Library/Fonts/Supplemental/Arial Unicode.ttf",
	"/System/Library/Fonts/STHeiti Light.ttc",
	`C:\Windows\Fonts\msyh.ttc`,
	`C:\Windows\Fonts\simhei.ttf`,
}

// Typefaces used by every masklab figure: Liberation Sans (metric-compatible with
// Arial/Helvetica, bundled with gonum/plot) for Latin text, and the CJK font found on
// the system for any text that Liberation Sans cannot draw.
const (
	latinTypeface font.Typeface = "Liberation"
	latinVariant  font.Variant  = "Sans"
	cjkTypeface   font.Typeface = "masklab-cjk"
)

// fontState is the package's font set, built once on first use.
type fontState struct {
	cache   *font.Cache
	latin   *sfnt.Font // Liberation Sans regular, for glyph-coverage checks
	cjk     *sfnt.Font // nil when no CJK font is available
	cjkPath string     // the file the CJK font came from, or ""
	cjkErr  error      // why no CJK font is available (nil when one is)
}

var (
	fontsOnce sync.Once
	fonts     fontState
	warnOnce  sync.Once
	// warnf prints the one-time fallback warning; tests replace it.
	warnf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format, args...) }
)

// loadFonts builds the font cache: Liberation (all variants) plus the CJK font.
func loadFonts() *fontState {
	fontsOnce.Do(func() {
		coll := liberation.Collection()
		fonts.cache = font.NewCache(coll)
		for _, f := range coll {
			if f.Font.Variant == latinVariant && f.Font.Style == 0 && f.Font.Weight == 0 {
				fonts.latin = f.Face
			}
		}
		cjk, path, err := findCJKFont(envvars.Get(CJKFontEnv))
		if err != nil {
			fonts.cjkErr = err
			return
		}
		fonts.cjk, fonts.cjkPath = cjk, path
		fonts.cache.Add(font.Collection{{Font: font.Font{Typeface: cjkTypeface}, Face: cjk}})
	})
	return &fonts
}

// CJKFont reports which CJK-capable font file figures use, or an error saying why
// none is available (then CJK labels are replaced by their fallback, with a warning).
func CJKFont() (path string, err error) {
	st := loadFonts()
	return st.cjkPath, st.cjkErr
}

// findCJKFont loads the font named by env ("" = search CJKFontCandidates,
// "none" = disabled).
func findCJKFont(env string) (*opentype.Font, string, error) {
	env = strings.TrimSpace(env)
	if strings.EqualFold(env, "none") {
		return nil, "", fmt.Errorf("CJK fonts disabled by %s=none", CJKFontEnv)
	}
	if env != "" {
		f, err := loadFontFile(env)
		if err != nil {
			return nil, "", fmt.Errorf("%s=%q: %w", CJKFontEnv, env, err)
		}
		return f, env, nil
	}
	for _, path := range CJKFontCandidates {
		if _, err := os.Stat(path); err != nil {
			continue
		}
		if f, err := loadFontFile(path); err == nil {
			return f, path, nil
		}
	}
	return nil, "", fmt.Errorf("no CJK font found (looked in %s); install fonts-wqy-microhei or fonts-noto-cjk, or set %s=/path/to/font.ttf",
		strings.Join(CJKFontCandidates[:3], ", "), CJKFontEnv)
}

// loadFontFile parses a TTF/OTF file or one member ("#N" suffix, default 0) of a
// TTC/OTC collection, and checks that it has Han glyphs.
func loadFontFile(spec string) (*opentype.Font, error) {
	path, index := spec, 0
	if i := strings.LastIndex(spec, "#"); i > 0 {
		n, err := strconv.Atoi(spec[i+1:])
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad collection index %q after '#'", spec[i+1:])
		}
		path, index = spec[:i], n
	}
	data, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		return nil, err
	}
	// Repack first: it also turns a collection member into a standalone font.
	if packed, err := repackSFNT(data, index); err == nil {
		data, index = packed, 0
	}
	coll, err := opentype.ParseCollection(data)
	if err != nil {
		return nil, fmt.Errorf("parsing font %s: %w", path, err)
	}
	if index >= coll.NumFonts() {
		return nil, fmt.Errorf("font collection %s has %d fonts, index %d is out of range", path, coll.NumFonts(), index)
	}
	f, err := coll.Font(index)
	if err != nil {
		return nil, fmt.Errorf("font %d of %s: %w", index, path, err)
	}
	if !hasGlyphs(f, "中文字") {
		return nil, fmt.Errorf("font %s has no Chinese glyphs", spec)
	}
	return f, nil
}

// hasGlyphs reports whether f has a glyph for every non-space rune of s.
func hasGlyphs(f *sfnt.Font, s string) bool {
	var buf sfnt.Buffer
	for _, r := range s {
		if unicode.IsSpace(r) {
			continue
		}
		if g, err := f.GlyphIndex(&buf, r); err != nil || g == 0 {
			return false
		}
	}
	return true
}

// Text is the outcome of resolving one string for drawing.
type resolved struct {
	text string
	font font.Font // typeface/variant; size is set by the caller's style
}

// resolveText picks the font for s: Liberation Sans when it covers s, else the CJK
// font when it covers s, else the fallback string (computed by fallback) in
// Liberation Sans, with a warning printed once per process.
func resolveText(s string, fallback func(string) string) resolved {
	st := loadFonts()
	latin := font.Font{Typeface: latinTypeface, Variant: latinVariant}
	if st.latin == nil || hasGlyphs(st.latin, s) {
		return resolved{s, latin}
	}
	if st.cjk != nil && hasGlyphs(st.cjk, s) {
		return resolved{s, font.Font{Typeface: cjkTypeface}}
	}
	why := "no CJK font"
	if st.cjkErr != nil {
		why = st.cjkErr.Error()
	} else {
		why = fmt.Sprintf("font %s lacks some glyphs", st.cjkPath)
	}
	warnOnce.Do(func() {
		warnf("masklab/plots: warning: cannot draw label %q (%s); drawing a substitute instead (token index or romanization)\n", s, why)
	})
	return resolved{fallback(s), latin}
}

// escapeUncovered replaces every rune Liberation Sans cannot draw by "U+XXXX": the
// last-resort substitute for titles and legends when no CJK font is available.
func escapeUncovered(s string) string {
	st := loadFonts()
	var b strings.Builder
	for _, r := range s {
		if st.latin != nil && !hasGlyphs(st.latin, string(r)) {
			fmt.Fprintf(&b, "U+%04X", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// plainHandler is the text handler of every figure: plain text over the font cache.
func plainHandler() text.Handler { return text.Plain{Fonts: loadFonts().cache} }
