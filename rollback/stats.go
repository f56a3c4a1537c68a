package rollback

import "time"

// NetworkStats describes the connection to one remote peer or spectator.
type NetworkStats struct {
	// SendQueueLen is the number of input frames sent but not yet
	// acknowledged by the peer.
	SendQueueLen int
	// Ping is the last measured round-trip time.
	Ping time.Duration
	// KbpsSent is the average outgoing bandwidth to the peer since the
	// handshake started, in kilobits per second, counting 28 bytes of
	// IP/UDP header per packet.
	KbpsSent int
	// LocalFramesBehind estimates how many frames this session is behind the
	// peer (negative: ahead).
	LocalFramesBehind int
	// RemoteFramesBehind is the peer's own estimate of how many frames it is
	// behind this session.
	RemoteFramesBehind int
}
