package rollbox

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rollbox/rollbox/rollback"
	"github.com/rollbox/rollbox/transport"
	"github.com/rollbox/rollbox/transport/simnet"
)

// MaxPlayers is the most players a match may have (rollback.MaxPlayers):
// size a state's per-player arrays with it, and Players can never index
// past them.
const MaxPlayers = rollback.MaxPlayers

// Defaults that a zero Config field stands for.
const (
	// DefaultServer is the signalling server cmd/signalserver listens as by
	// default, on this machine.
	DefaultServer = "ws://127.0.0.1:3536"
	// DefaultRoom is the room players meet in.
	DefaultRoom = "rollbox"
	// DefaultPlayers (2): a head-to-head match.
	DefaultPlayers = 2
	// DefaultInputDelay (2 frames, 33 ms at 60 fps) hides most of a short
	// round trip, so rollbacks are rare and short, while controls still feel
	// immediate.
	DefaultInputDelay = 2
	// DefaultMaxPrediction is rollback's (8 frames).
	DefaultMaxPrediction = rollback.DefaultMaxPrediction
	// DefaultDesyncInterval (10 frames): peers compare a checksum six times
	// a second, so a desync is reported within a fraction of a second of
	// the frame that caused it.
	DefaultDesyncInterval = 10
	// DefaultFPS is rollback's (60).
	DefaultFPS = rollback.DefaultFPS
	// DefaultJoinTimeout (60 s) bounds joining: waiting for the room to fill
	// and the peers to connect.
	DefaultJoinTimeout = 60 * time.Second
	// DefaultCheckDistance (7 frames) makes a sync test roll back about as
	// far as a real match with DefaultMaxPrediction does.
	DefaultCheckDistance = 7
)

