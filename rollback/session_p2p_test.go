package rollback

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rollbox/rollbox/transport/simnet"
)

func TestP2PSynchronizeEvents(t *testing.T) {
	net := newTestNet(1)
	peers := newMesh(t, net, 2, nil)
	for _, p := range peers {
		if p.sess.State() != Synchronizing {
			t.Fatal("new session is not synchronizing")
		}
		if _, err := p.sess.AdvanceFrame(); !errors.Is(err, ErrNotSynchronized) {
			t.Fatalf("AdvanceFrame before sync: %v", err)
		}
	}
	syncMesh(t, net, peers)
	for i, p := range peers {
		evs := p.sess.Events()
		other := peerAddr(1 - i)
		var counts []int
		for _, e := range evs {
			if e.Addr != other {
				t.Fatalf("event about %q", e.Addr)
			}
			if e.Kind == EventSynchronizing {
				counts = append(counts, e.Count)
				if e.Total != 5 {
					t.Fatalf("total %d", e.Total)
				}
			}
		}
		if len(counts) != 5 || counts[0] != 1 || counts[4] != 5 {
			t.Fatalf("synchronizing counts %v, want 1..5", counts)
		}
		if countEvents(evs, EventSynchronized) != 1 || evs[len(evs)-1].Kind != EventSynchronized {
			t.Fatalf("events %v: want exactly one Synchronized, last", evs)
		}
	}
}

func TestP2PEachTickAdvancesOneFrame(t *testing.T) {
	net := newTestNet(2)
	peers := newMesh(t, net, 2, nil)
	syncMesh(t, net, peers)
	for i := range 10 {
		tick(t, peers, func(p *testPeer) uint32 { return uint32(i) })
		for _, p := range peers {
			if p.game.gs.Frame != int32(i+1) {
				t.Fatalf("%s at frame %d after %d ticks", p.addr, p.game.gs.Frame, i+1)
			}
		}
		net.advance(16 * time.Millisecond)
	}
}

func TestP2PStatesConverge(t *testing.T) {
	net := newTestNet(3)
	peers := newMesh(t, net, 2, nil)
	syncMesh(t, net, peers)
	for i := range 100 {
		tick(t, peers, func(p *testPeer) uint32 { return uint32(i/7) * uint32(p.handle+1) })
		net.advance(16 * time.Millisecond)
	}
	if n := agree(t, peers); n < 90 {
		t.Fatalf("only %d frames confirmed", n)
	}
	// With inputs held (so predictions are right) both show the same state.
	for range 3 {
		tick(t, peers, func(p *testPeer) uint32 { return uint32(99/7) * uint32(p.handle+1) })
		net.advance(16 * time.Millisecond)
	}
	if peers[0].game.gs != peers[1].game.gs {
		t.Fatalf("states differ: %+v vs %+v", peers[0].game.gs, peers[1].game.gs)
	}
}

func TestP2PDesyncDetection(t *testing.T) {
	net := newTestNet(4)
	peers := newMesh(t, net, 2, func(i int, cfg *Config[uint32, string]) { cfg.DesyncDetectionInterval = 100 })
	syncMesh(t, net, peers)
	for _, p := range peers {
		p.sess.Events()
	}
	for i := range 110 {
		tick(t, peers, func(p *testPeer) uint32 { return uint32(i) })
		net.advance(16 * time.Millisecond)
	}
	for _, p := range peers {
		if len(p.events) != 0 {
			t.Fatalf("%s: unexpected events %v", p.addr, p.events)
		}
	}
	for range 100 {
		peers[0].game.gs.Value = 1234 // peer 0 diverges
		tick(t, peers, func(p *testPeer) uint32 { return uint32(p.handle) })
		net.advance(16 * time.Millisecond)
	}
	var desync [2]Event[string]
	for i, p := range peers {
		if len(p.events) != 1 || p.events[0].Kind != EventDesyncDetected {
			t.Fatalf("%s: events %v, want one desync", p.addr, p.events)
		}
		desync[i] = p.events[0]
		if desync[i].Frame != 200 || desync[i].Addr != peerAddr(1-i) ||
			desync[i].LocalChecksum == desync[i].RemoteChecksum {
			t.Fatalf("%s: %v", p.addr, desync[i])
		}
	}
	if desync[0].LocalChecksum != desync[1].RemoteChecksum || desync[1].LocalChecksum != desync[0].RemoteChecksum {
		t.Fatalf("checksums not mirrored: %v / %v", desync[0], desync[1])
	}
}

