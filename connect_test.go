package rollbox

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/rollbox/rollbox/packet"
	pmocks "github.com/rollbox/rollbox/packet/mocks"
	"github.com/rollbox/rollbox/transport"
	"github.com/rollbox/rollbox/transport/mocks"
	"go.uber.org/goleak"
	"go.uber.org/mock/gomock"
)

// walker is the connect tests' game: each player walks on a line.
type walker struct{ Pos [8]int32 }

func (w *walker) Step(in []PlayerInput[uint8]) {
	for i, p := range in {
		w.Pos[i] += int32(int8(p.Input))
	}
}

// fakeRoom is a room of mocks: a mesh whose peers are all connected, and a
// control channel that records the hellos sent and delivers inbox once.
type fakeRoom struct {
	mesh *mocks.MockMesh
	ctl  *pmocks.MockSocket[transport.PeerID]

	mu    sync.Mutex
	sent  map[transport.PeerID][]byte
	inbox []packet.Packet[transport.PeerID]
}

func newFakeRoom(t *testing.T, self transport.PeerID, others []transport.PeerID, inbox ...packet.Packet[transport.PeerID]) *fakeRoom {
	ctrl := gomock.NewController(t)
	r := &fakeRoom{mesh: mocks.NewMockMesh(ctrl), ctl: pmocks.NewMockSocket[transport.PeerID](ctrl),
		sent: map[transport.PeerID][]byte{}, inbox: inbox}
	r.mesh.EXPECT().ID().Return(self).AnyTimes()
	r.mesh.EXPECT().Peers().Return(others).AnyTimes()
	r.mesh.EXPECT().Connecting().Return(0).AnyTimes()
	r.mesh.EXPECT().WaitForPeers(gomock.Any(), len(others)).Return(others, nil).AnyTimes()
	r.ctl.EXPECT().Send(gomock.Any(), gomock.Any()).DoAndReturn(func(to transport.PeerID, b []byte) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		if _, dup := r.sent[to]; dup {
			t.Errorf("two hellos to %s", to)
		}
		r.sent[to] = append([]byte(nil), b...)
		return nil
	}).AnyTimes()
	r.ctl.EXPECT().Receive().DoAndReturn(func() []packet.Packet[transport.PeerID] {
		r.mu.Lock()
		defer r.mu.Unlock()
		in := r.inbox
		r.inbox = nil
		return in
	}).AnyTimes()
	// Mesh Send and Receive (the session's channel) are not expected: a
	// call fails the test, so a refused match provably started no session.
	return r
}

// allowSession lets a session, once started, send and receive on the mesh.
func (r *fakeRoom) allowSession() *fakeRoom {
	r.mesh.EXPECT().Send(gomock.Any(), gomock.Any()).Return(nil).MinTimes(1)
	r.mesh.EXPECT().Receive().Return(nil).AnyTimes()
	return r
}

// walkerHello is what a peer of a walker match with cfg says.
func walkerHello(cfg Config, local int) hello {
	c, err := cfg.withDefaults()
	if err != nil {
		panic(err)
	}
	return hello{Version: helloVersion, Game: gameName[walker, uint8](), Players: c.Players, Local: local,
		FPS: c.FPS, Lockstep: c.MaxPrediction == 0, Desync: c.desyncInterval()}
}

func helloFrom(from transport.PeerID, h hello) packet.Packet[transport.PeerID] {
	return packet.Packet[transport.PeerID]{From: from, Data: h.encode()}
}

// threePeersFourPlayers: b plays two players on one keyboard, a and c one
// each.
var threePeersFourPlayers = Config{Players: 4, LocalPlayers: 2, Peers: 3}

