package rollback

// SpectatorSession follows a game without playing: the host (a P2P session
// that registered this peer with Config.AddSpectator, or during the match
// with P2PSession.AddSpectator) sends every player's confirmed input, and the
// spectator advances on it. It never rolls back. When more than
// MaxFramesBehind frames behind the host it advances CatchupSpeed frames per
// tick to catch up. NewSpectatorSession follows a match from frame 0,
// NewSpectatorSessionAt joins a running one.
type SpectatorSession[S any, I comparable, A comparable] struct {
	numPlayers      int
	maxFramesBehind int
	catchupSpeed    int
	codec           InputCodec[I]
	inputSize       int
	clock           sessionClock
	socket          Socket[A]
	host            *endpoint[A]
	sink            inputSink
	state           SessionState

	// frames[f % SpectatorBufferSize] holds the frame whose inputs are in
	// the matching slots of inputs.
	frames        [SpectatorBufferSize]Frame
	inputs        []I
	nextFrame     Frame // the next frame to advance
	lastRecvFrame Frame
	// holdBack (NewSpectatorSessionAt): take no frame the buffer cannot
	// hold yet; the host keeps it and sends it again.
	holdBack bool

	events eventQueue[A]
	buf    requestBuffer[S, I]
	msg    message
}

// NewSpectatorSession validates cfg (NumPlayers, InputCodec, FPS, timeouts,
// MaxFramesBehind, CatchupSpeed; Players is ignored) and returns a session
// that spectates the host at hostAddr over socket.
func NewSpectatorSession[S any, I comparable, A comparable](cfg Config[I, A], hostAddr A, socket Socket[A]) (*SpectatorSession[S, I, A], error) {
	return newSpectatorSession[S](cfg, hostAddr, socket, 0, false)
}

// NewSpectatorSessionAt is NewSpectatorSession for a spectator that joins a
// running match: the host registered it with P2PSession.AddSpectator, which
// returned start, and the game holds the match's state at frame start
// (transferred by other means). The first AdvanceFrame advances frame start;
// until then CurrentFrame is start-1. Frames before start that reach the
// session are ignored.
//
// A spectator that joins late starts behind the host (the state transfer
// and the handshake take time), often by more than SpectatorBufferSize
// frames, so unlike NewSpectatorSession's it never overwrites a frame it has
// not advanced yet (no ErrSpectatorTooFarBehind): it leaves such frames
// unacknowledged, and the host keeps up to 128 of them and sends them again.
// With a CatchupSpeed above 1 it then catches up; a spectator whose backlog
// outgrows both buffers is dropped by its host.
func NewSpectatorSessionAt[S any, I comparable, A comparable](cfg Config[I, A], hostAddr A, socket Socket[A], start Frame) (*SpectatorSession[S, I, A], error) {
	if start < 0 {
		return nil, invalidf("start frame %d is negative", start)
	}
	return newSpectatorSession[S](cfg, hostAddr, socket, start, true)
}

func newSpectatorSession[S any, I comparable, A comparable](cfg Config[I, A], hostAddr A, socket Socket[A], start Frame, holdBack bool) (*SpectatorSession[S, I, A], error) {
	if err := cfg.validateSpectator(); err != nil {
		return nil, err
	}
	if socket == nil {
		return nil, invalidf("socket is nil")
	}
	size := cfg.InputCodec.Size()
	s := &SpectatorSession[S, I, A]{
		numPlayers:      cfg.NumPlayers,
		maxFramesBehind: cfg.MaxFramesBehind,
		catchupSpeed:    cfg.CatchupSpeed,
		codec:           cfg.InputCodec,
		inputSize:       size,
		clock:           newSessionClock(cfg.clock()),
		socket:          socket,
		state:           Synchronizing,
		inputs:          make([]I, SpectatorBufferSize*cfg.NumPlayers),
		nextFrame:       start,
		lastRecvFrame:   start - 1,
		holdBack:        holdBack,
		events:          newEventQueue[A](),
		// A tick advances at most the frames held.
		buf: newRequestBuffer[S, I](cfg.NumPlayers, min(cfg.CatchupSpeed, SpectatorBufferSize)),
	}
	for i := range s.frames {
		s.frames[i] = NullFrame
	}
	handles := make([]PlayerHandle, cfg.NumPlayers)
	for i := range handles {
		handles[i] = PlayerHandle(i)
	}
	seed := seedFrom(cfg.Seed, s.clock)
	ec := cfg.endpointConfig(hostAddr, handles, endpointSeed(seed, 0))
	// A spectator receives every player's input and sends none.
	ec.recvFrameBytes = cfg.NumPlayers * size
	ec.role = roleHost
	s.host = newEndpoint(ec)
	s.sink = s.addHostInput
	s.host.synchronize(socket, s.clock.since())
	return s, nil
}

