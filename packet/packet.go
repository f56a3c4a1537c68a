// Package packet defines the datagram socket that rollback sessions send
// through and every transport implements: Socket, and the Packet it
// receives. It imports nothing of rollbox, so that rollback (the consumer)
// and transport (the implementations) both depend on it and not on each
// other.
package packet

//go:generate go run go.uber.org/mock/mockgen@v0.6.0 -source=packet.go -destination=mocks/socket.go -package=mocks

// Packet is one datagram received from a remote address.
//
// Data may alias a buffer owned by the socket: it is valid only until the next
// call to Receive on the same socket. Copy it to keep it longer.
type Packet[A comparable] struct {
	From A
	Data []byte
}

// Socket is an unreliable, unordered datagram socket whose peers have
// addresses of type A: what a rollback session needs, and what
// transport.Socket, transport.Channel, simnet.Endpoint, simnet.Conditioned
// and udp.Socket implement.
//
// Send must never block: a socket that cannot send now drops the packet, as
// UDP would, and returns nil. Send must not keep packet after it returns
// (copy it if needed): sessions reuse their send buffer. An error means this
// packet was not sent, for one of these reasons:
//
//   - the socket is closed: the error wraps net.ErrClosed, so
//     errors.Is(err, net.ErrClosed) holds for every implementation;
//   - the destination is not a peer the socket can reach (unknown, not
//     connected yet or any more, or not a valid address);
//   - the packet is larger than the socket can carry;
//   - a socket with reliable delivery has too much waiting for that peer.
//
// The implementations' documentation names their error values. Sessions treat
// every Send error as a lost packet: their protocol already recovers from
// loss, and the peer's state is reported by the session's own events.
//
// Receive returns everything that arrived since the previous call, oldest
// first, without blocking; the returned slice and the Data it points to are
// valid until the next call to Receive. Receive is called from one goroutine
// at a time.
type Socket[A comparable] interface {
	Send(to A, packet []byte) error
	Receive() []Packet[A]
}
