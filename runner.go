package rollbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/rollbox/rollbox/internal/ratelog"
	"github.com/rollbox/rollbox/rollback"
)

// sumRing is how many recent frames' checksums a runner remembers: more
// than any rollback reaches back (rollback.MaxPrediction plus
// rollback.MaxInputDelay), so a confirmed frame's checksum is still there.
const sumRing = 256

// session is what a runner drives: a P2P or a spectator session.
type session[S any, I comparable, A comparable] interface {
	AdvanceFrame() ([]rollback.Request[S, I], error)
	Events() []rollback.Event[A]
	CurrentFrame() rollback.Frame
	PollRemoteClients()
	State() rollback.SessionState
}

// player is one player as the runner tracks it.
type player[A comparable] struct {
	local        bool
	addr         A
	peer         string // addr, printed once for View
	disconnected bool
	// returning: readmitted (rejoin.go), its inputs not counting yet.
	returning bool
	status    rollback.InputStatus // in the last frame stepped
	stats     rollback.NetworkStats
}

// runner plays one peer's side of a match: it ticks a session, carries out
// its requests on the game's state and keeps what the game and its tests
// read (checksums of confirmed frames, rollbacks, desyncs, players). It
// knows nothing of how the peers found each other, so the network match
// and the in-process simulation share it. Not safe for concurrent use.
type runner[S any, I comparable, A comparable] struct {
	ops   stateOps[S, I]
	state *S
	frame rollback.Frame // the frame state is at

	p2p       *rollback.P2PSession[S, I, A]       // nil for a spectator
	spectator *rollback.SpectatorSession[S, I, A] // nil for a player
	sync      *rollback.SyncTestSession[S, I]     // set in a sync test only
	sess      session[S, I, A]

	local   []rollback.PlayerHandle
	input   func(PlayerHandle) I
	players []player[A]
	inputs  []PlayerInput[I] // reused for each step

	sums [sumRing]struct {
		frame rollback.Frame
		sum   uint64
	}
	// recorded is the newest frame handed to onConfirmed.
	recorded    rollback.Frame
	onConfirmed func(f rollback.Frame, sum uint64)

	skip  int
	ticks int
	// fps and inputDelay are the match's (a rejoin's lead is in frames).
	fps, inputDelay int
	// catchingUp: this player came back to a running match
	// (rollback.NewP2PSessionAt) and advances more than once a tick until
	// it is no longer behind.
	catchingUp bool
	// catchUpTo is the frame from which a player that came back plays
	// (rollback.Resume.At): it catches up at least until there.
	catchUpTo    rollback.Frame
	synchronized bool

	rollbacks, rollbackFrames, longestRollback int
	desyncs                                    int
	// rejoins counts the players readmitted.
	rejoins    int
	lastDesync Desync
	maxPing    time.Duration
	onDesync   func(Desync)

	// target is the frame whose confirmed checksum Result reports (0: none).
	target      rollback.Frame
	reached     bool
	reachedSum  uint64
	reachedTick int
	lingerTicks int
	// keepAt, when positive, is a frame whose state the runner copies to
	// kept whenever it steps or loads it (a simulation's last frame): the
	// last copy before the frame is confirmed is its final state.
	keepAt rollback.Frame
	kept   S
	// settled is the session's confirmed frame right after the last
	// AdvanceFrame: inputs that arrive later are not in the state until the
	// next AdvanceFrame rolls back.
	settled rollback.Frame

	// rec, when not nil, records the confirmed inputs (Config.Record);
	// inputRec keeps the recent frames' inputs until they are confirmed.
	rec      *recorder
	inputRec *inputRecord
	codec    *valueCodec[I]

	// playingLine and finishedLine are View's status lines for those
	// phases, made on first use: they never change, and View runs every
	// frame, where formatting them would allocate.
	playingLine, finishedLine string

	log *slog.Logger
	// remoteLog limits the lines other peers can cause (desyncs,
	// disconnects): a burst, then one a second.
	remoteLog ratelog.Limiter
	// scratch holds the state a dump hook is given or a load returns, so
	// that taking its address allocates nothing.
	scratch S
}

func (r *runner[S, I, A]) init(now func() time.Time) {
	r.remoteLog = ratelog.Limiter{Interval: time.Second, Burst: 10, Now: now}
	for i := range r.sums {
		r.sums[i].frame = rollback.NullFrame
	}
	r.recorded, r.settled = -1, rollback.NullFrame
	r.inputs = make([]PlayerInput[I], len(r.players))
	switch {
	case r.p2p != nil:
		r.sess = r.p2p
	case r.spectator != nil:
		r.sess = r.spectator
	}
	r.remember(0, r.ops.checksum(r.state))
}

