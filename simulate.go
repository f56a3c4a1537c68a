package rollbox

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/rollbox/rollbox/rollback"
	"github.com/rollbox/rollbox/transport/simnet"
)

// Simulation describes a match that Simulate plays in-process: every peer
// in this process, the network simulated (transport/simnet), time virtual.
type Simulation[I comparable] struct {
	// Players is the number of players, one per peer. Default 2.
	Players int
	// Frames is how far the match goes: every peer plays to this frame and
	// waits until it is confirmed. Default 600.
	Frames int
	// Link is the network between every two peers: latency, jitter, loss,
	// duplication, reordering, bandwidth. The zero Link delivers at once.
	Link simnet.Link
	// Seed seeds the network and the bots; the same seed plays the same
	// match, packet for packet.
	Seed uint64
	// Input returns player p's input when the match is at frame f (it is
	// played at f plus the input delay). Nil: a bot per player, seeded from
	// Seed.
	Input func(p PlayerHandle, f Frame) I
	// Record, when not nil, receives peer 0's replay of the match (see
	// Config.Record).
	Record io.Writer
	// Drops take players off the network for a while, to test a game
	// through disconnects and rejoins (see Drop).
	Drops []Drop
	// Config holds the rollback settings (InputDelay, MaxPrediction,
	// Lockstep, DesyncInterval, FPS, disconnect timeouts) with the same
	// defaults as a real match; its network fields are not used.
	Config Config
}

// Drop takes a player of a simulation off the network: when its frame
// reaches Frame, every packet to and from it is lost for For. It plays on
// alone; once the others dropped it (after Config.DisconnectTimeout, 2 s
// by default in a simulation with drops) and it them, and the network is
// back, it comes back to the match as a player of a network match does (see
// Config.RejoinDir): from a new address, through the rejoin protocol, with
// the state the others send it. A drop shorter than the disconnect
// timeout is only a stall.
type Drop struct {
	Player PlayerHandle
	Frame  Frame
	For    time.Duration
}

// SimulationResult is what every peer of a simulated match saw.
type SimulationResult[S any] struct {
	Peers []SimulatedPeer[S]
	// Elapsed is the virtual time the match took.
	Elapsed time.Duration
}

// SimulatedPeer is one peer's view of a simulated match.
type SimulatedPeer[S any] struct {
	// Checksums holds the checksum of the confirmed state at every frame
	// from 0 to Frames; zero for the frames a dropped player confirmed
	// alone, from its drop until the frame it came back at (Returns).
	Checksums []uint64
	// Returns holds, for each time the player came back after a Drop, the
	// frame of the state it was given.
	Returns []Frame
	// State is the confirmed state at frame Frames.
	State S
	// Result has the peer's rollback and desync counts; Checksum is
	// Checksums[Frames].
	Result Result
}

// ErrDiverged: peers of a simulation confirmed different states for the
// same frame. A *DivergedError matches it.
var ErrDiverged = errors.New("rollbox: peers diverged")

// DivergedError names the first frame two peers of a simulation disagree
// on.
type DivergedError struct {
	Frame     Frame
	Peer      int    // differs from peer 0
	Sum, Want uint64 // the peer's checksum and peer 0's
}

func (e *DivergedError) Error() string {
	return fmt.Sprintf("rollbox: peer %d's state at frame %d differs from peer 0's (%016x, want %016x)", e.Peer, e.Frame, e.Sum, e.Want)
}

// Is reports whether target is ErrDiverged.
func (e *DivergedError) Is(target error) bool { return target == ErrDiverged }

