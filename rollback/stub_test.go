package rollback

import (
	"fmt"
	"math/rand/v2"
)

// stubState is the state of a tiny deterministic game: an order-sensitive
// hash of every input ever applied, so any difference in inputs shows.
type stubState struct {
	Frame int32
	Value uint64
}

func (s stubState) checksum() uint64 {
	h := uint64(s.Frame)*0x9e3779b97f4a7c15 ^ s.Value
	h ^= h >> 31
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>29
}

type stubRequest = Request[stubState, uint32]

// stubGame carries out requests and checks their order is sane.
type stubGame struct {
	gs stubState
	// corrupt, when set, is added to the state before every save: a
	// non-deterministic game.
	corrupt func() uint64
	// withStatus: a disconnected player's input counts differently, as in
	// a game that shows who left (Step may look at Disconnected, not at
	// Predicted or Confirmed).
	withStatus bool
	saves      int
	loads      int
	adv        int
	// confirmed records the checksum of the state after each advance, by
	// frame. A rollback overwrites what it resimulates, so entries up to the
	// session's confirmed frame are final.
	confirmed map[int32]uint64
}

func newStubGame() *stubGame { return &stubGame{confirmed: map[int32]uint64{}} }

func (g *stubGame) handle(reqs []stubRequest) error {
	for _, r := range reqs {
		switch r.Kind {
		case SaveState:
			if r.Frame != Frame(g.gs.Frame) {
				return fmt.Errorf("save of frame %d while the game is at frame %d", r.Frame, g.gs.Frame)
			}
			if r.Cell.Frame() != r.Frame {
				return fmt.Errorf("save cell holds frame %d, request says %d", r.Cell.Frame(), r.Frame)
			}
			if g.corrupt != nil {
				g.gs.Value += g.corrupt()
			}
			r.Cell.Save(g.gs, g.gs.checksum())
			g.saves++
		case LoadState:
			st, ok := r.Cell.Load()
			if !ok {
				return fmt.Errorf("load of frame %d that was never saved", r.Frame)
			}
			if Frame(st.Frame) != r.Frame {
				return fmt.Errorf("load of frame %d returned frame %d", r.Frame, st.Frame)
			}
			g.gs = st
			g.loads++
		case AdvanceFrame:
			if r.Frame != Frame(g.gs.Frame) {
				return fmt.Errorf("advance from frame %d while the game is at frame %d", r.Frame, g.gs.Frame)
			}
			g.advance(r.Inputs)
		default:
			return fmt.Errorf("invalid request kind %d", r.Kind)
		}
	}
	return nil
}

func (g *stubGame) advance(inputs []PlayerInput[uint32]) {
	v := g.gs.Value
	for i, in := range inputs {
		v = v*1099511628211 + uint64(in.Input)*uint64(2*i+1) + 7
		if g.withStatus && in.Status == Disconnected {
			v += 0x5bd1e995
		}
	}
	g.gs.Value = v
	g.gs.Frame++
	g.adv++
	g.confirmed[g.gs.Frame] = g.gs.checksum()
}

// randomCorruption makes a game non-deterministic.
func randomCorruption(seed uint64) func() uint64 {
	r := rand.New(rand.NewPCG(seed, 1))
	return func() uint64 { return r.Uint64() }
}

func kinds(reqs []stubRequest) []RequestKind {
	k := make([]RequestKind, len(reqs))
	for i, r := range reqs {
		k[i] = r.Kind
	}
	return k
}
