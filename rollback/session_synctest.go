package rollback

// SyncTestSession checks that a game is deterministic without any network: it
// rolls back CheckDistance frames every frame, resimulates them, and compares
// the checksums of the resimulated states with the first ones. All players are
// local.
type SyncTestSession[S any, I comparable] struct {
	numPlayers    int
	checkDistance int
	sync          *syncLayer[S, I]
	status        []connectionStatus
	localInputs   []I
	localSet      []bool
	// history keeps the first checksum seen for each of the last frames,
	// slot frame % len(history), and with a state dump hook the first
	// state's dump in the same slot of firstDumps.
	history    []remoteChecksum
	buf        requestBuffer[S, I]
	mismatch   []Frame
	stateDump  func(dst []byte, frame Frame, state S) []byte
	firstDumps [][]byte
}

// NewSyncTestSession validates cfg (NumPlayers, InputDelay, MaxPrediction,
// CheckDistance, Predictor; players and codec are not needed) and returns a
// sync test session.
func NewSyncTestSession[S any, I comparable, A comparable](cfg Config[I, A]) (*SyncTestSession[S, I], error) {
	if err := cfg.validateSyncTest(); err != nil {
		return nil, err
	}
	s := &SyncTestSession[S, I]{
		numPlayers:    cfg.NumPlayers,
		checkDistance: cfg.CheckDistance,
		sync:          newSyncLayer[S](cfg.NumPlayers, cfg.MaxPrediction, cfg.predictor()),
		status:        make([]connectionStatus, cfg.NumPlayers),
		localInputs:   make([]I, cfg.NumPlayers),
		localSet:      make([]bool, cfg.NumPlayers),
		history:       make([]remoteChecksum, cfg.CheckDistance+2),
		buf:           newRequestBuffer[S, I](cfg.NumPlayers, cfg.CheckDistance+1),
		mismatch:      make([]Frame, 0, cfg.CheckDistance+1),
	}
	for h := range cfg.NumPlayers {
		s.sync.setFrameDelay(PlayerHandle(h), cfg.InputDelay)
	}
	return s, nil
}

// AddLocalInput sets the input of player h (every player is local in a sync
// test) for the current frame. Calling it again before AdvanceFrame replaces
// the input.
func (s *SyncTestSession[S, I]) AddLocalInput(h PlayerHandle, in I) error {
	if h < 0 || int(h) >= s.numPlayers {
		return invalidf("player handle %d is not between 0 and %d", h, s.numPlayers-1)
	}
	s.localInputs[h] = in
	s.localSet[h] = true
	return nil
}

// AdvanceFrame returns the requests for one frame: with a check distance d > 0
// and past frame d, [Load(c-d), Advance, (Save, Advance) x (d-1)] first, then
// [Save(c), Advance]; with d = 0 only [Advance]. It returns a
// *MismatchedChecksumError if a resimulated frame's checksum changed.
// The requests are valid until the next call.
func (s *SyncTestSession[S, I]) AdvanceFrame() ([]Request[S, I], error) {
	s.buf.reset()
	current := s.sync.currentFrame
	if s.checkDistance > 0 && current > Frame(s.checkDistance) {
		s.mismatch = s.mismatch[:0]
		for f := current - Frame(s.checkDistance); f <= current; f++ {
			if !s.checksumConsistent(f) {
				s.mismatch = append(s.mismatch, f)
			}
		}
		if len(s.mismatch) > 0 {
			return nil, s.mismatchError(current)
		}
		if err := s.rollback(current - Frame(s.checkDistance)); err != nil {
			return nil, err
		}
	}
	for h, ok := range s.localSet {
		if !ok {
			return nil, invalidf("missing local input for player %d while calling AdvanceFrame", h)
		}
	}
	for h := range s.localInputs {
		s.sync.addLocalInput(PlayerHandle(h), s.localInputs[h])
		s.localSet[h] = false
	}
	if s.checkDistance > 0 {
		s.buf.save(s.sync.saveCurrentState())
	}
	s.advance()
	// There is no network: every input is known, so the frames beyond the
	// rollback window are confirmed.
	s.sync.setLastConfirmedFrame(s.sync.currentFrame-Frame(s.checkDistance), false)
	for i := range s.status {
		s.status[i].lastFrame = s.sync.currentFrame
	}
	return s.buf.requests, nil
}

