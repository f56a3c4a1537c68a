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

// Issue 14's acceptance, with the public API: three players, the third
// drops off the network for ten seconds at frame 600 and comes back; every
// frame to 3000 that each confirmed as part of the match agrees (Simulate
// checks), the third's frames alone are zero, and it played on from a
// state the others gave it.
func TestSimulateDropAndRejoin(t *testing.T) {
	res, err := rollbox.Simulate(&arena{}, rollbox.Simulation[buttons]{
		Players: 3, Frames: 3000, Seed: 14,
		Link:  simnet.Link{Latency: 20 * time.Millisecond, Jitter: 5 * time.Millisecond, Loss: 0.01},
		Drops: []rollbox.Drop{{Player: 2, Frame: 600, For: 10 * time.Second}},
	})
	if err != nil {
		t.Fatal(err)
	}
	third := res.Peers[2]
	if len(third.Returns) != 1 {
		t.Fatalf("the third player came back %d times, want once", len(third.Returns))
	}
	from := third.Returns[0]
	if from < 600+60 || from > 3000 {
		t.Fatalf("it came back with the state of frame %d, want one after its drop at 600 and the others' disconnect timeout", from)
	}
	zeros := 0
	for f, sum := range third.Checksums {
		if sum == 0 {
			zeros++
			if rollbox.Frame(f) < 590 || rollbox.Frame(f) >= from {
				t.Fatalf("frame %d missing outside the drop (600 to %d)", f, from)
			}
		}
	}
	if zeros == 0 {
		t.Fatal("no frame of the third player's time alone was left out")
	}
	if third.Result.Checksum != res.Peers[0].Result.Checksum || third.State != res.Peers[0].State {
		t.Fatalf("the third player ended at %016x, the first at %016x", third.Result.Checksum, res.Peers[0].Result.Checksum)
	}
	for p, peer := range res.Peers {
		if peer.Result.Desyncs != 0 {
			t.Fatalf("player %d saw %d desyncs", p+1, peer.Result.Desyncs)
		}
	}
	t.Logf("came back with frame %d's state; %d frames alone left out; %v of virtual time", from, zeros, res.Elapsed)
}
