package rollback

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rollbox/rollbox/transport/simnet"
)

// lateSpectator is a spectator that joins a running match in a test: its
// session, its game (started from a copy of the host's state) and what it
// saw.
type lateSpectator struct {
	addr  string
	start Frame
	sess  *stubSpectator
	game  *stubGame
	// advanced are the frames it advanced, in order.
	advanced []Frame
	// maxBehind is the most frames it was behind the host's sent frames.
	maxBehind int
	events    []Event[string]
	// host, when set, is the host: lag is how many frames the host has
	// confirmed that the spectator has not advanced (maxLag the most), and
	// caughtUpAt is the host's frame when the lag, once the spectator
	// advanced, first fell to MaxFramesBehind (NullFrame before).
	host            *testPeer
	lag, maxLag     int
	caughtUpAt      Frame
	maxFramesBehind int
}

// hostStateAt returns the host's state at frame f, which AddSpectator
// promises is final and the current or a saved one.
func hostStateAt(t *testing.T, host *testPeer, f Frame) stubState {
	t.Helper()
	if f == host.sess.CurrentFrame() {
		return host.game.gs
	}
	cell, ok := host.sess.sync.savedState(f)
	if !ok {
		t.Fatalf("host has no saved state of frame %d (at frame %d)", f, host.sess.CurrentFrame())
	}
	st, ok := cell.Load()
	if !ok || Frame(st.Frame) != f {
		t.Fatalf("host's saved state of frame %d holds frame %d (saved: %v)", f, st.Frame, ok)
	}
	return st
}

func spectatorConfig(net *testNet, numPlayers int) Config[uint32, string] {
	cfg := DefaultConfig[uint32, string](UintCodec[uint32]{})
	cfg.NumPlayers = numPlayers
	cfg.Clock = net.clock
	cfg.MaxFramesBehind = 10
	cfg.CatchupSpeed = 3
	return cfg
}

// startLateSpectator makes the session of a spectator the host registered
// with start frame start, its game holding state.
func startLateSpectator(t *testing.T, net *testNet, host, addr string, start Frame, state stubState) *lateSpectator {
	t.Helper()
	sess, err := NewSpectatorSessionAt[stubState](spectatorConfig(net, 2), host, net.socket(addr), start)
	if err != nil {
		t.Fatal(err)
	}
	if got := sess.CurrentFrame(); got != start-1 {
		t.Fatalf("CurrentFrame of a spectator starting at %d: %d, want %d", start, got, start-1)
	}
	g := newStubGame()
	g.gs = state
	return &lateSpectator{addr: addr, start: start, sess: sess, game: g, caughtUpAt: NullFrame}
}

// step runs one tick of the spectator: advance what it can.
func (s *lateSpectator) step(t *testing.T) {
	t.Helper()
	reqs, err := s.sess.AdvanceFrame()
	s.events = append(s.events, s.sess.Events()...)
	s.maxBehind = max(s.maxBehind, s.sess.FramesBehindHost())
	defer func() {
		if s.host == nil {
			return
		}
		s.lag = int(s.host.sess.nextSpectatorFrame - 1 - s.sess.CurrentFrame())
		s.maxLag = max(s.maxLag, s.lag)
		if s.caughtUpAt == NullFrame && len(s.advanced) > 0 && s.lag <= s.maxFramesBehind {
			s.caughtUpAt = s.host.sess.CurrentFrame()
		}
	}()
	switch {
	case errors.Is(err, ErrNotSynchronized), errors.Is(err, ErrPredictionThreshold):
		return
	case err != nil:
		t.Fatalf("%s: %v", s.addr, err)
	}
	for _, r := range reqs {
		if r.Kind != AdvanceFrame {
			t.Fatalf("%s: request %v; a spectator only advances", s.addr, r.Kind)
		}
		s.advanced = append(s.advanced, r.Frame)
	}
	if err := s.game.handle(reqs); err != nil {
		t.Fatalf("%s: %v", s.addr, err)
	}
}

// checkAgrees checks that the spectator advanced consecutive frames from
// its start, and that its state after each equals every player's confirmed
// one.
func (s *lateSpectator) checkAgrees(t *testing.T, peers []*testPeer) {
	t.Helper()
	upto := peers[0].sess.ConfirmedFrame()
	for _, p := range peers[1:] {
		upto = min(upto, p.sess.ConfirmedFrame())
	}
	if len(s.advanced) == 0 {
		t.Fatalf("%s advanced nothing", s.addr)
	}
	for i, f := range s.advanced {
		if f != s.start+Frame(i) {
			t.Fatalf("%s: advance %d is of frame %d, want %d", s.addr, i, f, s.start+Frame(i))
		}
		after := int32(f) + 1 // the state after advancing f is that of frame f+1
		if Frame(after) > upto {
			continue
		}
		got := s.game.confirmed[after]
		for _, p := range peers {
			if want := p.game.confirmed[after]; got != want {
				t.Fatalf("%s: state of frame %d has checksum %#x, %s confirmed %#x", s.addr, after, got, p.addr, want)
			}
		}
	}
}

