package rollback

// inputQueueLength is the number of frames of input kept per player. It
// must hold the frames between the last discarded and the newest input: the
// prediction window, the input delay, and the window of confirmed inputs
// kept beyond it (syncLayer.setLastConfirmedFrame keeps MaxPrediction+2
// more), at most 2*MaxPrediction+MaxInputDelay+3 = 163 frames. GGPO's and
// GGRS's 128 is too short for that: a full queue drops the local input, and
// the frame repeats the previous one on every peer.
const inputQueueLength = 256

// The queue holds the longest span the limits allow (a compile error
// otherwise).
var _ [inputQueueLength - (2*MaxPrediction + MaxInputDelay + 3)]struct{}

type frameInput[I any] struct {
	frame Frame
	input I
}

// inputQueue holds one player's inputs for frames tail..lastAdded, each in slot
// frame % inputQueueLength, and predicts the frames after lastAdded. When real
// input for a predicted frame arrives and differs from the prediction, the
// frame is remembered as the first incorrect one: the session rolls back to it.
type inputQueue[I comparable] struct {
	inputs    [inputQueueLength]frameInput[I]
	predictor Predictor[I]

	tail           Frame // oldest frame still held; NullFrame when empty
	lastAdded      Frame
	frameDelay     int
	firstIncorrect Frame
	// lastRequested is the newest frame whose input the session asked for;
	// inputs from there on must be kept since a rollback may need them.
	lastRequested Frame
	// prediction.frame is the next frame whose real input will be checked
	// against prediction.input; NullFrame when not predicting.
	prediction frameInput[I]
}

func newInputQueue[I comparable](predictor Predictor[I]) inputQueue[I] {
	q := inputQueue[I]{
		predictor:      predictor,
		tail:           NullFrame,
		lastAdded:      NullFrame,
		firstIncorrect: NullFrame,
		lastRequested:  NullFrame,
	}
	q.prediction.frame = NullFrame
	for i := range q.inputs {
		q.inputs[i].frame = NullFrame
	}
	return q
}

func (q *inputQueue[I]) slot(f Frame) *frameInput[I] {
	return &q.inputs[int(f)%inputQueueLength]
}

// length returns the number of frames held.
func (q *inputQueue[I]) length() int {
	if q.lastAdded == NullFrame {
		return 0
	}
	return int(q.lastAdded-q.tail) + 1
}

// canHold reports whether the queue has room for inputs up to frame last.
func (q *inputQueue[I]) canHold(last Frame) bool {
	if last < 0 {
		return false
	}
	if q.lastAdded == NullFrame {
		return last < inputQueueLength
	}
	return int(last-q.tail)+1 <= inputQueueLength
}

func (q *inputQueue[I]) resetPrediction() {
	q.prediction.frame = NullFrame
	q.firstIncorrect = NullFrame
	q.lastRequested = NullFrame
}

// confirmedInput returns the real input of frame, if the queue still holds it.
func (q *inputQueue[I]) confirmedInput(f Frame) (I, bool) {
	if f < 0 {
		var zero I
		return zero, false
	}
	s := q.slot(f)
	if s.frame == f && f <= q.lastAdded && f >= q.tail {
		return s.input, true
	}
	var zero I
	return zero, false
}

// input returns the input of frame f: the real one if it arrived, else a
// prediction.
func (q *inputQueue[I]) input(f Frame) (I, InputStatus) {
	q.lastRequested = f
	if in, ok := q.confirmedInput(f); ok && q.prediction.frame == NullFrame {
		return in, Confirmed
	}
	if q.prediction.frame == NullFrame {
		// Start predicting from the last real input; nothing known yet
		// means the zero input, as in GGRS.
		var zero I
		q.prediction.input = zero
		if q.lastAdded != NullFrame {
			q.prediction.input = q.predictor(q.slot(q.lastAdded).input)
		}
		q.prediction.frame = q.lastAdded + 1
	}
	return q.prediction.input, Predicted
}

// discardConfirmedFrames drops inputs before frame, keeping frame itself, the
// newest input (the base of the next prediction) and everything the session
// may still request.
func (q *inputQueue[I]) discardConfirmedFrames(f Frame) {
	if q.lastAdded == NullFrame {
		return
	}
	if q.lastRequested != NullFrame && q.lastRequested < f {
		f = q.lastRequested
	}
	if f >= q.lastAdded {
		q.tail = q.lastAdded
	} else if f > q.tail {
		q.tail = f
	}
}

// restartAt empties the queue and makes f its next frame, as if the zero
// input had been added for f-1: a player who comes back to a running match
// (P2PSession.Readmit, NewP2PSessionAt) sends its inputs from f on, and
// nothing before f is asked of this queue any more.
func (q *inputQueue[I]) restartAt(f Frame) {
	*q = newInputQueue(q.predictor)
	if f <= 0 {
		return
	}
	var zero I
	*q.slot(f - 1) = frameInput[I]{frame: f - 1, input: zero}
	q.tail, q.lastAdded = f-1, f-1
}

// addInput adds the input the player gave at frame f; it lands at f+delay.
// If the delay grew since the last call, the frames in between repeat the
// previous input; if it shrank, the input is dropped (its frame is taken).
// It returns the range of frames added, or NullFrame, NullFrame if none.
func (q *inputQueue[I]) addInput(f Frame, in I) (first, last Frame) {
	target := f + Frame(q.frameDelay)
	next := q.lastAdded + 1 // 0 when empty
	if target < next || !q.canHold(target) {
		return NullFrame, NullFrame
	}
	var fill I
	if q.lastAdded != NullFrame {
		fill = q.slot(q.lastAdded).input
	}
	for fr := next; fr < target; fr++ {
		q.addAt(fr, fill)
	}
	q.addAt(target, in)
	return next, target
}

// addAt stores the input of frame f, which must be lastAdded+1, and checks it
// against the prediction.
func (q *inputQueue[I]) addAt(f Frame, in I) {
	s := q.slot(f)
	s.frame = f
	s.input = in
	if q.lastAdded == NullFrame {
		q.tail = f
	}
	q.lastAdded = f

	if q.prediction.frame == NullFrame {
		return
	}
	if q.firstIncorrect == NullFrame && q.prediction.input != in {
		q.firstIncorrect = f
	}
	// Once real input has caught up with the last requested frame and every
	// prediction was right, stop predicting.
	if q.prediction.frame == q.lastRequested && q.firstIncorrect == NullFrame {
		q.prediction.frame = NullFrame
	} else {
		q.prediction.frame++
	}
}
