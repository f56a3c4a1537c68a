package rollback

import (
	"errors"
	"fmt"
	"math/bits"
	"strings"
)

// ErrPlayerMapMismatch: a peer's view of who plays which handle differs from
// this session's, so the two would play different games; the handshake with
// it never completes. A *PlayerMapError matches it.
var ErrPlayerMapMismatch = errors.New("rollback: peers disagree on the player map")

// PlayerMapError describes how the player map of the peer at Addr differs
// from this session's (see "Player map" in the package documentation).
// Handle lists are ascending.
type PlayerMapError[A comparable] struct {
	// Addr is the peer that disagrees.
	Addr A
	// NumPlayers and RemoteNumPlayers are this session's and the peer's
	// player counts.
	NumPlayers, RemoteNumPlayers int
	// RemotePlays are the handles the peer plays itself; ExpectedAtPeer
	// are the handles this session has at Addr (none for a spectator or
	// the host of a spectator, whose own players are not checked).
	RemotePlays, ExpectedAtPeer []PlayerHandle
	// RemoteHasHere are the handles the peer has at this session;
	// PlaysHere are the handles this session plays (none on a spectator,
	// and none for a spectator peer, which plays no handle).
	RemoteHasHere, PlaysHere []PlayerHandle
}

func (e *PlayerMapError[A]) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rollback: peer %v", e.Addr)
	switch {
	case e.NumPlayers != e.RemoteNumPlayers:
		fmt.Fprintf(&b, " has %d players, but this session has %d; every peer needs the same NumPlayers",
			e.RemoteNumPlayers, e.NumPlayers)
		return b.String()
	case !handlesEqual(e.RemotePlays, e.ExpectedAtPeer):
		fmt.Fprintf(&b, " says it plays handles %v, but this session has it as %v", e.RemotePlays, e.ExpectedAtPeer)
	default:
		fmt.Fprintf(&b, " has this session as handles %v, but this session plays %v", e.RemoteHasHere, e.PlaysHere)
	}
	b.WriteString("; check that every peer hands out handles the same way (e.g. from sorted peer ids)")
	return b.String()
}

// Is reports whether target is ErrPlayerMapMismatch.
func (e *PlayerMapError[A]) Is(target error) bool { return target == ErrPlayerMapMismatch }

func handlesEqual(a, b []PlayerHandle) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// playerMap is one side's view of the player map as the other side can check
// it, with no addresses in it: how many players, the handles the sender
// plays, and the handles it has at the receiver. Every handle is below
// MaxPlayers (64), so each set is a bit mask. Checked pairwise this is
// complete: if every two connected peers agree on which handles each of them
// plays, and every handle is played by someone (config validation), all peers
// hold the same map.
type playerMap struct {
	numPlayers int
	plays      uint64 // handles the sender plays
	yours      uint64 // handles the sender has at the receiver
}

// peerRole says what the endpoint's peer is to this session, which decides
// what of the peer's player map is checked.
type peerRole uint8

const (
	// rolePlayer: the peer plays the endpoint's handles; everything is
	// checked.
	rolePlayer peerRole = iota
	// roleSpectator: the peer is a spectator of this session: it plays
	// nothing and has no handle here.
	roleSpectator
	// roleHost: this session spectates the peer: the peer has no handle
	// here, its own handles are its business.
	roleHost
)

func handleMask(hs []PlayerHandle) uint64 {
	var m uint64
	for _, h := range hs {
		if h >= 0 && h < MaxPlayers {
			m |= 1 << uint(h)
		}
	}
	return m
}

func maskHandles(m uint64) []PlayerHandle {
	hs := make([]PlayerHandle, 0, bits.OnesCount64(m))
	for m != 0 {
		h := bits.TrailingZeros64(m)
		hs = append(hs, PlayerHandle(h))
		m &^= 1 << uint(h)
	}
	return hs
}

// endpointMaps returns what an endpoint sends (out) and expects (want) as the
// player map, for a session of numPlayers whose own handles are local, to a
// peer of the given role with the given handles.
func endpointMaps(numPlayers int, local uint64, role peerRole, handles []PlayerHandle) (out, want playerMap) {
	out = playerMap{numPlayers: numPlayers, plays: local}
	want = playerMap{numPlayers: numPlayers}
	switch role {
	case rolePlayer:
		out.yours = handleMask(handles)
		want.plays, want.yours = out.yours, local
	case roleSpectator:
		// want: plays nothing, has nothing here.
	case roleHost:
		out.plays = 0
	}
	return out, want
}

// checkPlayerMap compares the player map in a sync message from the peer
// with this session's. On the first mismatch it records the error and raises
// epPlayerMapMismatch; the handshake then never completes (see handle).
func (e *endpoint[A]) checkPlayerMap(got playerMap) bool {
	if e.mapErr != nil {
		return false
	}
	w := e.mapWant
	ok := got.numPlayers == w.numPlayers && got.yours == w.yours && (e.role == roleHost || got.plays == w.plays)
	if ok {
		return true
	}
	err := &PlayerMapError[A]{
		Addr:             e.addr,
		NumPlayers:       w.numPlayers,
		RemoteNumPlayers: got.numPlayers,
		RemotePlays:      maskHandles(got.plays),
		ExpectedAtPeer:   maskHandles(w.plays),
		RemoteHasHere:    maskHandles(got.yours),
		PlaysHere:        maskHandles(w.yours),
	}
	if e.role == roleHost {
		// The host's own handles are not checked: do not report them.
		err.RemotePlays = err.ExpectedAtPeer
	}
	e.mapErr = err
	e.pushEvent(endpointEvent{kind: epPlayerMapMismatch})
	return false
}
