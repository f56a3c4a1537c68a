package signalserver

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rollbox/rollbox/internal/redistest"
	"github.com/rollbox/rollbox/internal/syncbuf"
	"github.com/rollbox/rollbox/signalwire"
)

// stall is how long the stall tests pause Redis: longer than stallOpTimeout,
// so that every command sent meanwhile times out, and shorter than the
// presence TTL, so that no instance is presumed dead: the gap between the
// two is what reconciliation closes.
const (
	stall          = 3500 * time.Millisecond
	stallOpTimeout = 300 * time.Millisecond
	stallTTL       = 20 * time.Second
)

// startStallCluster starts redis-server and n instances whose presence
// outlives a stall of Redis.
func startStallCluster(t testing.TB, n int) *testCluster {
	t.Helper()
	rs := redistest.Start(t)
	c := &testCluster{redis: rs}
	for range n {
		c.servers = append(c.servers, startServer(t, Config{Redis: RedisConfig{
			URL: rs.URL(), Heartbeat: testHeartbeat, PresenceTTL: stallTTL, OpTimeout: stallOpTimeout,
		}}))
	}
	for i, ts := range c.servers {
		eventually(t, fmt.Sprintf("instance %d registered", i), func() bool { return ts.registryHealth() == nil })
	}
	return c
}

// pauseWhile pauses Redis for stall around leave, which must return once
// the instance has seen the departure, and resumes it.
func (c *testCluster) pauseWhile(t testing.TB, leave func()) {
	t.Helper()
	start := time.Now()
	c.redis.Pause()
	leave()
	if rest := stall - time.Since(start); rest > 0 {
		time.Sleep(rest) // the stall is the scenario, not a wait for a condition
	}
	c.redis.Resume()
}

// TestRedisStallLeaveReconciled: a peer leaves a room of three spread over
// two instances while Redis is stalled. Its leave times out (and may run in
// Redis after the server gave up); once Redis answers again, both remaining
// room-mates, one on each instance, hear PeerLeft exactly once.
func TestRedisStallLeaveReconciled(t *testing.T) {
	c := startStallCluster(t, 2)
	// A first leave puts the leave script in Redis's cache, so that the
	// stalled one is likely to run when Redis resumes, after the server has
	// given up on it (a script Redis does not know never runs late: its
	// client gives up before sending it in full). Which of the two happens
	// depends on the connection it takes; both must end with PeerLeft.
	w := c.dial(t, "/warm") // instance 0
	w.conn.Close()
	eventually(t, "the first leave", func() bool { return c.servers[0].Metrics().Peers.Load() == 0 })
	c.turn = 0
	a := c.dial(t, "/s") // instance 0
	b := c.dial(t, "/s") // instance 1
	x := c.dial(t, "/s") // instance 0, with a
	a.expectAll(newPeerMsg(b.id), newPeerMsg(x.id))
	b.expect(newPeerMsg(x.id))

	c.pauseWhile(t, func() {
		x.conn.Close()
		eventually(t, "the leaver disconnected", func() bool { return c.servers[0].Metrics().Peers.Load() == 1 })
	})
	resumed := time.Now()
	a.expect(peerLeftMsg(x.id))
	b.expect(peerLeftMsg(x.id))
	t.Logf("PeerLeft %v after Redis resumed; removed by reconciliation: %d", time.Since(resumed),
		c.servers[0].redis.rec.fixed[fixNotConnected].Load())
	// The room is true again: a and b still signal each other, and nobody
	// hears a second PeerLeft.
	a.signal(b.id, `"after"`)
	b.expect(signalMsg(a.id, `"after"`))
	b.signal(a.id, `"after"`)
	a.expect(signalMsg(b.id, `"after"`))
	a.expectSilence(quiet)
	b.expectSilence(quiet)
}

// TestRedisStallNextLeaveReconciled: a peer waiting in a next=2 pool leaves
// while Redis is stalled; after Redis answers again, two new joiners of
// that pool are matched with each other, not with the ghost.
func TestRedisStallNextLeaveReconciled(t *testing.T) {
	c := startStallCluster(t, 2)
	// The first leave of a fresh Redis: its script is not in the cache, so
	// the leave certainly does not run late and only reconciliation
	// removes the ghost.
	p := c.dial(t, "/w?next=2") // instance 0
	c.pauseWhile(t, func() {
		p.conn.Close()
		eventually(t, "the leaver disconnected", func() bool { return c.servers[0].Metrics().Peers.Load() == 0 })
	})
	resumed := time.Now()
	for i, ts := range c.servers {
		eventually(t, fmt.Sprintf("instance %d healthy", i), func() bool { return ts.registryHealth() == nil })
	}
	t.Logf("both instances healthy %v after Redis resumed", time.Since(resumed))
	q := c.dial(t, "/w?next=2") // instance 1
	r := c.dial(t, "/w?next=2") // instance 0
	q.expect(newPeerMsg(r.id))
	r.signal(q.id, `"paired"`)
	q.expect(signalMsg(r.id, `"paired"`))
	if n := c.servers[0].redis.rec.fixed[fixNotConnected].Load(); n != 1 {
		t.Fatalf("instance 0 removed %d peers that were not connected, want 1", n)
	}
	if !strings.Contains(get(t, c.servers[0].http.URL+"/metrics"), `signalserver_reconciled_peers_total{reason="not_connected"} 1`+"\n") {
		t.Fatal("metrics do not count the reconciled peer")
	}
}

