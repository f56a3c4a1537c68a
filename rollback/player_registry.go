package rollback

import "slices"

// playerRegistry is who takes part in a P2P session, as GGRS's
// PlayerRegistry: every handle's kind, and one peer per remote address with
// the handles it plays. It is fixed when the session starts, except that
// spectators may join later (addSpectator); what changes during the match
// (connection status, disputes) lives in the peers and the session.
type playerRegistry[A comparable] struct {
	kinds    map[PlayerHandle]PlayerKind
	byAddr   map[A]*peer[A]
	byHandle map[PlayerHandle]*peer[A]
	// peers holds the remote peers, then the spectators, each group
	// ordered by lowest handle; remotes and spectators are its two parts,
	// so a loop over every peer needs no second list.
	peers      []*peer[A]
	remotes    []*peer[A]
	spectators []*peer[A]
	// localHandles are the local players' handles, ascending.
	localHandles []PlayerHandle
}

// newPlayerRegistry groups players by address and builds each peer's
// endpoint with newEP, which gets the peer's address, its handles
// (ascending), whether it is a spectator, and the peer's index in peers.
// Peers are built in handle order, remote peers first, so every run builds
// the same endpoints in the same order (and so with the same seeds).
func newPlayerRegistry[A comparable](players []Player[A], newEP func(addr A, handles []PlayerHandle, spectator bool, index int) *endpoint[A]) playerRegistry[A] {
	sorted := slices.Clone(players)
	slices.SortFunc(sorted, func(a, b Player[A]) int { return int(a.Handle - b.Handle) })
	r := playerRegistry[A]{
		kinds:    make(map[PlayerHandle]PlayerKind, len(players)),
		byAddr:   make(map[A]*peer[A]),
		byHandle: make(map[PlayerHandle]*peer[A]),
	}
	var remotes, spectators []*peer[A]
	handles := make(map[*peer[A]][]PlayerHandle)
	addrs := make(map[*peer[A]]A)
	for _, p := range sorted {
		r.kinds[p.Handle] = p.Kind
		if p.Kind == Local {
			r.localHandles = append(r.localHandles, p.Handle)
			continue
		}
		pr, ok := r.byAddr[p.Addr]
		if !ok {
			pr = &peer[A]{spectator: p.Kind == Spectator, contestedSince: -1}
			r.byAddr[p.Addr] = pr
			addrs[pr] = p.Addr
			if pr.spectator {
				spectators = append(spectators, pr)
			} else {
				remotes = append(remotes, pr)
			}
		}
		r.byHandle[p.Handle] = pr
		handles[pr] = append(handles[pr], p.Handle)
	}
	r.peers = append(remotes, spectators...)
	r.remotes = r.peers[:len(remotes):len(remotes)]
	r.spectators = r.peers[len(remotes):]
	for i, pr := range r.peers {
		pr.ep = newEP(addrs[pr], handles[pr], pr.spectator, i)
	}
	return r
}

// kind returns the kind of player h; ok is false for an unknown handle.
func (r *playerRegistry[A]) kind(h PlayerHandle) (kind PlayerKind, ok bool) {
	kind, ok = r.kinds[h]
	return kind, ok
}

// isLocal reports whether h is a local player.
func (r *playerRegistry[A]) isLocal(h PlayerHandle) bool { return r.kinds[h] == Local }

// peerOf returns the peer of remote player or spectator h.
func (r *playerRegistry[A]) peerOf(h PlayerHandle) (*peer[A], bool) {
	pr, ok := r.byHandle[h]
	return pr, ok
}

// peerAt returns the peer at addr.
func (r *playerRegistry[A]) peerAt(addr A) (*peer[A], bool) {
	pr, ok := r.byAddr[addr]
	return pr, ok
}

// addSpectator registers spectator h at addr, which the caller checked are
// free, with the endpoint newEP builds from the peer's index in peers.
func (r *playerRegistry[A]) addSpectator(h PlayerHandle, addr A, newEP func(index int) *endpoint[A]) *peer[A] {
	pr := &peer[A]{spectator: true, contestedSince: -1, addedLater: true}
	pr.ep = newEP(len(r.peers))
	r.kinds[h] = Spectator
	r.byAddr[addr] = pr
	r.byHandle[h] = pr
	n := len(r.remotes)
	r.peers = append(r.peers, pr)
	r.remotes = r.peers[:n:n]
	r.spectators = r.peers[n:]
	return pr
}

// replace puts a new peer at addr in the place of old, a remote peer, for
// the same handles (P2PSession.Readmit); newEP builds its endpoint from the
// handles.
func (r *playerRegistry[A]) replace(old *peer[A], addr A, newEP func(handles []PlayerHandle) *endpoint[A]) *peer[A] {
	pr := &peer[A]{contestedSince: -1}
	pr.ep = newEP(old.ep.handles)
	if r.byAddr[old.ep.addr] == old {
		delete(r.byAddr, old.ep.addr)
	}
	r.byAddr[addr] = pr
	for _, h := range old.ep.handles {
		r.byHandle[h] = pr
	}
	for i, p := range r.peers {
		if p == old {
			r.peers[i] = pr // remotes and spectators share peers' array
		}
	}
	return pr
}
