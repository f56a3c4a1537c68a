package rollback

import (
	"errors"
	"testing"
	"time"

	"github.com/rollbox/rollbox/transport/simnet"
)

// rejoinInput varies every player's input with the frame, so a wrong
// prediction of anyone's input or status shows in the state.
func rejoinInput(p *testPeer) uint32 {
	return uint32(p.game.gs.Frame/7+int32(p.handle)*3) % 5
}

// tickCatchingUp is tick for one peer that may be behind the others: after
// its tick it advances again, up to extra times, while FramesBehind says it
// is more than slack frames behind (what the match layer does for a player
// that came back).
func tickCatchingUp(t *testing.T, p *testPeer, extra, slack int) {
	t.Helper()
	tick(t, []*testPeer{p}, rejoinInput)
	for i := 0; i < extra && p.sess.FramesBehind() > slack; i++ {
		tick(t, []*testPeer{p}, rejoinInput)
	}
}

// sameConfirmed checks that a and b computed the same state for every frame
// in lo..hi.
func sameConfirmed(t *testing.T, a, b *testPeer, lo, hi Frame) {
	t.Helper()
	for f := lo; f <= hi; f++ {
		x, okx := a.game.confirmed[int32(f)]
		y, oky := b.game.confirmed[int32(f)]
		if !okx || !oky {
			t.Fatalf("frame %d: %s has a state: %v, %s: %v", f, a.addr, okx, b.addr, oky)
		}
		if x != y {
			t.Fatalf("frame %d: %s has checksum %#x, %s has %#x", f, a.addr, x, b.addr, y)
		}
	}
}

// TestReadmitAfterDrop is the rejoin of issue 14 at the session level, over
// simnet: three players, the third loses its connection for ten seconds at
// frame 600 (the others drop it after DisconnectTimeout), then comes back
// as a new program at a new address; the two who stayed readmit it at a
// frame a second ahead, it starts from their confirmed state at From and
// catches up. Every frame to 3000 is confirmed alike by all three (the
// player that returned from From on), desync detection stays quiet, and the
// two who stayed never stall while it comes back.
func TestReadmitAfterDrop(t *testing.T) {
	net := newTestNet(14)
	net.setLink(simnet.Link{Latency: 20 * time.Millisecond, Jitter: 5 * time.Millisecond, Loss: 0.02})
	peers := newMesh(t, net, 3, nil)
	for _, p := range peers {
		p.game.withStatus = true
	}
	syncMesh(t, net, peers)
	const frameTime = time.Second / 60
	stayers := peers[:2]
	for peers[2].sess.CurrentFrame() < 600 {
		tick(t, peers, rejoinInput)
		net.advance(frameTime)
	}
	old := peers[2]
	for _, p := range stayers {
		net.cut(p.addr, old.addr)
		net.cut(old.addr, p.addr)
	}
	for range 10 * 60 {
		tick(t, peers, rejoinInput)
		net.advance(frameTime)
	}
	dropStall := max(stayers[0].maxStall, stayers[1].maxStall)
	for _, p := range stayers {
		if n := countEvents(p.events, EventDisconnected); n != 1 {
			t.Fatalf("%s: %d disconnect events after the drop, want 1", p.addr, n)
		}
		p.maxStall, p.stall = 0, 0
	}

	// The peer with the lowest handle admits the player: the state at its
	// confirmed frame, the player's inputs counting a second from now.
	p0, p1 := stayers[0], stayers[1]
	from, at := p0.sess.ConfirmedFrame(), p0.sess.CurrentFrame()+60
	state := p0.game.gs
	if from != p0.sess.CurrentFrame() {
		var ok bool
		if state, ok = p0.sess.SavedState(from); !ok {
			t.Fatalf("p0 holds no state of its confirmed frame %d", from)
		}
	}
	r, err := p0.sess.Readmit(2, "p2b", from, at)
	if err != nil {
		t.Fatal(err)
	}
	// The other stayer hears of it a round trip later.
	for range 3 {
		tick(t, stayers, rejoinInput)
		net.advance(frameTime)
	}
	r1, err := p1.sess.Readmit(2, "p2b", from, at)
	if err != nil {
		t.Fatal(err)
	}
	for h := range r.Players {
		if r.Players[h] != r1.Players[h] {
			t.Fatalf("the stayers see player %d differently: %+v, %+v", h, r.Players[h], r1.Players[h])
		}
	}
	if !r.Players[2].Disconnected || r.Players[2].LastFrame < 590 || r.Players[2].LastFrame >= from {
		t.Fatalf("player 2's status in the resume: %+v (from %d)", r.Players[2], from)
	}
	// The state travels for a few more ticks.
	for range 5 {
		tick(t, stayers, rejoinInput)
		net.advance(frameTime)
	}
	cfg := DefaultConfig[uint32, string](UintCodec[uint32]{})
	cfg.NumPlayers, cfg.Clock, cfg.Seed = 3, net.clock, 302
	cfg.AddRemotePlayer(0, "p0")
	cfg.AddRemotePlayer(1, "p1")
	cfg.AddLocalPlayer(2)
	sess, err := NewP2PSessionAt[stubState](cfg, net.socket("p2b"), r)
	if err != nil {
		t.Fatal(err)
	}
	back := &testPeer{sess: sess, game: newStubGame(), handle: 2, addr: "p2b"}
	back.game.withStatus, back.game.gs = true, state
	for i := 0; back.sess.State() != Running; i++ {
		if i == 10*60 {
			t.Fatal("the player that came back did not synchronize in 10 s")
		}
		back.sess.PollRemoteClients()
		tick(t, stayers, rejoinInput)
		net.advance(frameTime)
	}
	all := []*testPeer{p0, p1, back}
	for back.sess.CurrentFrame() < 3000 || p0.sess.ConfirmedFrame() < 3000 || p1.sess.ConfirmedFrame() < 3000 || back.sess.ConfirmedFrame() < 3000 {
		tick(t, stayers, rejoinInput)
		tickCatchingUp(t, back, 4, 4)
		net.advance(frameTime)
		if net.sim.Now() > 5*time.Minute {
			t.Fatalf("stuck: frames %d %d %d", p0.sess.CurrentFrame(), p1.sess.CurrentFrame(), back.sess.CurrentFrame())
		}
	}
	sameConfirmed(t, p0, p1, 1, 3000)
	sameConfirmed(t, p0, back, from+1, 3000)
	sameConfirmed(t, p0, old, 1, r.Players[2].LastFrame)
	for _, p := range all {
		if n := countEvents(p.events, EventDesyncDetected); n != 0 {
			t.Fatalf("%s: %d desyncs", p.addr, n)
		}
	}
	// The player's inputs count again: it was Disconnected before at, and
	// is not after (the state hashes the status).
	rejoinStall := max(p0.maxStall, p1.maxStall)
	if rejoinStall > 2 {
		t.Fatalf("a stayer stalled %d ticks while the player came back", rejoinStall)
	}
	t.Logf("from %d at %d; longest stall of a stayer: %d ticks during the drop (DisconnectTimeout), %d while the player came back",
		from, at, dropStall, rejoinStall)
}

