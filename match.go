package rollbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/rollbox/rollbox/internal/ratelog"
	"github.com/rollbox/rollbox/packet"
	"github.com/rollbox/rollbox/rollback"
	"github.com/rollbox/rollbox/transport"
	"github.com/rollbox/rollbox/transport/simnet"
)

// Match is one peer's side of an online match: it joins the room, waits
// for the players, connects to them, and then, one Update per tick, runs
// the rollback session on the game's state. Make one with NewMatch, call
// Update at Config.FPS (Ebiten's Update does; Run does it without a
// window), read View to draw, and Close at the end. Not safe for concurrent
// use.
type Match[S any, I comparable] struct {
	cfg   Config
	ops   stateOps[S, I]
	codec *valueCodec[I]
	state *S
	input func(PlayerHandle) I

	cancel    context.CancelFunc
	connected chan connectResult[S, I] // the runner, once connecting ends
	closing   chan struct{}            // closed by Close

	mu     sync.Mutex // guards phase and status while connecting
	phase  Phase
	status string

	r    *runner[S, I, transport.PeerID]
	sock transport.Mesh
	err  error
	view View

	// watch is the host's watch room (late spectators), nil on other
	// peers. start leaves the union socket and this peer's hello for
	// connect, which opens it.
	watch      *watchHost[S, I]
	union      *unionSocket
	hosting    bool // this peer's session is the spectators' host
	hostHello  hello
	nextHandle rollback.PlayerHandle

	// rj is this player's part in rejoins (rejoin_match.go); the start
	// leaves the match's addresses and keys for connect to set it up.
	rj        *rejoinState[S, I]
	rjAddrs   []transport.PeerID
	rjKeys    []string
	rjMatch   string
	rjControl packet.Socket[transport.PeerID]
}

type connectResult[S any, I comparable] struct {
	r     *runner[S, I, transport.PeerID]
	sock  transport.Mesh
	watch *watchHost[S, I]
	err   error
}

// NewMatch checks the game and cfg and starts joining the match in the
// background; Update then plays it. state is the game's state at frame 0
// (the match steps it in place, so the game draws from it). input returns
// the input of local player h, once per frame for each local player; a
// machine's local players have consecutive handles (View.Local lists
// them). input is never called for a spectator, with Config.Bot or in a
// sync test, and may be nil there. ctx bounds the connecting: once it
// ends, a match that has not started fails.
func NewMatch[S any, I comparable, G Game[S, I]](ctx context.Context, state G, input func(PlayerHandle) I, cfg Config) (*Match[S, I], error) {
	m, err := newMatch[S, I, G](state, input, cfg)
	if err != nil {
		return nil, err
	}
	ctx, m.cancel = context.WithCancel(ctx)
	m.phase, m.status = PhaseJoining, fmt.Sprintf("joining room %q on %s", m.cfg.Room, m.cfg.Server)
	if m.cfg.SyncTest {
		r, err := newSyncTestRunner[S, I, transport.PeerID](m.cfg, m.ops, m.codec, m.state)
		m.connected <- connectResult[S, I]{r: r, err: err}
		return m, nil
	}
	go func() {
		r, sock, watch, err := m.connect(ctx)
		m.connected <- connectResult[S, I]{r, sock, watch, err}
	}()
	return m, nil
}

func newMatch[S any, I comparable, G Game[S, I]](state G, input func(PlayerHandle) I, cfg Config) (*Match[S, I], error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if state == nil {
		return nil, errors.New("rollbox: state is nil")
	}
	ops, codec, err := newGame[S, I, G]()
	if err != nil {
		return nil, err
	}
	if input == nil && !cfg.Bot && !cfg.Spectate && !cfg.SyncTest {
		return nil, errors.New("rollbox: input is nil (set Config.Bot for a bot)")
	}
	m := &Match[S, I]{cfg: cfg, ops: ops, codec: codec, state: (*S)(state), input: input,
		connected: make(chan connectResult[S, I], 1), closing: make(chan struct{})}
	m.rj = &rejoinState[S, I]{key: newRejoinKey(), store: openRejoinStore(cfg.rejoinDir(), rejoinScope(cfg, gameName[S, I]())),
		warn: ratelog.Limiter{Interval: time.Second, Burst: 3}}
	if cfg.Bot || input == nil {
		m.input = newBot[I](codec, cfg.Seed).input
	}
	return m, nil
}

