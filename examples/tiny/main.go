// Command tiny is the shortest complete rollbox game: each player moves a
// square with the arrow keys, peer to peer with rollback netcode.
//
//	go run ./cmd/signalserver &
//	go run ./examples/tiny & go run ./examples/tiny
package main

import (
	"context"
	"flag"
	"image/color"
	"log"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/vector"
	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/ebitenrb"
)

// Game is what every peer simulates: plain values, so rollbox saves,
// restores and checksums it by itself.
type Game struct{ X, Y [rollbox.MaxPlayers]int32 }

// Input is one player's arrow keys, a bit each.
type Input uint8

var keys = []ebiten.Key{ebiten.KeyArrowRight, ebiten.KeyArrowLeft, ebiten.KeyArrowDown, ebiten.KeyArrowUp}

// Step moves every player's square one frame: deterministic, integers only.
func (g *Game) Step(inputs []rollbox.PlayerInput[Input]) {
	for p, in := range inputs {
		g.X[p] += int32(in.Input&1) - int32(in.Input>>1&1)
		g.Y[p] += int32(in.Input>>2&1) - int32(in.Input>>3&1)
	}
}

// Draw shows the squares, the local player's in white.
func (g *Game) Draw(screen *ebiten.Image, v rollbox.View) {
	for p, player := range v.Players {
		c := color.RGBA{0xe6, 0x39, 0x46, 0xff}
		if player.Local {
			c = color.RGBA{0xff, 0xff, 0xff, 0xff}
		}
		x, y := 40+32*p+int(g.X[p]), 112+int(g.Y[p]) // players start in a row
		vector.FillRect(screen, float32(x), float32(y), 16, 16, c, false)
	}
}

// Layout is Ebiten's: a fixed 320x240 screen.
func (g *Game) Layout(int, int) (int, int) { return 320, 240 }

// readInput reads the arrow keys of the local player.
func readInput(rollbox.PlayerHandle) Input {
	var in Input
	for bit, k := range keys {
		if ebiten.IsKeyPressed(k) {
			in |= 1 << bit
		}
	}
	return in
}

func main() {
	var cfg rollbox.Config // -server, -room, -players, -headless, ...: see -h
	cfg.RegisterFlags(flag.CommandLine)
	flag.Parse()
	if _, err := ebitenrb.Run(context.Background(), &Game{}, readInput, cfg); err != nil {
		log.Fatal(err)
	}
}