// Simulate plays a whole match in this process, over a simulated network in
// virtual time, and returns what every peer confirmed: the test a game
// writes to prove that it plays online. It fails with a *DivergedError
// (errors.Is ErrDiverged) if peers confirmed different states, and with
// an error if the match stalled (no frame confirmed for a minute of virtual
// time) or a session failed. Every peer starts from a copy of initial.
func Simulate[S any, I comparable, G Game[S, I]](initial G, sim Simulation[I]) (SimulationResult[S], error) {
	var res SimulationResult[S]
	if sim.Players == 0 {
		sim.Players = DefaultPlayers
	}
	if sim.Frames == 0 {
		sim.Frames = 600
	}
	c := sim.Config
	c.Players, c.LocalPlayers, c.Peers, c.Spectators, c.Spectate = sim.Players, 1, sim.Players, 0, false
	c.Frames = sim.Frames
	c.SyncTest, c.Headless, c.Bot = false, false, false
	if c.DisconnectTimeout == 0 && len(sim.Drops) == 0 {
		// Virtual time never stalls for a scheduler, so only the network
		// can lose a peer; a simulation of a bad link should not.
		c.DisconnectTimeout = time.Minute
		c.DisconnectNotifyStart = 30 * time.Second
	}
	c, err := c.withDefaults()
	if err != nil {
		return res, err
	}
	if initial == nil {
		return res, errors.New("rollbox: initial state is nil")
	}
	ops, codec, err := newGame[S, I, G]()
	if err != nil {
		return res, err
	}
	n := sim.Players
	for _, d := range sim.Drops {
		if d.Player < 0 || int(d.Player) >= n || d.For < 0 {
			return res, fmt.Errorf("rollbox: drop of player %d for %v in a simulation of %d players", d.Player, d.For, n)
		}
	}
	net := simnet.New(sim.Seed, n+len(sim.Drops), sim.Link)
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.clock = func() time.Time { return epoch.Add(net.Now()) }
	pm := playerMap[int]{host: 0}
	for p := range n {
		pm.byHandle = append(pm.byHandle, p)
	}
	runners := make([]*runner[S, I, int], n)
	res.Peers = make([]SimulatedPeer[S], n)
	for p := range n {
		state := new(S)
		*state = ops.clone((*S)(initial))
		var input func(PlayerHandle) I
		if sim.Input != nil {
			input = func(h PlayerHandle) I { return sim.Input(h, runners[p].frame) }
		} else {
			input = newBot[I](codec, sim.Seed+uint64(p)).input
		}
		pc := c
		pc.sessionSeed = sim.Seed*1000003 + uint64(p) + 1
		r, err := newSessionRunner(pc, ops, codec, state, input, p, pm, rollback.Socket[int](net.Endpoint(p)))
		if err != nil {
			return res, err
		}
		r.keepAt = rollback.Frame(sim.Frames)
		if p == 0 && sim.Record != nil {
			r.record(sim.Record, c.FPS)
		}
		sums := make([]uint64, sim.Frames+1)
		res.Peers[p].Checksums = sums
		r.onConfirmed = func(f rollback.Frame, sum uint64) {
			if int(f) < len(sums) {
				sums[f] = sum
			}
		}
		runners[p] = r
	}
	drops := newSimDrops(&sim, c, ops, codec, net, runners, res.Peers)
	tick := time.Second / time.Duration(c.FPS)
	lastProgress, progress := time.Duration(0), rollback.Frame(-1)
	for {
		done := true
		least := rollback.Frame(sim.Frames)
		for p, r := range runners {
			if err := r.tick(); err != nil {
				return res, fmt.Errorf("rollbox: simulation at %v: %w", net.Now(), err)
			}
			if drops.away(p) {
				done = false
				continue
			}
			least = min(least, r.recorded)
			done = done && r.recorded >= rollback.Frame(sim.Frames)
		}
		if err := drops.poll(); err != nil {
			return res, fmt.Errorf("rollbox: simulation at %v: %w", net.Now(), err)
		}
		if done {
			break
		}
		if least > progress {
			progress, lastProgress = least, net.Now()
		} else if net.Now()-lastProgress > time.Minute {
			return res, fmt.Errorf("rollbox: simulation stalled at frame %d for a minute of virtual time", progress)
		}
		net.Advance(tick)
	}
	res.Elapsed = net.Now()
	if rec := runners[0].rec; rec != nil {
		if err := rec.flush(); err != nil {
			return res, fmt.Errorf("rollbox: recording: %w", err)
		}
	}
	for p, r := range runners {
		res.Peers[p].State = r.kept
		res.Peers[p].Result = r.result()
	}
	for p := 1; p < n; p++ {
		for f, sum := range res.Peers[p].Checksums {
			if want := res.Peers[0].Checksums[f]; sum != want && sum != 0 && want != 0 {
				return res, &DivergedError{Frame: Frame(f), Peer: p, Sum: sum, Want: want}
			}
		}
	}
	return res, nil
}
