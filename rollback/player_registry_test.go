package rollback

import (
	"slices"
	"testing"
)

// The registry keeps one peer per address, lists remote peers before
// spectators, each by lowest handle whatever the order of Config.Players, and
// builds each endpoint with its index in that order, which seeds it.
func TestPlayerRegistryGroupsPeersByAddress(t *testing.T) {
	players := []Player[string]{
		{Handle: 5, Kind: Spectator, Addr: "s1"},
		{Handle: 3, Kind: Remote, Addr: "b"},
		{Handle: 0, Kind: Local},
		{Handle: 4, Kind: Spectator, Addr: "s0"},
		{Handle: 1, Kind: Remote, Addr: "b"},
		{Handle: 2, Kind: Local},
		{Handle: 6, Kind: Remote, Addr: "a"},
	}
	type built struct {
		addr      string
		handles   []PlayerHandle
		spectator bool
	}
	var calls []built
	r := newPlayerRegistry(players, func(addr string, handles []PlayerHandle, spectator bool, index int) *endpoint[string] {
		if index != len(calls) {
			t.Errorf("endpoint of %q built with index %d, want %d", addr, index, len(calls))
		}
		calls = append(calls, built{addr, slices.Clone(handles), spectator})
		return newEndpoint(endpointConfig[string]{addr: addr, handles: handles, numPlayers: len(players), seed: uint64(index)})
	})

	want := []built{
		{"b", []PlayerHandle{1, 3}, false},
		{"a", []PlayerHandle{6}, false},
		{"s0", []PlayerHandle{4}, true},
		{"s1", []PlayerHandle{5}, true},
	}
	if len(calls) != len(want) {
		t.Fatalf("built %d endpoints, want %d: %v", len(calls), len(want), calls)
	}
	for i, w := range want {
		c := calls[i]
		if c.addr != w.addr || !slices.Equal(c.handles, w.handles) || c.spectator != w.spectator {
			t.Errorf("endpoint %d: got %+v, want %+v", i, c, w)
		}
		if pr := r.peers[i]; pr.ep.addr != w.addr || pr.spectator != w.spectator || pr.contestedSince != -1 {
			t.Errorf("peer %d: addr %q spectator %v contestedSince %v", i, pr.ep.addr, pr.spectator, pr.contestedSince)
		}
	}
	if len(r.remotes) != 2 || r.remotes[0] != r.peers[0] || r.remotes[1] != r.peers[1] {
		t.Errorf("remotes are not the first two peers")
	}
	if len(r.spectators) != 2 || r.spectators[0] != r.peers[2] || r.spectators[1] != r.peers[3] {
		t.Errorf("spectators are not the last two peers")
	}
	if !slices.Equal(r.localHandles, []PlayerHandle{0, 2}) {
		t.Errorf("localHandles = %v, want [0 2]", r.localHandles)
	}

	for _, p := range players {
		kind, ok := r.kind(p.Handle)
		if !ok || kind != p.Kind {
			t.Errorf("kind(%d) = %v, %v; want %v", p.Handle, kind, ok, p.Kind)
		}
		if r.isLocal(p.Handle) != (p.Kind == Local) {
			t.Errorf("isLocal(%d) = %v", p.Handle, r.isLocal(p.Handle))
		}
		pr, ok := r.peerOf(p.Handle)
		if p.Kind == Local {
			if ok {
				t.Errorf("local player %d has a peer", p.Handle)
			}
			continue
		}
		if !ok || pr.ep.addr != p.Addr || !slices.Contains(pr.ep.handles, p.Handle) {
			t.Errorf("peerOf(%d) = %v, %v", p.Handle, pr, ok)
		}
		if at, ok := r.peerAt(p.Addr); !ok || at != pr {
			t.Errorf("peerAt(%q) is not peerOf(%d)", p.Addr, p.Handle)
		}
	}
	if _, ok := r.kind(7); ok {
		t.Error("kind(7) of an unknown handle is ok")
	}
	if r.isLocal(7) {
		t.Error("unknown handle 7 is local")
	}
	if _, ok := r.peerAt("nobody"); ok {
		t.Error("peerAt of an unknown address is ok")
	}
}