func lossyLink() simnet.Link {
	// 20 +- 10 ms with 5 % loss and some duplicates.
	return simnet.Link{Latency: 10 * time.Millisecond, Jitter: 20 * time.Millisecond, Loss: 0.05, Duplicate: 0.02}
}

func lateInput(p *testPeer) uint32 { return uint32(p.sess.CurrentFrame()/7)*3 + uint32(p.handle) }

// playTo ticks the players until both are at frame to at least, running the
// spectators every tick.
func playTo(t *testing.T, net *testNet, peers []*testPeer, to Frame, specs ...*lateSpectator) {
	t.Helper()
	for i := 0; peers[0].sess.CurrentFrame() < to || peers[1].sess.CurrentFrame() < to; i++ {
		if i > 4*int(to)+10000 {
			t.Fatalf("players stuck at frames %d and %d", peers[0].sess.CurrentFrame(), peers[1].sess.CurrentFrame())
		}
		tick(t, peers, lateInput)
		for _, s := range specs {
			s.step(t)
		}
		net.advance(time.Second / 60)
	}
}

// A spectator added to a running match at frame 1000, given the confirmed
// state at its start frame, follows the match to frame 2000 and agrees with
// the players on every frame; started late (the state transfer takes a
// while) it catches up. A spectator present from frame 0 is unaffected.
func TestLateSpectatorFollowsMatch(t *testing.T) {
	for _, tc := range []struct {
		name string
		// delay is the ticks between AddSpectator and the spectator's
		// session start: the state transfer.
		delay int
		// early adds a spectator from frame 0; inputDelay is the
		// players' input delay (with it the host confirms frames ahead
		// of its current frame).
		early      bool
		inputDelay int
	}{
		{"alone at once", 0, false, 0},
		{"next to an early one at once", 0, true, 0},
		{"next to an early one after 90 frames", 90, true, 0},
		{"alone after 90 frames with input delay", 90, false, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net := newTestNet(140)
			net.setLink(lossyLink())
			peers := newMesh(t, net, 2, func(i int, cfg *Config[uint32, string]) {
				cfg.InputDelay = tc.inputDelay
				if i == 0 && tc.early {
					cfg.AddSpectator(2, "early")
				}
			})
			var specs []*lateSpectator
			if tc.early {
				early, err := NewSpectatorSession[stubState](spectatorConfig(net, 2), "p0", net.socket("early"))
				if err != nil {
					t.Fatal(err)
				}
				specs = append(specs, &lateSpectator{addr: "early", start: 0, sess: early, game: newStubGame()})
			}
			for range 20000 {
				for _, s := range specs {
					s.step(t)
				}
				peers[0].sess.PollRemoteClients()
				peers[1].sess.PollRemoteClients()
				if peers[0].sess.State() == Running && peers[1].sess.State() == Running {
					break
				}
				net.advance(time.Millisecond)
			}
			playTo(t, net, peers, 1000, specs...)

			host := peers[0]
			start, err := host.sess.AddSpectator(3, "late")
			if err != nil {
				t.Fatal(err)
			}
			if start < 1000-Frame(host.sess.MaxPrediction()) || start > host.sess.CurrentFrame() {
				t.Fatalf("start frame %d, host at %d", start, host.sess.CurrentFrame())
			}
			state := hostStateAt(t, host, start)
			for range tc.delay {
				tick(t, peers, lateInput)
				for _, s := range specs {
					s.step(t)
				}
				net.advance(time.Second / 60)
			}
			late := startLateSpectator(t, net, "p0", "late", start, state)
			late.host, late.maxFramesBehind = host, spectatorConfig(net, 2).MaxFramesBehind
			specs = append(specs, late)
			playTo(t, net, peers, 2000, specs...)
			// Let the spectators drain what the host sent.
			for range 200 {
				peers[0].sess.PollRemoteClients()
				peers[1].sess.PollRemoteClients()
				for _, s := range specs {
					s.step(t)
				}
				net.advance(time.Second / 60)
			}
			for _, s := range specs {
				s.checkAgrees(t, peers)
				// Every frame the host sent.
				if got, want := s.sess.CurrentFrame(), host.sess.nextSpectatorFrame-1; got != want {
					t.Fatalf("%s at frame %d, the host sent up to %d", s.addr, got, want)
				}
			}
			if late.sess.CurrentFrame() < 1990 {
				t.Fatalf("late spectator only at frame %d", late.sess.CurrentFrame())
			}
			if tc.delay > 0 && late.maxBehind <= 10 {
				t.Fatalf("late spectator at most %d frames behind: it never had to catch up", late.maxBehind)
			}
			for _, e := range append(late.events, host.events...) {
				if e.Kind == EventDisconnected || e.Kind == EventPlayerMapMismatch {
					t.Fatalf("event %+v", e)
				}
			}
			// The lag is the transfer delay plus the handshake (five
			// round trips, each retried after 200 ms when lost: within
			// two seconds here).
			if late.maxLag > tc.delay+120 {
				t.Fatalf("late spectator %d frames behind", late.maxLag)
			}
			// It builds up over maxLag frames, and CatchupSpeed 3 gains
			// 2 frames a tick, so it is gone within half as many again
			// (plus what loss and jitter hold up).
			if late.caughtUpAt == NullFrame || late.caughtUpAt > start+Frame(late.maxLag*3/2+30) {
				t.Fatalf("late spectator (start %d, %d frames behind at most) caught up at host frame %d", start, late.maxLag, late.caughtUpAt)
			}
			t.Logf("start frame %d, most frames behind %d, caught up at host frame %d", start, late.maxLag, late.caughtUpAt)
		})
	}
}