func TestP2PNoDesyncEventsWhenOff(t *testing.T) {
	net := newTestNet(5)
	peers := newMesh(t, net, 2, nil)
	syncMesh(t, net, peers)
	for _, p := range peers {
		p.sess.Events()
	}
	for range 300 {
		peers[0].game.gs.Value = 9999
		tick(t, peers, func(p *testPeer) uint32 { return 0 })
		net.advance(16 * time.Millisecond)
	}
	for _, p := range peers {
		if n := countEvents(p.events, EventDesyncDetected); n != 0 {
			t.Fatalf("%s: %d desync events with detection off", p.addr, n)
		}
	}
}

func TestP2PInputDelayChangedMidSession(t *testing.T) {
	net := newTestNet(6)
	peers := newMesh(t, net, 2, nil)
	syncMesh(t, net, peers)
	in := func(p *testPeer) uint32 { return uint32(p.sess.CurrentFrame()) * uint32(p.handle+2) }
	run := func(n int) {
		for range n {
			tick(t, peers, in)
			net.advance(16 * time.Millisecond)
		}
	}
	run(10)
	for _, p := range peers {
		if err := p.sess.SetInputDelay(p.handle, 4); err != nil {
			t.Fatal(err)
		}
	}
	before := peers[0].game.gs.Frame
	run(20)
	if peers[0].game.gs.Frame <= before {
		t.Fatal("session froze after the delay grew")
	}
	for _, p := range peers {
		if err := p.sess.SetInputDelay(p.handle, 1); err != nil {
			t.Fatal(err)
		}
	}
	run(20)
	if err := peers[0].sess.SetInputDelay(0, MaxInputDelay+1); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("SetInputDelay too big: %v", err)
	}
	if err := peers[0].sess.SetInputDelay(1, 2); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("SetInputDelay of a remote player: %v", err)
	}
	if agree(t, peers) < 40 {
		t.Fatal("too few frames confirmed")
	}
	run(2)
	if peers[0].game.gs.Frame != peers[1].game.gs.Frame {
		t.Fatalf("frames %d vs %d", peers[0].game.gs.Frame, peers[1].game.gs.Frame)
	}
}

func TestP2PLockstep(t *testing.T) {
	net := newTestNet(7)
	peers := newMesh(t, net, 2, func(i int, cfg *Config[uint32, string]) { cfg.MaxPrediction = 0 })
	syncMesh(t, net, peers)
	advanced := 0
	for i := range 200 {
		// Peer 1 only plays every other tick: peer 0 must wait for it.
		for _, p := range peers {
			if p.handle == 1 && i%2 == 1 {
				p.sess.PollRemoteClients()
				continue
			}
			_ = p.sess.AddLocalInput(p.handle, uint32(i/5))
			reqs, err := p.sess.AdvanceFrame()
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range reqs {
				if r.Kind != AdvanceFrame {
					t.Fatalf("lockstep requested %v", r.Kind)
				}
				for _, in := range r.Inputs {
					if in.Status != Confirmed {
						t.Fatalf("lockstep advanced with a %v input", in.Status)
					}
				}
			}
			if p.handle == 0 && len(reqs) > 0 {
				advanced++
			}
			if err := p.game.handle(reqs); err != nil {
				t.Fatal(err)
			}
		}
		net.advance(16 * time.Millisecond)
		if int(peers[0].sess.CurrentFrame()) > int(peers[1].sess.CurrentFrame())+1 {
			t.Fatalf("tick %d: peer 0 at frame %d ran ahead of peer 1 at %d",
				i, peers[0].sess.CurrentFrame(), peers[1].sess.CurrentFrame())
		}
	}
	if advanced < 90 {
		t.Fatalf("lockstep advanced only %d times", advanced)
	}
	if advanced > 101 {
		t.Fatalf("lockstep advanced %d times, more than the slow peer allows", advanced)
	}
	agree(t, peers)
}

