package signalserver

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rollbox/rollbox/internal/redistest"
	"github.com/rollbox/rollbox/signalwire"
)

// Presence settings of the Redis-backed test instances: the bound on
// PeerLeft after an instance dies is testTTL + testHeartbeat.
const (
	testHeartbeat = 100 * time.Millisecond
	testTTL       = time.Second
)

// startRedisCluster starts redis-server and n instances sharing it.
func startRedisCluster(t testing.TB, cfg Config, n int) *testCluster {
	t.Helper()
	rs := redistest.Start(t)
	c := &testCluster{redis: rs}
	for range n {
		ic := cfg
		ic.Redis = RedisConfig{URL: rs.URL(), Heartbeat: testHeartbeat, PresenceTTL: testTTL}
		c.servers = append(c.servers, startServer(t, ic))
	}
	for i, ts := range c.servers {
		eventually(t, fmt.Sprintf("instance %d registered", i), func() bool { return ts.registryHealth() == nil })
	}
	return c
}

// kill ends an instance as a crash would: its heartbeat stops, its
// connections drop, and it neither leaves its peers nor deregisters.
func (ts *testServer) kill() {
	ts.redis.abandon() // every later Redis call of this instance fails
	ts.busStop()
	<-ts.busDone
	ts.http.Listener.Close()
	ts.mu.RLock()
	for _, c := range ts.clients {
		_ = c.conn.NetConn().Close()
	}
	ts.mu.RUnlock()
}

// TestRedisInstanceKilledPeerLeft: the peers of an instance that dies
// without cleanup are removed, and their room-mates on the surviving
// instances hear PeerLeft within PresenceTTL + Heartbeat.
func TestRedisInstanceKilledPeerLeft(t *testing.T) {
	c := startRedisCluster(t, Config{}, 3)
	a := c.dial(t, "/k")
	b := c.dial(t, "/k") // on the instance that dies
	x := c.dial(t, "/k")
	a.expectAll(newPeerMsg(b.id), newPeerMsg(x.id))
	b.expect(newPeerMsg(x.id))

	start := time.Now()
	c.servers[1].kill()
	a.expect(peerLeftMsg(b.id))
	x.expect(peerLeftMsg(b.id))
	elapsed := time.Since(start)
	// A small allowance for scheduling under -race on a loaded machine.
	if bound := testTTL + testHeartbeat + 500*time.Millisecond; elapsed > bound {
		t.Fatalf("PeerLeft after %v, want within %v", elapsed, bound)
	}
	t.Logf("PeerLeft %v after the kill (bound %v + %v)", elapsed, testTTL, testHeartbeat)
	// The reaper counts a peer once Redis has removed it and queued its
	// PeerLeft, which the room may read first.
	reaped := func() int64 {
		return c.servers[0].redis.reaped.Load() + c.servers[2].redis.reaped.Load()
	}
	eventually(t, "one peer reaped", func() bool { return reaped() >= 1 })
	// The survivors still signal each other, and only once each.
	a.signal(x.id, `"still here"`)
	x.expect(signalMsg(a.id, `"still here"`))
	x.expectSilence(quiet)
	if n := reaped(); n != 1 {
		t.Fatalf("reaped %d peers, want 1", n)
	}
}

// TestRedisDownUnhealthyThenRecovers: with Redis gone, /health says why and
// joins are refused before the upgrade; when Redis returns (empty, as after
// a crash), the peers it forgot are told to rejoin and new joins work.
func TestRedisDownUnhealthyThenRecovers(t *testing.T) {
	c := startRedisCluster(t, Config{}, 2)
	a := c.dial(t, "/d")
	b := c.dial(t, "/d")
	a.expect(newPeerMsg(b.id))

	c.redis.Stop()
	health := c.servers[0].http.URL + "/health"
	eventually(t, "unhealthy", func() bool {
		resp, err := http.Get(health)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(body), "redis unreachable")
	})
	// Each instance notices at its own next heartbeat.
	for i, ts := range c.servers {
		eventually(t, fmt.Sprintf("instance %d unhealthy", i), func() bool { return ts.registryHealth() != nil })
	}
	for _, ts := range c.servers {
		status, body := ts.refused(t, "/d", nil)
		if status != http.StatusServiceUnavailable || !strings.HasPrefix(body, "signalserver: room registry unavailable: redis unreachable") {
			t.Fatalf("join with Redis down: %d %q, want 503 room registry unavailable", status, body)
		}
	}
	if n := c.sum(func(m *Metrics) int64 { return m.Refused("registry_unavailable") }); n != 2 {
		t.Fatalf("registry_unavailable refusals = %d, want 2", n)
	}
	if !strings.Contains(get(t, c.servers[0].http.URL+"/metrics"), "signalserver_registry_healthy 0\n") {
		t.Fatal("metrics do not show the registry unhealthy")
	}

	c.redis.Start()
	for i, ts := range c.servers {
		eventually(t, fmt.Sprintf("instance %d healthy", i), func() bool { return ts.registryHealth() == nil })
	}
	// The restarted Redis knows nothing of a and b: they must join again.
	for _, p := range []*peer{a, b} {
		if code := p.expectClose(); code != websocket1012 {
			t.Fatalf("close code %d, want 1012 (service restart)", code)
		}
	}
	eventually(t, "registry_lost disconnects counted", func() bool {
		return c.sum(func(m *Metrics) int64 { return m.Disconnects("registry_lost") }) == 2
	})
	p := c.dial(t, "/d")
	q := c.dial(t, "/d")
	p.expect(newPeerMsg(q.id))
	q.signal(p.id, `"back"`)
	p.expect(signalMsg(q.id, `"back"`))
}