// startMatch builds a 2-player match over a lossy link, synchronizes it and
// plays it to frame to.
func startMatch(t *testing.T, seed uint64, to Frame, edit func(i int, cfg *Config[uint32, string])) (*testNet, []*testPeer) {
	t.Helper()
	net := newTestNet(seed)
	net.setLink(lossyLink())
	peers := newMesh(t, net, 2, edit)
	syncMesh(t, net, peers)
	playTo(t, net, peers, to)
	return net, peers
}

func TestAddSpectatorErrors(t *testing.T) {
	net := newTestNet(141)
	peers := newMesh(t, net, 2, func(i int, cfg *Config[uint32, string]) {
		if i == 0 {
			cfg.AddSpectator(2, "early")
		}
	})
	early, err := NewSpectatorSession[stubState](spectatorConfig(net, 2), "p0", net.socket("early"))
	if err != nil {
		t.Fatal(err)
	}
	for range 2000 {
		early.PollRemoteClients()
		peers[0].sess.PollRemoteClients()
		peers[1].sess.PollRemoteClients()
		if peers[0].sess.State() == Running && peers[1].sess.State() == Running {
			break
		}
		net.advance(time.Millisecond)
	}
	playTo(t, net, peers, 10)
	host := peers[0].sess
	for _, tc := range []struct {
		h    PlayerHandle
		addr string
		why  string
	}{
		{-1, "x", "negative handle"},
		{0, "x", "local player's handle"},
		{1, "x", "remote player's handle"},
		{2, "x", "handle of a spectator from the start"},
		{3, "p1", "remote player's address"},
		{3, "early", "address of a spectator from the start"},
	} {
		if _, err := host.AddSpectator(tc.h, tc.addr); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%s (%d at %s): %v, want ErrInvalidRequest", tc.why, tc.h, tc.addr, err)
		}
	}
	if n := len(host.players.spectators); n != 1 {
		t.Fatalf("%d spectators after failed calls, want 1", n)
	}
	start, err := host.AddSpectator(3, "late")
	if err != nil {
		t.Fatal(err)
	}
	if start < 0 || start > host.CurrentFrame() {
		t.Fatalf("start %d, host at frame %d", start, host.CurrentFrame())
	}
	if _, err := host.AddSpectator(3, "other"); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("handle of a late spectator again: %v", err)
	}
	if _, err := host.AddSpectator(4, "late"); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("address of a late spectator again: %v", err)
	}
	if err := host.DisconnectPlayer(3); err != nil {
		t.Fatalf("DisconnectPlayer of a late spectator: %v", err)
	}
	if _, err := host.AddSpectator(3, "other"); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("handle of a disconnected spectator: %v", err)
	}
	// The test network has fewer endpoints than MaxPlayers: the handshakes
	// of the spectators that only fill the session go nowhere.
	net.socket("p0").tamper = func(to string, p []byte) [][]byte {
		if strings.HasPrefix(to, "fill") {
			return nil
		}
		return [][]byte{p}
	}
	for h := PlayerHandle(4); len(host.players.spectators) < MaxPlayers; h++ {
		if _, err := host.AddSpectator(h, fmt.Sprint("fill", h)); err != nil {
			t.Fatalf("spectator %d of %d: %v", len(host.players.spectators)+1, MaxPlayers, err)
		}
	}
	if _, err := host.AddSpectator(1000, "one too many"); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("spectator %d: %v", MaxPlayers+1, err)
	}
	if start < 0 || start > host.CurrentFrame() {
		t.Fatalf("start %d, host at frame %d", start, host.CurrentFrame())
	}
}