// TestReadmitNeverArrives: a player readmitted but never heard from holds
// the match only until readmitSyncTimeout; then the others drop it again
// after the frame before at, agree, and play on.
func TestReadmitNeverArrives(t *testing.T) {
	net, stayers := thirdGone(t, 15)
	const frameTime = time.Second / 60
	from, at := stayers[0].sess.ConfirmedFrame(), stayers[0].sess.CurrentFrame()+30
	for _, p := range stayers {
		if _, err := p.sess.Readmit(2, "ghost", from, at); err != nil {
			t.Fatal(err)
		}
		p.events = nil
	}
	for range int(readmitSyncTimeout/frameTime) + 5*60 {
		tick(t, stayers, rejoinInput)
		net.advance(frameTime)
	}
	for _, p := range stayers {
		if n := countEvents(p.events, EventDisconnected); n != 1 {
			t.Fatalf("%s: %d disconnect events, want 1 (the ghost)", p.addr, n)
		}
		if c := p.sess.ConfirmedFrame(); c < at+60 {
			t.Fatalf("%s: confirmed frame %d, the match did not go on after the ghost (at %d)", p.addr, c, at)
		}
	}
	agree(t, stayers)
}

// TestReadmitRefuses: Readmit checks its arguments before changing
// anything.
func TestReadmitRefuses(t *testing.T) {
	net := newTestNet(16)
	peers := newMesh(t, net, 3, nil)
	syncMesh(t, net, peers)
	const frameTime = time.Second / 60
	for peers[0].sess.CurrentFrame() < 100 {
		tick(t, peers, rejoinInput)
		net.advance(frameTime)
	}
	p0 := peers[0]
	if _, err := p0.sess.Readmit(2, "x", 90, 200); err == nil {
		t.Fatal("readmitted a player still connected")
	}
	net.leave(peers[2].addr)
	// Long enough that the player's last frame is further back than the
	// inputs a session keeps for a returning player (lateSpectatorBacklog).
	for range 12 * 60 {
		tick(t, peers[:2], rejoinInput)
		net.advance(frameTime)
	}
	confirmed, left := p0.sess.ConfirmedFrame(), p0.sess.localStatus[2].lastFrame
	cases := []struct {
		name     string
		h        PlayerHandle
		addr     string
		from, at Frame
	}{
		{"local player", 0, "x", confirmed, confirmed + 60},
		{"unknown handle", 7, "x", confirmed, confirmed + 60},
		{"address of another peer", 2, "p1", confirmed, confirmed + 60},
		{"at confirmed", 2, "x", confirmed, confirmed},
		{"from before the player left", 2, "x", left, confirmed + 60},
		{"from after at", 2, "x", confirmed + 61, confirmed + 60},
		{"from past the inputs sent", 2, "x", confirmed + 50, confirmed + 60},
		{"from too far back", 2, "x", left + 1, confirmed + 60},
	}
	for _, c := range cases {
		if _, err := p0.sess.Readmit(c.h, c.addr, c.from, c.at); err == nil {
			t.Errorf("%s: Readmit(%d, %q, %d, %d) succeeded", c.name, c.h, c.addr, c.from, c.at)
		}
	}
	if _, err := p0.sess.Readmit(2, "x", confirmed, confirmed+60); err != nil {
		t.Fatalf("after the refusals, a right Readmit: %v", err)
	}
}