// Config says how a match is played: where the players meet, how many
// there are, the rollback settings, and the modes a game gets without code
// (headless bots, sync test). The zero Config plays a two-player match in
// room DefaultRoom on DefaultServer; every zero field means its default.
// RegisterFlags makes the settings a player or tester changes command-line
// flags, and ArgsFromURL reads them from a web page's address.
type Config struct {
	// Server is the signalling server's URL, ws:// or wss://. Default
	// DefaultServer (ws://127.0.0.1:3536).
	Server string
	// Room is the room to meet in; the match forms in
	// <room>?next=<peers>, so each group of that many peers plays its own
	// match. Default DefaultRoom ("rollbox").
	Room string
	// Token is the room token for a server that requires one (signalserver
	// -auth-secret).
	Token string

	// Players is the number of players in the match (not spectators), 1 to
	// rollback.MaxPlayers. Default DefaultPlayers (2).
	Players int
	// LocalPlayers is the number of players on this machine (sharing a
	// keyboard, say); the input function is asked for each. Default 1.
	// Peers must add up to Players; a peer that disagrees stops the match
	// before frame 0 with an error naming it.
	LocalPlayers int
	// Peers is the number of machines that play, when LocalPlayers differs
	// between them. Default Players/LocalPlayers; a spectator (which has no
	// LocalPlayers) must be told when the players' machines have several
	// local players each.
	Peers int
	// Spectators is the number of spectators the room waits for besides the
	// players (0: none).
	Spectators int
	// Spectate joins as a spectator: this peer plays no one, follows the
	// match and draws it.
	Spectate bool
	// Watch joins the match already playing in Room as a spectator (a late
	// spectator): it receives the match's state from the host and follows
	// from there, catching up at CatchupSpeed (default 3 for it). It
	// implies Spectate; Spectators and Peers do not concern it; Players,
	// FPS and the rollback settings must be the players'. The state
	// travels by its memory if it is flat (no pointers, slices, maps or
	// strings; players and spectator on 64-bit little-endian machines), or
	// by MarshalBinary and UnmarshalBinary methods on *S, and must fit in
	// the transport's MaxMessageSize (default 16 MiB). If several matches
	// play in Room at once, it watches the first host to answer.
	Watch bool

	// InputDelay delays local inputs by this many frames. Default
	// DefaultInputDelay (2); set NoInputDelay for none.
	InputDelay int
	// NoInputDelay sets the input delay to 0: the most responsive controls,
	// more rollbacks.
	NoInputDelay bool
	// MaxPrediction is how many frames a peer may run ahead of the confirmed
	// inputs. Default DefaultMaxPrediction (8).
	MaxPrediction int
	// Lockstep waits for every input instead of predicting (MaxPrediction
	// 0): no rollbacks, and every frame waits a round trip.
	Lockstep bool
	// DesyncInterval compares a checksum with every peer every this many
	// confirmed frames. Default DefaultDesyncInterval (10); negative turns
	// detection off. Lockstep matches never roll back and compare none.
	DesyncInterval int
	// FPS is the tick rate: Update must be called this often (Ebiten's TPS;
	// the adapter sets it). Default DefaultFPS (60).
	FPS int
	// DisconnectTimeout, DisconnectNotifyStart, MaxFramesBehind and
	// CatchupSpeed are the rollback.Config fields of the same names; zero
	// means rollback's defaults.
	DisconnectTimeout     time.Duration
	DisconnectNotifyStart time.Duration
	MaxFramesBehind       int
	CatchupSpeed          int

	// ICEServers are the STUN and TURN servers to find a path between peers,
	// in addition to those the signalling server hands out at /ice.
	ICEServers []transport.ICEServer
	// Loopback restricts WebRTC to 127.0.0.1: for tests and several peers on
	// one machine. Never for players on different machines.
	Loopback bool
	// Transport tunes the WebRTC socket (timeouts, buffers, logging). Its
	// ICEServers and LoopbackOnly are added to those above; its Channels are
	// the match's own (an unreliable one for inputs, a reliable one for the
	// match's messages) and must be left empty.
	Transport transport.Config
	// NetSim, when not nil, adds simulated latency, jitter and loss to the
	// real network, to feel how the game plays over a bad connection.
	NetSim *simnet.Link
	// JoinTimeout bounds joining. Default DefaultJoinTimeout (60 s).
	JoinTimeout time.Duration
	// RejoinDir is where a player keeps, while its match plays, what it
	// needs to come back as the same player if its program crashes or is
	// killed: the same command line started again then rejoins the match
	// (see Match). One small file per running player, deleted when the
	// match ends or is closed. Default os.UserCacheDir()/rollbox/rejoin;
	// in a browser, the tab's sessionStorage, so a reloaded page comes
	// back. "-" keeps nothing, so a restarted program joins a new match.
	RejoinDir string

	// Frames, when positive, ends the match once this frame is confirmed
	// (and the peers have every input of it); Result then carries its
	// checksum.
	Frames int
	// Bot replaces the local input with a bot's: random buttons held for a
	// random while, from Seed. For soak tests and headless runs.
	Bot bool
	// Seed seeds the bot and NetSim (0 is a seed like any other).
	Seed uint64
	// Headless runs without a window (Ebiten adapter) and implies Bot and,
	// unless set, Frames 600.
	Headless bool
	// SyncTest plays Frames frames (default 600) on this machine, rolling
	// back CheckDistance frames every frame and comparing checksums: proof
	// that Step is deterministic, with no network. Every player is a bot.
	SyncTest bool
	// CheckDistance is how far the sync test rolls back. Default
	// DefaultCheckDistance (7).
	CheckDistance int

	// Record, when not nil, receives a replay of the match: every confirmed
	// frame's inputs and checksums up to Frames (when set), written as
	// frames are confirmed (through a buffer flushed by Close). Replay and
	// Replayer play it back. A write error stops the recording, never the
	// match; Close and Run return it (ErrRecording). A sync test records
	// nothing (its inputs are bots').
	Record io.Writer

	// Logger receives what happens to the match (desyncs with their diffs,
	// disconnects). Default slog.Default().
	Logger *slog.Logger
	// OnDesync, when set, hears every desync (see Desync). It runs inside
	// Update.
	OnDesync func(Desync)

	// turnUser and turnPass are the -turn-user and -turn-pass flags,
	// applied to the turn: URLs of -ice when the match starts.
	turnUser, turnPass string
	// clock and sessionSeed are the sessions' Clock and Seed: the
	// simulation's virtual clock and a seed per peer (zero values for a
	// match on the real network).
	clock       func() time.Time
	sessionSeed uint64
}

