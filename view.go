package rollbox

import (
	"fmt"
	"strings"
	"time"
)

// Phase is a step of a match's life, as a game shows it.
type Phase uint8

// Phases, in order.
const (
	PhaseJoining       Phase = iota + 1 // dialling the signalling server
	PhaseWaiting                        // in the room, waiting for the others
	PhaseConnecting                     // everyone is there; connecting peer to peer
	PhaseSynchronizing                  // the rollback handshake
	PhasePlaying                        // frames advance
	PhaseFinished                       // Config.Frames confirmed, or closed
	PhaseFailed                         // View.Err says why
)

var phaseNames = [...]string{"", "joining", "waiting", "connecting", "synchronizing", "playing", "finished", "failed"}

// String returns the phase's name: "joining", "waiting", and so on.
func (p Phase) String() string {
	if int(p) < len(phaseNames) && p > 0 {
		return phaseNames[p]
	}
	return fmt.Sprintf("Phase(%d)", uint8(p))
}

// View is what a game may show about its match besides the state: the
// phase, its players and the network. Its slices belong to the match and
// are valid until the next Update.
type View struct {
	Phase Phase
	// Status describes the phase in a line for people, e.g. "waiting for
	// players: 1 of 2 here".
	Status string
	// Err is why the match failed (PhaseFailed).
	Err error
	// Frame is the frame the state is at; Confirmed the newest frame whose
	// state can no longer change.
	Frame, Confirmed Frame
	// Local lists the players on this machine (none on a spectator).
	Local []PlayerHandle
	// Players describes every player, by handle.
	Players []PlayerView
	// FramesAhead estimates how far this peer runs ahead of the others.
	FramesAhead int
	// Rollbacks counts state loads; RollbackFrames the frames stepped again
	// because of them; LongestRollback the most frames one reached back.
	Rollbacks, RollbackFrames, LongestRollback int
	// Desyncs counts desyncs detected; LastDesync is the latest.
	Desyncs    int
	LastDesync Desync
}

// PlayerView is one player as View shows it.
type PlayerView struct {
	Local bool
	// Peer is the id of the peer that plays it (empty for local players).
	Peer string
	// Disconnected: the player left or was dropped; its input is zero with
	// status Disconnected from then on.
	Disconnected bool
	// Status is the status of its input in the frame last stepped.
	Status InputStatus
	// Ping is the round trip to its peer; FramesBehind how far this peer is
	// estimated to run behind it (negative: ahead).
	Ping         time.Duration
	FramesBehind int
}

// Result summarises a match: what the box game's headless mode prints and
// the end-to-end tests compare across peers.
type Result struct {
	// Frame is Config.Frames once that frame is confirmed (else 0), and
	// Checksum the checksum of its state.
	Frame    Frame
	Checksum uint64
	Players  int
	// Rollbacks and RollbackFrames: state loads and frames stepped again.
	Rollbacks, RollbackFrames int
	Desyncs                   int
	// MaxPing is the longest round trip measured to any peer.
	MaxPing time.Duration
}

// Desync is a desync detected with a peer: the checksums of a confirmed
// frame differ. With a dump (automatic for plain states, or the state's
// AppendText) the match hands it to Config.OnDesync twice: when detected,
// with LocalDump, and when the peer's dump arrives, with both.
type Desync struct {
	Frame                         Frame
	Peer                          string
	LocalChecksum, RemoteChecksum uint64
	LocalDump, RemoteDump         []byte
}

// String describes the desync in a line.
func (d Desync) String() string {
	return fmt.Sprintf("frame %d differs from peer %s: %016x here, %016x there", d.Frame, d.Peer, d.LocalChecksum, d.RemoteChecksum)
}

// Diff returns the lines of the two dumps that differ, as "local | remote",
// joined by "; ".
func (d Desync) Diff() string {
	l, r := strings.Split(string(d.LocalDump), "\n"), strings.Split(string(d.RemoteDump), "\n")
	var out []string
	for i := range max(len(l), len(r)) {
		var a, b string
		if i < len(l) {
			a = l[i]
		}
		if i < len(r) {
			b = r[i]
		}
		if a != b {
			out = append(out, a+" | "+b)
		}
	}
	return strings.Join(out, "; ")
}
