package rollback

// connectionStatus is one peer's view of a player: disconnected or not, and
// the newest frame of the player's input it has.
type connectionStatus struct {
	disconnected bool
	// droppedUs: the player dropped this peer (a disconnect notice), so
	// this peer left the player's match. It is no accusation of the
	// player, unlike a disconnect the peer decided itself.
	droppedUs bool
	lastFrame Frame
}

// syncLayer tracks the current and last confirmed frame, owns the per-player
// input queues and the ring of saved states, and decides where to roll back.
type syncLayer[S any, I comparable] struct {
	numPlayers         int
	maxPrediction      int
	currentFrame       Frame
	lastConfirmedFrame Frame
	lastSavedFrame     Frame
	// states holds the saved state of frame f in slot f % len(states): the
	// prediction window plus the current frame plus one spare slot so a
	// confirmed frame's checksum survives until desync detection reads it,
	// and as many again for disconnects (see newSyncLayer).
	states []StateCell[S]
	queues []inputQueue[I]
	// absent[h] holds the frames after and until (both excluded) between
	// which player h was gone from the match before it came back
	// (P2PSession.Readmit): its input there is zero, Disconnected, however
	// its status reads now. NullFrame, NullFrame: never away.
	absent []absence
}

type absence struct{ after, until Frame }

// away reports whether player h was gone at frame f and came back later.
func (l *syncLayer[S, I]) away(h int, f Frame) bool {
	a := l.absent[h]
	return f > a.after && f < a.until
}

func newSyncLayer[S any, I comparable](numPlayers, maxPrediction int, predictor Predictor[I]) *syncLayer[S, I] {
	l := &syncLayer[S, I]{
		numPlayers:         numPlayers,
		maxPrediction:      maxPrediction,
		lastConfirmedFrame: NullFrame,
		lastSavedFrame:     NullFrame,
		// The prediction window needs maxPrediction+2 states. The second
		// window is for disconnects: peers that heard a dying peer's last
		// inputs up to different frames settle on the earliest one, and the
		// peer that heard more must roll back past its own window to it.
		states: make([]StateCell[S], 2*maxPrediction+2),
		queues: make([]inputQueue[I], numPlayers),
		absent: make([]absence, numPlayers),
	}
	for i := range l.absent {
		l.absent[i] = absence{NullFrame, NullFrame}
	}
	for i := range l.states {
		l.states[i].frame = NullFrame
	}
	for i := range l.queues {
		l.queues[i] = newInputQueue(predictor)
	}
	return l
}

func (l *syncLayer[S, I]) cell(f Frame) *StateCell[S] {
	return &l.states[int(f)%len(l.states)]
}

// saveCurrentState hands out the cell for the current frame.
func (l *syncLayer[S, I]) saveCurrentState() *StateCell[S] {
	c := l.cell(l.currentFrame)
	c.reset(l.currentFrame)
	l.lastSavedFrame = l.currentFrame
	return c
}

// savedState returns the cell holding frame f, if it was handed out for f and
// not reused since.
func (l *syncLayer[S, I]) savedState(f Frame) (*StateCell[S], bool) {
	if f < 0 {
		return nil, false
	}
	c := l.cell(f)
	return c, c.frame == f
}

// loadFrame rewinds the current frame to f and returns its cell.
func (l *syncLayer[S, I]) loadFrame(f Frame) (*StateCell[S], bool) {
	if f < 0 || f >= l.currentFrame {
		return nil, false
	}
	c, ok := l.savedState(f)
	if !ok {
		return nil, false
	}
	l.currentFrame = f
	return c, true
}

func (l *syncLayer[S, I]) setFrameDelay(h PlayerHandle, delay int) {
	l.queues[h].frameDelay = delay
}

func (l *syncLayer[S, I]) resetPrediction() {
	for i := range l.queues {
		l.queues[i].resetPrediction()
	}
}

// addLocalInput adds a local player's input for the current frame (the queue
// applies the input delay) and returns the frames it filled.
func (l *syncLayer[S, I]) addLocalInput(h PlayerHandle, in I) (first, last Frame) {
	return l.queues[h].addInput(l.currentFrame, in)
}

// addRemoteInput adds a remote player's input for frame f, which the caller
// checked is the player's next frame; it returns false if the queue is full.
func (l *syncLayer[S, I]) addRemoteInput(h PlayerHandle, f Frame, in I) bool {
	first, _ := l.queues[h].addInput(f, in)
	return first != NullFrame
}

// synchronizedInputs fills dst with every player's input for the current
// frame: real, predicted, or zero for players disconnected before it.
func (l *syncLayer[S, I]) synchronizedInputs(dst []PlayerInput[I], status []connectionStatus) {
	for i := range dst {
		if status[i].disconnected && status[i].lastFrame < l.currentFrame || l.away(i, l.currentFrame) {
			var zero I
			dst[i] = PlayerInput[I]{Input: zero, Status: Disconnected}
			continue
		}
		in, st := l.queues[i].input(l.currentFrame)
		dst[i] = PlayerInput[I]{Input: in, Status: st}
	}
}

// confirmedInputs fills dst with every player's real input of frame f, zero
// for players disconnected before f. It returns false if an input is missing.
func (l *syncLayer[S, I]) confirmedInputs(dst []PlayerInput[I], f Frame, status []connectionStatus) bool {
	for i := range dst {
		if status[i].disconnected && status[i].lastFrame < f || l.away(i, f) {
			var zero I
			dst[i] = PlayerInput[I]{Input: zero, Status: Disconnected}
			continue
		}
		in, ok := l.queues[i].confirmedInput(f)
		if !ok {
			return false
		}
		dst[i] = PlayerInput[I]{Input: in, Status: Confirmed}
	}
	return true
}

// setLastConfirmedFrame records that every input up to f is known and drops
// inputs nobody can need any more.
func (l *syncLayer[S, I]) setLastConfirmedFrame(f Frame, sparseSaving bool) {
	// With sparse saving the last saved frame is the rollback floor, so the
	// inputs after it must stay.
	if sparseSaving && l.lastSavedFrame < f {
		f = l.lastSavedFrame
	}
	if f > l.currentFrame {
		f = l.currentFrame
	}
	// Never discard inputs a pending rollback still needs.
	if inc := l.firstIncorrectFrame(NullFrame); inc != NullFrame && inc < f {
		f = inc
	}
	l.lastConfirmedFrame = f
	// Keep one more prediction window of confirmed inputs (and, in
	// newSyncLayer, of states): a disconnect agreed on later may move a
	// player's last frame back before frames this peer already confirmed.
	if keep := f - 1 - Frame(l.maxPrediction+1); keep > 0 {
		for i := range l.queues {
			l.queues[i].discardConfirmedFrames(keep)
		}
	}
}

// firstIncorrectFrame returns the earliest frame any player's prediction was
// wrong, or start if that is earlier; NullFrame if there is none.
func (l *syncLayer[S, I]) firstIncorrectFrame(start Frame) Frame {
	first := start
	for i := range l.queues {
		inc := l.queues[i].firstIncorrect
		if inc != NullFrame && (first == NullFrame || inc < first) {
			first = inc
		}
	}
	return first
}