// addHostInput stores one frame of every player's input from the host. A
// spectator more than SpectatorBufferSize frames behind loses old frames, as
// in GGRS; AdvanceFrame then reports ErrSpectatorTooFarBehind. One that
// holds back (NewSpectatorSessionAt) refuses them instead, so the host sends
// them again later. The first frame taken is the start frame: earlier ones
// belong to the match before this spectator joined.
func (s *SpectatorSession[S, I, A]) addHostInput(f Frame, data []byte) bool {
	if f != s.lastRecvFrame+1 {
		return false
	}
	if s.holdBack && f >= s.nextFrame+SpectatorBufferSize {
		return false
	}
	slot := int(f) % SpectatorBufferSize
	row := s.inputs[slot*s.numPlayers : (slot+1)*s.numPlayers]
	for i := range row {
		in, err := s.codec.Decode(data[i*s.inputSize : (i+1)*s.inputSize])
		if err != nil {
			return false
		}
		row[i] = in
	}
	s.frames[slot] = f
	s.lastRecvFrame = f
	s.host.updateLocalFrameAdvantage(f)
	return true
}

// PollRemoteClients receives and handles the host's packets and runs the
// protocol timers.
func (s *SpectatorSession[S, I, A]) PollRemoteClients() {
	now := s.clock.since()
	for _, p := range s.socket.Receive() {
		if p.From != s.host.addr {
			continue
		}
		err := decodeMessage(p.Data, &s.msg)
		switch err {
		case errVersion:
			s.host.versionMismatch(s.msg.version)
		case nil:
			s.host.handle(&s.msg, s.socket, now, s.sink)
		}
		s.handleHostEvents()
	}
	s.host.poll(nil, s.socket, now)
	s.handleHostEvents()
}

func (s *SpectatorSession[S, I, A]) handleHostEvents() {
	addr := s.host.addr
	for _, ev := range s.host.events {
		switch ev.kind {
		case epSynchronizing:
			s.events.push(Event[A]{Kind: EventSynchronizing, Addr: addr, Count: ev.count, Total: numSyncRoundTrips})
		case epSynchronized:
			s.state = Running
			s.events.push(Event[A]{Kind: EventSynchronized, Addr: addr})
		case epInterrupted:
			s.events.push(Event[A]{Kind: EventNetworkInterrupted, Addr: addr, DisconnectTimeout: ev.timeLeft})
		case epResumed:
			s.events.push(Event[A]{Kind: EventNetworkResumed, Addr: addr})
		case epDisconnected:
			s.host.disconnect(s.socket, s.clock.since())
			s.events.push(Event[A]{Kind: EventDisconnected, Addr: addr, Reason: DisconnectTimeout})
		case epDroppedUs:
			s.host.disconnect(s.socket, s.clock.since())
			s.events.push(Event[A]{Kind: EventDisconnected, Addr: addr, Reason: DisconnectDroppedUs, Reporter: addr})
		case epVersionMismatch:
			s.events.push(Event[A]{Kind: EventVersionMismatch, Addr: addr, RemoteVersion: ev.remoteVersion})
		case epPlayerMapMismatch:
			s.events.push(Event[A]{Kind: EventPlayerMapMismatch, Addr: addr, PlayerMap: s.host.mapErr})
		}
	}
	s.host.events = s.host.events[:0]
}

