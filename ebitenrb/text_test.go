package ebitenrb

import (
	"testing"

	"golang.org/x/image/font/basicfont"
)

// glyphIndex finds printable ASCII where basicfont's mask has it (space
// first) and reports runes the font lacks, which drawText shows as the
// replacement glyph.
func TestGlyphIndex(t *testing.T) {
	f := basicfont.Face7x13
	for _, tc := range []struct {
		r    rune
		want int
		ok   bool
	}{
		{' ', 0, true},
		{'A', 'A' - ' ', true},
		{'~', '~' - ' ', true},
		{'\u4e2d', 0, false},
	} {
		got, ok := glyphIndex(f, tc.r)
		if got != tc.want || ok != tc.ok {
			t.Errorf("glyphIndex(%q) = %d, %v; want %d, %v", tc.r, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := glyphIndex(f, '\ufffd'); !ok {
		t.Error("the font has no replacement glyph")
	}
}