// TestRedisConcurrentNextJoinsFormExactGroups races 240 joins of one
// next=4 pool over three registries sharing Redis: every peer ends in
// exactly one group of exactly four, and each joiner was announced to
// exactly the members before it.
func TestRedisConcurrentNextJoinsFormExactGroups(t *testing.T) {
	rs := redistest.Start(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	var running sync.WaitGroup
	var regs []*redisRegistry
	defer func() {
		cancel()
		running.Wait()
		for _, r := range regs {
			_ = r.Close()
		}
	}()
	for range 3 {
		r, err := newRedis(RedisConfig{URL: rs.URL(), Heartbeat: testHeartbeat, PresenceTTL: testTTL}, 64, log)
		if err != nil {
			t.Fatal(err)
		}
		running.Go(func() {
			_ = r.Run(ctx, busEvents{Deliver: func(signalwire.PeerID, []byte) {}, RegistrationLost: func() {}})
		})
		eventually(t, "registered", func() bool { return r.Health() == nil })
		regs = append(regs, r)
	}
	const peers, size = 240, 4
	key := roomKey{ID: "race", Next: size}
	before := make(map[signalwire.PeerID][]signalwire.PeerID, peers)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range peers {
		wg.Go(func() {
			id := signalwire.NewPeerID()
			got, err := regs[i%3].Join(context.Background(), key, id)
			if err != nil {
				t.Errorf("join: %v", err)
				return
			}
			mu.Lock()
			before[id] = got
			mu.Unlock()
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// The last joiner of each group heard of size-1 members; together they
	// are the group. Every other peer was told of a prefix of it.
	groupOf := map[signalwire.PeerID]int{}
	groups := 0
	for id, members := range before {
		if len(members) > size-1 {
			t.Fatalf("peer announced to %d members, more than a group of %d holds", len(members), size)
		}
		if len(members) != size-1 {
			continue
		}
		for _, m := range append(slices.Clone(members), id) {
			if g, dup := groupOf[m]; dup {
				t.Fatalf("peer %s in groups %d and %d", m, g, groups)
			}
			groupOf[m] = groups
		}
		for i, m := range members {
			if !slices.Equal(before[m], members[:i]) {
				t.Fatalf("member %d of group %d was told of %v, want %v", i, groups, before[m], members[:i])
			}
		}
		groups++
	}
	if groups != peers/size || len(groupOf) != peers {
		t.Fatalf("%d complete groups holding %d peers, want %d holding %d", groups, len(groupOf), peers/size, peers)
	}
	n, err := regs[0].Size(context.Background(), key)
	if err != nil || n != 0 {
		t.Fatalf("open pool holds %d (%v), want 0: every group is complete", n, err)
	}
	// Signals pass inside a group only.
	var ids []signalwire.PeerID
	for id := range groupOf {
		ids = append(ids, id)
	}
	for _, x := range ids[:20] {
		for _, y := range ids[:20] {
			ok, err := regs[1].CanSignal(context.Background(), x, y)
			if err != nil || ok != (groupOf[x] == groupOf[y]) {
				t.Fatalf("CanSignal(%s, %s) = %v, %v; same group %v", x, y, ok, err, groupOf[x] == groupOf[y])
			}
		}
	}
}

func TestRedisConfigChecked(t *testing.T) {
	for _, cfg := range []Config{
		{Redis: RedisConfig{URL: "http://not-redis"}},
		{Redis: RedisConfig{URL: "redis://127.0.0.1:1/0", Heartbeat: time.Second, PresenceTTL: time.Second}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%+v accepted", cfg.Redis)
		}
	}
}

// TestRedisInboxOverflowCounted: an instance that falls further behind than
// its inbox holds loses the oldest frames, and says exactly how many; what
// it does read still arrives in order.
func TestRedisInboxOverflowCounted(t *testing.T) {
	rs := redistest.Start(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// No heartbeat runs while the frames are published: the presence must
	// outlive that on a loaded machine.
	r, err := newRedis(RedisConfig{URL: rs.URL(), Heartbeat: testHeartbeat, PresenceTTL: time.Minute, InboxLen: 10}, 64, log)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var running sync.WaitGroup
	defer func() {
		cancel()
		running.Wait()
	}()
	// Registered but not yet reading: everything published waits in Redis.
	if err := r.register(ctx); err != nil {
		t.Fatal(err)
	}
	peer := signalwire.NewPeerID()
	if _, err := r.Join(ctx, roomKey{ID: "o"}, peer); err != nil {
		t.Fatal(err)
	}
	const sent = 500
	for i := range sent {
		if n, err := r.Publish(ctx, []signalwire.PeerID{peer}, fmt.Appendf(nil, "%d", i)); err != nil || n != 1 {
			t.Fatalf("publish %d: %d %v", i, n, err)
		}
	}
	var mu sync.Mutex
	var got []int
	lost := 0
	running.Go(func() {
		_ = r.Run(ctx, busEvents{
			Deliver: func(to signalwire.PeerID, frame []byte) {
				var i int
				if _, err := fmt.Sscan(string(frame), &i); err != nil || to != peer {
					t.Errorf("delivered %q to %s", frame, to)
				}
				mu.Lock()
				got = append(got, i)
				mu.Unlock()
			},
			RegistrationLost: func() { t.Error("registration lost") },
			FramesLost: func(n int) {
				mu.Lock()
				lost += n
				mu.Unlock()
			},
		})
	})
	eventually(t, "every frame delivered or counted lost", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got)+lost == sent
	})
	mu.Lock()
	defer mu.Unlock()
	if lost == 0 {
		t.Fatalf("%d frames into an inbox of 10 lost none", sent)
	}
	// The survivors are the newest frames, in order.
	for k, i := range got {
		if i != lost+k {
			t.Fatalf("frame %d of the survivors is %d, want %d (lost %d)", k, i, lost+k, lost)
		}
	}
}
