package rollback

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// handshakeFor polls the sessions for d of virtual time, far longer than a
// handshake takes (5 round trips), and returns every session's events.
func handshakeFor(net *testNet, d time.Duration, polls ...func()) {
	for range int(d / time.Millisecond) {
		for _, p := range polls {
			p()
		}
		net.advance(time.Millisecond)
	}
}

func meshPolls(peers []*testPeer) []func() {
	var ps []func()
	for _, p := range peers {
		ps = append(ps, func() {
			p.sess.PollRemoteClients()
			p.events = append(p.events, p.sess.Events()...)
		})
	}
	return ps
}

// wantMapMismatch checks that a session that has stayed out of sync reports
// exactly one player map mismatch per peer in peers, each naming the peer and
// containing the phrase want, and that AdvanceFrame fails with the same
// error before giving any request.
func wantMapMismatch(t *testing.T, p *testPeer, want map[string]string) {
	t.Helper()
	if p.sess.State() != Synchronizing {
		t.Fatalf("%s: state %v, want Synchronizing", p.addr, p.sess.State())
	}
	if n := countEvents(p.events, EventPlayerMapMismatch); n != len(want) {
		t.Fatalf("%s: %d player map mismatches, want %d: %v", p.addr, n, len(want), p.events)
	}
	for _, e := range p.events {
		if e.Kind != EventPlayerMapMismatch {
			continue
		}
		phrase, ok := want[e.Addr]
		if !ok {
			t.Fatalf("%s: mismatch about %s, want one about each of %v", p.addr, e.Addr, want)
		}
		if e.PlayerMap == nil || e.PlayerMap.Addr != e.Addr || !errors.Is(e.PlayerMap, ErrPlayerMapMismatch) {
			t.Fatalf("%s: event %#v", p.addr, e)
		}
		if msg := e.String(); !strings.Contains(msg, phrase) || !strings.Contains(msg, "peer "+e.Addr) {
			t.Fatalf("%s: event says %q, want it to name %s and say %q", p.addr, msg, e.Addr, phrase)
		}
	}
	if err := p.sess.AddLocalInput(p.handle, 1); err != nil {
		t.Fatal(err)
	}
	reqs, err := p.sess.AdvanceFrame()
	var pe *PlayerMapError[string]
	if !errors.Is(err, ErrPlayerMapMismatch) || !errors.As(err, &pe) || len(reqs) != 0 {
		t.Fatalf("%s: AdvanceFrame = %d requests, %v; want the player map error", p.addr, len(reqs), err)
	}
	if _, ok := want[pe.Addr]; !ok {
		t.Fatalf("%s: AdvanceFrame error about %s", p.addr, pe.Addr)
	}
}

// The README's example copied literally onto both machines: each peer plays
// handle 0 and has the other as handle 1. Both used to play their own
// mirrored game; now neither starts and both say why.
func TestMirroredPlayerMapFailsOnBothPeers(t *testing.T) {
	net := newTestNet(30)
	peers := newMesh(t, net, 2, func(i int, cfg *Config[uint32, string]) {
		cfg.Players = nil
		cfg.AddLocalPlayer(0)
		cfg.AddRemotePlayer(1, peerAddr(1-i))
	})
	peers[1].handle = 0
	handshakeFor(net, 3*time.Second, meshPolls(peers)...)
	for i, p := range peers {
		if n := countEvents(p.events, EventSynchronized); n != 0 {
			t.Fatalf("%s: synchronized with a mirrored peer", p.addr)
		}
		wantMapMismatch(t, p, map[string]string{
			peerAddr(1 - i): "says it plays handles [0], but this session has it as [1]; check that every peer hands out handles the same way",
		})
	}
}

