package signalserver

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/rollbox/rollbox/signalwire"
)

// Reconciliation compares this instance's connections with what the shared
// registry holds for it, and makes the registry true again. A stalled Redis
// makes both sides disagree: a leave or a join that timed out may never
// have run, or may run after the server gave up on it (Redis runs the
// commands it finds in its sockets when it resumes). So after any failed
// Redis command the heartbeat reconciles for a few beats, and otherwise
// every reconcileSweepBeats beats in case something else went wrong:
//
//   - A peer registered here whose connection is gone (a failed leave, or
//     a failed join that ran anyway) is removed, and its room is told
//     PeerLeft by the same script, exactly once: a leave that runs late
//     uses that script too, and whichever comes second finds nothing.
//   - A peer connected here, in a room, that the registry no longer holds
//     is disconnected with status 1012 (service restart), as when the whole
//     registration is lost: its room-mates may have been told PeerLeft, and
//     only joining again tells them of it again. Registering it again
//     silently would leave them out of step.
//
// While an instance reconciles after a failure it stays unhealthy, so that
// its joins wait until its ghosts are gone.
const (
	// reconcileBeatsAfterFailure is how many heartbeats reconcile after the
	// last failed command: commands Redis runs late run as soon as it
	// resumes, but not necessarily before the first reconciliation.
	reconcileBeatsAfterFailure = 5
	// reconcileSweepBeats is how often reconciliation runs without a
	// failure: it reads every peer of the instance, too much for each beat.
	reconcileSweepBeats = 30
	// reconcileLogEvery rate-limits the reconciliation's log line.
	reconcileLogEvery = 10 * time.Second
)

// reconcileFix is what reconciliation did about a peer.
type reconcileFix uint8

const (
	fixNotConnected  reconcileFix = iota // registered here without a connection: removed, room told
	fixNotRegistered                     // connected here, lost by the registry: disconnected
	fixCount
)

// fixNames label signalserver_reconciled_peers_total.
var fixNames = [fixCount]string{"not_connected", "not_registered"}

// reconcileState is the reconciliation's bookkeeping. Only the heartbeat
// goroutine touches the plain fields.
type reconcileState struct {
	suspectBeats atomic.Int32 // reconciling beats left after a failure
	fixed        [fixCount]atomic.Int64

	sinceSweep int             // beats since the last reconciliation
	loggedAt   time.Time       // of the last log line
	unlogged   [fixCount]int64 // peers fixed since it
}

// suspect makes the next heartbeats reconcile.
func (s *reconcileState) suspect() { s.suspectBeats.Store(reconcileBeatsAfterFailure) }

// reconcile makes the registry agree with this instance's connections when
// it is due (see above). It returns an error, and the instance stays
// unhealthy, only if Redis failed.
func (r *redisRegistry) reconcile(ctx context.Context, inst string, ev busEvents) error {
	st := &r.rec
	st.sinceSweep++
	if ev.Connected == nil || (st.suspectBeats.Load() <= 0 && st.sinceSweep < reconcileSweepBeats) {
		return nil
	}
	// The joined peers are listed before the registry is read: a peer that
	// joined, then left before the read, is no longer connected when
	// PeersLost checks.
	var joined []signalwire.PeerID
	if ev.Joined != nil {
		joined = ev.Joined()
	}
	rctx, cancel := r.opCtx(ctx)
	held, err := r.rdb.SMembers(rctx, r.key("peers:", inst)).Result()
	cancel()
	if err != nil {
		return r.failed(err)
	}
	registered := make(map[signalwire.PeerID]struct{}, len(held))
	var removed int64
	for _, id := range held {
		p := signalwire.PeerID(id)
		registered[p] = struct{}{}
		if ev.Connected(p) {
			continue // joining, in a room, or leaving right now
		}
		gone, err := r.removeAndTell(ctx, p)
		if err != nil {
			return err
		}
		if gone {
			removed++
		}
	}
	var lost []signalwire.PeerID
	for _, p := range joined {
		if _, ok := registered[p]; !ok {
			lost = append(lost, p)
		}
	}
	if len(lost) > 0 && ev.PeersLost != nil {
		ev.PeersLost(lost)
	}
	st.fixed[fixNotConnected].Add(removed)
	st.fixed[fixNotRegistered].Add(int64(len(lost)))
	st.unlogged[fixNotConnected] += removed
	st.unlogged[fixNotRegistered] += int64(len(lost))
	st.sinceSweep = 0
	if st.suspectBeats.Load() > 0 {
		st.suspectBeats.Add(-1)
	}
	if now := time.Now(); st.unlogged != [fixCount]int64{} && now.Sub(st.loggedAt) >= reconcileLogEvery {
		r.log.Warn("shared registry reconciled with this instance's connections",
			"removed_not_connected", st.unlogged[fixNotConnected],
			"disconnected_not_registered", st.unlogged[fixNotRegistered])
		st.loggedAt, st.unlogged = now, [fixCount]int64{}
	}
	return nil
}
