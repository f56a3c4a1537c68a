package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/rollbox/rollbox/examples/boxgame/sim"
	"github.com/rollbox/rollbox/rollback"
	"github.com/rollbox/rollbox/transport"
	"github.com/rollbox/rollbox/transport/simnet"
)

const (
	fps = 60
	// joinTimeout bounds waiting for the room to fill and the mesh to form.
	joinTimeout = 60 * time.Second
	// desyncInterval: every this many confirmed frames, peers compare
	// checksums. Hashing the world is cheap (about 0.1 µs), so check often.
	desyncInterval = 10
)

// session is the rollback session as the box game uses it.
type session = rollback.P2PSession[sim.World, sim.Input, transport.PeerID]

// remote is another player of the match.
type remote struct {
	id           transport.PeerID
	handle       rollback.PlayerHandle
	stats        rollback.NetworkStats
	disconnected bool
}

// netMatch is the local peer's side of a networked match: the socket, the
// session and the world, driven once per tick.
type netMatch struct {
	*match
	sock    transport.Mesh
	session *session
	local   rollback.PlayerHandle
	remotes []remote
	log     *slog.Logger

	// target is the frame whose confirmed checksum the result reports
	// (0: none); reached is set once it is confirmed, with its checksum,
	// because the confirmed frame can fall back once peers disconnect.
	target       int32
	reached      bool
	reachedSum   uint64
	reachedAt    time.Time
	synchronized bool
	skip         int // ticks to wait, as the session recommended
	ticks        int
	desyncs      int
	lastDesync   rollback.Event[transport.PeerID]
	maxPing      time.Duration
}

// phase is a step of forming a match, as the game shows it. (The web page
// adds "loading", "finished" and "failed" of its own.)
type phase string

const (
	phaseJoining       phase = "joining"       // dialling the signalling server
	phaseWaiting       phase = "waiting"       // in the room, fewer than -players there
	phaseConnecting    phase = "connecting"    // everyone is there; WebRTC connecting
	phaseSynchronizing phase = "synchronizing" // the session's handshake
	phasePlaying       phase = "playing"
)

// progressFunc hears how forming a match goes; it may be called from any
// goroutine.
type progressFunc func(p phase, text string)

// connect joins <room>?next=<players>, waits for the full mesh and builds the
// session. Player handles follow the sorted peer ids, so every peer agrees
// on who is who without another message. progress, when not nil, hears each
// step.
func connect(ctx context.Context, o options, stderr io.Writer, progress progressFunc) (*netMatch, error) {
	if progress == nil {
		progress = func(phase, string) {}
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	roomURL := transport.RoomURL(o.server, o.room, o.players, o.token)
	jctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	progress(phaseJoining, fmt.Sprintf("joining room %q on %s", o.room, o.server))
	sock, err := transport.Join(jctx, roomURL, transport.Config{
		ICEServers: o.iceServers(),
		// The server's /ice hands out STUN and short-lived TURN credentials
		// when it has them; a server without (matchbox_server) offers none.
		ICEFromServer: true,
		LoopbackOnly:  o.loopback,
		Logger:        logger,
	})
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", roomURL, err)
	}
	peers, err := waitForPeers(jctx, sock, o.players, progress)
	if err != nil {
		_ = sock.Close(context.Background())
		return nil, fmt.Errorf("waiting for %d players in %s: %w", o.players, roomURL, err)
	}
	nm, err := newNetMatch(sock, peers[:o.players-1], o, logger)
	if err != nil {
		_ = sock.Close(context.Background())
		return nil, err
	}
	progress(phaseSynchronizing, "synchronizing with the other players")
	return nm, nil
}