// A spectator added before the match starts does not hold the start, and
// one that never completes its handshake is dropped once its backlog is
// full; the players play on.
func TestLateSpectatorThatNeverComes(t *testing.T) {
	net := newTestNet(142)
	net.setLink(lossyLink())
	peers := newMesh(t, net, 2, nil)
	start, err := peers[0].sess.AddSpectator(2, "ghost")
	if err != nil {
		t.Fatal(err)
	}
	if start != 0 {
		t.Fatalf("start %d before the match, want 0", start)
	}
	syncMesh(t, net, peers)
	playTo(t, net, peers, lateSpectatorBacklog-20)
	if n := countEvents(peers[0].events, EventDisconnected); n != 0 {
		t.Fatalf("%d disconnects before the backlog is full: %v", n, peers[0].events)
	}
	playTo(t, net, peers, lateSpectatorBacklog+60)
	var dropped []Event[string]
	for _, e := range peers[0].events {
		if e.Kind == EventDisconnected {
			dropped = append(dropped, e)
		}
	}
	if len(dropped) != 1 || dropped[0].Addr != "ghost" {
		t.Fatalf("disconnects %v, want the ghost's", dropped)
	}
	if n := agree(t, peers); n < lateSpectatorBacklog {
		t.Fatalf("players agree on %d frames", n)
	}
}

// The player map check holds for a spectator added during the match: one
// with another player count is refused, and the match goes on.
func TestLateSpectatorPlayerMapMismatch(t *testing.T) {
	net, peers := startMatch(t, 143, 200, nil)
	start, err := peers[0].sess.AddSpectator(2, "spec")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := NewSpectatorSessionAt[stubState](spectatorConfig(net, 3), "p0", net.socket("spec"), start)
	if err != nil {
		t.Fatal(err)
	}
	var specErr error
	for range 120 {
		tick(t, peers, lateInput)
		if _, err := spec.AdvanceFrame(); err != nil {
			specErr = err
		}
		net.advance(time.Second / 60)
	}
	var mapErr *PlayerMapError[string]
	if !errors.As(specErr, &mapErr) || mapErr.RemoteNumPlayers != 2 || mapErr.NumPlayers != 3 {
		t.Fatalf("spectator AdvanceFrame: %v, want a PlayerMapError of 2 vs 3 players", specErr)
	}
	found := false
	for _, e := range peers[0].events {
		if e.Kind == EventPlayerMapMismatch && e.Addr == "spec" {
			found = true
		}
	}
	if !found {
		t.Fatalf("host events %v, want EventPlayerMapMismatch from spec", peers[0].events)
	}
	if f := peers[0].sess.CurrentFrame(); f < 300 {
		t.Fatalf("host only at frame %d", f)
	}
}

// forgedInput is an input packet from the host to a spectator of a 2-player
// match, with n frames from first on, each input value v.
func forgedInput(magic uint16, first Frame, n int, v byte) []byte {
	status := []connectionStatus{{lastFrame: first}, {lastFrame: first}}
	b := appendInputHead(nil, magic, first, NullFrame, status, qualityParts{}, 8)
	b = append(b, byte(n))
	prev := make([]byte, 8)
	cur := []byte{v, v, v, v, v, v, v, v}
	for range n {
		b = appendDelta(b, prev, cur)
		prev = cur
	}
	return b
}