// record starts recording the match to w (Config.Record). Call it after
// init, before the first tick.
func (r *runner[S, I, A]) record(w io.Writer, fps int) {
	r.rec = newRecorder(w, gameName[S, I](), len(r.players), r.codec.Size(), fps, r.sums[0].sum)
	r.inputRec = newInputRecord(len(r.players), r.codec.Size())
	for i := range r.inputRec.frames {
		r.inputRec.frames[i] = rollback.NullFrame
	}
}

// dumpHook is the session's state dump hook.
func (r *runner[S, I, A]) dumpHook(dst []byte, _ rollback.Frame, st S) []byte {
	r.scratch = st
	return r.ops.dump(dst, &r.scratch)
}

// errWaiting: the tick advanced no frame, which is not an error.
var errWaiting = errors.New("rollbox: waiting")

// tick runs one frame: receive, react to events, add the local inputs
// (calling input only when a frame is really added) and carry out the
// session's requests.
func (r *runner[S, I, A]) tick() error {
	r.ticks++
	r.sess.PollRemoteClients()
	if err := r.handleEvents(); err != nil {
		return err
	}
	r.updateStats()
	err := r.advance()
	if err != nil && err != errWaiting {
		return err
	}
	if r.catchingUp && err == nil {
		if err := r.catchUp(); err != nil {
			return err
		}
	}
	r.recordConfirmed()
	return nil
}

// catchUpPerTick bounds the frames a player coming back advances in one
// tick: four at 60 fps make up a second in a third of a second.
const catchUpPerTick = 4

// catchUp advances again while the others' inputs are more than the
// input delay and a frame or two ahead: those frames' inputs are known, so
// advancing them costs no rollback. (Level with the others, their newest
// input is their input delay, plus half a round trip, ahead.) Caught up
// that close, time sync has nothing left to even out, so the others do not
// wait for this player.
func (r *runner[S, I, A]) catchUp() error {
	slack := r.inputDelay + 2
	for range catchUpPerTick - 1 {
		if r.p2p.FramesBehind() <= slack {
			// Nothing heard yet reads as not behind: only once playing
			// again does not behind mean caught up.
			r.catchingUp = r.frame < r.catchUpTo
			return nil
		}
		r.recordConfirmed()
		if err := r.advance(); err != nil {
			if err == errWaiting {
				return nil
			}
			return err
		}
	}
	return nil
}

// readmitted records that the players of hd's peer are back, at addr.
func (r *runner[S, I, A]) readmitted(hd rollback.PlayerHandle, addr A) {
	old := r.players[hd].addr
	for i := range r.players {
		if p := &r.players[i]; !p.local && p.addr == old {
			p.addr, p.peer, p.disconnected, p.returning = addr, fmt.Sprint(addr), false, true
			p.stats = rollback.NetworkStats{}
		}
	}
	r.rejoins++
}

// samePeer reports whether players a and b play on the same peer.
func (r *runner[S, I, A]) samePeer(a, b rollback.PlayerHandle) bool {
	return r.players[a].addr == r.players[b].addr
}

func (r *runner[S, I, A]) advance() error {
	if r.p2p != nil {
		if r.p2p.State() != rollback.Running {
			return errWaiting
		}
		if r.skip > 0 {
			r.skip--
			return errWaiting
		}
		// Ahead of the others: drop one tick in ten, which slows this peer
		// by 10 % instead of stalling it for whole frames.
		if r.p2p.FramesAhead() > 0 && r.ticks%10 == 0 {
			return errWaiting
		}
	}
	for _, h := range r.local { // none on a spectator
		// Canonical: this peer must step what the others decode.
		in := r.codec.canonical(r.input(h))
		var err error
		if r.p2p != nil {
			err = r.p2p.AddLocalInput(h, in)
		} else {
			err = r.sync.AddLocalInput(h, in)
		}
		if err != nil {
			return err
		}
	}
	reqs, err := r.sess.AdvanceFrame()
	switch {
	case errors.Is(err, rollback.ErrPredictionThreshold), errors.Is(err, rollback.ErrNotSynchronized):
		return errWaiting // waiting for remote input; try again next tick
	case err != nil:
		return err
	}
	r.apply(reqs)
	if r.p2p != nil {
		r.settled = r.p2p.ConfirmedFrame()
	}
	return nil
}

