package rollback

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

type stubSpectator = SpectatorSession[stubState, uint32, string]

func newHostAndSpectator(t *testing.T, net *testNet, edit func(*Config[uint32, string])) (*testPeer, *stubSpectator) {
	t.Helper()
	host, spec := newHostAndSpectatorSessions(t, net, edit)
	if _, err := spec.AdvanceFrame(); !errors.Is(err, ErrNotSynchronized) {
		t.Fatalf("spectator AdvanceFrame before sync: %v", err)
	}
	for range 2000 {
		host.PollRemoteClients()
		spec.PollRemoteClients()
		if host.State() == Running && spec.State() == Running {
			break
		}
		net.advance(time.Millisecond)
	}
	if host.State() != Running || spec.State() != Running {
		t.Fatalf("states %v %v", host.State(), spec.State())
	}
	return &testPeer{sess: host, game: newStubGame(), addr: "host"}, spec
}

// newHostAndSpectatorSessions builds a host playing both handles and a
// spectator of it, without synchronizing them.
func newHostAndSpectatorSessions(t *testing.T, net *testNet, edit func(*Config[uint32, string])) (*stubSession, *stubSpectator) {
	t.Helper()
	cfg := DefaultConfig[uint32, string](UintCodec[uint32]{})
	cfg.NumPlayers = 2
	cfg.Clock = net.clock
	cfg.AddLocalPlayer(0)
	cfg.AddLocalPlayer(1)
	cfg.AddSpectator(2, "spec")
	host, err := NewP2PSession[stubState](cfg, net.socket("host"))
	if err != nil {
		t.Fatal(err)
	}
	scfg := DefaultConfig[uint32, string](UintCodec[uint32]{})
	scfg.NumPlayers = 2
	scfg.Clock = net.clock
	if edit != nil {
		edit(&scfg)
	}
	spec, err := NewSpectatorSession[stubState](scfg, "host", net.socket("spec"))
	if err != nil {
		t.Fatal(err)
	}
	return host, spec
}

func hostTick(t *testing.T, h *testPeer, i int) {
	t.Helper()
	_ = h.sess.AddLocalInput(0, uint32(i%5))
	_ = h.sess.AddLocalInput(1, uint32(i%3))
	reqs, err := h.sess.AdvanceFrame()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.game.handle(reqs); err != nil {
		t.Fatal(err)
	}
}

func TestSpectatorFollowsHost(t *testing.T) {
	net := newTestNet(20)
	host, spec := newHostAndSpectator(t, net, nil)
	g := newStubGame()
	for i := range 100 {
		hostTick(t, host, i)
		net.advance(16 * time.Millisecond)
		reqs, err := spec.AdvanceFrame()
		if i == 0 {
			// The host sends frame 0 once it is confirmed, next tick.
			if !errors.Is(err, ErrPredictionThreshold) {
				t.Fatalf("first spectator tick: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("tick %d: %v", i, err)
		}
		if err := g.handle(reqs); err != nil {
			t.Fatal(err)
		}
	}
	if g.gs.Frame != 99 {
		t.Fatalf("spectator at frame %d, want 99", g.gs.Frame)
	}
	if g.gs.checksum() != host.game.confirmed[99] {
		t.Fatal("spectator state differs from the host's")
	}
}

func TestSpectatorCatchupSpeeds(t *testing.T) {
	// Speeds above MaxFramesBehind (11) are allowed since GGRS 0.13; a tick
	// advances at most the frames the host sent.
	for _, speed := range []int{1, 2, 10, 20, 1000} {
		t.Run(fmt.Sprint(speed), func(t *testing.T) {
			net := newTestNet(21)
			host, spec := newHostAndSpectator(t, net, func(c *Config[uint32, string]) {
				c.MaxFramesBehind = 11
				c.CatchupSpeed = speed
			})
			for i := range 40 {
				hostTick(t, host, i)
				spec.PollRemoteClients()
				net.advance(16 * time.Millisecond)
			}
			if got := spec.FramesBehindHost(); got != 39 {
				t.Fatalf("spectator %d frames behind, want 39", got)
			}
			g := newStubGame()
			var steps []int
			for spec.FramesBehindHost() > 0 {
				behind := spec.FramesBehindHost()
				reqs, err := spec.AdvanceFrame()
				if err != nil {
					t.Fatal(err)
				}
				want := 1
				if behind > 11 {
					want = min(speed, behind)
				}
				if len(reqs) != want {
					t.Fatalf("%d behind: %d advances, want %d", behind, len(reqs), want)
				}
				steps = append(steps, len(reqs))
				if err := g.handle(reqs); err != nil {
					t.Fatal(err)
				}
			}
			if g.gs.checksum() != host.game.confirmed[39] {
				t.Fatal("spectator state differs from the host's")
			}
			// 39 behind: catch up by speed while more than 11 behind,
			// then one frame per call.
			if wantCalls := map[int]int{1: 39, 2: 25, 10: 12, 20: 2, 1000: 1}[speed]; len(steps) != wantCalls {
				t.Fatalf("caught up in %d calls, want %d", len(steps), wantCalls)
			}
		})
	}
}

func TestSpectatorTooFarBehind(t *testing.T) {
	net := newTestNet(22)
	host, spec := newHostAndSpectator(t, net, nil)
	for i := range SpectatorBufferSize + 10 {
		hostTick(t, host, i)
		spec.PollRemoteClients()
		net.advance(16 * time.Millisecond)
	}
	if _, err := spec.AdvanceFrame(); !errors.Is(err, ErrSpectatorTooFarBehind) {
		t.Fatalf("AdvanceFrame %d frames behind: %v", spec.FramesBehindHost(), err)
	}
}

// CurrentFrame counts as GGRS's spectator current_frame: the last frame
// advanced, NullFrame before the first.
func TestSpectatorCurrentFrameIsLastAdvanced(t *testing.T) {
	net := newTestNet(23)
	host, spec := newHostAndSpectator(t, net, nil)
	if f := spec.CurrentFrame(); f != NullFrame {
		t.Fatalf("CurrentFrame before any advance: %d, want NullFrame", f)
	}
	for i := range 30 {
		hostTick(t, host, i)
		net.advance(16 * time.Millisecond)
		reqs, err := spec.AdvanceFrame()
		if errors.Is(err, ErrPredictionThreshold) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		last := reqs[len(reqs)-1].Frame
		if spec.CurrentFrame() != last {
			t.Fatalf("advanced frame %d, CurrentFrame %d", last, spec.CurrentFrame())
		}
		if behind := spec.FramesBehindHost(); behind != int(spec.lastRecvFrame-last) {
			t.Fatalf("%d frames behind, host sent up to %d, advanced %d", behind, spec.lastRecvFrame, last)
		}
	}
	if spec.CurrentFrame() < 25 {
		t.Fatalf("spectator only at frame %d", spec.CurrentFrame())
	}
}
