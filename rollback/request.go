package rollback

// InputStatus tells the game how much to trust one player's input in an
// AdvanceFrame request.
type InputStatus uint8

const (
	// Confirmed input is the player's real input for the frame.
	Confirmed InputStatus = iota + 1
	// Predicted input is a guess; the session rolls back if it was wrong.
	Predicted
	// Disconnected players contribute the zero input; the game may let an
	// AI take over.
	Disconnected
)

// String returns the status name.
func (s InputStatus) String() string {
	switch s {
	case Confirmed:
		return "confirmed"
	case Predicted:
		return "predicted"
	case Disconnected:
		return "disconnected"
	}
	return "invalid"
}

// PlayerInput is one player's input for the frame being advanced.
type PlayerInput[I any] struct {
	Input  I
	Status InputStatus
}

// RequestKind says what a Request asks the game to do.
type RequestKind uint8

const (
	// SaveState: store a copy of the current state and its checksum in
	// Request.Cell.
	SaveState RequestKind = iota + 1
	// LoadState: replace the current state with the one in Request.Cell.
	LoadState
	// AdvanceFrame: step the simulation one frame with Request.Inputs.
	AdvanceFrame
)

// String returns the kind name.
func (k RequestKind) String() string {
	switch k {
	case SaveState:
		return "save"
	case LoadState:
		return "load"
	case AdvanceFrame:
		return "advance"
	}
	return "invalid"
}

// Request is one instruction to the game. Sessions return requests in a
// slice that the game must carry out in order. The slice, the Inputs slices
// and the cells belong to the session: they are valid until the next call that
// returns requests, so sessions allocate nothing per frame.
type Request[S any, I any] struct {
	Kind RequestKind
	// Frame is the frame to save (SaveState), the frame restored
	// (LoadState), or the frame being advanced from (AdvanceFrame).
	Frame Frame
	// Cell is where to save to or load from (SaveState, LoadState).
	Cell *StateCell[S]
	// Inputs holds one input per player, indexed by PlayerHandle
	// (AdvanceFrame).
	Inputs []PlayerInput[I]
}

// StateCell holds one saved game state. The session owns a ring of cells
// and hands them out in SaveState and LoadState requests.
//
// The state is stored by value: if S holds pointers, slices or maps, the game
// must store a deep copy, or later simulation will change the saved state.
type StateCell[S any] struct {
	frame    Frame
	state    S
	checksum uint64
	saved    bool
}

// Save stores state and its checksum in the cell. The checksum feeds desync
// detection and sync tests; any deterministic hash of the state will do.
func (c *StateCell[S]) Save(state S, checksum uint64) {
	c.state = state
	c.checksum = checksum
	c.saved = true
}

// Load returns the saved state; ok is false if nothing was saved to the cell
// since the session handed it out.
func (c *StateCell[S]) Load() (state S, ok bool) {
	return c.state, c.saved
}

// Frame returns the frame the cell holds (or will hold once saved).
func (c *StateCell[S]) Frame() Frame { return c.frame }

// Checksum returns the saved checksum and whether a state was saved.
func (c *StateCell[S]) Checksum() (uint64, bool) { return c.checksum, c.saved }

// reset prepares the cell to receive the state of frame. The old state value
// is dropped so the ring does not keep the game's memory alive.
func (c *StateCell[S]) reset(frame Frame) {
	var zero S
	c.frame = frame
	c.state = zero
	c.checksum = 0
	c.saved = false
}