// withDefaults returns c with every zero field set to its default, and
// checks it.
func (c Config) withDefaults() (Config, error) {
	if c.Server == "" {
		c.Server = DefaultServer
	}
	if c.Room == "" {
		c.Room = DefaultRoom
	}
	if c.Players == 0 {
		c.Players = DefaultPlayers
	}
	if c.Watch {
		c.Spectate = true
	}
	if c.LocalPlayers == 0 && !c.Spectate {
		c.LocalPlayers = 1
	}
	if c.InputDelay == 0 && !c.NoInputDelay {
		c.InputDelay = DefaultInputDelay
	}
	if c.MaxPrediction == 0 {
		c.MaxPrediction = DefaultMaxPrediction
	}
	if c.Lockstep {
		c.MaxPrediction = 0
	}
	if c.DesyncInterval == 0 {
		c.DesyncInterval = DefaultDesyncInterval
	}
	if c.FPS == 0 {
		c.FPS = DefaultFPS
	}
	if c.JoinTimeout == 0 {
		c.JoinTimeout = DefaultJoinTimeout
	}
	if c.CheckDistance == 0 {
		c.CheckDistance = DefaultCheckDistance
	}
	if (c.SyncTest || c.Headless) && c.Frames == 0 {
		c.Frames = 600
	}
	if c.Headless {
		c.Bot = true
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("rollbox: "+format, args...)) }
	if c.Players < 1 || c.Players > rollback.MaxPlayers {
		bad("Players must be 1 to %d, got %d", rollback.MaxPlayers, c.Players)
	}
	if c.Spectate && c.LocalPlayers != 0 {
		bad("a spectator plays no one: LocalPlayers must be 0, got %d", c.LocalPlayers)
	}
	if !c.Spectate && (c.LocalPlayers < 1 || c.LocalPlayers > c.Players) {
		bad("LocalPlayers must be 1 to Players (%d), got %d", c.Players, c.LocalPlayers)
	}
	if c.Peers == 0 && c.LocalPlayers > 0 {
		if c.Players%c.LocalPlayers != 0 {
			bad("%d players do not split into machines of %d: set Peers", c.Players, c.LocalPlayers)
		}
		c.Peers = c.Players / max(c.LocalPlayers, 1)
	}
	if c.Peers == 0 { // a spectator that was not told
		c.Peers = c.Players
	}
	if c.Peers < 1 || c.Peers > c.Players {
		bad("Peers must be 1 to Players (%d), got %d", c.Players, c.Peers)
	}
	if c.Spectators < 0 || c.Spectators > rollback.MaxPlayers {
		bad("Spectators must be 0 to %d, got %d", rollback.MaxPlayers, c.Spectators)
	}
	if c.Watch && (c.SyncTest || c.Record != nil) {
		bad("a late spectator (Watch) neither runs a sync test nor records: a replay starts at frame 0")
	}
	if c.Spectate && !c.Watch && c.Spectators < 1 {
		bad("a spectator must be one of the Spectators the room waits for (Spectators >= 1)")
	}
	if c.InputDelay < 0 || c.InputDelay > rollback.MaxInputDelay {
		bad("InputDelay must be 0 to %d, got %d", rollback.MaxInputDelay, c.InputDelay)
	}
	if c.MaxPrediction < 0 || c.MaxPrediction > rollback.MaxPrediction {
		bad("MaxPrediction must be 0 to %d, got %d", rollback.MaxPrediction, c.MaxPrediction)
	}
	if c.FPS < 1 || c.FPS > 1000 {
		bad("FPS must be 1 to 1000, got %d", c.FPS)
	}
	if c.Frames < 0 {
		bad("Frames must not be negative, got %d", c.Frames)
	}
	if c.SyncTest && (c.CheckDistance < 1 || c.CheckDistance >= rollback.MaxPrediction) {
		bad("CheckDistance must be 1 to %d, got %d", rollback.MaxPrediction-1, c.CheckDistance)
	}
	if len(c.Transport.Channels) > 0 {
		bad("Transport.Channels are the match's own; leave them empty")
	}
	// A copy: c's slice shares its array with the caller's Config, which
	// may be shared between matches.
	c.ICEServers = slices.Clone(c.ICEServers)
	for i := range c.ICEServers {
		s := &c.ICEServers[i]
		for _, u := range s.URLs {
			if (strings.HasPrefix(u, "turn:") || strings.HasPrefix(u, "turns:")) && s.Username == "" {
				s.Username, s.Credential = c.turnUser, c.turnPass
			}
		}
	}
	return c, errors.Join(errs...)
}

// desyncInterval is the session's DesyncDetectionInterval.
func (c Config) desyncInterval() int {
	if c.DesyncInterval < 0 || c.MaxPrediction == 0 {
		return 0 // lockstep saves no states, so it has none to compare
	}
	return c.DesyncInterval
}

// sessionConfig returns the rollback settings of c (defaults applied),
// without players.
func sessionConfig[I comparable, A comparable](c Config, codec rollback.InputCodec[I]) rollback.Config[I, A] {
	rc := rollback.DefaultConfig[I, A](codec)
	rc.NumPlayers = c.Players
	rc.InputDelay = c.InputDelay
	rc.MaxPrediction = c.MaxPrediction
	rc.FPS = c.FPS
	rc.DesyncDetectionInterval = c.desyncInterval()
	if c.DisconnectTimeout > 0 {
		rc.DisconnectTimeout = c.DisconnectTimeout
	}
	if c.DisconnectNotifyStart > 0 {
		rc.DisconnectNotifyStart = c.DisconnectNotifyStart
	}
	if c.MaxFramesBehind > 0 {
		rc.MaxFramesBehind = c.MaxFramesBehind
	}
	if c.CatchupSpeed > 0 {
		rc.CatchupSpeed = c.CatchupSpeed
	}
	return rc
}

