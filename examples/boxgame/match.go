package main

import (
	"github.com/rollbox/rollbox/examples/boxgame/sim"
	"github.com/rollbox/rollbox/rollback"
)

// request is what a rollback session asks of the box game.
type request = rollback.Request[sim.World, sim.Input]

// sumRing is how many recent frames' checksums a match remembers: more than
// any rollback reaches back, so the confirmed frame's checksum is always
// still there.
const sumRing = 256

// match carries out a session's requests on the world and keeps the numbers
// the overlay and the headless result show. It knows nothing of networks or
// windows, so the sync test, the headless bots and the window share it.
type match struct {
	world sim.World
	// step advances the world; tests swap in a broken one to prove the
	// sync test catches non-determinism.
	step func(w *sim.World, in []sim.Input)
	// corruptAt, when not -1, nudges a box after this frame is simulated:
	// the -desync-at debug switch that proves desync detection works.
	corruptAt int32

	status [sim.MaxPlayers]rollback.InputStatus // of each player in the last advance
	sums   [sumRing]struct {
		frame int32
		sum   uint64
	}
	rollbacks       int // loads
	rollbackFrames  int // frames simulated again because of loads
	longestRollback int
}

func newMatch(players int) *match {
	m := &match{world: sim.New(players), step: (*sim.World).Step, corruptAt: -1}
	for i := range m.sums {
		m.sums[i].frame = -1
	}
	return m
}

// apply carries out requests in order.
func (m *match) apply(reqs []request) {
	for _, r := range reqs {
		switch r.Kind {
		case rollback.SaveState:
			// The advance that made this world hashed it already; the
			// world changes only by advancing or loading a saved state.
			sum, ok := m.checksum(m.world.Frame)
			if !ok {
				sum = m.world.Checksum()
				m.remember(m.world.Frame, sum)
			}
			r.Cell.Save(m.world, sum)
		case rollback.LoadState:
			from := m.world.Frame
			m.world, _ = r.Cell.Load()
			n := int(from - m.world.Frame)
			m.rollbacks++
			m.rollbackFrames += n
			m.longestRollback = max(m.longestRollback, n)
		case rollback.AdvanceFrame:
			var in [sim.MaxPlayers]sim.Input
			for i, p := range r.Inputs {
				in[i] = p.Input
				m.status[i] = p.Status
			}
			m.step(&m.world, in[:len(r.Inputs)])
			if m.world.Frame == m.corruptAt {
				m.world.Boxes[0].X += sim.One
			}
			m.remember(m.world.Frame, m.world.Checksum())
		}
	}
}

func (m *match) remember(frame int32, sum uint64) {
	e := &m.sums[int(frame)%sumRing]
	e.frame, e.sum = frame, sum
}

// checksum returns the remembered checksum of frame's state, if it is recent.
func (m *match) checksum(frame int32) (uint64, bool) {
	e := m.sums[int(frame)%sumRing]
	return e.sum, e.frame == frame
}
