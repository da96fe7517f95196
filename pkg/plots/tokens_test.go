package plots

import (
	"image/color"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"
)

// A token strip wraps its cells into lines at the figure's width and draws in every
// format; a token of an unknown class is an error naming it.
func TestTokenStrip(t *testing.T) {
	var cells []TokenCell
	for i, tok := range strings.Fields("<bos> what is red ? Answer : red is a colour <eos> what is 学 ? Answer : xue2 <eos> <pad> <pad>") {
		c := TokenCell{Text: tok, Class: 1}
		switch {
		case tok == "<pad>":
			c.Class = 2
		case i < 7 || i >= 13 && i < 19:
			c.Class, c.Faded = 0, true
		}
		c.Break = i == 13
		cells = append(cells, c)
	}
	s, err := NewTokenStrip("one example by role", cells, []string{"prompt", "completion", "padding"})
	if err != nil {
		t.Fatal(err)
	}
	s.Colors = []color.RGBA{Palette[0], Palette[2], {0xB0, 0xB0, 0xB0, 0xFF}}
	s.FadedLabel, s.BreakLabel = "pale: ignored", "document boundary"
	narrow, wide := s.SizeFor(2*vg.Inch), s.SizeFor(DoubleColumn.Width)
	if narrow.Height <= wide.Height {
		t.Errorf("a narrow strip (%v) is not taller than a wide one (%v)", narrow.Height, wide.Height)
	}
	saveAll(t, s, reviewDir(t), "token_strip", wide)

	cells[3].Class = 5
	if _, err := NewTokenStrip("bad", cells, []string{"prompt", "completion", "padding"}); err == nil || !strings.Contains(err.Error(), `token 3 ("red") has class 5`) {
		t.Errorf("err = %v", err)
	}
	if _, err := NewTokenStrip("empty", nil, nil); err == nil {
		t.Error("an empty strip draws")
	}
}