// In a 3-peer mesh p2 swaps the handles of p0 and p1. p0 and p1 agree with
// each other but not with p2; nobody starts.
func TestPlayerMapOnePeerDisagrees(t *testing.T) {
	net := newTestNet(31)
	peers := newMesh(t, net, 3, func(i int, cfg *Config[uint32, string]) {
		if i != 2 {
			return
		}
		cfg.Players = nil
		cfg.AddRemotePlayer(0, peerAddr(1))
		cfg.AddRemotePlayer(1, peerAddr(0))
		cfg.AddLocalPlayer(2)
	})
	handshakeFor(net, 3*time.Second, meshPolls(peers)...)
	wantMapMismatch(t, peers[0], map[string]string{"p2": "has this session as handles [1], but this session plays [0]"})
	wantMapMismatch(t, peers[1], map[string]string{"p2": "has this session as handles [0], but this session plays [1]"})
	wantMapMismatch(t, peers[2], map[string]string{
		"p0": "says it plays handles [0], but this session has it as [1]",
		"p1": "says it plays handles [1], but this session has it as [0]",
	})
	// The two that agree completed their handshake with each other.
	for i, p := range peers[:2] {
		synced := false
		for _, e := range p.events {
			synced = synced || e.Kind == EventSynchronized && e.Addr == peerAddr(1-i)
		}
		if !synced {
			t.Fatalf("%s did not synchronize with %s: %v", p.addr, peerAddr(1-i), p.events)
		}
	}
}

func TestPlayerMapDifferentPlayerCounts(t *testing.T) {
	net := newTestNet(32)
	peers := newMesh(t, net, 2, func(i int, cfg *Config[uint32, string]) {
		if i == 1 {
			// A third player that p0 does not know of, at an address
			// that never answers.
			cfg.NumPlayers = 3
			cfg.AddRemotePlayer(2, "absent")
		}
	})
	handshakeFor(net, 3*time.Second, meshPolls(peers)...)
	wantMapMismatch(t, peers[0], map[string]string{"p1": "has 3 players, but this session has 2; every peer needs the same NumPlayers"})
	wantMapMismatch(t, peers[1], map[string]string{"p0": "has 2 players, but this session has 3"})
}

// Handles assigned the same way everywhere, several per peer and not in
// address order, still synchronize and play.
func TestPlayerMapAgreeingPeersPlay(t *testing.T) {
	net := newTestNet(33)
	// p0 plays 1 and 3, p1 plays 0 and 2.
	owner := []int{1, 0, 1, 0}
	peers := newMesh(t, net, 2, func(i int, cfg *Config[uint32, string]) {
		cfg.NumPlayers = 4
		cfg.Players = nil
		for h, o := range owner {
			if o == i {
				cfg.AddLocalPlayer(PlayerHandle(h))
			} else {
				cfg.AddRemotePlayer(PlayerHandle(h), peerAddr(o))
			}
		}
	})
	syncMesh(t, net, peers)
	for _, p := range peers {
		if n := countEvents(p.sess.Events(), EventPlayerMapMismatch); n != 0 {
			t.Fatalf("%s: %d player map mismatches between agreeing peers", p.addr, n)
		}
	}
	for i := range 30 {
		for pi, p := range peers {
			for h, o := range owner {
				if o == pi {
					if err := p.sess.AddLocalInput(PlayerHandle(h), uint32(i+h)); err != nil {
						t.Fatal(err)
					}
				}
			}
			reqs, err := p.sess.AdvanceFrame()
			if err != nil {
				t.Fatalf("%s: %v", p.addr, err)
			}
			if err := p.game.handle(reqs); err != nil {
				t.Fatal(err)
			}
		}
		net.advance(16 * time.Millisecond)
	}
	if agree(t, peers) < 20 {
		t.Fatal("too few frames confirmed")
	}
}

func TestPlayerMapSpectatorCountMismatch(t *testing.T) {
	net := newTestNet(34)
	host, spec := newHostAndSpectatorSessions(t, net, func(scfg *Config[uint32, string]) { scfg.NumPlayers = 3 })
	hp := &testPeer{sess: host, addr: "host"}
	var specEvents []Event[string]
	handshakeFor(net, 3*time.Second, meshPolls([]*testPeer{hp})[0], func() {
		spec.PollRemoteClients()
		specEvents = append(specEvents, spec.Events()...)
	})
	wantMapMismatch(t, hp, map[string]string{"spec": "has 3 players, but this session has 2"})
	if spec.State() != Synchronizing || countEvents(specEvents, EventPlayerMapMismatch) != 1 {
		t.Fatalf("spectator: state %v, events %v", spec.State(), specEvents)
	}
	_, err := spec.AdvanceFrame()
	if !errors.Is(err, ErrPlayerMapMismatch) || !strings.Contains(err.Error(), "peer host has 2 players, but this session has 3") {
		t.Fatalf("spectator AdvanceFrame: %v", err)
	}
}

