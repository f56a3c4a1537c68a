package signalserver

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/rollbox/rollbox/signalwire"
)

// RoomKey names a pool of peers. As in matchbox, /x, /x?next=2 and /x?next=3
// are three separate pools.
type RoomKey struct {
	ID   string // the percent-decoded path segment; "" for "/"
	Next int    // group size; 0 when the client gave no next
}

// ErrRoomFull is returned by Registry.Join when a room holds its maximum.
var ErrRoomFull = errors.New("signalserver: room full")

// Registry tracks which peers share a group and forms next=N groups. The
// server asks it who must hear of a join or a leave, and whether a signal may
// pass; delivering frames stays with the server. The in-memory registry is the
// default; a shared one (Redis) fits behind the same methods so that several
// server instances can serve one room.
//
// A group is the set of peers that can learn each other's ids: a whole room
// without next, the waiting pool or a completed group with next.
type Registry interface {
	// Join adds peer to the pool for key and returns the peers that must be
	// sent NewPeer(peer). It returns ErrRoomFull when the room is at capacity.
	Join(ctx context.Context, key RoomKey, peer signalwire.PeerID) ([]signalwire.PeerID, error)
	// Leave removes peer and returns the peers that must be sent PeerLeft(peer).
	// Leaving twice, or without joining, returns nothing. A registry that is
	// also the server's Bus may send PeerLeft itself, in the step that
	// removes peer, and return nothing (Redis does).
	Leave(ctx context.Context, peer signalwire.PeerID) ([]signalwire.PeerID, error)
	// CanSignal reports whether sender may send a signal to receiver.
	CanSignal(ctx context.Context, sender, receiver signalwire.PeerID) (bool, error)
	// Size returns how many peers are in key's open pool: the whole room
	// without next, the waiting peers with next. The server uses it to refuse
	// a join to a full room before upgrading the connection.
	Size(ctx context.Context, key RoomKey) (int, error)
	// Groups returns how many groups have at least one member.
	Groups() int
}

// Topology decides, inside one group, who learns of whom. FullMesh is the
// only topology today; matchbox 0.14's client/server topology (every peer
// connects to the first one only) is a second implementation of this
// interface, without changes to the registry or the connection code.
type Topology interface {
	// Announce returns the members (in join order, without newcomer) that are
	// sent NewPeer(newcomer). The result may alias members.
	Announce(members []signalwire.PeerID, newcomer signalwire.PeerID) []signalwire.PeerID
	// Depart returns the remaining members (in join order) that are sent
	// PeerLeft(leaver). The result may alias remaining.
	Depart(remaining []signalwire.PeerID, leaver signalwire.PeerID) []signalwire.PeerID
	// MaySignal reports whether sender may signal receiver, both in members.
	MaySignal(members []signalwire.PeerID, sender, receiver signalwire.PeerID) bool
}

// FullMesh connects every peer of a group with every other, as matchbox's
// default topology does: existing peers hear of each newcomer and offer to it.
type FullMesh struct{}

// Announce tells every existing member about the newcomer.
func (FullMesh) Announce(members []signalwire.PeerID, _ signalwire.PeerID) []signalwire.PeerID {
	return members
}

// Depart tells every remaining member that leaver left.
func (FullMesh) Depart(remaining []signalwire.PeerID, _ signalwire.PeerID) []signalwire.PeerID {
	return remaining
}

// MaySignal lets any member signal any other.
func (FullMesh) MaySignal([]signalwire.PeerID, signalwire.PeerID, signalwire.PeerID) bool {
	return true
}

// group is one set of peers that know each other.
type group struct {
	key     RoomKey
	members []signalwire.PeerID // join order
}

// MemoryRegistry is the in-process Registry. It is safe for concurrent use.
type MemoryRegistry struct {
	topology Topology
	maxPeers int

	mu     sync.RWMutex
	open   map[RoomKey]*group // the group a new joiner of key enters
	member map[signalwire.PeerID]*group
	groups int
}

// NewMemoryRegistry returns an empty registry. maxPeers caps every group (and
// so every room without next); 0 means no cap. A nil topology means FullMesh.
func NewMemoryRegistry(topology Topology, maxPeers int) *MemoryRegistry {
	if topology == nil {
		topology = FullMesh{}
	}
	return &MemoryRegistry{
		topology: topology,
		maxPeers: maxPeers,
		open:     make(map[RoomKey]*group),
		member:   make(map[signalwire.PeerID]*group),
	}
}

// Join implements Registry.
func (r *MemoryRegistry) Join(_ context.Context, key RoomKey, peer signalwire.PeerID) ([]signalwire.PeerID, error) {
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
		return nil, ErrRoomFull
	}
	// Copy: the caller delivers after the lock is released, while members changes.
	notify := slices.Clone(r.topology.Announce(g.members, peer))
	g.members = append(g.members, peer)
	r.member[peer] = g
	if key.Next > 0 && len(g.members) >= key.Next {
		// Complete: the group lives on through its members; the next joiner starts anew.
		delete(r.open, key)
	}
	return notify, nil
}

// Leave implements Registry.
func (r *MemoryRegistry) Leave(_ context.Context, peer signalwire.PeerID) ([]signalwire.PeerID, error) {
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
	return slices.Clone(r.topology.Depart(g.members, peer)), nil
}

// CanSignal implements Registry.
func (r *MemoryRegistry) CanSignal(_ context.Context, sender, receiver signalwire.PeerID) (bool, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	g := r.member[sender]
	return g != nil && r.member[receiver] == g && r.topology.MaySignal(g.members, sender, receiver), nil
}

// Groups implements Registry.
func (r *MemoryRegistry) Groups() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.groups
}

// Size implements Registry.
func (r *MemoryRegistry) Size(_ context.Context, key RoomKey) (int, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if g := r.open[key]; g != nil {
		return len(g.members), nil
	}
	return 0, nil
}
