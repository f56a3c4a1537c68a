package sim

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/transport/simnet"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestFourPlayersOverABadNetwork plays a whole four-player match in this
// process over 100 ms ± 50 ms and 10 % loss, bots at the controls: every
// peer confirms the same world at every frame, after rolling back.
func TestFourPlayersOverABadNetwork(t *testing.T) {
	w := New(4)
	res, err := rollbox.Simulate(&w, rollbox.Simulation[Input]{
		Players: 4, Frames: 3000, Seed: 1,
		Link: simnet.Link{Latency: 100 * time.Millisecond, Jitter: 50 * time.Millisecond, Loss: 0.1},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range res.Peers {
		if p.State.Frame != 3000 || p.State != res.Peers[0].State || p.Result.Rollbacks == 0 {
			t.Fatalf("peer %d: frame %d, %d rollbacks, same world as peer 0: %v", i, p.State.Frame, p.Result.Rollbacks, p.State == res.Peers[0].State)
		}
	}
}

// TestSyncTest rolls every frame back 7 frames and steps it again, 2000
// frames long, with 2, 4 and 8 bots: Step is deterministic.
func TestSyncTest(t *testing.T) {
	for _, players := range []int{2, 4, 8} {
		w := New(players)
		m, err := rollbox.NewMatch(context.Background(), &w, nil, rollbox.Config{
			Players: players, SyncTest: true, Frames: 2000, CheckDistance: 7, Seed: 42})
		if err != nil {
			t.Fatal(err)
		}
		res, err := m.Run(context.Background())
		if err != nil || res.Frame != 2000 || w.Frame != 2000 {
			t.Fatalf("%d players: %v at frame %d (world %d)", players, err, res.Frame, w.Frame)
		}
		if v := m.View(); v.Rollbacks < 1990 || v.LongestRollback != 7 {
			t.Fatalf("%d players: %d rollbacks, longest %d: the sync test did not roll back", players, v.Rollbacks, v.LongestRollback)
		}
	}
}

// BenchmarkReplay plays back a recorded 3000-frame, 4-player match: ns/op
// is the time per frame (frames per second = 1e9 / ns/op), and bytes/op
// what the replay takes per frame.
func BenchmarkReplay(b *testing.B) {
	var rec bytes.Buffer
	w := New(4)
	if _, err := rollbox.Simulate(&w, rollbox.Simulation[Input]{Players: 4, Frames: 3000, Seed: 1, Record: &rec,
		Link: simnet.Link{Latency: 100 * time.Millisecond, Jitter: 50 * time.Millisecond, Loss: 0.1}}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var p *rollbox.Replayer[World, Input]
	for i := 0; b.Loop(); i++ {
		if i%3000 == 0 {
			b.StopTimer()
			var err error
			if p, err = rollbox.NewReplayer(bytes.NewReader(rec.Bytes()), func(n int) *World { w := New(n); return &w }); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		if err := p.Step(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rec.Len())/3000, "replay-bytes/frame")
}