func newWalkerMatch(t *testing.T, cfg Config) *Match[walker, uint8] {
	t.Helper()
	m, err := newMatch[walker, uint8](&walker{}, func(PlayerHandle) uint8 { return 1 }, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestStartDerivesPlayerMapFromSortedPeerIDs(t *testing.T) {
	defer goleak.VerifyNone(t)
	cfg := threePeersFourPlayers
	room := newFakeRoom(t, "b", []transport.PeerID{"c", "a"},
		// A peer of a later group says something this one cannot parse:
		// it is not ours to judge, and it is ignored.
		packet.Packet[transport.PeerID]{From: "z", Data: []byte("not a hello")},
		helloFrom("c", walkerHello(cfg, 1)),
		helloFrom("a", walkerHello(cfg, 1))).allowSession()
	m := newWalkerMatch(t, cfg)
	r, err := m.start(t.Context(), room.mesh, room.ctl)
	if err != nil {
		t.Fatal(err)
	}
	// Every other peer got this peer's hello.
	if len(room.sent) != 2 {
		t.Fatalf("hellos sent to %v, want a and c", reflect.ValueOf(room.sent).MapKeys())
	}
	for _, to := range []transport.PeerID{"a", "c"} {
		h, err := parseHello(to, room.sent[to])
		if err != nil {
			t.Fatalf("hello to %s: %v", to, err)
		}
		if strings.Contains(string(room.sent[to]), m.rj.key) || strings.Contains(string(room.sent[to]), rejoinKeyHash(m.rj.key)) {
			t.Errorf("hello to %s carries this player's rejoin key or its hash: spectators hear hellos", to)
		}
		if want := walkerHello(cfg, 2); h != want {
			t.Errorf("hello to %s: %+v, want %+v", to, h, want)
		}
	}
	// Handles in sorted id order, b's two in a row.
	var addrs []transport.PeerID
	for _, p := range r.players {
		addrs = append(addrs, p.addr)
	}
	if want := []transport.PeerID{"a", "b", "b", "c"}; !reflect.DeepEqual(addrs, want) {
		t.Errorf("players at %v, want %v", addrs, want)
	}
	if want := []PlayerHandle{1, 2}; !reflect.DeepEqual(r.local, want) {
		t.Errorf("local players %v, want %v", r.local, want)
	}
	if r.p2p == nil || r.spectator != nil {
		t.Error("a player peer did not get a P2P session")
	}
	if v := m.View(); v.Phase != PhaseSynchronizing {
		t.Errorf("phase %v (%s), want synchronizing", v.Phase, v.Status)
	}
}

func TestStartHandsOutHandlesAlikeOnEveryPeer(t *testing.T) {
	defer goleak.VerifyNone(t)
	ids := []transport.PeerID{"m", "b", "x"}
	local := map[transport.PeerID]int{"m": 1, "b": 2, "x": 1}
	cfgOf := func(id transport.PeerID) Config {
		return Config{Players: 4, LocalPlayers: local[id], Peers: 3}
	}
	var maps [][]transport.PeerID
	for _, self := range ids {
		var others []transport.PeerID
		var inbox []packet.Packet[transport.PeerID]
		for _, id := range ids {
			if id != self {
				others = append(others, id)
				inbox = append(inbox, helloFrom(id, walkerHello(cfgOf(id), local[id])))
			}
		}
		room := newFakeRoom(t, self, others, inbox...).allowSession()
		r, err := newWalkerMatch(t, cfgOf(self)).start(t.Context(), room.mesh, room.ctl)
		if err != nil {
			t.Fatalf("peer %s: %v", self, err)
		}
		var addrs []transport.PeerID
		for _, p := range r.players {
			addrs = append(addrs, p.addr)
		}
		maps = append(maps, addrs)
	}
	want := []transport.PeerID{"b", "b", "m", "x"}
	for i, m := range maps {
		if !reflect.DeepEqual(m, want) {
			t.Errorf("peer %s: players at %v, want %v", ids[i], m, want)
		}
	}
}

func TestWaitForPeersReportsProgress(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctrl := gomock.NewController(t)
	mesh := mocks.NewMockMesh(ctrl)
	// The room fills, then the peers connect one by one.
	steps := []struct {
		connected  []transport.PeerID
		connecting int
	}{
		{nil, 0},
		{nil, 1},
		{nil, 2},
		{[]transport.PeerID{"a"}, 1},
		{[]transport.PeerID{"a", "c"}, 0},
	}
	step := 0
	mesh.EXPECT().Peers().DoAndReturn(func() []transport.PeerID { return steps[step].connected }).AnyTimes()
	mesh.EXPECT().Connecting().DoAndReturn(func() int { return steps[step].connecting }).AnyTimes()
	mesh.EXPECT().WaitForPeers(gomock.Any(), 2).Return([]transport.PeerID{"a", "c"}, nil)
	var got []string
	peers, err := waitForPeers(t.Context(), mesh, 2, func(p Phase, status string) {
		got = append(got, p.String()+": "+status)
		step++
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(peers, []transport.PeerID{"a", "c"}) {
		t.Errorf("peers %v", peers)
	}
	want := []string{
		"waiting: waiting for players: 1 of 3 here",
		"waiting: waiting for players: 2 of 3 here",
		"connecting: connecting to the other players: 0 of 2 connected",
		"connecting: connecting to the other players: 1 of 2 connected",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("progress\n%q\nwant\n%q", got, want)
	}
}

func TestStartRefusesDisagreeingPeers(t *testing.T) {
	base := threePeersFourPlayers
	// c's hello: base's with one change, or raw bytes.
	changed := func(change func(h *hello)) []byte {
		h := walkerHello(base, 1)
		change(&h)
		return h.encode()
	}
	for _, tc := range []struct {
		name  string
		hello []byte
		want  string
	}{
		{"another game", changed(func(h *hello) { h.Game = "other.state/other.input" }), `runs game "other.state/other.input"`},
		// Quoted: a peer's bytes reach a terminal (log.Fatal) and the
		// connection screen, where a newline or an escape would forge lines.
		{"a game name that writes on terminals", changed(func(h *hello) { h.Game = "g\n\x1b[2J" }), `runs game "g\n\x1b[2J"`},
		{"players", changed(func(h *hello) { h.Players = 3 }), "expects 3 players, this peer 4"},
		{"lockstep", changed(func(h *hello) { h.Lockstep = true }), "lockstep on one peer"},
		{"fps", changed(func(h *hello) { h.FPS = 30 }), "ticks at 30 fps"},
		{"desync interval", changed(func(h *hello) { h.Desync = 5 }), "every 5 frames"},
		{"plays no one", changed(func(h *hello) { h.Local = 0 }), "plays no one"},
		{"local players add up to more", changed(func(h *hello) { h.Local = 2 }), "play 5 players between them, the match has 4"},
		{"malformed", []byte(`{"rollbox":1,`), "malformed hello"},
		{"oversized", []byte(`{"game":"` + strings.Repeat("g", maxHelloSize) + `"}`), "longer than 1024"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			bad := packet.Packet[transport.PeerID]{From: "c", Data: tc.hello}
			room := newFakeRoom(t, "b", []transport.PeerID{"a", "c"}, helloFrom("a", walkerHello(base, 1)), bad)
			m := newWalkerMatch(t, base)
			r, err := m.start(t.Context(), room.mesh, room.ctl)
			if err == nil || r != nil {
				t.Fatalf("started with a disagreeing peer (runner %v)", r != nil)
			}
			if !strings.Contains(err.Error(), "peer c") || !strings.Contains(err.Error(), tc.want) || strings.ContainsAny(err.Error(), "\n\x1b") {
				t.Errorf("error %q, want one naming peer c and containing %q", err, tc.want)
			}
			if v := m.View(); v.Phase >= PhaseSynchronizing {
				t.Errorf("phase %v after a refused hello", v.Phase)
			}
		})
	}
}

func TestStartGivesUpWhenContextEnds(t *testing.T) {
	t.Run("waiting for peers", func(t *testing.T) {
		defer goleak.VerifyNone(t)
		ctrl := gomock.NewController(t)
		mesh := mocks.NewMockMesh(ctrl)
		ctx, cancel := context.WithCancel(t.Context())
		calls := 0
		mesh.EXPECT().Peers().DoAndReturn(func() []transport.PeerID {
			if calls++; calls == 3 {
				cancel()
			}
			return []transport.PeerID{"a"}
		}).AnyTimes()
		mesh.EXPECT().Connecting().Return(0).AnyTimes()
		ctl := pmocks.NewMockSocket[transport.PeerID](ctrl)
		_, err := newWalkerMatch(t, threePeersFourPlayers).start(ctx, mesh, ctl)
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "waiting for 2 peers") {
			t.Errorf("error %v, want context.Canceled while waiting for 2 peers", err)
		}
	})
	t.Run("waiting for hellos", func(t *testing.T) {
		defer goleak.VerifyNone(t)
		ctx, cancel := context.WithCancel(t.Context())
		cfg := threePeersFourPlayers
		room := newFakeRoom(t, "b", []transport.PeerID{"a", "c"}, helloFrom("a", walkerHello(cfg, 1)))
		calls := 0
		ctrl := gomock.NewController(t)
		ctl := pmocks.NewMockSocket[transport.PeerID](ctrl)
		ctl.EXPECT().Send(gomock.Any(), gomock.Any()).Return(nil).Times(2)
		ctl.EXPECT().Receive().DoAndReturn(func() []packet.Packet[transport.PeerID] {
			if calls++; calls == 3 {
				cancel()
			}
			if calls == 1 {
				return []packet.Packet[transport.PeerID]{helloFrom("a", walkerHello(cfg, 1))}
			}
			return nil
		}).AnyTimes()
		_, err := newWalkerMatch(t, cfg).start(ctx, room.mesh, ctl)
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "waiting for 1 peers to introduce themselves") {
			t.Errorf("error %v, want context.Canceled while waiting for 1 peer's hello", err)
		}
	})
	t.Run("a hello cannot be sent", func(t *testing.T) {
		defer goleak.VerifyNone(t)
		room := newFakeRoom(t, "b", []transport.PeerID{"a", "c"})
		ctrl := gomock.NewController(t)
		ctl := pmocks.NewMockSocket[transport.PeerID](ctrl)
		ctl.EXPECT().Send(gomock.Any(), gomock.Any()).Return(transport.ErrClosed)
		_, err := newWalkerMatch(t, threePeersFourPlayers).start(t.Context(), room.mesh, ctl)
		if !errors.Is(err, transport.ErrClosed) || !strings.Contains(err.Error(), "hello to peer a") {
			t.Errorf("error %v, want ErrClosed naming peer a", err)
		}
	})
}

func TestStartWithASpectator(t *testing.T) {
	defer goleak.VerifyNone(t)
	players := Config{Players: 2, Spectators: 1}
	watcher := Config{Players: 2, Spectators: 1, Spectate: true}
	spectatorHello := walkerHello(watcher, 0)
	spectatorHello.Spectator = true

	t.Run("the spectator follows the first player peer", func(t *testing.T) {
		defer goleak.VerifyNone(t)
		room := newFakeRoom(t, "s", []transport.PeerID{"a", "b"},
			helloFrom("b", walkerHello(players, 1)), helloFrom("a", walkerHello(players, 1))).allowSession()
		m, err := newMatch[walker, uint8](&walker{}, nil, watcher)
		if err != nil {
			t.Fatal(err)
		}
		r, err := m.start(t.Context(), room.mesh, room.ctl)
		if err != nil {
			t.Fatal(err)
		}
		if h, err := parseHello("s", room.sent["a"]); err != nil || !h.Spectator || h.Local != 0 {
			t.Errorf("the spectator's hello: %+v, %v", h, err)
		}
		if r.spectator == nil || r.p2p != nil || len(r.local) != 0 {
			t.Fatal("a spectator did not get a spectator session")
		}
		for h, p := range r.players {
			if p.addr != "a" || p.local {
				t.Errorf("player %d heard from %q (local %v), want the host a", h, p.addr, p.local)
			}
		}
	})
	t.Run("the host serves the spectator", func(t *testing.T) {
		defer goleak.VerifyNone(t)
		room := newFakeRoom(t, "a", []transport.PeerID{"b", "s"},
			helloFrom("s", spectatorHello), helloFrom("b", walkerHello(players, 1)))
		var mu sync.Mutex
		sentTo := map[transport.PeerID]bool{}
		room.mesh.EXPECT().Send(gomock.Any(), gomock.Any()).DoAndReturn(func(to transport.PeerID, _ []byte) error {
			mu.Lock()
			defer mu.Unlock()
			sentTo[to] = true
			return nil
		}).AnyTimes()
		room.mesh.EXPECT().Receive().Return(nil).AnyTimes()
		r, err := newWalkerMatch(t, players).start(t.Context(), room.mesh, room.ctl)
		if err != nil {
			t.Fatal(err)
		}
		if r.p2p == nil || !reflect.DeepEqual(r.local, []PlayerHandle{0}) || r.players[1].addr != "b" {
			t.Errorf("host: local %v, players %+v", r.local, r.players)
		}
		// The session talks to the other player and to the spectator.
		if !sentTo["b"] || !sentTo["s"] {
			t.Errorf("the session sent to %v, want b and s", sentTo)
		}
	})
}
