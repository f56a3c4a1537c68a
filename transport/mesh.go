package transport

import (
	"context"

	"github.com/rollbox/rollbox/packet"
)

//go:generate go run go.uber.org/mock/mockgen@v0.6.0 -destination=mocks/mesh.go -package=mocks github.com/rollbox/rollbox/transport Mesh

// Mesh is what a game needs of its place in a room: who it is, who else is
// there and connected, news of peers coming and going, and the default
// channel to send its packets on. *Socket implements it; code written against
// Mesh can be unit tested with mocks.MockMesh instead of a signalling server
// and WebRTC peers.
//
// Send and Receive use channel 0 (see Channel.Send for its errors). Mesh
// leaves out Socket.Channel: a *Channel cannot be faked, so code that uses
// more channels should take each as a packet.Socket[PeerID], which
// packet/mocks fakes.
type Mesh interface {
	packet.Socket[PeerID]
	// ID returns the id the signalling server assigned when joining.
	ID() PeerID
	// Peers returns the ids of the connected peers, sorted.
	Peers() []PeerID
	// Connecting returns how many introduced peers are not connected yet.
	Connecting() int
	// WaitForPeers blocks until at least n peers are connected and returns
	// their ids, sorted; it fails when ctx ends or the mesh closes.
	WaitForPeers(ctx context.Context, n int) ([]PeerID, error)
	// PeerEvents returns the peer events since the previous call, oldest
	// first.
	PeerEvents() []PeerEvent
	// Close leaves the room, waiting for the mesh's goroutines until ctx
	// ends.
	Close(ctx context.Context) error
}

var _ Mesh = (*Socket)(nil)
