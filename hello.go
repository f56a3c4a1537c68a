package rollbox

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rollbox/rollbox/packet"
	"github.com/rollbox/rollbox/rollback"
	"github.com/rollbox/rollbox/transport"
)

// Before a session starts, every peer tells every other what it is, on the
// match's reliable channel: the game it runs, how many players it expects
// and how many of them it plays, or that it spectates. From the hellos each
// peer derives the same player map (handles in sorted peer id order, each
// peer's local players consecutive), and disagreements stop the match with
// an error that names the peer and the setting, before frame 0.

// helloVersion is the version of the hello message.
const helloVersion = 1

// maxHelloSize bounds a hello: a peer that sends more is refused.
const maxHelloSize = 1024

// hello is one peer's introduction.
type hello struct {
	Version   int    `json:"rollbox"`
	Game      string `json:"game"` // the state and input types, to catch two different builds
	Players   int    `json:"players"`
	Local     int    `json:"local"`
	Spectator bool   `json:"spectator,omitempty"`
	FPS       int    `json:"fps"`
	Lockstep  bool   `json:"lockstep,omitempty"`
	Desync    int    `json:"desync"` // the desync detection interval
	// Watch: a late spectator, in a match's watch room (Config.Watch).
	Watch bool `json:"watch,omitempty"`
	// Host: the host of a match, answering a late spectator; Refuse, when
	// set, says why it does not take it.
	Host   bool   `json:"host,omitempty"`
	Refuse string `json:"refuse,omitempty"`
}

func (h hello) encode() []byte {
	b, err := json.Marshal(h)
	if err != nil { // a struct of strings, ints and bools always marshals
		panic(err)
	}
	return b
}

// parseHello decodes the hello of peer from; it never panics on any input.
func parseHello(from transport.PeerID, b []byte) (hello, error) {
	var h hello
	if len(b) > maxHelloSize {
		return h, fmt.Errorf("rollbox: peer %s: hello of %d bytes is longer than %d", from, len(b), maxHelloSize)
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return h, fmt.Errorf("rollbox: peer %s: malformed hello: %w", from, err)
	}
	if h.Version != helloVersion {
		return h, fmt.Errorf("rollbox: peer %s: hello version %d, this build speaks %d (another rollbox version)", from, h.Version, helloVersion)
	}
	if h.Players < 1 || h.Players > rollback.MaxPlayers || h.Local < 0 || h.Local > h.Players {
		return h, fmt.Errorf("rollbox: peer %s: hello with %d players of which %d local", from, h.Players, h.Local)
	}
	return h, nil
}

// agree checks a peer's hello against this peer's and says how they
// differ ("" when they agree).
func (h hello) agree(peer hello) string {
	switch {
	case peer.Game != h.Game:
		return fmt.Sprintf("it runs game %q, this peer %q", peer.Game, h.Game) // quoted: a peer's bytes, bound for terminals
	case peer.Players != h.Players:
		return fmt.Sprintf("it expects %d players, this peer %d", peer.Players, h.Players)
	case peer.FPS != h.FPS:
		return fmt.Sprintf("it ticks at %d fps, this peer at %d", peer.FPS, h.FPS)
	case peer.Lockstep != h.Lockstep:
		return "lockstep on one peer and not the other"
	case peer.Desync != h.Desync:
		return fmt.Sprintf("it compares checksums every %d frames, this peer every %d", peer.Desync, h.Desync)
	case !peer.Spectator && peer.Local < 1:
		return "it plays no one and does not spectate"
	}
	return ""
}

