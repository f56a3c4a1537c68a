package rollback

// Packet is one datagram received from a remote address.
//
// Data may alias a buffer owned by the socket: it is valid only until the next
// call to Receive on the same socket. Copy it to keep it longer.
type Packet[A comparable] struct {
	From A
	Data []byte
}

// Socket is the unreliable, unordered datagram socket a session needs. The
// rollback package defines it (the consumer side) and transports satisfy it.
//
// Send must never block: a socket that cannot send now drops the packet, as UDP
// would. It returns an error only when the destination is unknown or the socket
// is closed. Send must not keep packet after it returns (copy it if needed):
// sessions reuse their send buffer. Receive returns everything that arrived since the previous call,
// without blocking; the returned slice and the Data it points to are valid
// until the next call to Receive.
type Socket[A comparable] interface {
	Send(to A, packet []byte) error
	Receive() []Packet[A]
}
