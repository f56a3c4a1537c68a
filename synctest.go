package rollbox

import (
	"github.com/rollbox/rollbox/rollback"
)

// syncTestSession adapts a rollback.SyncTestSession to the runner: no
// network, so no events, and always running.
type syncTestSession[S any, I comparable, A comparable] struct {
	*rollback.SyncTestSession[S, I]
}

func (syncTestSession[S, I, A]) Events() []rollback.Event[A]  { return nil }
func (syncTestSession[S, I, A]) PollRemoteClients()           {}
func (syncTestSession[S, I, A]) State() rollback.SessionState { return rollback.Running }

// newSyncTestRunner builds the runner of Config.SyncTest: every player is
// local and played by a bot, and every frame is rolled back CheckDistance
// frames and checked.
func newSyncTestRunner[S any, I comparable, A comparable](c Config, ops stateOps[S, I], codec *valueCodec[I], state *S) (*runner[S, I, A], error) {
	rc := sessionConfig[I, A](c, codec)
	rc.CheckDistance = c.CheckDistance
	rc.MaxPrediction = max(rc.MaxPrediction, c.CheckDistance+1)
	s, err := rollback.NewSyncTestSession[S](rc)
	if err != nil {
		return nil, err
	}
	r := &runner[S, I, A]{ops: ops, codec: codec, state: state, log: c.Logger, target: rollback.Frame(c.Frames)}
	r.sync, r.sess = s, syncTestSession[S, I, A]{s}
	bots := make([]*bot[I], c.Players)
	r.players = make([]player[A], c.Players)
	for h := range r.players {
		r.players[h].local = true
		r.local = append(r.local, rollback.PlayerHandle(h))
		bots[h] = newBot[I](codec, c.Seed+uint64(h))
	}
	r.input = func(h PlayerHandle) I { return bots[h].input(h) }
	if ops.dump != nil {
		s.SetStateDump(r.dumpHook)
	}
	r.init(nil)
	return r, nil
}