// waitForPeers waits until the other players-1 peers are connected, telling
// progress how many are in the room and how many connected meanwhile.
func waitForPeers(ctx context.Context, sock transport.Mesh, players int, progress progressFunc) ([]transport.PeerID, error) {
	// Polled: the counts change a few times per match, and a tenth of a
	// second is quick enough for a progress line.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		connected := len(sock.Peers())
		if connected >= players-1 {
			return sock.WaitForPeers(ctx, players-1)
		}
		if here := 1 + connected + sock.Connecting(); here < players {
			progress(phaseWaiting, fmt.Sprintf("waiting for players: %d of %d here", here, players))
		} else {
			progress(phaseConnecting, fmt.Sprintf("connecting to the other players: %d of %d connected", connected, players-1))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

func newNetMatch(sock transport.Mesh, peers []transport.PeerID, o options, logger *slog.Logger) (*netMatch, error) {
	ids := slices.Sorted(slices.Values(append([]transport.PeerID{sock.ID()}, peers...)))
	cfg := rollback.DefaultConfig[sim.Input, transport.PeerID](rollback.UintCodec[sim.Input]{})
	cfg.NumPlayers = len(ids)
	cfg.InputDelay = o.inputDelay
	cfg.MaxPrediction = o.maxPrediction
	cfg.FPS = fps
	if o.maxPrediction > 0 { // lockstep saves nothing, so it has nothing to compare
		cfg.DesyncDetectionInterval = desyncInterval
	}
	nm := &netMatch{match: newMatch(len(ids)), sock: sock, log: logger}
	nm.corruptAt = int32(o.desyncAt)
	nm.target = int32(o.frames)
	for i, id := range ids {
		h := rollback.PlayerHandle(i)
		if id == sock.ID() {
			nm.local = h
			cfg.AddLocalPlayer(h)
			continue
		}
		cfg.AddRemotePlayer(h, id)
		nm.remotes = append(nm.remotes, remote{id: id, handle: h})
	}
	var socket rollback.Socket[transport.PeerID] = sock
	if o.netsim != nil {
		start := time.Now()
		socket = simnet.Condition(socket, *o.netsim, o.seed, func() time.Duration { return time.Since(start) })
	}
	s, err := rollback.NewP2PSession[sim.World](cfg, socket)
	if err != nil {
		return nil, err
	}
	if cfg.DesyncDetectionInterval > 0 {
		// On a desync both peers get both views of the frame, to log.
		dump := func(dst []byte, _ rollback.Frame, w sim.World) []byte { return w.AppendText(dst) }
		if err := s.SetStateDump(dump); err != nil {
			return nil, err
		}
	}
	nm.session = s
	return nm, nil
}

// tick runs one frame: receive, react to events, add the local input (from
// input, called only when a frame is really added) and carry out the
// session's requests.
func (nm *netMatch) tick(input func() sim.Input) error {
	nm.ticks++
	nm.session.PollRemoteClients()
	// A peer that left the mesh will never acknowledge anything: allAcked
	// must not wait for the session to notice its silence (seconds).
	for _, ev := range nm.sock.PeerEvents() {
		if ev.State == transport.PeerDisconnected {
			nm.markDisconnected(ev.Peer)
		}
	}
	if err := nm.handleEvents(); err != nil {
		return err
	}
	for i := range nm.remotes {
		r := &nm.remotes[i]
		if st, err := nm.session.NetworkStats(r.handle); err == nil {
			r.stats = st
			nm.maxPing = max(nm.maxPing, st.Ping)
		}
	}
	if nm.session.State() != rollback.Running {
		return nil
	}
	if nm.skip > 0 {
		nm.skip--
		return nil
	}
	// Ahead of the others: drop one tick in ten, which slows this peer by
	// 10 % instead of stalling it for whole frames.
	if nm.session.FramesAhead() > 0 && nm.ticks%10 == 0 {
		return nil
	}
	if err := nm.session.AddLocalInput(nm.local, input()); err != nil {
		return err
	}
	reqs, err := nm.session.AdvanceFrame()
	switch {
	case errors.Is(err, rollback.ErrPredictionThreshold), errors.Is(err, rollback.ErrNotSynchronized):
		return nil // waiting for remote input; try again next tick
	case err != nil:
		return err
	}
	nm.apply(reqs)
	if !nm.reached && nm.target > 0 && int32(nm.session.ConfirmedFrame()) >= nm.target {
		nm.reachedSum, nm.reached = nm.checksum(nm.target)
		nm.reachedAt = time.Now()
	}
	return nil
}

// finished reports that the target frame is confirmed and the peers have
// acknowledged all our inputs, or lingerMax has passed since: stopping
// before that could leave them short of the target frame.
func (nm *netMatch) finished() bool {
	return nm.reached && (nm.allAcked() || time.Since(nm.reachedAt) > lingerMax)
}

func (nm *netMatch) handleEvents() error {
	for _, e := range nm.session.Events() {
		switch e.Kind {
		case rollback.EventSynchronized:
			nm.synchronized = true
		case rollback.EventWaitRecommendation:
			nm.skip = max(nm.skip, e.SkipFrames)
		case rollback.EventDesyncDetected:
			nm.desyncs++
			nm.lastDesync = e
			nm.log.Error("desync", "event", e.String())
		case rollback.EventDesyncDump:
			nm.log.Error("desync: state differs", "frame", e.Frame, "peer", e.Addr,
				"diff", diffLines(string(e.LocalDump), string(e.RemoteDump)))
		case rollback.EventDisconnected:
			nm.markDisconnected(e.Addr)
			nm.log.Warn("player disconnected", "peer", e.Addr)
		case rollback.EventVersionMismatch:
			return errors.New(e.String())
		}
	}
	return nil
}

// diffLines returns the lines of two dumps that differ, as "local | remote".
func diffLines(local, remote string) string {
	l, r := strings.Split(local, "\n"), strings.Split(remote, "\n")
	var out []string
	for i := range max(len(l), len(r)) {
		var a, b string
		if i < len(l) {
			a = l[i]
		}
		if i < len(r) {
			b = r[i]
		}
		if a != b {
			out = append(out, a+" | "+b)
		}
	}
	return strings.Join(out, "; ")
}

// markDisconnected marks the remote player with this id disconnected: its
// box greys out and allAcked stops waiting for it.
func (nm *netMatch) markDisconnected(id transport.PeerID) {
	for i := range nm.remotes {
		if nm.remotes[i].id == id {
			nm.remotes[i].disconnected = true
		}
	}
}

// allAcked reports whether every connected peer has acknowledged all our
// inputs.
func (nm *netMatch) allAcked() bool {
	for _, r := range nm.remotes {
		if !r.disconnected && r.stats.SendQueueLen > 0 {
			return false
		}
	}
	return true
}

// result summarises the match.
func (nm *netMatch) result() result {
	res := result{
		Players:        int(nm.world.Players),
		Rollbacks:      nm.rollbacks,
		RollbackFrames: nm.rollbackFrames,
		Desyncs:        nm.desyncs,
		MaxPingMS:      nm.maxPing.Milliseconds(),
	}
	if nm.reached {
		res.Frame, res.Checksum = int(nm.target), checksumHex(nm.reachedSum)
	}
	return res
}

func (nm *netMatch) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = nm.sock.Close(ctx)
}
