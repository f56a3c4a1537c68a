package main

import (
	"testing"
	"time"

	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/transport/simnet"
)

// TestTwoPlayersOverABadNetwork plays a whole match in-process over a
// 100 ms +- 50 ms link that loses 10 % of the packets: both peers confirm
// the same state for every frame.
func TestTwoPlayersOverABadNetwork(t *testing.T) {
	res, err := rollbox.Simulate(&Game{}, rollbox.Simulation[Input]{
		Players: 2, Frames: 3000,
		Link: simnet.Link{Latency: 100 * time.Millisecond, Jitter: 50 * time.Millisecond, Loss: 0.1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Peers[0].State == (Game{}) {
		t.Error("the bots never moved a square")
	}
}
