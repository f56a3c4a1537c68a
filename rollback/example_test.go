package rollback_test

import (
	"fmt"

	"github.com/rollbox/rollbox/rollback"
)

// counter is a tiny deterministic game: each frame adds every player's input.
type counter struct {
	Frame int
	Total int
}

func (c counter) checksum() uint64 { return uint64(c.Frame)<<32 | uint64(uint32(c.Total)) }

// A sync test session rolls the game back two frames every frame and checks
// the resimulated checksums, catching non-determinism before it reaches the
// network.
func Example() {
	cfg := rollback.DefaultConfig[uint8, string](rollback.UintCodec[uint8]{})
	cfg.CheckDistance = 2
	session, err := rollback.NewSyncTestSession[counter](cfg)
	if err != nil {
		panic(err)
	}
	var game counter
	for frame := range 60 {
		for player := range 2 {
			_ = session.AddLocalInput(rollback.PlayerHandle(player), uint8(frame%4+player))
		}
		requests, err := session.AdvanceFrame()
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, r := range requests {
			switch r.Kind {
			case rollback.SaveState:
				r.Cell.Save(game, game.checksum())
			case rollback.LoadState:
				game, _ = r.Cell.Load()
			case rollback.AdvanceFrame:
				for _, in := range r.Inputs {
					game.Total += int(in.Input)
				}
				game.Frame++
			}
		}
	}
	// Each frame adds 2*(frame%4)+1: 15 cycles of 1+3+5+7 = 240.
	fmt.Printf("frame %d, total %d\n", game.Frame, game.Total)
	// Output: frame 60, total 240
}
