package rollback

import (
	"fmt"
	"testing"
	"time"
)

type stubSession = P2PSession[stubState, uint32, string]

type testPeer struct {
	sess   *stubSession
	game   *stubGame
	handle PlayerHandle
	addr   string
	events []Event[string]
	// maxStall is the longest run of ticks without an advance.
	stall, maxStall int
	// skip counts ticks left of a wait recommendation.
	skip int
}

func peerAddr(i int) string { return fmt.Sprintf("p%d", i) }

// newMesh builds n sessions, player i local on peer i, all connected.
func newMesh(t testing.TB, net *testNet, n int, edit func(i int, cfg *Config[uint32, string])) []*testPeer {
	t.Helper()
	peers := make([]*testPeer, n)
	for i := range n {
		cfg := DefaultConfig[uint32, string](UintCodec[uint32]{})
		cfg.NumPlayers = n
		cfg.Clock = net.clock
		cfg.Seed = uint64(100 + i)
		for j := range n {
			if j == i {
				cfg.AddLocalPlayer(PlayerHandle(j))
			} else {
				cfg.AddRemotePlayer(PlayerHandle(j), peerAddr(j))
			}
		}
		if edit != nil {
			edit(i, &cfg)
		}
		sess, err := NewP2PSession[stubState](cfg, net.socket(peerAddr(i)))
		if err != nil {
			t.Fatal(err)
		}
		peers[i] = &testPeer{sess: sess, game: newStubGame(), handle: PlayerHandle(i), addr: peerAddr(i)}
	}
	return peers
}

// syncMesh polls until every session runs, stepping virtual time.
func syncMesh(t testing.TB, net *testNet, peers []*testPeer) {
	t.Helper()
	for range 20000 {
		running := true
		for _, p := range peers {
			p.sess.PollRemoteClients()
			running = running && p.sess.State() == Running
		}
		if running {
			return
		}
		net.advance(time.Millisecond)
	}
	t.Fatal("sessions did not synchronize")
}

// tick runs one frame on every peer: input, advance, requests.
func tick(t testing.TB, peers []*testPeer, input func(p *testPeer) uint32) {
	t.Helper()
	for _, p := range peers {
		if p.sess == nil {
			continue
		}
		if err := p.sess.AddLocalInput(p.handle, input(p)); err != nil {
			t.Fatal(err)
		}
		reqs, err := p.sess.AdvanceFrame()
		if err != nil {
			t.Fatalf("%s: %v", p.addr, err)
		}
		advanced := false
		for _, r := range reqs {
			advanced = advanced || r.Kind == AdvanceFrame
		}
		if advanced {
			p.stall = 0
		} else {
			p.stall++
			p.maxStall = max(p.maxStall, p.stall)
		}
		if err := p.game.handle(reqs); err != nil {
			t.Fatalf("%s: %v", p.addr, err)
		}
		p.events = append(p.events, p.sess.Events()...)
	}
}

func countEvents[A comparable](evs []Event[A], kind EventKind) int {
	n := 0
	for _, e := range evs {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// agree checks that every peer computed the same state for every frame they
// all confirmed, and returns how many frames were compared.
func agree(t testing.TB, peers []*testPeer) int {
	t.Helper()
	var live []*testPeer
	for _, p := range peers {
		if p.sess != nil {
			live = append(live, p)
		}
	}
	upto := live[0].sess.ConfirmedFrame()
	for _, p := range live[1:] {
		upto = min(upto, p.sess.ConfirmedFrame())
	}
	compared := 0
	for f := int32(1); f <= int32(upto); f++ {
		want, ok := live[0].game.confirmed[f]
		if !ok {
			t.Fatalf("%s has no confirmed state of frame %d (confirmed up to %d)", live[0].addr, f, upto)
		}
		for _, p := range live[1:] {
			got, ok := p.game.confirmed[f]
			if !ok {
				t.Fatalf("%s has no confirmed state of frame %d", p.addr, f)
			}
			if got != want {
				t.Fatalf("frame %d: %s has checksum %#x, %s has %#x", f, live[0].addr, want, p.addr, got)
			}
		}
		compared++
	}
	return compared
}