// progress records a connecting phase for View.
func (m *Match[S, I]) progress(p Phase, status string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.phase, m.status = p, status
}

// connect joins the room, waits for everyone, agrees on the player map and
// builds the runner.
func (m *Match[S, I]) connect(ctx context.Context) (*runner[S, I, transport.PeerID], transport.Mesh, *watchHost[S, I], error) {
	c := m.cfg
	ctx, cancel := context.WithTimeout(ctx, c.JoinTimeout)
	defer cancel()
	roomURL := transport.RoomURL(c.Server, c.Room, c.Peers+c.Spectators, c.Token)
	tc := c.Transport
	tc.ICEServers = append(append([]transport.ICEServer(nil), c.ICEServers...), tc.ICEServers...)
	tc.LoopbackOnly = tc.LoopbackOnly || c.Loopback
	tc.ICEFromServer = true // the server's STUN and short-lived TURN, when it has them
	tc.Channels = []transport.ChannelConfig{transport.Unreliable(), transport.Reliable()}
	if tc.Logger == nil {
		tc.Logger = c.Logger
	}
	if c.Watch {
		r, sock, err := m.connectWatch(ctx, tc)
		return r, sock, nil, err
	}
	m.rj.tc = tc
	if !c.Spectate {
		// A program started again after a crash comes back to its match.
		if rec, ok, err := m.rj.store.claim(time.Now()); err != nil {
			c.Logger.Warn("rollbox: reading what a crashed run left", "dir", c.rejoinDir(), "err", err)
		} else if ok {
			r, sock, err := m.connectRejoin(ctx, rec)
			if errors.Is(err, rollback.ErrResumeFailed) {
				// Another player left as this one came back: ask again
				// (the others take it back once they dropped that one).
				c.Logger.Info("rollbox: coming back again", "err", err)
				r, sock, err = m.connectRejoin(ctx, rec)
			}
			if err == nil {
				return r, sock, nil, nil
			}
			c.Logger.Warn("rollbox: could not come back to the match this program left; joining a new one", "err", err)
			_ = m.rj.store.release()
			m.rj.key = newRejoinKey()
		}
	}
	r, sock, err := m.joinAndStart(ctx, roomURL, tc, m.start)
	if err != nil {
		return nil, nil, nil, err
	}
	var watch *watchHost[S, I]
	if m.hosting {
		watch = m.openWatchRoom(ctx, tc, m.union, m.hostHello, m.nextHandle)
	}
	if !c.Spectate {
		m.initRejoin(r, m.rjControl, m.rjAddrs, m.rjKeys, m.rjMatch)
	}
	return r, sock, watch, nil
}

// joinAndStart joins roomURL, builds the runner with start (players) or
// watchStart (a late spectator) and runs the session's handshake; on any
// failure it leaves the room again.
func (m *Match[S, I]) joinAndStart(ctx context.Context, roomURL string, tc transport.Config,
	start func(context.Context, transport.Mesh, packet.Socket[transport.PeerID]) (*runner[S, I, transport.PeerID], error),
) (*runner[S, I, transport.PeerID], *transport.Socket, error) {
	sock, err := transport.Join(ctx, roomURL, tc)
	if err != nil {
		return nil, nil, fmt.Errorf("rollbox: join %s: %w", roomURL, err)
	}
	r, err := start(ctx, sock, sock.Channel(1))
	if err == nil {
		err = synchronize(ctx, r)
	}
	if err != nil {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = sock.Close(closeCtx)
		return nil, nil, err
	}
	return r, sock, nil
}

