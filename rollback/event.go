package rollback

import (
	"fmt"
	"time"
)

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventSynchronizing: a sync round trip with Addr completed (Count of
	// Total).
	EventSynchronizing EventKind = iota + 1
	// EventSynchronized: the handshake with Addr is complete.
	EventSynchronized
	// EventDisconnected: the peer at Addr is disconnected; Reason says
	// why and Reporter who reported it. Every peer of a match gets one for
	// every disconnect, including the dropped peer (DisconnectDroppedUs).
	EventDisconnected
	// EventNetworkInterrupted: nothing arrived from Addr for the notify
	// delay; the peer will be disconnected after DisconnectTimeout more.
	EventNetworkInterrupted
	// EventNetworkResumed: packets from Addr arrive again after an
	// interruption.
	EventNetworkResumed
	// EventWaitRecommendation: this session runs ahead of its peers; the
	// game should skip advancing for SkipFrames ticks to let them catch up.
	EventWaitRecommendation
	// EventDesyncDetected: the checksum of confirmed Frame differs between
	// this session (LocalChecksum) and the peer at Addr (RemoteChecksum).
	// With a state dump hook (P2PSession.SetStateDump), LocalDump is this
	// session's dump of Frame, or nil if it was no longer held.
	EventDesyncDetected
	// EventVersionMismatch: the peer at Addr speaks protocol RemoteVersion,
	// which this build does not; the handshake with it cannot complete.
	EventVersionMismatch
	// EventDesyncDump: the peer at Addr sent its state dump of the desynced
	// Frame (RemoteDump). It comes with LocalDump (the same slice the
	// EventDesyncDetected for Frame and Addr had) and both checksums, so the
	// game can put both views of the frame side by side. It follows that
	// EventDesyncDetected, in the same tick or some ticks later, and never
	// comes if the peer installed no hook, no longer held its dump, or the
	// transfer gave up (see P2PSession.SetStateDump).
	EventDesyncDump
	// EventDisconnectDisputed: the peer at Reporter reports the player at
	// Addr disconnected, but this session still hears Addr and Addr does
	// not confirm it lost Reporter, so the report is not adopted (see
	// "Disconnects" in the package documentation). Reported once per
	// reporter and player. If the report was true, an EventDisconnected
	// follows once Addr confirms or goes silent here.
	EventDisconnectDisputed
	// EventPlayerMapMismatch: the peer at Addr sees the players differently
	// (PlayerMap says how: player count, or who plays which handle), so
	// the handshake with it never completes and AdvanceFrame returns the
	// same *PlayerMapError instead of ErrNotSynchronized. Raised once per
	// peer, before frame 0. See "Player map" in the package documentation.
	EventPlayerMapMismatch
)

// DisconnectReason says why a peer was disconnected (EventDisconnected).
type DisconnectReason uint8

const (
	// DisconnectTimeout: nothing arrived from the peer for
	// Config.DisconnectTimeout, or it acknowledged none of the last 128
	// frames of input. This session reported it.
	DisconnectTimeout DisconnectReason = iota + 1
	// DisconnectLocal: the game called DisconnectPlayer.
	DisconnectLocal
	// DisconnectReported: the peer at Reporter reported the disconnect and
	// this session adopted it: it no longer hears the peer either, or the
	// peer confirmed that it lost (or was dropped by) Reporter.
	DisconnectReported
	// DisconnectDroppedUs: the peer at Addr (also Reporter) dropped this
	// session and told it so: this session has left that peer's match.
	DisconnectDroppedUs
)

// String returns the reason's name.
func (r DisconnectReason) String() string {
	switch r {
	case DisconnectTimeout:
		return "timeout"
	case DisconnectLocal:
		return "local request"
	case DisconnectReported:
		return "reported"
	case DisconnectDroppedUs:
		return "dropped us"
	}
	return "invalid"
}

// String returns the kind name.
func (k EventKind) String() string {
	switch k {
	case EventSynchronizing:
		return "synchronizing"
	case EventSynchronized:
		return "synchronized"
	case EventDisconnected:
		return "disconnected"
	case EventNetworkInterrupted:
		return "network interrupted"
	case EventNetworkResumed:
		return "network resumed"
	case EventWaitRecommendation:
		return "wait recommendation"
	case EventDesyncDetected:
		return "desync detected"
	case EventVersionMismatch:
		return "version mismatch"
	case EventDesyncDump:
		return "desync dump"
	case EventDisconnectDisputed:
		return "disconnect disputed"
	case EventPlayerMapMismatch:
		return "player map mismatch"
	}
	return "invalid"
}

