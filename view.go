package rollbox

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Phase is a step of a match's life, as a game shows it.
type Phase uint8

// Phases, in order (but for PhaseRejoining, which comes after any of
// PhasePlaying's).
const (
	PhaseJoining       Phase = iota + 1 // dialling the signalling server
	PhaseWaiting                        // in the room, waiting for the others
	PhaseConnecting                     // everyone is there; connecting peer to peer
	PhaseSynchronizing                  // the rollback handshake
	PhasePlaying                        // frames advance
	PhaseFinished                       // Config.Frames confirmed
	PhaseFailed                         // View.Err says why (closed before the end: "match closed")
	PhaseRejoining                      // this player left the match and asks the others to take it back
)

var phaseNames = [...]string{"", "joining", "waiting", "connecting", "synchronizing", "playing", "finished", "failed", "rejoining"}

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
	// Returning: the player left and is coming back (the others took it
	// back, see Match): its input is still zero with status Disconnected,
	// and counts again from a frame a second or so ahead. Disconnected is
	// false from the moment it is taken back.
	Returning bool
	// Status is the status of its input in the frame last stepped.
	Status InputStatus
	// Ping is the round trip to its peer; FramesBehind how far this peer is
	// estimated to run behind it (negative: ahead).
	Ping         time.Duration
	FramesBehind int
}

// Result summarises a match: what a headless game prints (MarshalJSON) and
// end-to-end tests compare across peers. A desync does not end a match
// (the peers play on, and their states differ): Desyncs counts them, and a
// game that must fail on one checks it.
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

// MarshalJSON writes the result as one JSON object: {"frame", "checksum"
// (16 hex digits, as a string: a uint64 does not survive JavaScript's
// numbers), "players", "rollbacks", "rollback_frames", "desyncs",
// "max_ping_ms"}. Peers of a healthy match print the same frame and
// checksum.
func (r Result) MarshalJSON() ([]byte, error) {
	return json.Marshal(resultJSON{int(r.Frame), fmt.Sprintf("%016x", r.Checksum), r.Players, r.Rollbacks,
		r.RollbackFrames, r.Desyncs, r.MaxPing.Milliseconds()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Result) UnmarshalJSON(b []byte) error {
	var j resultJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	sum, err := strconv.ParseUint(j.Checksum, 16, 64)
	if err != nil && j.Checksum != "" {
		return fmt.Errorf("rollbox: result checksum %q: %w", j.Checksum, err)
	}
	*r = Result{Frame: Frame(j.Frame), Checksum: sum, Players: j.Players, Rollbacks: j.Rollbacks,
		RollbackFrames: j.RollbackFrames, Desyncs: j.Desyncs, MaxPing: time.Duration(j.MaxPingMS) * time.Millisecond}
	return nil
}

// resultJSON is Result's JSON form.
type resultJSON struct {
	Frame          int    `json:"frame"`
	Checksum       string `json:"checksum"`
	Players        int    `json:"players"`
	Rollbacks      int    `json:"rollbacks"`
	RollbackFrames int    `json:"rollback_frames"`
	Desyncs        int    `json:"desyncs"`
	MaxPingMS      int64  `json:"max_ping_ms"`
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
