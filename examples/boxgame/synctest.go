package main

import (
	"fmt"

	"github.com/rollbox/rollbox/examples/boxgame/sim"
	"github.com/rollbox/rollbox/rollback"
)

// syncTest plays frames locally under a sync test session: every frame is
// rolled back checkDistance frames and simulated again, and any checksum
// that differs the second time is a determinism bug, returned as an error
// naming the frames.
func syncTest(m *match, players, checkDistance, frames int, seed uint64) error {
	cfg := rollback.DefaultConfig[sim.Input, string](rollback.UintCodec[sim.Input]{})
	cfg.NumPlayers = players
	cfg.CheckDistance = checkDistance
	cfg.MaxPrediction = max(rollback.DefaultMaxPrediction, checkDistance+1)
	session, err := rollback.NewSyncTestSession[sim.World](cfg)
	if err != nil {
		return err
	}
	bots := make([]*bot, players)
	for i := range bots {
		bots[i] = newBot(seed + uint64(i))
	}
	for range frames {
		for i, b := range bots {
			if err := session.AddLocalInput(rollback.PlayerHandle(i), b.input()); err != nil {
				return err
			}
		}
		reqs, err := session.AdvanceFrame()
		if err != nil {
			return fmt.Errorf("sync test at frame %d: %w", m.world.Frame, err)
		}
		m.apply(reqs)
	}
	return nil
}
