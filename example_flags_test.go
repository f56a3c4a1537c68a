package rollbox_test

import (
	"flag"
	"fmt"

	"github.com/rollbox/rollbox"
)

// A game sets its own defaults, registers the flags, and lets the command
// line change them: here a four-player lockstep match without input delay
// in room "pong".
func ExampleConfig_RegisterFlags() {
	cfg := rollbox.Config{Room: "pong", Players: 4}
	fs := flag.NewFlagSet("pong", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := fs.Parse([]string{"-max-prediction", "0", "-input-delay", "0", "-seed", "7"}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("room:", cfg.Room, "players:", cfg.Players, "seed:", cfg.Seed)
	fmt.Println("lockstep:", cfg.Lockstep, "no input delay:", cfg.NoInputDelay)
	fmt.Println("-players default:", fs.Lookup("players").DefValue)
	// Output:
	// room: pong players: 4 seed: 7
	// lockstep: true no input delay: true
	// -players default: 4
}
