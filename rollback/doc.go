// Package rollback provides GGRS-style rollback networking sessions (P2P,
// sync test and spectator) over any unreliable datagram Socket.
package rollback
