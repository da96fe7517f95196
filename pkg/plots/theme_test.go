package plots

import "testing"

// The first len(Palette) series take the palette as it is; the next rounds are lighter
// tints of it, so 32 series get 32 distinct colours (bars have no dash pattern).
func TestColorDistinctBeyondPalette(t *testing.T) {
	seen := map[[3]uint8]int{}
	for i := 0; i < 4*len(Palette); i++ {
		c := Color(i)
		if i < len(Palette) && c != Palette[i] {
			t.Errorf("Color(%d) = %v, want Palette[%d] = %v", i, c, i, Palette[i])
		}
		k := [3]uint8{c.R, c.G, c.B}
		if j, ok := seen[k]; ok {
			t.Errorf("Color(%d) = Color(%d) = %v", i, j, c)
		}
		seen[k] = i
		if i >= len(Palette) {
			prev := Color(i - len(Palette))
			if int(c.R)+int(c.G)+int(c.B) <= int(prev.R)+int(prev.G)+int(prev.B) {
				t.Errorf("Color(%d) = %v is not lighter than Color(%d) = %v", i, c, i-len(Palette), prev)
			}
		}
	}
	if Color(-1) != Color(4*len(Palette)-1) || Color(4*len(Palette)) != Palette[0] {
		t.Errorf("Color does not cycle: Color(-1) = %v, Color(%d) = %v", Color(-1), 4*len(Palette), Color(4*len(Palette)))
	}
}