func (s *SyncTestSession[S, I]) advance() {
	inputs := s.buf.nextInputs()
	s.sync.synchronizedInputs(inputs, s.status)
	s.buf.advance(s.sync.currentFrame, inputs)
	s.sync.currentFrame++
}

func (s *SyncTestSession[S, I]) rollback(to Frame) error {
	current := s.sync.currentFrame
	cell, ok := s.sync.loadFrame(to)
	if !ok {
		return invalidf("sync test: the state of frame %d was not saved", to)
	}
	s.buf.load(cell)
	s.sync.resetPrediction()
	for i := 0; s.sync.currentFrame < current; i++ {
		if i > 0 {
			s.buf.save(s.sync.saveCurrentState())
		}
		s.advance()
	}
	return nil
}

// checksumConsistent records the first checksum of frame f (and with a hook
// its dump) and compares later ones with it.
func (s *SyncTestSession[S, I]) checksumConsistent(f Frame) bool {
	cell, ok := s.sync.savedState(f)
	if !ok {
		return true
	}
	sum, saved := cell.Checksum()
	if !saved {
		return true
	}
	slot := int(f) % len(s.history)
	h := &s.history[slot]
	if h.valid && h.frame == f {
		return h.checksum == sum
	}
	*h = remoteChecksum{frame: f, checksum: sum, valid: true}
	if s.stateDump != nil {
		state, _ := cell.Load()
		s.firstDumps[slot] = cutDump(s.stateDump(s.firstDumps[slot][:0], f, state))
	}
	return true
}

// mismatchError describes the frames in s.mismatch: both checksums and, with
// a hook, both dumps, copied out of the session's buffers.
func (s *SyncTestSession[S, I]) mismatchError(current Frame) error {
	err := &MismatchedChecksumError{CurrentFrame: current, Frames: append([]Frame(nil), s.mismatch...)}
	for _, f := range s.mismatch {
		slot := int(f) % len(s.history)
		cell, _ := s.sync.savedState(f)
		sum, _ := cell.Checksum()
		m := ChecksumMismatch{Frame: f, FirstChecksum: s.history[slot].checksum, ResimulatedChecksum: sum}
		if s.stateDump != nil {
			state, _ := cell.Load()
			m.FirstDump = append([]byte{}, s.firstDumps[slot]...)
			m.ResimulatedDump = append([]byte{}, cutDump(s.stateDump(nil, f, state))...)
		}
		err.Mismatches = append(err.Mismatches, m)
	}
	return err
}

// SetStateDump installs the hook that shows what differed when the sync test
// finds a mismatch, or removes it (nil); it is P2PSession.SetStateDump's hook
// (same signature and contract, dumps cut to MaxStateDumpSize). The session
// calls it for the first saved state of every frame it checks, keeping one
// dump per frame of the check window in reused buffers, and on a mismatch
// for the resimulated state; the MismatchedChecksumError then carries both
// dumps of every mismatched frame (Mismatches). Install it before the first
// AdvanceFrame so every checked frame has its first dump.
func (s *SyncTestSession[S, I]) SetStateDump(dump func(dst []byte, frame Frame, state S) []byte) {
	s.stateDump = dump
	if dump == nil {
		s.firstDumps = nil
	} else if s.firstDumps == nil {
		s.firstDumps = make([][]byte, len(s.history))
	}
}

// CurrentFrame returns the frame the game is at.
func (s *SyncTestSession[S, I]) CurrentFrame() Frame { return s.sync.currentFrame }

// NumPlayers returns the number of players.
func (s *SyncTestSession[S, I]) NumPlayers() int { return s.numPlayers }

// CheckDistance returns the number of frames rolled back every frame.
func (s *SyncTestSession[S, I]) CheckDistance() int { return s.checkDistance }
