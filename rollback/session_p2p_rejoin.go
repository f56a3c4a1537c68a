package rollback

import "time"

// Resume is where a player who left a running match picks it up again
// (NewP2PSessionAt): the peers still playing agreed with P2PSession.Readmit
// to take its inputs again from frame At, and one of them sent it the game
// state at frame From, which Readmit returned with this Resume.
type Resume struct {
	// From is the frame of the state the game holds: every input before it
	// is final. Every remote peer sends its players' inputs from From on.
	From Frame
	// At is the first frame at which the local players' inputs count
	// again; from From to At-1 they play as disconnected.
	At Frame
	// Players is every player's status as the peer that admitted this one
	// saw it: disconnected or not and, if so, the last frame of its input.
	// Its length is NumPlayers.
	Players []ResumeStatus
}

// ResumeStatus is one player's status in a Resume.
type ResumeStatus struct {
	Disconnected bool
	// LastFrame is the last frame of a disconnected player's input,
	// NullFrame for a connected one.
	LastFrame Frame
}

// readmitSyncTimeout bounds how long a readmitted player's handshake may
// take before the session drops it again (it holds the match from At plus
// the prediction window on): the player receives the state, builds its
// session and answers within it, else it is counted as gone again.
const readmitSyncTimeout = 15 * time.Second

// NewP2PSessionAt is NewP2PSession for a player coming back to a running
// match: cfg is the configuration the player started the match with (the
// same handles, local and remote, with the remote peers' current
// addresses), the game holds the state of frame r.From, and r is what
// P2PSession.Readmit returned on the peer that admitted it. The first
// AdvanceFrame advances frame r.From. The local players play as
// disconnected until frame r.At, and their inputs count from r.At on: their
// inputs given for earlier frames are dropped. A remote player disconnected
// in r stays so; its peer is never contacted.
//
// The session starts behind the others (the state transfer took time): it
// catches up by advancing more than once per tick while FramesBehind says
// so; the inputs it needs are already confirmed, so this costs no rollback.
//
// Should a remote peer not complete its handshake within 15 s (it left as
// this player came back), the session never starts: it raises
// EventDisconnected for that peer and AdvanceFrame returns ErrResumeFailed
// (it lacks that peer's inputs since From). The player asks to come back
// again; the others take it back once they have dropped that peer too.
func NewP2PSessionAt[S any, I comparable, A comparable](cfg Config[I, A], socket Socket[A], r Resume) (*P2PSession[S, I, A], error) {
	return newP2PSession[S](cfg, socket, &r)
}

// resumeAt puts a new session at r (NewP2PSessionAt).
func (s *P2PSession[S, I, A]) resumeAt(r Resume) error {
	if r.From < 0 || r.At < r.From {
		return invalidf("resume from frame %d at frame %d: want 0 <= From <= At", r.From, r.At)
	}
	if len(r.Players) != s.numPlayers {
		return invalidf("resume with %d player statuses, want NumPlayers (%d)", len(r.Players), s.numPlayers)
	}
	for h, st := range r.Players {
		if st.Disconnected && st.LastFrame >= r.From {
			return invalidf("player %d disconnected after frame %d, not before From (%d): its inputs from From on are not known", h, st.LastFrame, r.From)
		}
	}
	for _, pr := range s.players.remotes {
		gone := r.Players[pr.ep.handles[0]].Disconnected
		for _, h := range pr.ep.handles[1:] {
			if r.Players[h].Disconnected != gone {
				return invalidf("players %d and %d share a peer but not their status", pr.ep.handles[0], h)
			}
		}
		for _, h := range pr.ep.handles {
			if gone {
				s.localStatus[h] = connectionStatus{disconnected: true, lastFrame: r.Players[h].LastFrame}
			} else {
				s.localStatus[h] = connectionStatus{lastFrame: r.From - 1}
				s.sync.queues[h].restartAt(r.From)
			}
		}
		if gone {
			pr.ep.state = stateShutdown // never contacted: it left the match
		}
	}
	for _, h := range s.players.localHandles {
		after := r.From - 1
		if st := r.Players[h]; st.Disconnected {
			after = st.LastFrame
		}
		s.localStatus[h] = connectionStatus{lastFrame: r.At - 1}
		s.sync.queues[h].restartAt(r.At)
		s.sync.absent[h] = absence{after: after, until: r.At}
		s.floor[h] = r.At - 1
	}
	// What each remote peer knows of every player starts as what this
	// session knows: NullFrame (the fresh endpoint's) would read as a
	// report that a player gone since frame LastFrame left before frame
	// 0, and every peer would drop it again from there on.
	for _, pr := range s.players.peers {
		s.seedPeerStatus(pr.ep)
	}
	s.localSentFrame = r.At - 1
	s.sync.currentFrame = r.From
	s.sync.lastConfirmedFrame = r.From - 1
	s.nextSpectatorFrame = r.From
	if s.desyncEvery > 0 && r.From > Frame(s.desyncEvery) {
		// The checksums of frames before From are the others' business.
		s.lastSentChecksumFrame = (r.From - 1) / Frame(s.desyncEvery) * Frame(s.desyncEvery)
	}
	return nil
}