// AdvanceFrame polls the host and returns AdvanceFrame requests: one, or
// CatchupSpeed while more than MaxFramesBehind frames behind. Errors:
// ErrNotSynchronized before the handshake; ErrPredictionThreshold when the
// next frame's input has not arrived (try again next tick);
// ErrSpectatorTooFarBehind when it was overwritten. If some frames could be
// advanced before such a condition, they are returned without error.
func (s *SpectatorSession[S, I, A]) AdvanceFrame() ([]Request[S, I], error) {
	s.PollRemoteClients()
	if s.state != Running {
		if s.host.mapErr != nil {
			return nil, s.host.mapErr
		}
		return nil, ErrNotSynchronized
	}
	s.buf.reset()
	n := 1
	if behind := s.FramesBehindHost(); behind > s.maxFramesBehind {
		// Never more than the host has sent (GGRS 0.13), which the
		// buffer bounds.
		n = min(s.catchupSpeed, behind, SpectatorBufferSize)
	}
	for range n {
		f := s.nextFrame
		slot := int(f) % SpectatorBufferSize
		var err error
		switch {
		case s.frames[slot] < f:
			err = ErrPredictionThreshold
		case s.frames[slot] > f:
			err = ErrSpectatorTooFarBehind
		}
		if err != nil {
			if len(s.buf.requests) > 0 {
				break
			}
			return nil, err
		}
		inputs := s.buf.nextInputs()
		row := s.inputs[slot*s.numPlayers : (slot+1)*s.numPlayers]
		for i := range inputs {
			st := s.host.peerStatus[i]
			if st.disconnected && st.lastFrame < f {
				var zero I
				inputs[i] = PlayerInput[I]{Input: zero, Status: Disconnected}
			} else {
				inputs[i] = PlayerInput[I]{Input: row[i], Status: Confirmed}
			}
		}
		s.buf.advance(f, inputs)
		s.nextFrame++
	}
	return s.buf.requests, nil
}

// FramesBehindHost returns how many received frames are not advanced yet:
// the host's last sent frame minus CurrentFrame, as in GGRS. A session of
// NewSpectatorSessionAt takes no more frames than it buffers, so it reports
// at most SpectatorBufferSize though the host may have more for it.
func (s *SpectatorSession[S, I, A]) FramesBehindHost() int {
	return int(s.lastRecvFrame - s.CurrentFrame())
}

// CurrentFrame returns the last frame advanced, NullFrame before the first
// (start-1 for a session of NewSpectatorSessionAt), as GGRS's
// SpectatorSession::current_frame counts. This differs by one from
// P2PSession.CurrentFrame, which (as GGRS's P2PSession::current_frame) is
// the frame the game is at, the next one to advance: a spectator that has
// advanced frames 0..9 returns 9, a P2P session at the same state 10.
func (s *SpectatorSession[S, I, A]) CurrentFrame() Frame { return s.nextFrame - 1 }

// State returns whether the session still synchronizes or runs.
func (s *SpectatorSession[S, I, A]) State() SessionState { return s.state }

// Events returns the events since the last call, oldest first; the slice is
// valid until the next call.
func (s *SpectatorSession[S, I, A]) Events() []Event[A] { return s.events.drain() }

// NetworkStats returns statistics about the connection to the host.
func (s *SpectatorSession[S, I, A]) NetworkStats() (NetworkStats, error) {
	return s.host.networkStats(s.clock.since())
}

// NumPlayers returns the number of players.
func (s *SpectatorSession[S, I, A]) NumPlayers() int { return s.numPlayers }
