//go:build template

// The box game put online: with board.go and sim/, the template to copy
// into a game of your own (without the build line above). Run it with
// `go run -tags template ./examples/boxgame`; without the tag, the same
// game runs as rollbox's test bed instead (testbed.go), with the flags and
// the report that rollbox's tests read.

package main

import (
	"context"
	"flag"
	"log"

	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/ebitenrb"
	"github.com/rollbox/rollbox/examples/boxgame/sim"
)

func main() {
	// rollbox's flags: -server, -room, -players, -headless and the rest.
	cfg := rollbox.Config{Room: "boxgame"}
	cfg.RegisterFlags(flag.CommandLine)
	flag.Parse()
	board := &Board{World: sim.New(cfg.Players)}
	if _, err := ebitenrb.Run(context.Background(), board, readKeys, cfg); err != nil {
		log.Fatal(err)
	}
}