// Readmit takes back the players of a remote peer that disconnected, now at
// addr (a player who lost its connection, or whose program restarted): this
// session receives their inputs again from frame at, and sends the new peer
// its local players' inputs from frame from on. It returns the Resume that
// the returning player gives NewP2PSessionAt, once it holds the game state
// of frame from (which this session confirmed: the caller sends it).
//
// Every peer still playing must readmit the player with the same from and
// at: the players play as disconnected until at-1 and with their inputs
// from at on, so a peer that disagrees desyncs. Agreeing on them is the
// caller's protocol; the rules below make a wrong guess fail here, before
// anything changed, rather than desync:
//
//   - at must be after every frame this session confirmed (ConfirmedFrame,
//     and inputs it received beyond): the frames from at on change;
//   - from must be after the players' last frame and after that of every
//     player disconnected, at most at, and this session must still hold its
//     local players' inputs from there (a prediction window or so behind
//     the confirmed frame).
//
// Pick at far enough ahead of the current frame for the player to receive
// the state and catch up (a second or more): the others predict its inputs
// from at on like any remote player's, and wait for them after the
// prediction window. If the player does not complete its handshake within
// 15 s, the session disconnects it again after frame at-1 (EventDisconnected).
// Readmit raises no event itself.
//
// Errors (ErrInvalidRequest): h not a remote player, its players not all
// disconnected, the session not running, addr another peer's, or from and
// at breaking the rules above.
func (s *P2PSession[S, I, A]) Readmit(h PlayerHandle, addr A, from, at Frame) (Resume, error) {
	if s.state != Running {
		return Resume{}, invalidf("the session is not running yet")
	}
	if kind, ok := s.players.kind(h); !ok || kind != Remote {
		return Resume{}, invalidf("player handle %d is not a remote player", h)
	}
	old, _ := s.players.peerOf(h)
	for _, hh := range old.ep.handles {
		if !s.localStatus[hh].disconnected {
			return Resume{}, invalidf("player %d is still connected", hh)
		}
	}
	if pr, ok := s.players.peerAt(addr); ok && pr != old {
		return Resume{}, invalidf("address %v is already registered", addr)
	}
	left := s.peerLastFrame(old)
	confirmed := max(s.confirmedFrame(), s.sync.lastConfirmedFrame)
	switch {
	case at <= confirmed:
		return Resume{}, invalidf("frame %d is confirmed already; readmit at a later frame", at)
	case s.sync.lastConfirmedFrame < left:
		// Rolling back before left would need the players' old inputs.
		return Resume{}, invalidf("frame %d, the players' last, is not confirmed yet", left)
	case from <= left || from > at:
		return Resume{}, invalidf("from frame %d must be after the players' last frame (%d) and at most at (%d)", from, left, at)
	case from > s.localSentFrame+1:
		return Resume{}, invalidf("from frame %d is past this session's inputs (up to %d)", from, s.localSentFrame)
	case int(s.localSentFrame-from)+1 > lateSpectatorBacklog:
		// The inputs sent are kept that long (sentHistory).
		return Resume{}, invalidf("from frame %d is too far back: this session keeps its last %d frames of input", from, lateSpectatorBacklog)
	case at < s.sync.currentFrame:
		if _, ok := s.sync.savedState(at); !ok {
			return Resume{}, invalidf("the state of frame %d, to roll back to, is no longer held", at)
		}
	}
	for p, st := range s.localStatus {
		if st.disconnected && st.lastFrame >= from && !old.ep.plays(PlayerHandle(p)) {
			return Resume{}, invalidf("player %d disconnected after frame %d, not before from (%d)", p, st.lastFrame, from)
		}
	}

	r := Resume{From: from, At: at, Players: make([]ResumeStatus, s.numPlayers)}
	for p, st := range s.localStatus {
		r.Players[p] = ResumeStatus{LastFrame: NullFrame}
		if st.disconnected {
			r.Players[p] = ResumeStatus{Disconnected: true, LastFrame: st.lastFrame}
		}
	}
	now := s.clock.since()
	s.readmits++
	pr := s.players.replace(old, addr, func(handles []PlayerHandle) *endpoint[A] {
		// An index no peer built at the start has: other random numbers.
		return s.newPeerEndpoint(addr, handles, false, len(s.players.peers)+MaxPlayers*s.readmits, lateSpectatorBacklog)
	})
	pr.sink = s.remoteInputSink(pr)
	pr.ep.syncDeadline = now + readmitSyncTimeout
	// What the new peer knows of the others starts as what this session
	// knows (see resumeAt): a fresh endpoint's NullFrame would read as a
	// report that a player already gone left before frame 0.
	s.seedPeerStatus(pr.ep)
	for _, hh := range pr.ep.handles {
		s.localStatus[hh] = connectionStatus{lastFrame: at - 1}
		s.sync.queues[hh].restartAt(at)
		s.sync.absent[hh] = absence{after: left, until: at}
		s.floor[hh] = at - 1
		for _, other := range s.players.peers {
			other.ep.peerStatus[hh] = connectionStatus{lastFrame: at - 1}
			other.disputed &^= 1 << uint(hh)
		}
	}
	if at < s.sync.currentFrame && (s.disconnectFrame == NullFrame || at < s.disconnectFrame) {
		// Frames from at on were played with the players disconnected;
		// now they are predicted: play them again, as a disconnect would.
		s.disconnectFrame = at
	}
	pr.ep.synchronize(s.socket, now)
	// Queue this session's inputs since from; the endpoint sends them once
	// the handshake completes, and addLocalInputs continues from there.
	for f := from; f <= s.localSentFrame; f++ {
		pr.ep.sendInput(f, s.sentFrame(f), s.localStatus, s.socket, now)
	}
	return r, nil
}

// seedPeerStatus sets a new endpoint's view of every player to this
// session's: whether it is gone and its last frame (droppedUs is the
// peer's own news and starts unset).
func (s *P2PSession[S, I, A]) seedPeerStatus(e *endpoint[A]) {
	for i, st := range s.localStatus {
		e.peerStatus[i] = connectionStatus{disconnected: st.disconnected, lastFrame: st.lastFrame}
	}
}

// FramesBehind is how many frames the newest input received from a
// connected remote peer is ahead of this session's current frame (the most
// over all of them; zero or less when this session is not behind). A player
// that came back (NewP2PSessionAt) starts well behind and advances more
// than once per tick while it is.
func (s *P2PSession[S, I, A]) FramesBehind() int {
	behind := 0
	for _, pr := range s.players.remotes {
		if pr.ep.isRunning() && !s.localStatus[pr.ep.handles[0]].disconnected {
			behind = max(behind, pr.ep.localFrameAdvantage)
		}
	}
	return behind
}

// sentFrame is frame f's slot in sentHistory.
func (s *P2PSession[S, I, A]) sentFrame(f Frame) []byte {
	n := len(s.frameBytes)
	i := int(f) % lateSpectatorBacklog * n
	return s.sentHistory[i : i+n]
}
