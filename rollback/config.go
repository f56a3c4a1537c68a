package rollback

import (
	"slices"
	"time"
)

// Defaults that DefaultConfig sets: GGRS's, so that a session behaves as
// GGRS users expect. A Config is validated as it is, so a zero field is not
// replaced by its default.
const (
	// DefaultNumPlayers (2): the common head-to-head match.
	DefaultNumPlayers = 2
	// DefaultInputDelay (0 frames): the most responsive controls; rollback
	// hides the latency instead.
	DefaultInputDelay = 0
	// DefaultMaxPrediction (8 frames, 133 ms at 60 fps) covers the round
	// trips of most online matches while bounding the saved states and
	// the cost of a rollback.
	DefaultMaxPrediction = 8
	// DefaultFPS (60) is the tick rate of most games.
	DefaultFPS = 60
	// DefaultDisconnectTimeout (2000 ms) outlasts a brief network hiccup
	// yet ends a match with a vanished peer quickly.
	DefaultDisconnectTimeout = 2000 * time.Millisecond
	// DefaultDisconnectNotifyStart (500 ms) warns the game of an
	// interruption long before DefaultDisconnectTimeout, without reporting
	// ordinary jitter.
	DefaultDisconnectNotifyStart = 500 * time.Millisecond
	// DefaultCheckDistance (2 frames) makes a sync test roll back every
	// frame, which finds most non-determinism cheaply.
	DefaultCheckDistance = 2
	// DefaultMaxFramesBehind (10 frames, 167 ms at 60 fps): a spectator
	// this far behind is noticeably late.
	DefaultMaxFramesBehind = 10
	// DefaultCatchupSpeed (1 frame per tick) never catches up: a spectator
	// sees the match at its real speed.
	DefaultCatchupSpeed = 1
)

// Limits that keep every queue bounded. GGRS has no explicit caps; its queues
// (128 inputs per player, 60 spectator frames) imply them.
const (
	// MaxPlayers bounds NumPlayers so a connection-status block fits in one
	// packet.
	MaxPlayers = 64
	// MaxPrediction bounds Config.MaxPrediction: the saved-state ring and the
	// input queues must hold the whole prediction window plus input delay.
	MaxPrediction = 64
	// MaxInputDelay bounds the input delay for the same reason.
	MaxInputDelay = 32
	// MaxInputSize bounds InputCodec.Size().
	MaxInputSize = 64
	// MaxFrameInputBytes bounds NumPlayers*InputCodec.Size(): a spectator
	// receives every player's input of a frame in one packet.
	MaxFrameInputBytes = 1024
	// SpectatorBufferSize is the number of frames of input a spectator
	// buffers (one second at 60 fps); MaxFramesBehind must be below it.
	SpectatorBufferSize = 60
)

// Config holds every session option. Start from DefaultConfig, which sets
// GGRS's defaults, change what you need, register players with AddLocalPlayer,
// AddRemotePlayer and AddSpectator, and pass it to NewP2PSession,
// NewSyncTestSession or NewSpectatorSession, which validate it.
type Config[I comparable, A comparable] struct {
	// NumPlayers is the number of players (not spectators).
	// DefaultConfig sets DefaultNumPlayers (2).
	NumPlayers int
	// Players registers every handle (P2P sessions only).
	Players []Player[A]
	// InputCodec encodes inputs for the network. Required for P2P and
	// spectator sessions.
	InputCodec InputCodec[I]
	// Predictor guesses missing remote inputs; nil means RepeatLast.
	Predictor Predictor[I]
	// InputDelay delays every local player's inputs by this many frames,
	// trading responsiveness for fewer rollbacks. DefaultConfig sets
	// DefaultInputDelay (0); at most MaxInputDelay.
	// P2PSession.SetInputDelay changes one player's delay mid-session.
	InputDelay int
	// MaxPrediction is how many frames a session may run ahead of the last
	// frame with every input confirmed. 0 means lockstep: advance only on
	// confirmed inputs, never save or load. DefaultConfig sets
	// DefaultMaxPrediction (8).
	MaxPrediction int
	// FPS is the expected tick rate, used for time synchronisation.
	// DefaultConfig sets DefaultFPS (60).
	FPS int
	// SparseSaving saves only confirmed frames, trading longer rollbacks for
	// fewer saves. Not allowed with lockstep or sync tests.
	SparseSaving bool
	// DesyncDetectionInterval, when positive, sends the checksum of every
	// Nth confirmed frame to the peers and reports mismatches as
	// EventDesyncDetected. 0 (default) turns detection off.
	DesyncDetectionInterval int
	// DisconnectTimeout: a peer silent this long is disconnected.
	// DefaultConfig sets DefaultDisconnectTimeout (2000 ms).
	DisconnectTimeout time.Duration
	// DisconnectNotifyStart: a peer silent this long triggers
	// EventNetworkInterrupted. DefaultConfig sets
	// DefaultDisconnectNotifyStart (500 ms); must not exceed
	// DisconnectTimeout.
	DisconnectNotifyStart time.Duration
	// CheckDistance is how many frames a sync test rolls back every frame.
	// DefaultConfig sets DefaultCheckDistance (2); must be below
	// MaxPrediction.
	CheckDistance int
	// MaxFramesBehind: a spectator further behind the host than this
	// advances CatchupSpeed frames per tick. DefaultConfig sets
	// DefaultMaxFramesBehind (10); 1..59.
	MaxFramesBehind int
	// CatchupSpeed is the spectator's frames per tick while catching up.
	// DefaultConfig sets DefaultCatchupSpeed (1: never catch up); at least
	// 1. It may exceed MaxFramesBehind (as in GGRS 0.13): a tick never
	// advances more frames than the host has sent, nor more than
	// SpectatorBufferSize.
	CatchupSpeed int
	// Clock returns the current time; nil means time.Now. Tests inject a
	// virtual clock. Only durations between calls matter.
	Clock func() time.Time
	// Seed seeds the random numbers of the protocol (connection magic
	// numbers, handshake nonces). 0 derives a seed from the clock.
	Seed uint64
}

