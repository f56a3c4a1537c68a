package main

import (
	"image/color"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/vector"
	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/examples/boxgame/sim"
)

// This file and main.go are the box game's template, with sim/ (the rules):
// the box game's Ebiten side. Board is the game's state as rollbox sees it
// (its Step is sim.World's) with Ebiten's Draw and Layout. Nothing here
// changes the world but Step, which rollbox calls.

// Board is the box game's state: the world, drawn.
type Board struct {
	sim.World
}

// playerColors tells the boxes apart; a disconnected player turns grey.
var playerColors = [sim.MaxPlayers]color.RGBA{
	{0xe6, 0x39, 0x46, 0xff}, {0x2a, 0x9d, 0x8f, 0xff}, {0xf4, 0xa2, 0x61, 0xff}, {0x45, 0x7b, 0x9d, 0xff},
	{0x9b, 0x5d, 0xe5, 0xff}, {0x80, 0xb9, 0x18, 0xff}, {0xf1, 0x5b, 0xb5, 0xff}, {0xfe, 0xe4, 0x40, 0xff},
}

var (
	background = color.RGBA{0x1d, 0x23, 0x2a, 0xff}
	grey       = color.RGBA{0x6c, 0x75, 0x7d, 0xff}
	white      = color.RGBA{0xff, 0xff, 0xff, 0xff}
)

// Draw draws the boxes; the local player's has a white outline. rollbox's
// adapter draws the connection screen and the network overlay.
func (b *Board) Draw(screen *ebiten.Image, v rollbox.View) {
	screen.Fill(background)
	for i := range int(b.Players) {
		box, p := b.Boxes[i], v.Players[i]
		x, y, s := float32(box.X)/sim.One, float32(box.Y)/sim.One, float32(sim.BoxSize)/sim.One
		c := playerColors[i]
		if p.Disconnected {
			c = grey
		}
		if p.Local {
			vector.FillRect(screen, x-3, y-3, s+6, s+6, white, false)
		}
		vector.FillRect(screen, x, y, s, s, c, false)
	}
}

// Layout is the arena at one pixel per unit.
func (b *Board) Layout(int, int) (int, int) { return sim.Width / sim.One, sim.Height / sim.One }

// readKeys reads a local player's WASD and arrow keys.
func readKeys(rollbox.PlayerHandle) sim.Input {
	var in sim.Input
	if ebiten.IsKeyPressed(ebiten.KeyW) || ebiten.IsKeyPressed(ebiten.KeyArrowUp) {
		in |= sim.Up
	}
	if ebiten.IsKeyPressed(ebiten.KeyS) || ebiten.IsKeyPressed(ebiten.KeyArrowDown) {
		in |= sim.Down
	}
	if ebiten.IsKeyPressed(ebiten.KeyA) || ebiten.IsKeyPressed(ebiten.KeyArrowLeft) {
		in |= sim.Left
	}
	if ebiten.IsKeyPressed(ebiten.KeyD) || ebiten.IsKeyPressed(ebiten.KeyArrowRight) {
		in |= sim.Right
	}
	return in
}
