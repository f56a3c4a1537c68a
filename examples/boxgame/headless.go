package main

import (
	"context"
	"fmt"
	"io"
	"time"
)

// runSyncTest is -synctest: the local determinism check, no network.
func runSyncTest(o options) (result, error) {
	m := newMatch(o.players)
	m.corruptAt = int32(o.desyncAt)
	res := result{Players: o.players}
	err := syncTest(m, o.players, o.checkDistance, o.frames, o.seed)
	res.Frame = int(m.world.Frame)
	res.Checksum = checksumHex(m.world.Checksum())
	res.Rollbacks, res.RollbackFrames = m.rollbacks, m.rollbackFrames
	return res, err
}

// lingerMax bounds how long a finished headless peer keeps sending so that
// the others receive its last inputs.
const lingerMax = 3 * time.Second

// runHeadless plays a networked match with a bot until frame o.frames is
// confirmed, at 60 ticks per second.
func runHeadless(ctx context.Context, o options, stderr io.Writer) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, joinTimeout+time.Duration(o.frames)*time.Second/15+lingerMax)
	defer cancel()
	nm, err := connect(ctx, o, stderr, nil)
	if err != nil {
		return result{}, err
	}
	defer nm.close()
	b := newBot(o.seed)
	ticker := time.NewTicker(time.Second / fps)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nm.result(), fmt.Errorf("frame %d not confirmed: %w (at frame %d, confirmed %d)",
				nm.target, ctx.Err(), nm.session.CurrentFrame(), nm.session.ConfirmedFrame())
		case <-ticker.C:
		}
		if err := nm.tick(b.input); err != nil {
			return nm.result(), err
		}
		if nm.finished() {
			return nm.result(), nil
		}
	}
}