// stallRegistry starts redis-server and one registered Redis registry that
// does not run yet: the test drives it.
func stallRegistry(t *testing.T) (*redistest.Server, *redisRegistry) {
	t.Helper()
	rs := redistest.Start(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r, err := newRedis(RedisConfig{URL: rs.URL(), Heartbeat: testHeartbeat, PresenceTTL: stallTTL, OpTimeout: stallOpTimeout}, 64, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	if err := r.register(context.Background()); err != nil {
		t.Fatal(err)
	}
	return rs, r
}

// runRegistry runs r's heartbeat and inbox with ev until the test ends.
func runRegistry(t *testing.T, r *redisRegistry, ev busEvents) {
	ctx, cancel := context.WithCancel(context.Background())
	var running sync.WaitGroup
	running.Go(func() { _ = r.Run(ctx, ev) })
	t.Cleanup(func() {
		cancel()
		running.Wait()
	})
}

// TestRedisStallLateJoinReconciled: a join times out while Redis is
// stalled, so the server drops the joiner, but Redis runs the join when it
// resumes. Reconciliation removes that ghost; two later joiners of the
// next=2 pool are matched with each other.
func TestRedisStallLateJoinReconciled(t *testing.T) {
	rs, r := stallRegistry(t)
	ctx := context.Background()
	key := roomKey{ID: "late", Next: 2}
	// One join first, in another pool: the script is then in Redis's cache
	// and an idle connection in the pool, so the stalled join is sent in
	// full and runs late.
	warm := signalwire.NewPeerID()
	if _, err := r.Join(ctx, roomKey{ID: "warm"}, warm); err != nil {
		t.Fatal(err)
	}
	ghost := signalwire.NewPeerID()
	rs.Pause()
	_, err := r.Join(ctx, key, ghost)
	rs.Resume()
	if err == nil {
		t.Fatal("join succeeded while Redis was stalled")
	}
	// Redis ran the join all the same.
	eventually(t, "the late join ran", func() bool {
		n, err := r.rdb.Exists(ctx, r.key("peer:", string(ghost))).Result()
		return err == nil && n == 1
	})
	var mu sync.Mutex
	var lost []signalwire.PeerID
	runRegistry(t, r, busEvents{
		Deliver:          func(signalwire.PeerID, []byte) {},
		RegistrationLost: func() { t.Error("registration lost") },
		Connected:        func(p signalwire.PeerID) bool { return p == warm }, // the late joiner was dropped
		Joined:           func() []signalwire.PeerID { return []signalwire.PeerID{warm} },
		PeersLost: func(p []signalwire.PeerID) {
			mu.Lock()
			lost = append(lost, p...)
			mu.Unlock()
		},
	})
	eventually(t, "the ghost removed", func() bool { return r.rec.fixed[fixNotConnected].Load() == 1 && r.Health() == nil })
	q, p := signalwire.NewPeerID(), signalwire.NewPeerID()
	if got, err := r.Join(ctx, key, q); err != nil || len(got) != 0 {
		t.Fatalf("first joiner announced to %v (%v), want no one: matched with the ghost", got, err)
	}
	if got, err := r.Join(ctx, key, p); err != nil || !slices.Equal(got, []signalwire.PeerID{q}) {
		t.Fatalf("second joiner announced to %v (%v), want [%s]", got, err, q)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lost) != 0 {
		t.Fatalf("PeersLost(%v), want no call", lost)
	}
}

// TestRedisStallLateLeaveTellsRoom: a leave times out while Redis is
// stalled and Redis runs it when it resumes: the room is told PeerLeft
// exactly once all the same, by the script that removed the peer.
func TestRedisStallLateLeaveTellsRoom(t *testing.T) {
	rs, r := stallRegistry(t)
	ctx := context.Background()
	key := roomKey{ID: "room"}
	a, x := signalwire.NewPeerID(), signalwire.NewPeerID()
	for _, p := range []signalwire.PeerID{a, x} {
		if _, err := r.Join(ctx, key, p); err != nil {
			t.Fatal(err)
		}
	}
	// A first leave caches the script (see the late join).
	w := signalwire.NewPeerID()
	if _, err := r.Join(ctx, roomKey{ID: "warm"}, w); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Leave(ctx, w); err != nil {
		t.Fatal(err)
	}
	rs.Pause()
	_, err := r.Leave(ctx, x)
	rs.Resume()
	if err == nil {
		t.Fatal("leave succeeded while Redis was stalled")
	}
	eventually(t, "the late leave ran", func() bool {
		n, err := r.rdb.Exists(ctx, r.key("peer:", string(x))).Result()
		return err == nil && n == 0
	})
	var mu sync.Mutex
	var got []string
	runRegistry(t, r, busEvents{
		Deliver: func(to signalwire.PeerID, frame []byte) {
			mu.Lock()
			got = append(got, string(to)+" "+string(frame))
			mu.Unlock()
		},
		RegistrationLost: func() { t.Error("registration lost") },
		Connected:        func(p signalwire.PeerID) bool { return p == a },
		Joined:           func() []signalwire.PeerID { return []signalwire.PeerID{a} },
		PeersLost:        func(p []signalwire.PeerID) { t.Errorf("PeersLost(%v)", p) },
	})
	want := string(a) + " " + peerLeftMsg(x)
	eventually(t, "PeerLeft delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) > 0
	})
	// Reconciliation runs for a few beats after the failure and finds
	// nothing more to tell.
	eventually(t, "reconciliation done", func() bool { return r.rec.suspectBeats.Load() == 0 })
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, []string{want}) {
		t.Fatalf("delivered %q, want [%q]", got, want)
	}
}

