package rollbox_test

import (
	"testing"
	"time"

	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/transport/simnet"
)

// arena is a tiny deterministic game for the package's tests: each player
// walks on a line.
type arena struct {
	Pos   [8]int32
	Ticks int32
}

type buttons uint8

func (a *arena) Step(in []rollbox.PlayerInput[buttons]) {
	a.Ticks++
	for i, p := range in {
		if p.Input&1 != 0 {
			a.Pos[i]++
		}
		if p.Input&2 != 0 {
			a.Pos[i]--
		}
	}
}

func TestFourPlayersOverABadNetwork(t *testing.T) {
	res, err := rollbox.Simulate(&arena{}, rollbox.Simulation[buttons]{
		Players: 4, Frames: 3000, Seed: 1,
		Link: simnet.Link{Latency: 100 * time.Millisecond, Jitter: 50 * time.Millisecond, Loss: 0.1},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v elapsed %v", res.Peers[0].Result, res.Elapsed)
}