// A P2P session that registered its peer as a spectator while the peer
// plays: the peer says it plays a handle this session gives nobody.
func TestPlayerMapPlayerRegisteredAsSpectator(t *testing.T) {
	net := newTestNet(35)
	peers := newMesh(t, net, 2, func(i int, cfg *Config[uint32, string]) {
		if i == 0 {
			cfg.NumPlayers = 1
			cfg.Players = nil
			cfg.AddLocalPlayer(0)
			cfg.AddSpectator(1, peerAddr(1))
		} else {
			cfg.NumPlayers = 1
			cfg.Players = nil
			cfg.AddLocalPlayer(0)
			cfg.AddSpectator(1, peerAddr(0))
		}
	})
	peers[1].handle = 0
	handshakeFor(net, 3*time.Second, meshPolls(peers)...)
	for i, p := range peers {
		wantMapMismatch(t, p, map[string]string{peerAddr(1 - i): "says it plays handles [0], but this session has it as []"})
	}
}

func TestDecodeRejectsHostilePlayerMaps(t *testing.T) {
	for _, pm := range []playerMap{
		{numPlayers: 0},
		{numPlayers: MaxPlayers + 1},
		{numPlayers: 255, plays: 1},
		{numPlayers: 2, plays: 4},
		{numPlayers: 2, yours: 1 << 63},
		{numPlayers: 2, plays: 1, yours: 1},
	} {
		for _, typ := range []msgType{msgSyncRequest, msgSyncReply} {
			var m message
			if err := decodeMessage(appendSync(nil, typ, 1, 2, pm), &m); err != errBadField {
				t.Errorf("%v in type %d decoded: %v", pm, typ, err)
			}
		}
	}
	// The old body (nonce alone) is truncated now.
	var m message
	if err := decodeMessage(appendU32(appendHeader(nil, msgSyncRequest, 1), 2), &m); err != errTruncated {
		t.Errorf("sync request without a player map: %v", err)
	}
}

// A peer whose sync requests carry another player map gets no sync reply, so
// its handshake cannot complete even if it skipped its own check; one whose
// map agrees gets its replies.
func TestPlayerMapMismatchWithholdsSyncReplies(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pm      playerMap
		replies bool
	}{
		{"agreeing", playerMap{numPlayers: 2, plays: 1 << 1, yours: 1 << 0}, true},
		{"mirrored", playerMap{numPlayers: 2, plays: 1 << 0, yours: 1 << 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net := newTestNet(36)
			peers := newMesh(t, net, 1, func(_ int, cfg *Config[uint32, string]) {
				cfg.NumPlayers = 2
				cfg.AddRemotePlayer(1, "raw")
			})
			raw := net.socket("raw")
			replies := 0
			for i := range 20 {
				if err := raw.Send(peerAddr(0), appendSync(nil, msgSyncRequest, 9, uint32(100+i), tc.pm)); err != nil {
					t.Fatal(err)
				}
				peers[0].sess.PollRemoteClients()
				peers[0].events = append(peers[0].events, peers[0].sess.Events()...)
				for _, p := range raw.Receive() {
					if len(p.Data) > 1 && msgType(p.Data[1]) == msgSyncReply {
						replies++
					}
				}
				net.advance(10 * time.Millisecond)
			}
			if got := replies > 0; got != tc.replies {
				t.Fatalf("%d sync replies, want replies: %v", replies, tc.replies)
			}
			if n := countEvents(peers[0].events, EventPlayerMapMismatch); (n == 1) == tc.replies || n > 1 {
				t.Fatalf("%d player map mismatches: %v", n, peers[0].events)
			}
		})
	}
}