// TestRedisReconcileDisconnectsUnregistered: a peer connected and joined
// here that the registry no longer holds is disconnected with 1012 so
// that it joins again, and counted.
func TestRedisReconcileDisconnectsUnregistered(t *testing.T) {
	c := startStallCluster(t, 1)
	ts := c.servers[0]
	r := ts.redis
	a := ts.dial(t, "/u")
	b := ts.dial(t, "/u")
	a.expect(newPeerMsg(b.id))
	// The registry loses b behind the server's back (say, keys evicted).
	if removed, err := r.forgetSilently(context.Background(), b.id); err != nil || !removed {
		t.Fatalf("removing b: %v %v", removed, err)
	}
	r.rec.suspect()
	if code := b.expectClose(); code != websocket1012 {
		t.Fatalf("close code %d, want 1012", code)
	}
	eventually(t, "counted", func() bool {
		return r.rec.fixed[fixNotRegistered].Load() == 1 && ts.Metrics().Disconnects("registry_lost") == 1
	})
	if !strings.Contains(get(t, ts.http.URL+"/metrics"), `signalserver_reconciled_peers_total{reason="not_registered"} 1`+"\n") {
		t.Fatal("metrics do not count the disconnected peer")
	}
	// a stays, and hears nothing more of b: its room was not told by this
	// removal, and b's own leave finds nothing to tell.
	a.signal(a.id, `"self"`)
	a.expect(signalMsg(a.id, `"self"`))
}

// TestRedisReconcileLogRateLimited: reconciliation logs at most one line
// per reconcileLogEvery, and that line counts what the quiet ones found.
func TestRedisReconcileLogRateLimited(t *testing.T) {
	rs := redistest.Start(t)
	var logs syncbuf.Buffer
	r, err := newRedis(RedisConfig{URL: rs.URL(), Heartbeat: testHeartbeat, PresenceTTL: stallTTL}, 64,
		slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	if err := r.register(ctx); err != nil {
		t.Fatal(err)
	}
	inst, _ := r.instance()
	ev := busEvents{Connected: func(signalwire.PeerID) bool { return false }}
	lines := func() []string {
		var out []string
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "reconciled") {
				out = append(out, l)
			}
		}
		return out
	}
	ghost := func() {
		t.Helper()
		if _, err := r.Join(ctx, roomKey{ID: "g"}, signalwire.NewPeerID()); err != nil {
			t.Fatal(err)
		}
		r.rec.suspect()
		if err := r.reconcile(ctx, inst, ev); err != nil {
			t.Fatal(err)
		}
	}
	ghost()
	ghost()
	ghost()
	if l := lines(); len(l) != 1 || !strings.Contains(l[0], "removed_not_connected=1 ") {
		t.Fatalf("log lines %q, want one counting 1 peer", l)
	}
	r.rec.loggedAt = r.rec.loggedAt.Add(-reconcileLogEvery) // as if that long had passed
	ghost()
	if l := lines(); len(l) != 2 || !strings.Contains(l[1], "removed_not_connected=3 ") {
		t.Fatalf("log lines %q, want a second one counting the 3 peers since the first", l)
	}
	if n := r.rec.fixed[fixNotConnected].Load(); n != 4 {
		t.Fatalf("counted %d peers, want 4", n)
	}
}
