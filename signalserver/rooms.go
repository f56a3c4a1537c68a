package signalserver

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/rollbox/rollbox/signalwire"
)

// roomKey names a pool of peers. As in matchbox, /x, /x?next=2 and /x?next=3
// are three separate pools.
type roomKey struct {
	ID   string // the percent-decoded path segment; "" for "/"
	Next int    // group size; 0 when the client gave no next
}

// errRoomFull is returned by registry.Join when a room holds its maximum.
var errRoomFull = errors.New("signalserver: room full")

// registry tracks which peers share a group and forms next=N groups. The
// server asks it who must hear of a join or a leave, and whether a signal may
// pass; delivering frames stays with the server. The in-memory registry is the
// default; a shared one (Redis) fits behind the same methods so that several
// server instances can serve one room.
//
// A group is the set of peers that can learn each other's ids: a whole room
// without next, the waiting pool or a completed group with next.
type registry interface {
	// Join adds peer to the pool for key and returns the peers that must be
	// sent NewPeer(peer). It returns errRoomFull when the room is at capacity.
	Join(ctx context.Context, key roomKey, peer signalwire.PeerID) ([]signalwire.PeerID, error)
	// Leave removes peer and returns the peers that must be sent PeerLeft(peer).
	// Leaving twice, or without joining, returns nothing. A registry that is
	// also the server's instanceBus may send PeerLeft itself, in the step that
	// removes peer, and return nothing (Redis does).
	Leave(ctx context.Context, peer signalwire.PeerID) ([]signalwire.PeerID, error)
	// CanSignal reports whether sender may send a signal to receiver.
	CanSignal(ctx context.Context, sender, receiver signalwire.PeerID) (bool, error)
	// Size returns how many peers are in key's open pool: the whole room
	// without next, the waiting peers with next. The server uses it to refuse
	// a join to a full room before upgrading the connection.
	Size(ctx context.Context, key roomKey) (int, error)
	// Groups returns how many groups have at least one member.
	Groups() int
}

// group is one set of peers that know each other.
type group struct {
	key     roomKey
	members []signalwire.PeerID // join order
}

// memoryRegistry is the in-process registry. It is safe for concurrent use.
type memoryRegistry struct {
	maxPeers int

	mu     sync.RWMutex
	open   map[roomKey]*group // the group a new joiner of key enters
	member map[signalwire.PeerID]*group
	groups int
}

// newMemoryRegistry returns an empty registry. maxPeers caps every group (and
// so every room without next); 0 means no cap.
func newMemoryRegistry(maxPeers int) *memoryRegistry {
	return &memoryRegistry{
		maxPeers: maxPeers,
		open:     make(map[roomKey]*group),
		member:   make(map[signalwire.PeerID]*group),
	}
}

// Join implements registry.
func (r *memoryRegistry) Join(_ context.Context, key roomKey, peer signalwire.PeerID) ([]signalwire.PeerID, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.member[peer]; dup {
		return nil, errors.New("signalserver: peer already joined")
	}
	g := r.open[key]
	if g == nil {
		g = &group{key: key}
		r.open[key] = g
		r.groups++
	}
	if r.maxPeers > 0 && len(g.members) >= r.maxPeers {
		return nil, errRoomFull
	}
	// Full mesh: every member hears of the newcomer. Copy: the caller
	// delivers after the lock is released, while members changes.
	notify := slices.Clone(g.members)
	g.members = append(g.members, peer)
	r.member[peer] = g
	if key.Next > 0 && len(g.members) >= key.Next {
		// Complete: the group lives on through its members; the next joiner starts anew.
		delete(r.open, key)
	}
	return notify, nil
}

// Leave implements registry.
func (r *memoryRegistry) Leave(_ context.Context, peer signalwire.PeerID) ([]signalwire.PeerID, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.member[peer]
	if g == nil {
		return nil, nil
	}
	delete(r.member, peer)
	if i := slices.Index(g.members, peer); i >= 0 {
		g.members = slices.Delete(g.members, i, i+1)
	}
	if len(g.members) == 0 {
		r.groups--
		if r.open[g.key] == g {
			delete(r.open, g.key)
		}
		return nil, nil
	}
	return slices.Clone(g.members), nil // full mesh: the whole group hears
}

// CanSignal implements registry.
func (r *memoryRegistry) CanSignal(_ context.Context, sender, receiver signalwire.PeerID) (bool, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	g := r.member[sender]
	return g != nil && r.member[receiver] == g, nil // full mesh: any member may signal any other
}

// Groups implements registry.
func (r *memoryRegistry) Groups() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.groups
}

// Size implements registry.
func (r *memoryRegistry) Size(_ context.Context, key roomKey) (int, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if g := r.open[key]; g != nil {
		return len(g.members), nil
	}
	return 0, nil
}
