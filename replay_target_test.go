package rollbox_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/transport/simnet"
)

// A match with Frames ends there, and so does its replay: played back, it
// reaches exactly the frame and checksum the match's Result reports. (Peer 0
// of a simulation steps on until every peer has confirmed the last frame,
// and confirmed frames past it went into the replay: Replay then ended a
// few frames later, with a checksum that matched no Result.)
func TestReplayEndsAtTheMatchsLastFrame(t *testing.T) {
	const frames = 300
	var rec bytes.Buffer
	res, err := rollbox.Simulate(&arena{}, rollbox.Simulation[buttons]{
		Players: 3, Frames: frames, Seed: 5, Record: &rec,
		Link: simnet.Link{Latency: 100 * time.Millisecond, Jitter: 50 * time.Millisecond, Loss: 0.1},
	})
	if err != nil {
		t.Fatal(err)
	}
	frame, sum, err := rollbox.Replay(bytes.NewReader(rec.Bytes()), func(int) *arena { return &arena{} })
	if err != nil {
		t.Fatal(err)
	}
	if want := res.Peers[0].Result; frame != want.Frame || sum != want.Checksum {
		t.Fatalf("replay ends at frame %d, checksum %016x; the match's result is frame %d, checksum %016x",
			frame, sum, want.Frame, want.Checksum)
	}
}