// zeroSwitch defines an integer flag for a setting whose zero is
// meaningful and so has a switch beside it: the flag sets n, and zero sets
// the switch (-input-delay 0 is NoInputDelay, -max-prediction 0 Lockstep).
func zeroSwitch(fs *flag.FlagSet, name, usage string, n *int, zero *bool) {
	fs.Func(name, usage, func(s string) error {
		v, err := strconv.Atoi(s)
		if err != nil {
			return err
		}
		*n, *zero = v, v == 0
		return nil
	})
}

// RegisterFlags defines a command-line flag for each setting a player or
// tester changes, writing into c: -server, -room, -token, -players,
// -local-players, -spectate, -watch, -spectators, -input-delay, -max-prediction
// (0: lockstep), -frames, -headless, -bot, -seed, -synctest, -check-distance,
// -loopback, -netsim, -ice, -turn-user and -turn-pass. The flags' defaults
// are c's values (or the package defaults where c has none), so a game can
// set its own before calling it.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	d, _ := c.withDefaults() // errors are reported when the match starts
	fs.StringVar(&c.Server, "server", d.Server, "signalling server URL")
	fs.StringVar(&c.Room, "room", d.Room, "room name; players meet in <room>?next=<peers>")
	fs.StringVar(&c.Token, "token", c.Token, "room token, for a signalling server started with -auth-secret (see signalserver token)")
	fs.IntVar(&c.Players, "players", d.Players, "number of players")
	fs.IntVar(&c.LocalPlayers, "local-players", c.LocalPlayers, "players on this machine (default 1)")
	fs.BoolVar(&c.Spectate, "spectate", c.Spectate, "watch instead of playing (one of -spectators)")
	fs.BoolVar(&c.Watch, "watch", c.Watch, "join the match already playing in -room as a spectator")
	fs.IntVar(&c.Spectators, "spectators", c.Spectators, "spectators the room waits for besides the players")
	zeroSwitch(fs, "input-delay", fmt.Sprintf("frames of input delay: fewer rollbacks, slower response (default %d)", d.InputDelay),
		&c.InputDelay, &c.NoInputDelay)
	zeroSwitch(fs, "max-prediction", fmt.Sprintf("frames the game may run ahead of confirmed input; 0: lockstep (default %d)", d.MaxPrediction),
		&c.MaxPrediction, &c.Lockstep)
	fs.IntVar(&c.Frames, "frames", c.Frames, "stop once this frame is confirmed and report it (-headless and -synctest default 600)")
	fs.BoolVar(&c.Headless, "headless", c.Headless, "no window: a bot seeded by -seed plays")
	fs.BoolVar(&c.Bot, "bot", c.Bot, "a bot seeded by -seed plays (in the window; -headless: without one)")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed of the bot and of -netsim")
	fs.BoolVar(&c.SyncTest, "synctest", c.SyncTest, "local determinism check: no network, every frame rolled back and compared")
	fs.IntVar(&c.CheckDistance, "check-distance", d.CheckDistance, "frames each -synctest frame is rolled back")
	fs.BoolVar(&c.Loopback, "loopback", c.Loopback, "WebRTC on loopback only (tests, several players on one machine)")
	fs.Func("netsim", "simulated network conditions on top of the real one, e.g. 'latency=100ms,jitter=50ms,loss=0.1'", func(s string) error {
		l, err := simnet.ParseLink(s)
		if err != nil {
			return err
		}
		c.NetSim = &l
		return nil
	})
	fs.Func("ice", "comma-separated STUN/TURN URLs, e.g. stun:stun.example.org:3478,turn:turn.example.org:3478", func(s string) error {
		for _, u := range strings.Split(s, ",") {
			if u = strings.TrimSpace(u); u != "" {
				c.ICEServers = append(c.ICEServers, transport.ICEServer{URLs: []string{u}})
			}
		}
		return nil
	})
	fs.StringVar(&c.turnUser, "turn-user", "", "TURN username for the turn: URLs of -ice")
	fs.StringVar(&c.turnPass, "turn-pass", "", "TURN password for the turn: URLs of -ice")
}