// Frames before a late spectator's start reach it (a forged or stale host
// packet): before its first frame, and after it took frames, with later
// frames in the same packet. It ignores them all and follows the match.
func TestLateSpectatorIgnoresFramesBeforeStart(t *testing.T) {
	net, peers := startMatch(t, 144, 300, nil)
	host := peers[0]
	start, err := host.sess.AddSpectator(2, "spec")
	if err != nil {
		t.Fatal(err)
	}
	spec := startLateSpectator(t, net, "p0", "spec", start, hostStateAt(t, host, start))
	pr, _ := host.sess.players.peerAt("spec")
	forge := func(first Frame, n int) {
		t.Helper()
		if err := net.socket("p0").Send("spec", forgedInput(pr.ep.magic, first, n, 0xEE)); err != nil {
			t.Fatal(err)
		}
	}
	// Before anything arrived: a packet from far back, and one that
	// reaches past the start.
	forge(0, 20)
	forge(start-5, 30)
	spec.sess.PollRemoteClients()
	if got := spec.sess.host.lastRecvFrame; got != NullFrame {
		t.Fatalf("spectator took frame %d from a packet before its start", got)
	}
	forged := false
	for i := 0; host.sess.CurrentFrame() < 800; i++ {
		tick(t, peers, lateInput)
		spec.step(t)
		if last := spec.sess.lastRecvFrame; !forged && last >= start+5 {
			// Frames up to last+10: the ones after last are news,
			// but come after frames before the start.
			forge(start-3, int(last-start)+14)
			forge(start-1, int(last-start)+12)
			spec.sess.PollRemoteClients()
			forged = true
		}
		net.advance(time.Second / 60)
	}
	if !forged {
		t.Fatal("the spectator never took 5 frames")
	}
	spec.checkAgrees(t, peers)
	if spec.sess.CurrentFrame() < 700 {
		t.Fatalf("spectator only at frame %d", spec.sess.CurrentFrame())
	}
}

// Once a late spectator has caught up, neither its host nor it allocates per
// frame.
func TestLateSpectatorSteadyStateDoesNotAllocate(t *testing.T) {
	net, peers := newBenchMesh(t, 2, 1, 8)
	for range 120 {
		meshTick(net, peers, true)
	}
	start, err := peers[0].sess.AddSpectator(2, "spec")
	if err != nil {
		t.Fatal(err)
	}
	cfg := spectatorConfig(net.testNet, 2)
	spec, err := NewSpectatorSessionAt[benchState](cfg, "p0", net.socket("spec"), start)
	if err != nil {
		t.Fatal(err)
	}
	advanced := 0
	step := func() {
		meshTick(net, peers, true)
		reqs, err := spec.AdvanceFrame()
		if err != nil && !errors.Is(err, ErrPredictionThreshold) && !errors.Is(err, ErrNotSynchronized) {
			panic(err)
		}
		advanced += len(reqs)
		spec.Events()
	}
	for range 300 {
		step()
	}
	if advanced == 0 || spec.FramesBehindHost() > cfg.MaxFramesBehind {
		t.Fatalf("spectator advanced %d frames, %d behind", advanced, spec.FramesBehindHost())
	}
	before := advanced
	if allocs := testing.AllocsPerRun(200, step); allocs != 0 {
		t.Errorf("%v allocations per frame", allocs)
	}
	if advanced-before < 190 {
		t.Errorf("spectator advanced %d frames in 201 ticks", advanced-before)
	}
}

// FuzzLateSpectatorPackets feeds arbitrary packets from the host's address
// into a spectator that joined at a running match's frame start: it must
// never panic, and never advance a frame before start or out of order.
func FuzzLateSpectatorPackets(f *testing.F) {
	for _, p := range validPackets() {
		f.Add(p)
	}
	f.Add(forgedInput(0, 50, 20, 1))  // before the start
	f.Add(forgedInput(0, 90, 40, 1))  // across it
	f.Add(forgedInput(0, 500, 20, 1)) // far after it
	f.Fuzz(func(t *testing.T, pkt []byte) {
		net := newTestNet(1)
		peers := newMesh(t, net, 2, nil)
		syncMesh(t, net, peers)
		playTo(t, net, peers, 100)
		start, err := peers[0].sess.AddSpectator(2, "spec")
		if err != nil {
			t.Fatal(err)
		}
		spec := startLateSpectator(t, net, "p0", "spec", start, hostStateAt(t, peers[0], start))
		host := net.socket("p0")
		for range 40 {
			_ = host.Send("spec", pkt)
			tick(t, peers, lateInput)
			reqs, err := spec.sess.AdvanceFrame()
			if err == nil {
				for _, r := range reqs {
					if want := start + Frame(len(spec.advanced)); r.Kind != AdvanceFrame || r.Frame != want {
						t.Fatalf("request %v of frame %d, want an advance of %d", r.Kind, r.Frame, want)
					}
					spec.advanced = append(spec.advanced, r.Frame)
				}
			}
			net.advance(16 * time.Millisecond)
		}
	})
}