// TestResumeFailsWhenAPeerNeverAnswers: a player comes back while another
// dies; the returning session cannot have the dead one's inputs since From,
// so once its handshake deadline passes it fails (ErrResumeFailed) rather
// than start without them, or wait for ever (which held the others at
// At plus the prediction window for good).
func TestResumeFailsWhenAPeerNeverAnswers(t *testing.T) {
	net, stayers := thirdGone(t, 17)
	const frameTime = time.Second / 60
	from, at := stayers[0].sess.ConfirmedFrame(), stayers[0].sess.CurrentFrame()+60
	r, err := stayers[0].sess.Readmit(2, "p2b", from, at)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stayers[1].sess.Readmit(2, "p2b", from, at); err != nil {
		t.Fatal(err)
	}
	net.leave(stayers[1].addr) // dies as the third comes back
	cfg := DefaultConfig[uint32, string](UintCodec[uint32]{})
	cfg.NumPlayers, cfg.Clock, cfg.Seed = 3, net.clock, 303
	cfg.AddRemotePlayer(0, "p0")
	cfg.AddRemotePlayer(1, "p1")
	cfg.AddLocalPlayer(2)
	back, err := NewP2PSessionAt[stubState](cfg, net.socket("p2b"), r)
	if err != nil {
		t.Fatal(err)
	}
	var evs []Event[string]
	for range int(readmitSyncTimeout/frameTime) + 60 {
		tick(t, stayers[:1], rejoinInput)
		back.PollRemoteClients()
		evs = append(evs, back.Events()...)
		net.advance(frameTime)
	}
	if back.State() == Running {
		t.Fatal("the returning session started without a peer's inputs")
	}
	if err := back.AddLocalInput(2, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := back.AdvanceFrame(); !errors.Is(err, ErrResumeFailed) {
		t.Fatalf("AdvanceFrame: %v, want ErrResumeFailed", err)
	}
	if n := countEvents(evs, EventDisconnected); n != 1 {
		t.Fatalf("%d disconnect events, want 1 (the peer that never answered)", n)
	}
}

// thirdGone plays a three-player match over a 10 ms network to frame 100;
// then the third player's program goes, and the two others play on for
// five seconds, past their disconnect timeout. It returns those two.
func thirdGone(t *testing.T, seed uint64) (*testNet, []*testPeer) {
	t.Helper()
	net := newTestNet(seed)
	net.setLink(simnet.Link{Latency: 10 * time.Millisecond})
	peers := newMesh(t, net, 3, nil)
	for _, p := range peers {
		p.game.withStatus = true
	}
	syncMesh(t, net, peers)
	const frameTime = time.Second / 60
	for peers[2].sess.CurrentFrame() < 100 {
		tick(t, peers, rejoinInput)
		net.advance(frameTime)
	}
	net.leave(peers[2].addr)
	stayers := peers[:2]
	for range 5 * 60 {
		tick(t, stayers, rejoinInput)
		net.advance(frameTime)
	}
	return net, stayers
}
