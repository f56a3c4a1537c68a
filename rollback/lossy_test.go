package rollback

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rollbox/rollbox/transport/simnet"
)

// playLossy runs n peers over a bad network for frames ticks and checks they
// agree, never desync, and never stall beyond what the network explains.
// minAgreed is the number of frames every peer must have confirmed: with an
// 8-frame window a peer stalls whenever a remote input is older than 8 frames,
// so high latency caps the frame rate (one-way 150 ms = 9 frames: at most
// 8/9 of real time).
func playLossy(t *testing.T, n, frames int, seed uint64, latency, jitter time.Duration, loss, dup, minAgreed int) []*testPeer {
	t.Helper()
	net := newTestNet(seed)
	peers := newMesh(t, net, n, func(i int, cfg *Config[uint32, string]) { cfg.DesyncDetectionInterval = 10 })
	// latency±jitter, loss and dup in percent.
	net.setLink(simnet.Link{Latency: latency - jitter, Jitter: 2 * jitter,
		Loss: float64(loss) / 100, Duplicate: float64(dup) / 100})
	syncMesh(t, net, peers)
	rng := rand.New(rand.NewPCG(seed, 7))
	held := make([]uint32, n)
	for range frames {
		for i := range held {
			if rng.IntN(8) == 0 { // change input now and then: rollbacks
				held[i] = rng.Uint32N(16)
			}
		}
		for _, p := range peers {
			// Heed wait recommendations, as a game should.
			if p.skip > 0 {
				p.skip--
				p.sess.PollRemoteClients()
				p.events = append(p.events, p.sess.Events()...)
				continue
			}
			tick(t, []*testPeer{p}, func(p *testPeer) uint32 { return held[p.handle] })
			for _, e := range p.sess.Events() {
				if e.Kind == EventWaitRecommendation {
					p.skip = e.SkipFrames
				}
			}
			// Frames simulated on predicted input never exceed the
			// prediction window.
			if predicted := p.sess.CurrentFrame() - p.sess.sync.lastConfirmedFrame - 1; int(predicted) > p.sess.MaxPrediction() {
				t.Fatalf("%s simulated %d frames on predictions", p.addr, predicted)
			}
		}
		net.advance(time.Second / 60)
	}
	for _, p := range peers {
		if c := countEvents(p.events, EventDesyncDetected); c != 0 {
			t.Fatalf("%s: %d desyncs", p.addr, c)
		}
		if c := countEvents(p.events, EventDisconnected); c != 0 {
			t.Fatalf("%s: %d disconnects", p.addr, c)
		}
	}
	if compared := agree(t, peers); compared < minAgreed {
		t.Fatalf("only %d of %d frames confirmed everywhere, want %d", compared, frames, minAgreed)
	}
	return peers
}

func TestLossyMesh(t *testing.T) {
	for _, n := range []int{4, 8} {
		t.Run(fmt.Sprintf("%d players", n), func(t *testing.T) {
			peers := playLossy(t, n, 3000, uint64(n), 100*time.Millisecond, 50*time.Millisecond, 10, 5, 2100)
			for _, p := range peers {
				// A stall lasts until a missing input arrives: one-way
				// latency at most 150 ms (9 ticks) plus a few lost
				// packets at one tick each, minus the 8-frame window.
				if p.maxStall > 12 {
					t.Errorf("%s stalled %d ticks in a row", p.addr, p.maxStall)
				}
				if p.game.gs.Frame < 2100 {
					t.Errorf("%s reached only frame %d in 3000 ticks", p.addr, p.game.gs.Frame)
				}
			}
		})
	}
}

// Random latency/loss schedules never make peers diverge.
func TestPropertyRandomNetworks(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 42))
	runs := 12
	if testing.Short() {
		runs = 4
	}
	for r := range runs {
		n := 2 + rng.IntN(4)
		latency := time.Duration(rng.IntN(200)) * time.Millisecond
		jitter := time.Duration(rng.IntN(int(latency/time.Millisecond)+1)) * time.Millisecond
		loss, dup := rng.IntN(30), rng.IntN(20)
		t.Run(fmt.Sprintf("run%d_%dp_%v±%v_loss%d_dup%d", r, n, latency, jitter, loss, dup), func(t *testing.T) {
			// Worst one-way delay in frames bounds the rate at 8/(8+d).
			worst := int((latency+jitter)*60/time.Second) + 1
			playLossy(t, n, 600, uint64(1000+r), latency, jitter, loss, dup, 600*8/(8+worst)/2)
		})
	}
}

// A peer leaving mid-game: the others time it out, keep playing and agree.
func TestMidGameDisconnect(t *testing.T) {
	net := newTestNet(77)
	net.setLink(simnet.Link{Latency: 20 * time.Millisecond, Jitter: 40 * time.Millisecond, Loss: 0.05})
	peers := newMesh(t, net, 4, nil)
	syncMesh(t, net, peers)
	in := func(p *testPeer) uint32 { return uint32(p.sess.CurrentFrame()/5) + uint32(p.handle) }
	for range 300 {
		tick(t, peers, in)
		net.advance(time.Second / 60)
	}
	gone := peers[2]
	net.leave(gone.addr)
	gone.sess = nil
	for range 600 {
		tick(t, peers, in)
		net.advance(time.Second / 60)
	}
	for _, p := range peers {
		if p.sess == nil {
			continue
		}
		if countEvents(p.events, EventNetworkInterrupted) != 1 {
			t.Errorf("%s: %d interrupted events", p.addr, countEvents(p.events, EventNetworkInterrupted))
		}
		var discAddr []string
		for _, e := range p.events {
			if e.Kind == EventDisconnected {
				discAddr = append(discAddr, e.Addr)
			}
		}
		if len(discAddr) != 1 || discAddr[0] != gone.addr {
			t.Errorf("%s: disconnect events for %v", p.addr, discAddr)
		}
		if p.game.gs.Frame < 700 {
			t.Errorf("%s stopped at frame %d", p.addr, p.game.gs.Frame)
		}
	}
	if agree(t, peers) < 700 {
		t.Fatal("too few frames agreed")
	}
}

// TestPeerDyingUnevenly: a peer's last inputs reach one peer for several
// frames after its link to another broke, then it dies. The two survivors
// heard it up to different frames; they must settle on the earlier one, the
// one that heard more rolling back past its prediction window, and agree.
func TestPeerDyingUnevenly(t *testing.T) {
	for _, gap := range []int{2, 5, 8} {
		t.Run(fmt.Sprintf("gap=%d", gap), func(t *testing.T) {
			net := newTestNet(uint64(90 + gap))
			net.setLink(simnet.Link{Latency: 20 * time.Millisecond})
			peers := newMesh(t, net, 3, nil)
			syncMesh(t, net, peers)
			in := func(p *testPeer) uint32 { return uint32(p.sess.CurrentFrame()/3) + uint32(p.handle) }
			for range 200 {
				tick(t, peers, in)
				net.advance(time.Second / 60)
			}
			gone := peers[2]
			net.cut(gone.addr, peers[0].addr)
			for range gap {
				tick(t, peers, in)
				net.advance(time.Second / 60)
			}
			net.leave(gone.addr)
			gone.sess = nil
			for range 400 {
				tick(t, peers, in)
				net.advance(time.Second / 60)
			}
			for _, p := range peers[:2] {
				// 600 ticks less the disconnect timeout's stall (2 s).
				if p.game.gs.Frame < 450 {
					t.Errorf("%s stopped at frame %d", p.addr, p.game.gs.Frame)
				}
			}
			if agree(t, peers) < 450 {
				t.Fatal("too few frames agreed")
			}
		})
	}
}