// apply carries out requests in order.
func (r *runner[S, I, A]) apply(reqs []rollback.Request[S, I]) {
	for _, q := range reqs {
		switch q.Kind {
		case rollback.SaveState:
			// The advance that made this state hashed it already: the state
			// changes only by advancing or loading.
			sum, ok := r.checksum(r.frame)
			if !ok {
				sum = r.ops.checksum(r.state)
				r.remember(r.frame, sum)
			}
			q.Cell.Save(r.ops.clone(r.state), sum)
		case rollback.LoadState:
			// Loaded into scratch: a pointer to a local would move it
			// to the heap, an allocation per rollback.
			r.scratch, _ = q.Cell.Load()
			*r.state = r.ops.clone(&r.scratch)
			n := int(r.frame - q.Cell.Frame())
			r.frame = q.Cell.Frame()
			if sum, ok := q.Cell.Checksum(); ok {
				r.remember(r.frame, sum)
			}
			r.rollbacks++
			r.rollbackFrames += n
			r.longestRollback = max(r.longestRollback, n)
			r.keep()
		case rollback.AdvanceFrame:
			copy(r.inputs, q.Inputs)
			for i, in := range q.Inputs {
				r.players[i].status = in.Status
				if in.Status != rollback.Disconnected {
					r.players[i].returning = false
				}
			}
			if r.rec != nil {
				encodeInputs(r.inputRec.slot(q.Frame), r.codec, q.Inputs)
				r.inputRec.frames[int(q.Frame)%sumRing] = q.Frame
			}
			r.ops.step(r.state, r.inputs)
			r.frame = q.Frame + 1
			r.remember(r.frame, r.ops.checksum(r.state))
			r.keep()
		}
	}
}

func (r *runner[S, I, A]) keep() {
	if r.frame == r.keepAt && r.keepAt > 0 {
		r.kept = r.ops.clone(r.state)
	}
}

func (r *runner[S, I, A]) remember(frame rollback.Frame, sum uint64) {
	e := &r.sums[int(frame)%sumRing]
	e.frame, e.sum = frame, sum
}

// checksum returns the remembered checksum of frame's state, if it is
// recent.
func (r *runner[S, I, A]) checksum(frame rollback.Frame) (uint64, bool) {
	e := r.sums[int(frame)%sumRing]
	return e.sum, e.frame == frame
}

// confirmed returns the newest frame whose state can no longer change: its
// inputs and every earlier frame's are known.
func (r *runner[S, I, A]) confirmed() rollback.Frame {
	if r.p2p != nil {
		// The state at frame f is stepped from the inputs of frames
		// before f.
		return min(r.settled+1, r.frame)
	}
	// A spectator only ever steps confirmed inputs.
	return r.frame
}

// recordConfirmed hands the checksums of newly confirmed frames to
// onConfirmed and notes the target frame's.
func (r *runner[S, I, A]) recordConfirmed() {
	c := r.confirmed()
	for r.recorded < c {
		f := r.recorded + 1
		sum, ok := r.checksum(f)
		if !ok {
			// Further back than the ring: cannot happen while the ring
			// outlasts every rollback; stop recording rather than lie.
			r.log.Error("rollbox: checksum of a confirmed frame was forgotten", "frame", f)
			r.recorded = c
			return
		}
		if r.onConfirmed != nil {
			r.onConfirmed(f, sum)
		}
		// A match with a target ends there, and so does its replay: a
		// peer may confirm later frames (a spectators' host, a simulation
		// waiting for its other peers), which would make playback end past
		// the frame and checksum Result reports.
		if r.rec != nil && f > 0 && (r.target == 0 || f <= r.target) {
			if r.inputRec.frames[int(f-1)%sumRing] != f-1 {
				r.log.Error("rollbox: inputs of a confirmed frame were forgotten; recording stops", "frame", f-1)
				r.rec.err = errors.New("rollbox: recording lost a frame")
			}
			r.rec.frame(f-1, r.inputRec.slot(f-1), sum)
		}
		if f == r.target && r.target > 0 && !r.reached {
			r.reached, r.reachedSum, r.reachedTick = true, sum, r.ticks
		}
		r.recorded = f
	}
}