// DefaultConfig returns a Config with GGRS's defaults and the given codec.
func DefaultConfig[I comparable, A comparable](codec InputCodec[I]) Config[I, A] {
	return Config[I, A]{
		NumPlayers:            DefaultNumPlayers,
		InputCodec:            codec,
		InputDelay:            DefaultInputDelay,
		MaxPrediction:         DefaultMaxPrediction,
		FPS:                   DefaultFPS,
		DisconnectTimeout:     DefaultDisconnectTimeout,
		DisconnectNotifyStart: DefaultDisconnectNotifyStart,
		CheckDistance:         DefaultCheckDistance,
		MaxFramesBehind:       DefaultMaxFramesBehind,
		CatchupSpeed:          DefaultCatchupSpeed,
	}
}

// AddLocalPlayer registers handle as a player on this machine.
func (c *Config[I, A]) AddLocalPlayer(handle PlayerHandle) {
	c.Players = append(c.Players, Player[A]{Handle: handle, Kind: Local})
}

// AddRemotePlayer registers handle as a player on the peer at addr.
func (c *Config[I, A]) AddRemotePlayer(handle PlayerHandle, addr A) {
	c.Players = append(c.Players, Player[A]{Handle: handle, Kind: Remote, Addr: addr})
}

// AddSpectator registers handle (>= NumPlayers) as a spectator at addr.
// P2PSession.AddSpectator adds one during the match.
func (c *Config[I, A]) AddSpectator(handle PlayerHandle, addr A) {
	c.Players = append(c.Players, Player[A]{Handle: handle, Kind: Spectator, Addr: addr})
}

// validateCommon checks the options every session kind uses.
func (c *Config[I, A]) validateCommon() error {
	if c.NumPlayers < 1 || c.NumPlayers > MaxPlayers {
		return invalidf("NumPlayers %d out of range 1..%d", c.NumPlayers, MaxPlayers)
	}
	if c.InputDelay < 0 || c.InputDelay > MaxInputDelay {
		return invalidf("InputDelay %d out of range 0..%d", c.InputDelay, MaxInputDelay)
	}
	if c.MaxPrediction < 0 || c.MaxPrediction > MaxPrediction {
		return invalidf("MaxPrediction %d out of range 0..%d", c.MaxPrediction, MaxPrediction)
	}
	if c.FPS <= 0 {
		return invalidf("FPS should be higher than 0, got %d", c.FPS)
	}
	return nil
}

func (c *Config[I, A]) validateCodec() error {
	if c.InputCodec == nil {
		return invalidf("InputCodec is required")
	}
	size := c.InputCodec.Size()
	if size < 1 || size > MaxInputSize {
		return invalidf("InputCodec.Size() %d out of range 1..%d", size, MaxInputSize)
	}
	if size*c.NumPlayers > MaxFrameInputBytes {
		return invalidf("NumPlayers*InputCodec.Size() = %d exceeds %d bytes", size*c.NumPlayers, MaxFrameInputBytes)
	}
	return nil
}

func (c *Config[I, A]) validateTimeouts() error {
	if c.DisconnectTimeout <= 0 {
		return invalidf("DisconnectTimeout must be positive, got %v", c.DisconnectTimeout)
	}
	if c.DisconnectNotifyStart < 0 || c.DisconnectNotifyStart > c.DisconnectTimeout {
		return invalidf("DisconnectNotifyStart %v must be between 0 and DisconnectTimeout %v",
			c.DisconnectNotifyStart, c.DisconnectTimeout)
	}
	return nil
}

