// Package rollback provides GGRS-style rollback networking sessions (P2P,
// sync test and spectator) over any unreliable datagram Socket.
//
// Desync detection (Config.DesyncDetectionInterval) reports the frame and
// both checksums. To learn what differed, install a state dump hook with
// P2PSession.SetStateDump: on a desync both peers exchange their dumps of the
// frame, and each game receives both views (EventDesyncDetected,
// EventDesyncDump).
package rollback