// start waits for the peers on mesh, exchanges hellos on ctl and builds the
// session. It is connect after the join, apart so that tests can give it a
// mock mesh.
func (m *Match[S, I]) start(ctx context.Context, mesh transport.Mesh, ctl packet.Socket[transport.PeerID]) (*runner[S, I, transport.PeerID], error) {
	c := m.cfg
	others := c.Peers + c.Spectators - 1
	peers, err := waitForPeers(ctx, mesh, others, m.progress)
	if err != nil {
		return nil, fmt.Errorf("rollbox: waiting for %d peers in room %q: %w", others, c.Room, err)
	}
	peers = peers[:others]
	m.progress(PhaseConnecting, "agreeing on the players")
	mine := hello{Version: helloVersion, Game: gameName[S, I](), Players: c.Players, Local: c.LocalPlayers,
		Spectator: c.Spectate, FPS: c.FPS, Lockstep: c.MaxPrediction == 0, Desync: c.desyncInterval()}
	hellos, err := exchangeHellos(ctx, ctl, peers, mine, mesh.Peers)
	if err != nil {
		return nil, err
	}
	pm, err := newPlayerMap(mesh.ID(), mine, hellos)
	if err != nil {
		return nil, err
	}
	var sock rollback.Socket[transport.PeerID] = mesh
	if !c.Spectate {
		// Players that come back (rejoin_match.go), and the host's late
		// spectators (watch.go), arrive on other sockets: the session
		// must send through all of them from the start.
		m.union = newUnionSocket(mesh)
		sock = m.union
		m.rjAddrs, m.rjControl = slices.Clone(pm.byHandle), ctl
		m.rjMatch = matchID(c.Room, append(slices.Clone(pm.byHandle), pm.spectators...))
		// Every player's key hash: its own now, the others' as they tell
		// it (rejoin_match.go's initRejoin).
		m.rjKeys = make([]string, c.Players)
		for h, id := range pm.byHandle {
			if id == mesh.ID() {
				m.rjKeys[h] = rejoinKeyHash(m.rj.key)
			}
		}
	}
	if mesh.ID() == pm.host && !c.Spectate {
		// The host takes late spectators (see watch.go).
		m.hosting = true
		m.hostHello, m.nextHandle = mine, rollback.PlayerHandle(c.Players+len(pm.spectators))
	}
	if c.NetSim != nil {
		start := time.Now()
		sock = simnet.Condition(sock, *c.NetSim, c.Seed, func() time.Duration { return time.Since(start) })
	}
	r, err := newSessionRunner(c, m.ops, m.codec, m.state, m.input, mesh.ID(), pm, sock)
	if err != nil {
		return nil, err
	}
	m.progress(PhaseSynchronizing, "synchronizing with the other players")
	return r, nil
}

// syncPollInterval is how often synchronize polls the session.
const syncPollInterval = time.Millisecond