// A lockstep peer stalls while the remote input is missing and advances as
// soon as it arrives.
func TestP2PLockstepStallsUntilInputArrives(t *testing.T) {
	net := newTestNet(8)
	peers := newMesh(t, net, 2, func(i int, cfg *Config[uint32, string]) { cfg.MaxPrediction = 0 })
	syncMesh(t, net, peers)
	a, b := peers[0], peers[1]
	for range 5 {
		_ = a.sess.AddLocalInput(0, 1)
		reqs, err := a.sess.AdvanceFrame()
		if err != nil {
			t.Fatal(err)
		}
		if len(reqs) != 0 {
			t.Fatalf("advanced without remote input: %v", kinds(reqs))
		}
		net.advance(16 * time.Millisecond)
	}
	_ = b.sess.AddLocalInput(1, 2)
	if _, err := b.sess.AdvanceFrame(); err != nil {
		t.Fatal(err)
	}
	_ = a.sess.AddLocalInput(0, 1)
	reqs, err := a.sess.AdvanceFrame()
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 || reqs[0].Kind != AdvanceFrame || reqs[0].Inputs[1].Input != 2 {
		t.Fatalf("requests after the input arrived: %+v", reqs)
	}
}

func TestP2PDisconnectPlayerValidation(t *testing.T) {
	net := newTestNet(9)
	cfg := DefaultConfig[uint32, string](UintCodec[uint32]{})
	cfg.Clock = net.clock
	cfg.AddLocalPlayer(0)
	cfg.AddRemotePlayer(1, "b")
	cfg.AddSpectator(2, "s")
	sess, err := NewP2PSession[stubState](cfg, net.socket("a"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		h  PlayerHandle
		ok bool
	}{{5, false}, {0, false}, {1, true}, {1, false}, {2, true}, {2, false}} {
		if err := sess.DisconnectPlayer(tc.h); (err == nil) != tc.ok {
			t.Fatalf("DisconnectPlayer(%d): %v", tc.h, err)
		}
	}
	if _, err := sess.NetworkStats(0); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("NetworkStats(local): %v", err)
	}
	if _, err := sess.NetworkStats(99); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("NetworkStats(99): %v", err)
	}
	if err := sess.AddLocalInput(1, 0); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("AddLocalInput(remote): %v", err)
	}
}

func TestP2PMissingLocalInput(t *testing.T) {
	net := newTestNet(10)
	peers := newMesh(t, net, 2, nil)
	syncMesh(t, net, peers)
	if _, err := peers[0].sess.AdvanceFrame(); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("AdvanceFrame without input: %v", err)
	}
}

func TestP2PNetworkStats(t *testing.T) {
	net := newTestNet(11)
	net.setLink(simnet.Link{Latency: 30 * time.Millisecond})
	peers := newMesh(t, net, 2, nil)
	syncMesh(t, net, peers)
	if _, err := peers[0].sess.NetworkStats(1); !errors.Is(err, ErrNotEnoughData) {
		t.Fatalf("stats right after sync: %v", err)
	}
	for range 120 {
		tick(t, peers, func(p *testPeer) uint32 { return 1 })
		net.advance(16 * time.Millisecond)
	}
	st, err := peers[0].sess.NetworkStats(1)
	if err != nil {
		t.Fatal(err)
	}
	if st.Ping < 55*time.Millisecond || st.Ping > 80*time.Millisecond {
		t.Fatalf("ping %v over a 30 ms one-way link", st.Ping)
	}
	if st.KbpsSent <= 0 || st.SendQueueLen > 8 {
		t.Fatalf("stats %+v", st)
	}
}

// Disconnecting a player whose inputs are all in must not roll back to (or
// load) the current frame: there is nothing to correct.
func TestP2PDisconnectCaughtUpPlayer(t *testing.T) {
	net := newTestNet(13)
	peers := newMesh(t, net, 2, nil)
	syncMesh(t, net, peers)
	for range 20 {
		tick(t, peers, func(p *testPeer) uint32 { return 5 })
		net.advance(16 * time.Millisecond)
	}
	a := peers[0]
	a.sess.PollRemoteClients()
	if a.sess.localStatus[1].lastFrame != a.sess.CurrentFrame()-1 {
		t.Fatalf("remote not caught up: last frame %d, current %d", a.sess.localStatus[1].lastFrame, a.sess.CurrentFrame())
	}
	if err := a.sess.DisconnectPlayer(1); err != nil {
		t.Fatal(err)
	}
	_ = a.sess.AddLocalInput(0, 5)
	reqs, err := a.sess.AdvanceFrame()
	if err != nil {
		t.Fatal(err)
	}
	if got := kinds(reqs); len(got) != 2 || got[0] != SaveState || got[1] != AdvanceFrame {
		t.Fatalf("requests after disconnect: %v, want [save advance]", got)
	}
	if st := reqs[1].Inputs[1].Status; st != Disconnected {
		t.Fatalf("disconnected player's input status %v", st)
	}
	if err := a.game.handle(reqs); err != nil {
		t.Fatal(err)
	}
}