func (r *runner[S, I, A]) handleEvents() error {
	for _, e := range r.sess.Events() {
		switch e.Kind {
		case rollback.EventSynchronized:
			r.synchronized = true
		case rollback.EventWaitRecommendation:
			r.skip = max(r.skip, e.SkipFrames)
		case rollback.EventDesyncDetected:
			r.desyncs++
			d := Desync{Frame: e.Frame, Peer: fmt.Sprint(e.Addr), LocalChecksum: e.LocalChecksum,
				RemoteChecksum: e.RemoteChecksum, LocalDump: e.LocalDump}
			r.lastDesync = d
			r.remoteLog.Log(context.Background(), r.log, slog.LevelError, "rollbox: desync", "frame", e.Frame, "peer", e.Addr,
				"local", fmt.Sprintf("%016x", e.LocalChecksum), "remote", fmt.Sprintf("%016x", e.RemoteChecksum))
			if r.onDesync != nil {
				r.onDesync(d)
			}
		case rollback.EventDesyncDump:
			d := Desync{Frame: e.Frame, Peer: fmt.Sprint(e.Addr), LocalChecksum: e.LocalChecksum,
				RemoteChecksum: e.RemoteChecksum, LocalDump: e.LocalDump, RemoteDump: e.RemoteDump}
			r.lastDesync = d
			r.remoteLog.Log(context.Background(), r.log, slog.LevelError, "rollbox: desync: state differs", "frame", e.Frame, "peer", e.Addr, "diff", diffValue{&r.lastDesync})
			if r.onDesync != nil {
				r.onDesync(d)
			}
		case rollback.EventDisconnected:
			if r.catchUpTo > 0 && r.p2p != nil && r.p2p.State() != rollback.Running {
				// Coming back, and a player left meanwhile: this session
				// cannot start (see rollback.ErrResumeFailed).
				return fmt.Errorf("rollbox: %v left while this player was coming back: %w", e.Addr, rollback.ErrResumeFailed)
			}
			r.markDisconnected(e.Addr)
			r.remoteLog.Log(context.Background(), r.log, slog.LevelWarn, "rollbox: player disconnected", "peer", e.Addr, "reason", e.Reason)
		case rollback.EventVersionMismatch:
			return fmt.Errorf("rollbox: %s", e)
		case rollback.EventPlayerMapMismatch:
			return e.PlayerMap
		}
	}
	return nil
}

// markDisconnected marks the players at addr disconnected: the game can
// grey them out, and finished stops waiting for them.
func (r *runner[S, I, A]) markDisconnected(addr A) {
	for i := range r.players {
		if !r.players[i].local && r.players[i].addr == addr {
			r.players[i].disconnected = true
		}
	}
}

func (r *runner[S, I, A]) updateStats() {
	if r.p2p == nil {
		return
	}
	for i := range r.players {
		p := &r.players[i]
		if p.local || p.disconnected {
			continue
		}
		if st, err := r.p2p.NetworkStats(rollback.PlayerHandle(i)); err == nil {
			p.stats = st
			r.maxPing = max(r.maxPing, st.Ping)
		}
	}
}

// finished reports that the target frame is confirmed and every connected
// peer has acknowledged all our inputs, or lingerTicks have passed since:
// stopping earlier could leave them short of the target frame.
func (r *runner[S, I, A]) finished() bool {
	if !r.reached {
		return false
	}
	if r.ticks-r.reachedTick > r.lingerTicks {
		return true
	}
	if r.p2p == nil {
		return true // a spectator sends no input
	}
	for h, p := range r.players {
		if p.local || p.disconnected {
			continue
		}
		// Asked now, not read from the stats of the tick's start: the
		// tick that reached the target sent inputs the others need to
		// confirm it too, and a peer that left on the strength of stale
		// stats left them short (they dropped it, and played its last
		// frames without it).
		st, err := r.p2p.NetworkStats(PlayerHandle(h))
		switch {
		case err == nil && st.SendQueueLen > 0, errors.Is(err, rollback.ErrNotEnoughData):
			return false
		}
	}
	return true
}

// result summarises the match so far.
func (r *runner[S, I, A]) result() Result {
	res := Result{
		Players:        len(r.players),
		Rollbacks:      r.rollbacks,
		RollbackFrames: r.rollbackFrames,
		Desyncs:        r.desyncs,
		MaxPing:        r.maxPing,
	}
	if r.reached {
		res.Frame, res.Checksum = r.target, r.reachedSum
	}
	return res
}

// playingStatus describes the playing phase in a line.
func (r *runner[S, I, A]) playingStatus() string {
	if r.playingLine == "" {
		r.playingLine = r.describePlaying()
	}
	return r.playingLine
}

// finishedStatus describes the finished phase in a line.
func (r *runner[S, I, A]) finishedStatus() string {
	if r.finishedLine == "" {
		r.finishedLine = fmt.Sprintf("finished at frame %d", r.target)
	}
	return r.finishedLine
}

func (r *runner[S, I, A]) describePlaying() string {
	switch {
	case r.sync != nil:
		return fmt.Sprintf("sync test: every frame rolled back %d frames", r.sync.CheckDistance())
	case r.spectator != nil:
		return "spectating"
	case len(r.local) == 1:
		return fmt.Sprintf("playing as player %d", r.local[0]+1)
	}
	return fmt.Sprintf("playing as players %v", r.local)
}

// diffValue logs a desync's Diff, made only if the line is written: a
// diff of two dumps costs about a megabyte, and a peer can cause a desync
// every check, most of whose lines the rate limit holds back.
type diffValue struct{ d *Desync }

// LogValue implements slog.LogValuer.
func (v diffValue) LogValue() slog.Value { return slog.StringValue(v.d.Diff()) }
