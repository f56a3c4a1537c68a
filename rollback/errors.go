package rollback

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors returned by sessions. Compare with errors.Is: an
// *InvalidRequestError matches ErrInvalidRequest, a *MismatchedChecksumError
// matches ErrMismatchedChecksum.
var (
	// ErrNotSynchronized: the session has not finished synchronizing with
	// every remote peer yet; keep calling PollRemoteClients.
	ErrNotSynchronized = errors.New("rollback: session not synchronized")
	// ErrInvalidRequest: the call does not fit the session's configuration
	// or state (wrong handle, missing local input, bad configuration).
	ErrInvalidRequest = errors.New("rollback: invalid request")
	// ErrPredictionThreshold: a spectator has no input for its next frame
	// yet; try again next tick.
	ErrPredictionThreshold = errors.New("rollback: prediction threshold reached")
	// ErrMismatchedChecksum: a sync test found a frame whose checksum
	// changed after resimulation; the game is not deterministic.
	ErrMismatchedChecksum = errors.New("rollback: mismatched checksum")
	// ErrSpectatorTooFarBehind: the host's input for the spectator's next
	// frame has already been overwritten; the spectator cannot continue.
	ErrSpectatorTooFarBehind = errors.New("rollback: spectator too far behind")
	// ErrNotEnoughData: network statistics need about a second of traffic.
	ErrNotEnoughData = errors.New("rollback: not enough data")
	// ErrResumeFailed: a session of a player coming back (NewP2PSessionAt)
	// could not start: a peer it was to play with never completed its
	// handshake (it left meanwhile), so its inputs since Resume.From are
	// not to be had. The player asks to come back again.
	ErrResumeFailed = errors.New("rollback: a peer left before the returning player's session started")
)

// InvalidRequestError explains why a request or configuration was rejected.
type InvalidRequestError struct {
	Info string
}

func (e *InvalidRequestError) Error() string { return "rollback: invalid request: " + e.Info }

// Is reports whether target is ErrInvalidRequest.
func (e *InvalidRequestError) Is(target error) bool { return target == ErrInvalidRequest }

func invalidf(format string, args ...any) error {
	return &InvalidRequestError{Info: fmt.Sprintf(format, args...)}
}

// MismatchedChecksumError is returned by a sync test session whose game
// produced different checksums for the same frame after a rollback.
type MismatchedChecksumError struct {
	// CurrentFrame is the session's frame when the mismatch was found.
	CurrentFrame Frame
	// Frames lists every mismatched frame, oldest first.
	Frames []Frame
	// Mismatches describes each frame of Frames, in the same order.
	Mismatches []ChecksumMismatch
}

// ChecksumMismatch is one frame whose checksum changed in a sync test: the
// checksum of the state first saved for it and of the state saved after a
// rollback and resimulation. With a state dump hook
// (SyncTestSession.SetStateDump) it also carries the hook's dump of each
// state, so the two can be compared line by line; without one both are nil.
type ChecksumMismatch struct {
	Frame                              Frame
	FirstChecksum, ResimulatedChecksum uint64
	FirstDump, ResimulatedDump         []byte
}

func (e *MismatchedChecksumError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rollback: mismatched checksum at current frame %d: frames", e.CurrentFrame)
	for _, f := range e.Frames {
		fmt.Fprintf(&b, " %d", f)
	}
	return b.String()
}

// Is reports whether target is ErrMismatchedChecksum.
func (e *MismatchedChecksumError) Is(target error) bool { return target == ErrMismatchedChecksum }
