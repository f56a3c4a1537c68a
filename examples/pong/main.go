// Command pong is Pong online: two players (or three or four, one on each
// side of the court), peer to peer with rollback netcode, on rollbox and
// its Ebiten adapter. It is the example to copy: the game is game.go, and
// putting it online is main below.
//
// Start a signalling server (go run ./cmd/signalserver), then on two
// machines, or twice on one:
//
//	go run ./examples/pong -server ws://host:3536
//
// W and S (or the arrow keys) move your paddle; A and D (or left and right)
// when you play at the top or bottom. F1 shows the network overlay. Every
// flag of rollbox.Config.RegisterFlags works: -players 4, -room, -headless
// (a bot plays, and pong prints the result as JSON and exits 0, or 3 on a
// desync, 1 on failure), -synctest, -netsim 'latency=100ms,loss=0.1'; and
// -bot lets a bot play in the window.
//
// In a browser: make pong-web builds the page into bin/pong-web; serve that
// directory and open it with the options as a query, e.g.
// http://localhost:8080/?server=ws://host:3536&room=myroom.
package main

import (
	"context"
	"flag"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/ebitenrb"
)

func main() {
	var cfg rollbox.Config
	cfg.RegisterFlags(flag.CommandLine)
	flag.CommandLine.Parse(commandLine()) // exits on a bad flag
	res, err := ebitenrb.RunWithOptions(context.Background(), NewGame(), keyboard(cfg.LocalPlayers > 1), cfg, options())
	exit(res, err)
}

// keyboard returns the function that reads a local player's buttons. One
// player on this machine uses either set of keys; two or more share the
// keyboard, the even players on W, S, A and D and the odd ones on the
// arrows.
func keyboard(shared bool) func(rollbox.PlayerHandle) Buttons {
	keys := [2][4]ebiten.Key{
		{ebiten.KeyW, ebiten.KeyA, ebiten.KeyS, ebiten.KeyD},
		{ebiten.KeyArrowUp, ebiten.KeyArrowLeft, ebiten.KeyArrowDown, ebiten.KeyArrowRight},
	}
	return func(h rollbox.PlayerHandle) Buttons {
		var b Buttons
		for set := range keys {
			if shared && set != int(h)%2 {
				continue
			}
			k := keys[set]
			if ebiten.IsKeyPressed(k[0]) || ebiten.IsKeyPressed(k[1]) {
				b |= Minus
			}
			if ebiten.IsKeyPressed(k[2]) || ebiten.IsKeyPressed(k[3]) {
				b |= Plus
			}
		}
		return b
	}
}
