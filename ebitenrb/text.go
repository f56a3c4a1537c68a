package ebitenrb

import (
	"image"
	"sync"

	"github.com/hajimehoshi/ebiten/v2"
	"golang.org/x/image/font/basicfont"
)

// The status lines and the overlay are drawn in basicfont's fixed 7x13
// font, glyph by glyph from an atlas of its mask. This replaces
// ebitenutil.DebugPrintAt, whose package imports net/http in the browser
// build (and with it TLS and X.509), and ebiten's text package, which
// carries a full shaping engine for what is plain ASCII.

// textLineHeight is the distance between two lines of text, in pixels.
const textLineHeight = 16

// glyphImages are the font's glyphs in the order of its mask, white on
// transparent: sub-images of the mask made into one image. Made on first
// use, as images need the game running, and kept so that drawing text
// allocates nothing.
var glyphImages = sync.OnceValue(func() []*ebiten.Image {
	f := basicfont.Face7x13
	h := f.Ascent + f.Descent
	atlas := ebiten.NewImageFromImage(f.Mask)
	glyphs := make([]*ebiten.Image, f.Mask.Bounds().Dy()/h)
	for i := range glyphs {
		glyphs[i] = atlas.SubImage(image.Rect(0, i*h, f.Width, (i+1)*h)).(*ebiten.Image)
	}
	return glyphs
})

// drawText draws s, lines split at '\n', in white with its top left corner
// at (x, y). Runes the font lacks show as its replacement glyph.
func drawText(screen *ebiten.Image, s string, x, y int) {
	f := basicfont.Face7x13
	glyphs := glyphImages()
	var op ebiten.DrawImageOptions
	dx, dy := x, y
	for _, r := range s {
		if r == '\n' {
			dx, dy = x, dy+textLineHeight
			continue
		}
		index, ok := glyphIndex(f, r)
		if !ok || index >= len(glyphs) {
			index, _ = glyphIndex(f, '\ufffd')
		}
		op.GeoM.Reset()
		op.GeoM.Translate(float64(dx), float64(dy))
		screen.DrawImage(glyphs[index], &op)
		dx += f.Advance
	}
}

// glyphIndex returns the position of r's glyph in the font's mask.
func glyphIndex(f *basicfont.Face, r rune) (int, bool) {
	for _, rng := range f.Ranges {
		if rng.Low <= r && r < rng.High {
			return int(r-rng.Low) + rng.Offset, true
		}
	}
	return 0, false
}