// A player who drops for one peer is dropped by all, at the same frame.
func TestP2PDisconnectPropagates(t *testing.T) {
	net := newTestNet(14)
	peers := newMesh(t, net, 3, nil)
	syncMesh(t, net, peers)
	in := func(p *testPeer) uint32 { return uint32(p.sess.CurrentFrame()/3) + uint32(p.handle) }
	for range 30 {
		tick(t, peers, in)
		net.advance(16 * time.Millisecond)
	}
	// Peer 0 disconnects player 2 by hand; peer 2 keeps running but peer 1
	// must learn of the disconnect through peer 0's packets.
	if err := peers[0].sess.DisconnectPlayer(2); err != nil {
		t.Fatal(err)
	}
	for range 60 {
		tick(t, peers, in)
		net.advance(16 * time.Millisecond)
	}
	if !peers[1].sess.localStatus[2].disconnected {
		t.Fatal("peer 1 did not adopt the disconnect of player 2")
	}
	f0, f1 := peers[0].sess.localStatus[2].lastFrame, peers[1].sess.localStatus[2].lastFrame
	if f0 != f1 {
		t.Fatalf("player 2 dropped after frame %d on peer 0, %d on peer 1", f0, f1)
	}
	agree(t, peers[:2])
	// Every peer is told, naming who reported the disconnect: peer 1 that
	// peer 0 did, peer 2 (kicked) that both dropped it.
	want := map[string][]string{
		peerAddr(0): {"disconnected p2 (local request)"},
		peerAddr(1): {"disconnected p2 (reported by p0)"},
		peerAddr(2): {"disconnected p0 (dropped us by p0)", "disconnected p1 (dropped us by p1)"},
	}
	for _, p := range peers {
		var got []string
		for _, e := range p.events {
			if e.Kind == EventDisconnected || e.Kind == EventDisconnectDisputed {
				got = append(got, e.String())
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want[p.addr]) {
			t.Errorf("%s: events %q, want %q", p.addr, got, want[p.addr])
		}
	}
}

// A peer that waits (no input packet to carry its quality reply) answers
// after a while; the ping stays the network's round trip, not the wait.
func TestP2PPingExcludesReplyHold(t *testing.T) {
	net := newTestNet(15)
	net.setLink(simnet.Link{Latency: 30 * time.Millisecond})
	peers := newMesh(t, net, 2, nil)
	syncMesh(t, net, peers)
	// Peer 1 only polls: it sends no input, so its replies wait
	// maxControlDelay; peer 0 stalls at the prediction window.
	for range 300 {
		tick(t, peers[:1], func(p *testPeer) uint32 { return 1 })
		peers[1].sess.PollRemoteClients()
		net.advance(16 * time.Millisecond)
	}
	st, err := peers[0].sess.NetworkStats(1)
	if err != nil {
		t.Fatal(err)
	}
	if st.Ping < 55*time.Millisecond || st.Ping > 80*time.Millisecond {
		t.Fatalf("ping %v over a 30 ms one-way link, the peer holding replies %v", st.Ping, maxControlDelay)
	}
	if st.SendQueueLen > 8 {
		t.Fatalf("%d frames unacknowledged by a waiting peer", st.SendQueueLen)
	}
}

// Input delay is per local player (GGRS 0.13's set_input_delay): two local
// players on one peer with different delays, changed mid-session, and a
// remote peer that receives their inputs as complete frames. Every player's
// input lands delay frames after it was given, and both peers agree.
func TestP2PInputDelayPerPlayer(t *testing.T) {
	net := newTestNet(16)
	net.setLink(simnet.Link{Latency: 20 * time.Millisecond})
	cfgFor := func(local []PlayerHandle, remote PlayerHandle, addr string) Config[uint32, string] {
		cfg := DefaultConfig[uint32, string](UintCodec[uint32]{})
		cfg.NumPlayers = 3
		cfg.Clock = net.clock
		for _, h := range local {
			cfg.AddLocalPlayer(h)
		}
		cfg.AddRemotePlayer(remote, addr)
		return cfg
	}
	cfgA := cfgFor([]PlayerHandle{0, 1}, 2, "b")
	cfgB := cfgFor([]PlayerHandle{2}, 0, "a")
	cfgB.AddRemotePlayer(1, "a")
	a, err := NewP2PSession[stubState](cfgA, net.socket("a"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewP2PSession[stubState](cfgB, net.socket("b"))
	if err != nil {
		t.Fatal(err)
	}
	peers := []*testPeer{{sess: a, game: newStubGame(), addr: "a"}, {sess: b, game: newStubGame(), addr: "b"}}
	syncMesh(t, net, peers)
	if err := a.SetInputDelay(0, 3); err != nil {
		t.Fatal(err)
	}
	// The input given at tick i (= frame i, nothing stalls at this
	// latency) is i*10+handle: player h's input of frame f is
	// (f-delay)*10+h.
	delays := map[PlayerHandle]int{0: 3, 1: 0, 2: 0}
	inputAt := map[PlayerHandle]map[Frame]uint32{0: {}, 1: {}, 2: {}}
	seen := map[PlayerHandle]map[Frame]uint32{0: {}, 1: {}, 2: {}}
	for i := range 120 {
		if i == 40 {
			if err := a.SetInputDelay(1, 5); err != nil {
				t.Fatal(err)
			}
			delays[1] = 5
		}
		if i == 80 {
			if err := a.SetInputDelay(0, 1); err != nil {
				t.Fatal(err)
			}
			delays[0] = 1
		}
		for _, p := range peers {
			f := p.sess.CurrentFrame()
			for _, h := range p.sess.LocalPlayerHandles() {
				v := uint32(f)*10 + uint32(h)
				if err := p.sess.AddLocalInput(h, v); err != nil {
					t.Fatal(err)
				}
				if _, ok := inputAt[h][f+Frame(delays[h])]; !ok {
					inputAt[h][f+Frame(delays[h])] = v
				}
			}
			reqs, err := p.sess.AdvanceFrame()
			if err != nil {
				t.Fatal(err)
			}
			if err := p.game.handle(reqs); err != nil {
				t.Fatal(err)
			}
			if p == peers[1] {
				for _, r := range reqs {
					if r.Kind != AdvanceFrame {
						continue
					}
					for h, in := range r.Inputs {
						if in.Status == Confirmed {
							seen[PlayerHandle(h)][r.Frame] = in.Input
						}
					}
				}
			}
		}
		net.advance(16 * time.Millisecond)
	}
	if n := agree(t, peers); n < 100 {
		t.Fatalf("only %d frames agreed", n)
	}
	// Where the given input did not just fill a gap, the remote peer saw
	// exactly the input given delay frames earlier.
	checked := 0
	for h, frames := range inputAt {
		for f, want := range frames {
			got, ok := seen[h][f]
			if !ok || f < 10 {
				continue
			}
			checked++
			if got != want {
				t.Fatalf("player %d frame %d: remote saw input %d, want %d (given at frame %d)", h, f, got, want, want/10)
			}
		}
	}
	if checked < 200 {
		t.Fatalf("only %d inputs checked", checked)
	}
}

// A disconnect agreed for a frame older than the saved-state ring (only a
// peer's late or lying report asks for that) must not make the game load a
// cell that the same tick's resimulation already handed out for a later
// frame: the session rolls back as far as the ring allows instead.
func TestP2PDisconnectOlderThanTheRing(t *testing.T) {
	net := newTestNet(18)
	peers := newMesh(t, net, 2, nil)
	syncMesh(t, net, peers)
	for range 60 {
		tick(t, peers, func(p *testPeer) uint32 { return uint32(p.sess.CurrentFrame() / 3) })
		net.advance(16 * time.Millisecond)
	}
	a := peers[0]
	ring := Frame(len(a.sess.sync.states))
	old := a.sess.CurrentFrame() - 2*ring
	a.sess.disconnectPlayerAtFrame(a.sess.players.byHandle[1], old, a.sess.clock.since())
	for range 5 {
		tick(t, peers[:1], func(p *testPeer) uint32 { return 1 })
		net.advance(16 * time.Millisecond)
	}
	if a.game.loads == 0 {
		t.Fatal("no rollback")
	}
}
