package rollback

import "github.com/rollbox/rollbox/packet"

// Packet is one datagram received from a remote address: see packet.Packet.
type Packet[A comparable] = packet.Packet[A]

// Socket is the unreliable, unordered datagram socket a session sends
// through: see packet.Socket for its contract, and packet/mocks for a mock.
// Every transport in rollbox implements it. Sessions treat a Send error as a
// lost packet.
type Socket[A comparable] = packet.Socket[A]