// Event is something the game may want to react to. Only the fields named in
// the Kind's documentation are set.
type Event[A comparable] struct {
	Kind EventKind
	// Addr is the peer the event is about (all kinds but
	// EventWaitRecommendation).
	Addr A

	// Count and Total: sync round trips done and needed
	// (EventSynchronizing).
	Count, Total int
	// DisconnectTimeout is the time left until the peer is disconnected
	// (EventNetworkInterrupted).
	DisconnectTimeout time.Duration
	// SkipFrames is how many frames to wait (EventWaitRecommendation).
	SkipFrames int
	// Frame, LocalChecksum and RemoteChecksum describe a desync
	// (EventDesyncDetected, EventDesyncDump).
	Frame          Frame
	LocalChecksum  uint64
	RemoteChecksum uint64
	// LocalDump and RemoteDump are this session's and the peer's state
	// dumps of Frame as their hooks returned them, cut to MaxStateDumpSize
	// (LocalDump: EventDesyncDetected and EventDesyncDump; RemoteDump:
	// EventDesyncDump). They are allocated for the event and never touched
	// by the session again: the game owns them and may keep them.
	LocalDump  []byte
	RemoteDump []byte
	// RemoteVersion is the peer's protocol version (EventVersionMismatch).
	RemoteVersion uint8
	// PlayerMap says how the peer's player map differs from this
	// session's (EventPlayerMapMismatch).
	PlayerMap *PlayerMapError[A]
	// Reason says why the peer was disconnected (EventDisconnected).
	Reason DisconnectReason
	// Reporter is the peer that reported the disconnect
	// (EventDisconnected with DisconnectReported or DisconnectDroppedUs,
	// EventDisconnectDisputed); for the other reasons this session itself
	// reported it and Reporter is the zero value.
	Reporter A
}

// String describes the event for logs.
func (e Event[A]) String() string {
	switch e.Kind {
	case EventSynchronizing:
		return fmt.Sprintf("synchronizing with %v (%d/%d)", e.Addr, e.Count, e.Total)
	case EventNetworkInterrupted:
		return fmt.Sprintf("network interrupted with %v (disconnect in %v)", e.Addr, e.DisconnectTimeout)
	case EventWaitRecommendation:
		return fmt.Sprintf("wait recommendation: skip %d frames", e.SkipFrames)
	case EventDesyncDetected:
		return fmt.Sprintf("desync with %v at frame %d: local checksum %#x, remote %#x",
			e.Addr, e.Frame, e.LocalChecksum, e.RemoteChecksum)
	case EventDesyncDump:
		return fmt.Sprintf("desync dumps with %v for frame %d: local %d bytes (checksum %#x), remote %d bytes (%#x)",
			e.Addr, e.Frame, len(e.LocalDump), e.LocalChecksum, len(e.RemoteDump), e.RemoteChecksum)
	case EventVersionMismatch:
		return fmt.Sprintf("protocol version mismatch with %v: local %d, remote %d",
			e.Addr, ProtocolVersion, e.RemoteVersion)
	case EventDisconnected:
		if e.Reason == DisconnectReported || e.Reason == DisconnectDroppedUs {
			return fmt.Sprintf("disconnected %v (%v by %v)", e.Addr, e.Reason, e.Reporter)
		}
		return fmt.Sprintf("disconnected %v (%v)", e.Addr, e.Reason)
	case EventPlayerMapMismatch:
		if e.PlayerMap != nil {
			return e.PlayerMap.Error()
		}
	case EventDisconnectDisputed:
		return fmt.Sprintf("disconnect of %v reported by %v not adopted: %v is still heard", e.Addr, e.Reporter, e.Addr)
	}
	return fmt.Sprintf("%v %v", e.Kind, e.Addr)
}

// maxEventQueue bounds the undelivered events; GGRS uses the same bound and
// also drops the oldest.
const maxEventQueue = 100

// eventQueue is a bounded FIFO that drops the oldest event when full. It keeps
// two buffers so Drain can hand one to the caller without allocating.
type eventQueue[A comparable] struct {
	pending []Event[A]
	drained []Event[A]
}

func newEventQueue[A comparable]() eventQueue[A] {
	return eventQueue[A]{
		pending: make([]Event[A], 0, maxEventQueue),
		drained: make([]Event[A], 0, maxEventQueue),
	}
}

func (q *eventQueue[A]) push(e Event[A]) {
	if len(q.pending) == maxEventQueue {
		copy(q.pending, q.pending[1:])
		q.pending = q.pending[:maxEventQueue-1]
	}
	q.pending = append(q.pending, e)
}

// drain returns the pending events; the slice is valid until the next drain.
// It clears the events it handed out last time, so the queue keeps no dump or
// address alive, and only those: clearing the whole capacity would cost every
// tick in proportion to the queue bound rather than to the events.
func (q *eventQueue[A]) drain() []Event[A] {
	old := q.drained
	clear(old)
	q.drained, q.pending = q.pending, old[:0]
	return q.drained
}