// synchronize runs the session's handshake (rollback's sync round trips)
// before Update gets the runner, polling every syncPollInterval: Update,
// at 60 Hz, takes a tick or two per round trip, and there are five of them
// to every peer, about a tenth of a second on loopback. It fails when ctx
// ends or the handshake reports a mismatch.
func synchronize[S any, I comparable, A comparable](ctx context.Context, r *runner[S, I, A]) error {
	tick := time.NewTicker(syncPollInterval)
	defer tick.Stop()
	for {
		r.sess.PollRemoteClients()
		if err := r.handleEvents(); err != nil {
			return err
		}
		if r.sess.State() == rollback.Running {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("rollbox: synchronizing with the other players: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// gameName names the game's types, so that peers running different games
// (or builds with different state types) refuse each other.
func gameName[S, I any]() string {
	return reflect.TypeFor[S]().String() + "/" + reflect.TypeFor[I]().String()
}

// peerPollInterval is how often waitForPeers looks at the mesh.
const peerPollInterval = 10 * time.Millisecond

// waitForPeers waits until n peers are connected, telling progress how many
// are in the room and how many connected meanwhile.
func waitForPeers(ctx context.Context, mesh transport.Mesh, n int, progress func(Phase, string)) ([]transport.PeerID, error) {
	// Polled, as Mesh has no notice of change but WaitForPeers, which
	// cannot report progress. Every 10 ms: the poll also decides when the
	// match moves on, and a tenth of a second (as it was) was a third of
	// the time from the last peer's arrival to frame 1 on loopback; two
	// counts read 100 times a second cost nothing next to WebRTC.
	tick := time.NewTicker(peerPollInterval)
	defer tick.Stop()
	for {
		connected := len(mesh.Peers())
		if connected >= n {
			return mesh.WaitForPeers(ctx, n)
		}
		if here := 1 + connected + mesh.Connecting(); here < n+1 {
			progress(PhaseWaiting, fmt.Sprintf("waiting for players: %d of %d here", here, n+1))
		} else {
			progress(PhaseConnecting, fmt.Sprintf("connecting to the other players: %d of %d connected", connected, n))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// newSessionRunner builds the session of peer self's place in pm.
func newSessionRunner[S any, I comparable, A comparable](c Config, ops stateOps[S, I], codec *valueCodec[I], state *S, input func(PlayerHandle) I,
	self A, pm playerMap[A], sock rollback.Socket[A]) (*runner[S, I, A], error) {
	return buildRunner(c, ops, codec, state, input, self, pm, sock, nil)
}

// newResumedRunner builds the session of a player coming back to a running
// match (see rejoin.go): state holds the match's state at resume.From, and
// pm has the peers' current addresses (those of players gone for good are
// never contacted).
func newResumedRunner[S any, I comparable, A comparable](c Config, ops stateOps[S, I], codec *valueCodec[I], state *S, input func(PlayerHandle) I,
	self A, pm playerMap[A], sock rollback.Socket[A], resume rollback.Resume) (*runner[S, I, A], error) {
	r, err := buildRunner(c, ops, codec, state, input, self, pm, sock, &resume)
	if err != nil {
		return nil, err
	}
	r.frame, r.recorded, r.catchingUp, r.catchUpTo = resume.From, resume.From-1, true, resume.At
	r.remember(resume.From, ops.checksum(state))
	for h, st := range resume.Players {
		if st.Disconnected && !r.players[h].local {
			r.players[h].disconnected = true
		}
	}
	return r, nil
}

func buildRunner[S any, I comparable, A comparable](c Config, ops stateOps[S, I], codec *valueCodec[I], state *S, input func(PlayerHandle) I,
	self A, pm playerMap[A], sock rollback.Socket[A], resume *rollback.Resume) (*runner[S, I, A], error) {
	rc := sessionConfig[I, A](c, codec)
	rc.Clock, rc.Seed = c.clock, c.sessionSeed
	r := &runner[S, I, A]{ops: ops, codec: codec, state: state, input: input, log: c.Logger, onDesync: c.OnDesync,
		target: rollback.Frame(c.Frames), lingerTicks: lingerSeconds * c.FPS, fps: c.FPS, inputDelay: c.InputDelay}
	r.players = make([]player[A], c.Players)
	for h, id := range pm.byHandle {
		r.players[h].addr = id
		if id == self {
			r.players[h].local = true
			r.local = append(r.local, rollback.PlayerHandle(h))
			rc.AddLocalPlayer(rollback.PlayerHandle(h))
		} else {
			rc.AddRemotePlayer(rollback.PlayerHandle(h), id)
		}
	}
	if c.Spectate {
		for h := range r.players {
			r.players[h].addr = pm.host // what the spectator hears of them comes from the host
		}
	}
	for h := range r.players {
		r.players[h].peer = fmt.Sprint(r.players[h].addr)
	}
	if c.Spectate {
		s, err := rollback.NewSpectatorSession[S](rc, pm.host, sock)
		if err != nil {
			return nil, err
		}
		r.spectator = s
	} else {
		if self == pm.host {
			for i, id := range pm.spectators {
				rc.AddSpectator(rollback.PlayerHandle(c.Players+i), id)
			}
		}
		var s *rollback.P2PSession[S, I, A]
		var err error
		if resume != nil {
			s, err = rollback.NewP2PSessionAt[S](rc, sock, *resume)
		} else {
			s, err = rollback.NewP2PSession[S](rc, sock)
		}
		if err != nil {
			return nil, err
		}
		if rc.DesyncDetectionInterval > 0 && ops.dump != nil {
			if err := s.SetStateDump(r.dumpHook); err != nil {
				return nil, err
			}
		}
		r.p2p = s
	}
	r.init(c.clock)
	if c.Record != nil && resume == nil {
		// A replay starts at frame 0; a player that came back has not
		// seen the frames before it.
		r.record(c.Record, c.FPS)
	}
	return r, nil
}

// lingerSeconds bounds how long a finished peer keeps sending so that the
// others receive its last inputs.
const lingerSeconds = 3

// Update runs one tick: while connecting it only checks for news; once
// playing it exchanges inputs, steps the state (reading the local input)
// and rolls back as needed. It returns the error that ended the match, once
// and again on every later call (after Close, "match closed"); a finished
// match (Done) returns nil.
func (m *Match[S, I]) Update() error {
	if m.err != nil {
		return m.err
	}
	if m.r == nil {
		select {
		case res := <-m.connected:
			if res.err != nil {
				return m.fail(res.err)
			}
			m.r, m.sock, m.watch = res.r, res.sock, res.watch
		default:
			return nil
		}
	}
	if m.Done() {
		return nil
	}
	select {
	case <-m.closing:
		// Closed while playing: the connections are gone, and stepping
		// on would predict every remote input for ever.
		return m.fail(ErrClosed)
	default:
	}
	if err := m.r.tick(); err != nil {
		return m.fail(err)
	}
	if m.watch != nil {
		m.watch.poll(m.r) // between two ticks, where a late spectator's state is final
	}
	m.pollRejoin() // between two ticks too, where the confirmed state is final
	if m.sock != nil {
		// A peer that left the mesh will never acknowledge anything: Done
		// must not wait for the session to notice its silence (seconds).
		for _, ev := range m.sock.PeerEvents() {
			if ev.State == transport.PeerDisconnected {
				m.r.markDisconnected(ev.Peer)
			}
		}
	}
	return nil
}

func (m *Match[S, I]) fail(err error) error {
	m.err = err
	m.progress(PhaseFailed, err.Error())
	return err
}

// Done reports that Config.Frames is confirmed and the other peers have
// every input they need to confirm it too (or gave up waiting): the match
// is over and Result has its checksum.
func (m *Match[S, I]) Done() bool {
	return m.r != nil && m.r.finished() && (m.watch == nil || m.watch.drained(m.r))
}

// Result summarises the match so far.
func (m *Match[S, I]) Result() Result {
	if m.r == nil {
		return Result{Players: m.cfg.Players}
	}
	return m.r.result()
}

// View describes the match for drawing. Its slices are reused: they are
// valid until the next Update.
func (m *Match[S, I]) View() View {
	v := &m.view
	m.mu.Lock()
	v.Phase, v.Status = m.phase, m.status
	m.mu.Unlock()
	v.Err = m.err
	r := m.r
	if r == nil {
		return *v
	}
	switch {
	case m.err != nil:
	case m.rj.guest != nil:
		v.Phase, v.Status = PhaseRejoining, "lost the other players: asking them to take this player back"
	case m.Done():
		v.Phase, v.Status = PhaseFinished, r.finishedStatus()
	case r.sess.State() == rollback.Running:
		v.Phase, v.Status = PhasePlaying, r.playingStatus()
	}
	v.Frame, v.Confirmed = r.frame, r.confirmed()
	v.Local = r.local
	if cap(v.Players) < len(r.players) {
		v.Players = make([]PlayerView, len(r.players))
	}
	v.Players = v.Players[:len(r.players)]
	for i, p := range r.players {
		pv := PlayerView{Local: p.local, Disconnected: p.disconnected, Returning: p.returning, Status: p.status,
			Ping: p.stats.Ping, FramesBehind: p.stats.LocalFramesBehind}
		if !p.local {
			pv.Peer = p.peer
		}
		v.Players[i] = pv
	}
	if r.p2p != nil {
		v.FramesAhead = r.p2p.FramesAhead()
	}
	v.Rollbacks, v.RollbackFrames, v.LongestRollback = r.rollbacks, r.rollbackFrames, r.longestRollback
	v.Desyncs, v.LastDesync = r.desyncs, r.lastDesync
	return *v
}

// Run plays the match without a window: Update at Config.FPS until the
// match is Done, fails, or ctx ends; then Close. It returns the Result and
// the error that ended the match (nil when Done), joined with the
// recording's error (Config.Record) if it failed.
func (m *Match[S, I]) Run(ctx context.Context) (_ Result, err error) {
	defer func() {
		_ = m.Close() // the connections' errors concern no one once the match is over
		// Close writes out the buffered replay: a recording cut short
		// must not end as a success.
		if m.r != nil && m.r.rec != nil && m.r.rec.err != nil {
			err = errors.Join(err, fmt.Errorf("%w: %w", ErrRecording, m.r.rec.err))
		}
	}()
	if m.cfg.SyncTest {
		// No network to wait for: as fast as the machine goes.
		for !m.Done() {
			if err := m.Update(); err != nil {
				return m.Result(), err
			}
			if ctx.Err() != nil {
				return m.Result(), ctx.Err()
			}
		}
		return m.finish(), nil
	}
	tick := time.NewTicker(time.Second / time.Duration(m.cfg.FPS))
	defer tick.Stop()
	for {
		if err := m.Update(); err != nil {
			return m.Result(), err
		}
		if m.Done() {
			return m.finish(), nil
		}
		select {
		case <-ctx.Done():
			if m.r == nil {
				return m.Result(), fmt.Errorf("rollbox: not connected: %w", ctx.Err())
			}
			return m.Result(), fmt.Errorf("rollbox: frame %d not confirmed: %w (at frame %d, confirmed %d)",
				m.cfg.Frames, ctx.Err(), m.r.frame, m.r.confirmed())
		case <-tick.C:
		}
	}
}

// ErrRecording: writing the replay (Config.Record) failed, so the
// recording is cut short. Close and Run return it wrapped with the cause.
var ErrRecording = errors.New("rollbox: recording failed")

// finish logs the result of a match that is Done and returns it: a
// headless run says what it reached even when the game prints nothing.
func (m *Match[S, I]) finish() Result {
	res := m.Result()
	m.cfg.Logger.Info("rollbox: finished", "frame", res.Frame, "checksum", fmt.Sprintf("%016x", res.Checksum),
		"rollbacks", res.Rollbacks, "desyncs", res.Desyncs, "max_ping", res.MaxPing)
	return res
}

// ErrClosed ends a match that Close left before it finished: Update
// returns it after Close. It wraps net.ErrClosed, as every closed error of
// rollbox does.
var ErrClosed = fmt.Errorf("rollbox: match closed: %w", net.ErrClosed)

// Close leaves the match: it stops connecting and closes the connections to
// the other peers, waiting up to five seconds for them to close.
func (m *Match[S, I]) Close() error {
	select {
	case <-m.closing:
		return nil
	default:
		close(m.closing)
	}
	if m.cancel != nil {
		m.cancel()
	}
	r := m.r
	if r == nil && m.err == nil && !m.cfg.SyncTest {
		// Still connecting: wait for the connecting goroutine, which gives
		// up now that its context ended, and close what it made. (With
		// m.err set, Update already took its result: connecting failed,
		// and closed what it made.)
		res := <-m.connected
		m.connected <- connectResult[S, I]{err: ErrClosed}
		m.sock, m.watch = res.sock, res.watch
		r = res.r // connected, but never played: its recording is a header
	}
	var errs []error
	if r != nil && r.rec != nil {
		if err := r.rec.flush(); err != nil {
			errs = append(errs, fmt.Errorf("%w: %w", ErrRecording, err))
		}
	}
	if m.sock != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		errs = append(errs, m.sock.Close(ctx))
		if m.watch != nil {
			errs = append(errs, m.watch.close(ctx))
		}
	}
	errs = append(errs, m.rj.close(m.sock))
	return errors.Join(errs...)
}