// validateNetworked checks what P2P and spectator sessions share: the
// common options, the input codec and the timeouts.
func (c *Config[I, A]) validateNetworked() error {
	if err := c.validateCommon(); err != nil {
		return err
	}
	if err := c.validateCodec(); err != nil {
		return err
	}
	return c.validateTimeouts()
}

// validateP2P checks a configuration for NewP2PSession.
func (c *Config[I, A]) validateP2P() error {
	if err := c.validateNetworked(); err != nil {
		return err
	}
	if c.SparseSaving && c.MaxPrediction == 0 {
		return invalidf("SparseSaving cannot be used in lockstep mode (MaxPrediction 0): nothing is saved")
	}
	if c.DesyncDetectionInterval < 0 {
		return invalidf("DesyncDetectionInterval %d is negative", c.DesyncDetectionInterval)
	}
	if c.DesyncDetectionInterval > 0 && c.MaxPrediction == 0 {
		return invalidf("desync detection needs saved checksums, but lockstep mode (MaxPrediction 0) saves nothing")
	}
	seen := make(map[PlayerHandle]bool, len(c.Players))
	kindOfAddr := make(map[A]PlayerKind)
	for _, p := range c.Players {
		if seen[p.Handle] {
			return invalidf("player handle %d already in use", p.Handle)
		}
		seen[p.Handle] = true
		switch p.Kind {
		case Local, Remote:
			if p.Handle < 0 || int(p.Handle) >= c.NumPlayers {
				return invalidf("the handle of a %v player must be between 0 and NumPlayers-1 (%d), got %d",
					p.Kind, c.NumPlayers-1, p.Handle)
			}
		case Spectator:
			if int(p.Handle) < c.NumPlayers {
				return invalidf("the handle of a spectator must be NumPlayers (%d) or higher, got %d",
					c.NumPlayers, p.Handle)
			}
		default:
			return invalidf("player handle %d has invalid kind %d", p.Handle, p.Kind)
		}
		if p.Kind != Local {
			if k, ok := kindOfAddr[p.Addr]; ok && k != p.Kind {
				return invalidf("address %v is registered both as %v and as %v", p.Addr, k, p.Kind)
			}
			kindOfAddr[p.Addr] = p.Kind
		}
	}
	for h := range c.NumPlayers {
		if !seen[PlayerHandle(h)] {
			return invalidf("not enough players: handle %d is not registered; register every handle 0..%d",
				h, c.NumPlayers-1)
		}
	}
	return nil
}

// validateSyncTest checks a configuration for NewSyncTestSession.
func (c *Config[I, A]) validateSyncTest() error {
	if err := c.validateCommon(); err != nil {
		return err
	}
	if c.SparseSaving {
		return invalidf("SparseSaving cannot be used in a sync test")
	}
	if c.CheckDistance < 0 {
		return invalidf("CheckDistance %d is negative", c.CheckDistance)
	}
	if c.CheckDistance >= c.MaxPrediction {
		return invalidf("check distance too big: CheckDistance %d must be below MaxPrediction %d",
			c.CheckDistance, c.MaxPrediction)
	}
	return nil
}

// validateSpectator checks a configuration for NewSpectatorSession.
func (c *Config[I, A]) validateSpectator() error {
	if err := c.validateNetworked(); err != nil {
		return err
	}
	if c.MaxFramesBehind < 1 || c.MaxFramesBehind >= SpectatorBufferSize {
		return invalidf("MaxFramesBehind %d out of range 1..%d", c.MaxFramesBehind, SpectatorBufferSize-1)
	}
	if c.CatchupSpeed < 1 {
		return invalidf("CatchupSpeed cannot be smaller than 1, got %d", c.CatchupSpeed)
	}
	return nil
}

func (c *Config[I, A]) predictor() Predictor[I] {
	if c.Predictor == nil {
		return RepeatLast[I]
	}
	return c.Predictor
}

func (c *Config[I, A]) clock() func() time.Time {
	if c.Clock == nil {
		return time.Now
	}
	return c.Clock
}

// sortedHandles returns the handles of the given kind in ascending order, so
// iteration never depends on registration or map order.
func (c *Config[I, A]) sortedHandles(kind PlayerKind) []PlayerHandle {
	var hs []PlayerHandle
	for _, p := range c.Players {
		if p.Kind == kind {
			hs = append(hs, p.Handle)
		}
	}
	slices.Sort(hs)
	return hs
}

// endpointConfig is the configuration of an endpoint to the players at addr
// (handles), with this configuration's timing; the caller sets the frame sizes,
// which depend on the kind of session and peer.
func (c *Config[I, A]) endpointConfig(addr A, handles []PlayerHandle, seed uint64) endpointConfig[A] {
	return endpointConfig[A]{
		addr:              addr,
		handles:           handles,
		numPlayers:        c.NumPlayers,
		fps:               c.FPS,
		disconnectTimeout: c.DisconnectTimeout,
		notifyStart:       c.DisconnectNotifyStart,
		seed:              seed,
	}
}
