package rollback_test

import (
	"fmt"
	"time"

	"github.com/rollbox/rollbox/rollback"
	"github.com/rollbox/rollbox/transport/simnet"
)

// counter is a tiny deterministic game: each frame adds every player's input.
type counter struct {
	Frame int
	Total int
}

func (c counter) checksum() uint64 { return uint64(c.Frame)<<32 | uint64(uint32(c.Total)) }

// A sync test session rolls the game back two frames every frame and checks
// the resimulated checksums, catching non-determinism before it reaches the
// network.
func Example() {
	cfg := rollback.DefaultConfig[uint8, string](rollback.UintCodec[uint8]{})
	cfg.CheckDistance = 2
	session, err := rollback.NewSyncTestSession[counter](cfg)
	if err != nil {
		panic(err)
	}
	var game counter
	for frame := range 60 {
		for player := range 2 {
			_ = session.AddLocalInput(rollback.PlayerHandle(player), uint8(frame%4+player))
		}
		requests, err := session.AdvanceFrame()
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, r := range requests {
			switch r.Kind {
			case rollback.SaveState:
				r.Cell.Save(game, game.checksum())
			case rollback.LoadState:
				game, _ = r.Cell.Load()
			case rollback.AdvanceFrame:
				for _, in := range r.Inputs {
					game.Total += int(in.Input)
				}
				game.Frame++
			}
		}
	}
	// Each frame adds 2*(frame%4)+1: 15 cycles of 1+3+5+7 = 240.
	fmt.Printf("frame %d, total %d\n", game.Frame, game.Total)
	// Output: frame 60, total 240
}

// Two peers play over a simulated network with 30 ms of latency each way,
// in virtual time: each ticks 60 times a second, predicts the other's input,
// rolls back when the real one differs, and checks every 10th confirmed
// frame's checksum against the other's.
func Example_p2p() {
	net := simnet.New(1, 2, simnet.Link{Latency: 30 * time.Millisecond})
	epoch := time.Unix(0, 0)
	type peer struct {
		session  *rollback.P2PSession[counter, uint8, int]
		game     counter
		desyncs  int
		rollback int
	}
	var peers [2]*peer
	for me := range peers {
		cfg := rollback.DefaultConfig[uint8, int](rollback.UintCodec[uint8]{})
		cfg.Clock = func() time.Time { return epoch.Add(net.Now()) } // virtual time, not the wall clock
		cfg.DesyncDetectionInterval = 10
		// Handles are the same on both peers: the one at address 0 plays 0.
		cfg.AddLocalPlayer(rollback.PlayerHandle(me))
		cfg.AddRemotePlayer(rollback.PlayerHandle(1-me), 1-me)
		session, err := rollback.NewP2PSession[counter](cfg, net.Endpoint(me))
		if err != nil {
			panic(err)
		}
		peers[me] = &peer{session: session}
	}
	for tick := 0; peers[0].session.ConfirmedFrame() < 120 || peers[1].session.ConfirmedFrame() < 120; tick++ {
		for me, p := range peers {
			p.session.PollRemoteClients()
			for _, ev := range p.session.Events() {
				if ev.Kind == rollback.EventDesyncDetected {
					p.desyncs++
				}
			}
			if p.session.State() != rollback.Running {
				continue // still synchronizing
			}
			// Peer 1 changes its input every 7 ticks (and neither has
			// the other's first input to predict from), so predictions
			// are sometimes wrong and the peers roll back.
			_ = p.session.AddLocalInput(rollback.PlayerHandle(me), uint8(me*(tick/7%3)+1))
			requests, err := p.session.AdvanceFrame()
			if err != nil {
				panic(err)
			}
			for _, r := range requests {
				switch r.Kind {
				case rollback.SaveState:
					r.Cell.Save(p.game, p.game.checksum())
				case rollback.LoadState:
					p.game, _ = r.Cell.Load()
					p.rollback++
				case rollback.AdvanceFrame:
					for _, in := range r.Inputs {
						p.game.Total += int(in.Input)
					}
					p.game.Frame++
				}
			}
		}
		net.Advance(time.Second / 60)
	}
	fmt.Println("both confirmed 120 frames; desyncs:", peers[0].desyncs+peers[1].desyncs)
	fmt.Println("rolled back:", peers[0].rollback > 0 && peers[1].rollback > 0)
	// Output:
	// both confirmed 120 frames; desyncs: 0
	// rolled back: true
}