// exchangeHellos sends mine to every peer on ctl and waits for each peer's
// hello, checking it against mine. It gives up when ctx ends, or when a
// peer that has not introduced itself is no longer among connected's:
// a peer that finds it disagrees closes its connections at once, and its
// hello may be lost with them.
func exchangeHellos(ctx context.Context, ctl packet.Socket[transport.PeerID], peers []transport.PeerID, mine hello,
	connected func() []transport.PeerID) (map[transport.PeerID]hello, error) {
	msg := mine.encode()
	for _, p := range peers {
		if err := ctl.Send(p, msg); err != nil {
			return nil, fmt.Errorf("rollbox: hello to peer %s: %w", p, err)
		}
	}
	got := make(map[transport.PeerID]hello, len(peers))
	// Polled: a packet.Socket cannot block, and this runs once per match.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for len(got) < len(peers) {
		for _, pk := range ctl.Receive() {
			if !slices.Contains(peers, pk.From) {
				continue // a peer of a later group; it meets its own
			}
			h, err := parseHello(pk.From, pk.Data)
			if err != nil {
				return nil, err
			}
			if diff := mine.agree(h); diff != "" {
				lingerUntilGone(ctx, pk.From, connected, tick.C)
				return nil, fmt.Errorf("rollbox: peer %s disagrees: %s", pk.From, diff)
			}
			got[pk.From] = h
		}
		if len(got) == len(peers) {
			break
		}
		now := connected()
		for _, p := range peers {
			if _, ok := got[p]; !ok && !slices.Contains(now, p) {
				return nil, fmt.Errorf("rollbox: peer %s left before it introduced itself (it may disagree on the match: its own error says how)", p)
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("rollbox: waiting for %d peers to introduce themselves: %w", len(peers)-len(got), ctx.Err())
		case <-tick.C:
		}
	}
	return got, nil
}

// helloLinger bounds how long a peer that disagrees with another stays
// connected to it: a second is long enough for its hello, sent moments
// before, to cross a link that loses a packet, and short enough that a
// user sees the error at once.
const helloLinger = time.Second

// lingerUntilGone waits until peer is no longer among connected's, or
// helloLinger passes, or ctx ends, polling at each tick. Closing at once
// would drop this peer's own hello, still in flight: the peer would then
// report only that this one left, not the disagreement.
func lingerUntilGone(ctx context.Context, peer transport.PeerID, connected func() []transport.PeerID, tick <-chan time.Time) {
	deadline := time.NewTimer(helloLinger)
	defer deadline.Stop()
	for slices.Contains(connected(), peer) {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-tick:
		}
	}
}

// playerMap is every peer's place in the match, the same on every peer.
type playerMap[A comparable] struct {
	// byHandle is the peer that plays each handle.
	byHandle []A
	// spectators are the spectating peers, sorted; host is the player peer
	// they follow (the first player peer in id order).
	spectators []A
	host       A
}

// newPlayerMap hands out the handles: player peers in sorted id order, each
// its Local handles in a row.
func newPlayerMap(self transport.PeerID, mine hello, others map[transport.PeerID]hello) (playerMap[transport.PeerID], error) {
	all := map[transport.PeerID]hello{self: mine}
	for id, h := range others {
		all[id] = h
	}
	var m playerMap[transport.PeerID]
	for _, id := range slices.Sorted(mapKeys(all)) {
		h := all[id]
		if h.Spectator {
			m.spectators = append(m.spectators, id)
			continue
		}
		if m.host == "" {
			m.host = id
		}
		for range h.Local {
			m.byHandle = append(m.byHandle, id)
		}
	}
	if len(m.byHandle) != mine.Players {
		// No one peer is wrong: name what each plays, so that the user
		// sees which to change.
		var each []string
		for _, id := range slices.Sorted(mapKeys(all)) {
			if h := all[id]; !h.Spectator {
				this := ""
				if id == self {
					this = " (this peer)"
				}
				each = append(each, fmt.Sprintf("peer %s%s %d", id, this, h.Local))
			}
		}
		return m, fmt.Errorf("rollbox: the peers play %d players between them, the match has %d (%s): check LocalPlayers and Peers",
			len(m.byHandle), mine.Players, strings.Join(each, ", "))
	}
	if m.host == "" {
		return m, fmt.Errorf("rollbox: every peer spectates")
	}
	return m, nil
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
