package rollback

import "time"

// SessionState says whether a session exchanges inputs yet.
type SessionState uint8

const (
	// Synchronizing: the handshake with some peer is still running;
	// AdvanceFrame returns ErrNotSynchronized.
	Synchronizing SessionState = iota + 1
	// Running: every peer is synchronized (or disconnected).
	Running
)

// String returns the state name.
func (s SessionState) String() string {
	switch s {
	case Synchronizing:
		return "synchronizing"
	case Running:
		return "running"
	}
	return "invalid"
}

// sessionClock turns the configured clock into durations since the session
// started, the time base of every protocol timer.
type sessionClock struct {
	now   func() time.Time
	start time.Time
}

func newSessionClock(now func() time.Time) sessionClock {
	return sessionClock{now: now, start: now()}
}

func (c sessionClock) since() time.Duration { return c.now().Sub(c.start) }

// seedFrom returns cfg's seed, or one derived from the clock.
func seedFrom(seed uint64, c sessionClock) uint64 {
	if seed != 0 {
		return seed
	}
	return uint64(c.start.UnixNano())
}

// endpointSeed gives every endpoint its own random stream.
func endpointSeed(seed uint64, i int) uint64 {
	return seed + uint64(i+1)*0x9e3779b97f4a7c15
}

// requestBuffer holds the requests of one AdvanceFrame call and the input
// slices of its AdvanceFrame requests, reused call after call.
type requestBuffer[S any, I any] struct {
	numPlayers int
	requests   []Request[S, I]
	inputs     []PlayerInput[I]
	used       int
}

func newRequestBuffer[S any, I any](numPlayers, maxAdvances int) requestBuffer[S, I] {
	return requestBuffer[S, I]{
		numPlayers: numPlayers,
		requests:   make([]Request[S, I], 0, 2*maxAdvances+2),
		inputs:     make([]PlayerInput[I], numPlayers*maxAdvances),
	}
}

func (b *requestBuffer[S, I]) reset() {
	b.requests = b.requests[:0]
	b.used = 0
}

// nextInputs returns a fresh slice for one AdvanceFrame request.
func (b *requestBuffer[S, I]) nextInputs() []PlayerInput[I] {
	n := b.numPlayers
	if (b.used+1)*n > len(b.inputs) {
		// More advances than planned for; earlier slices stay valid
		// because they keep the old array.
		b.inputs = make([]PlayerInput[I], 2*len(b.inputs)+n)
		b.used = 0
	}
	s := b.inputs[b.used*n : (b.used+1)*n : (b.used+1)*n]
	b.used++
	return s
}

func (b *requestBuffer[S, I]) save(cell *StateCell[S]) {
	b.requests = append(b.requests, Request[S, I]{Kind: SaveState, Frame: cell.frame, Cell: cell})
}

func (b *requestBuffer[S, I]) load(cell *StateCell[S]) {
	b.requests = append(b.requests, Request[S, I]{Kind: LoadState, Frame: cell.frame, Cell: cell})
}

func (b *requestBuffer[S, I]) advance(f Frame, inputs []PlayerInput[I]) {
	b.requests = append(b.requests, Request[S, I]{Kind: AdvanceFrame, Frame: f, Inputs: inputs})
}
