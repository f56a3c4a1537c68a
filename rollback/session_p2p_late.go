package rollback

// AddSpectator registers spectator h at addr while the match runs
// (Config.AddSpectator registers the spectators present from the start),
// starts the handshake with it, and returns start: the first frame whose
// inputs it sends to this spectator. From start on the spectator receives
// every player's confirmed input, as the others do. It receives no earlier
// frame, so it needs the game state at start by other means (the caller
// transfers it) and is started with NewSpectatorSessionAt(cfg, host, socket,
// start).
//
// Between two AdvanceFrame calls, once the game has carried out the requests
// of the last one, the state at start is final: every input before start is
// confirmed. It is the game's current state if start equals CurrentFrame
// (always so in lockstep), else the state the game saved for frame start
// (start is never more than the prediction window behind CurrentFrame, so
// its cell still holds it; with SparseSaving it may not have been saved).
//
// Until the spectator completes its handshake and acknowledges them, the
// session queues its frames, up to 600 (ten seconds at 60 fps; the
// spectators of Config.Players, which start with the match, get 128): one
// that falls further behind is dropped (EventDisconnected).
// The start of a match does not wait for a spectator added this way, unlike
// those of Config.Players.
//
// Errors (ErrInvalidRequest): h below NumPlayers or already registered (also
// by a spectator since disconnected: handles are not reused), addr already a
// peer's, or MaxPlayers spectators registered already.
func (s *P2PSession[S, I, A]) AddSpectator(h PlayerHandle, addr A) (start Frame, err error) {
	if int(h) < s.numPlayers {
		return NullFrame, invalidf("the handle of a spectator must be NumPlayers (%d) or higher, got %d", s.numPlayers, h)
	}
	if _, ok := s.players.kind(h); ok {
		return NullFrame, invalidf("player handle %d already in use", h)
	}
	if _, ok := s.players.peerAt(addr); ok {
		return NullFrame, invalidf("address %v is already registered", addr)
	}
	if len(s.players.spectators) >= MaxPlayers {
		return NullFrame, invalidf("already %d spectators, the most a session takes", MaxPlayers)
	}
	// The frames before nextSpectatorFrame are confirmed and went to the
	// other spectators. With input delay they may run ahead of the game;
	// starting at the current frame instead gives a start whose state the
	// game has now.
	start = min(s.nextSpectatorFrame, s.sync.currentFrame)
	for f := start; f < s.nextSpectatorFrame; f++ {
		if !s.sync.confirmedInputs(s.specInputs, f, s.localStatus) {
			// Inputs stay queued for a prediction window after they
			// are confirmed, so this cannot happen.
			return NullFrame, invalidf("the inputs of frame %d are no longer held", f)
		}
	}
	pr := s.players.addSpectator(h, addr, func(index int) *endpoint[A] {
		return s.newPeerEndpoint(addr, []PlayerHandle{h}, true, index, lateSpectatorBacklog)
	})
	pr.sink = s.remoteInputSink(pr)
	now := s.clock.since()
	pr.ep.synchronize(s.socket, now)
	// Queue the frames confirmed already; the endpoint sends them once the
	// handshake completes, and sendToSpectators continues from there.
	for f := start; f < s.nextSpectatorFrame; f++ {
		s.sync.confirmedInputs(s.specInputs, f, s.localStatus)
		for i, in := range s.specInputs {
			s.codec.Encode(s.specBytes[i*s.inputSize:(i+1)*s.inputSize], in.Input)
		}
		pr.ep.sendInput(f, s.specBytes, s.localStatus, s.socket, now)
	}
	return start, nil
}

// SavedState returns the state the game saved for frame f, if the session
// still holds it (a saved state lives for about two prediction windows; with
// SparseSaving few frames are saved). It is how a late spectator's host finds
// the state at the start AddSpectator returned when that start is behind
// CurrentFrame. The state is returned as saved: for a state holding
// pointers, slices or maps it shares their memory with the saved copy, which
// the caller must not modify.
func (s *P2PSession[S, I, A]) SavedState(f Frame) (S, bool) {
	c, ok := s.sync.savedState(f)
	if !ok {
		var zero S
		return zero, false
	}
	return c.Load()
}
