package signalserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rollbox/rollbox/internal/redistest"
	"github.com/rollbox/rollbox/signalwire"
)

// busyMachine squeezes the test onto one CPU shared with goroutines that
// spin until the test ends: the server's reader outruns its writers, as on
// a loaded production host.
func busyMachine(t *testing.T) {
	t.Helper()
	prev := runtime.GOMAXPROCS(1)
	ctx, cancel := context.WithCancel(context.Background())
	var spinning sync.WaitGroup
	for range 2 {
		spinning.Go(func() {
			for ctx.Err() == nil {
				for range 10000 { // a little work between checks
				}
			}
		})
	}
	t.Cleanup(func() {
		cancel()
		spinning.Wait()
		runtime.GOMAXPROCS(prev)
	})
}

// readSignals reads n frames on p's connection in a goroutine and reports
// the first one that is not signalMsg(from, first+i), or a read error.
func readSignals(p *peer, from signalwire.PeerID, first, n int) <-chan error {
	done := make(chan error, 1)
	go func() {
		for i := range n {
			_ = p.conn.SetReadDeadline(time.Now().Add(60 * time.Second))
			_, msg, err := p.conn.ReadMessage()
			if err != nil {
				done <- fmt.Errorf("signal %d: %w", first+i, err)
				return
			}
			if want := signalMsg(from, fmt.Sprint(first+i)); string(msg) != want {
				done <- fmt.Errorf("got %s, want %s", msg, want)
				return
			}
		}
		done <- nil
	}()
	return done
}

// TestBurstsToReadingClientLoseNothing: a receiver that reads all the time
// is never "slow", however large a burst its room-mate sends and however
// busy the machine. Five bursts of 2,000 signals all arrive, in order, and
// nobody is disconnected: with the default queue; with queues so small, in
// bytes or in frames, that the sender must be paused again and again; and
// from another instance, through the bus, which cannot be paused.
func TestBurstsToReadingClientLoseNothing(t *testing.T) {
	memory := func(cfg Config) func(t *testing.T) *testCluster {
		return func(t *testing.T) *testCluster { return &testCluster{servers: []*testServer{startServer(t, cfg)}} }
	}
	for _, tc := range []struct {
		name      string
		start     func(t *testing.T) *testCluster
		mustPause bool
	}{
		{"default", memory(Config{}), false},
		{"byte-bound", memory(Config{SendQueueBytes: 16 << 10}), true},
		{"frame-cap", memory(Config{SendQueue: 16}), true},
		{"redis-cross-instance", func(t *testing.T) *testCluster { return startSlowRedisPair(t, Config{}) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.start(t)
			busyMachine(t)
			a := c.dial(t, "/r")
			b := c.dial(t, "/r") // on the other instance, if there are two
			a.expect(newPeerMsg(b.id))
			const bursts, burst = 5, 2000
			for k := range bursts {
				done := readSignals(b, a.id, k*burst, burst)
				for i := range burst {
					a.signal(b.id, fmt.Sprint(k*burst+i))
				}
				select {
				case err := <-done:
					if err != nil {
						t.Fatalf("burst %d: %v (%s)", k, err, c.disconnects())
					}
				case <-time.After(2 * time.Minute):
					t.Fatalf("burst %d not received", k)
				}
			}
			if d := c.disconnects(); d != "" {
				t.Errorf("disconnects: %s", d)
			}
			if got := c.sum(func(m *Metrics) int64 { return m.Peers.Load() }); got != 2 {
				t.Errorf("peers = %d, want 2", got)
			}
			if pauses := c.sum(func(m *Metrics) int64 { return m.SenderPauses.Load() }); tc.mustPause && pauses == 0 {
				t.Error("the sender was never paused: the test did not fill the queue")
			}
		})
	}
}

// startSlowRedisPair starts two instances sharing a real redis-server,
// with the default presence timing: on a machine as busy as busyMachine
// makes it, the test cluster's one-second presence TTL would expire and
// drop the peers for a reason that is not this test's.
func startSlowRedisPair(t *testing.T, cfg Config) *testCluster {
	rs := redistest.Start(t)
	c := &testCluster{redis: rs}
	for range 2 {
		cfg.Redis = RedisConfig{URL: rs.URL()}
		c.servers = append(c.servers, startServer(t, cfg))
	}
	for i, ts := range c.servers {
		eventually(t, fmt.Sprintf("instance %d registered", i), func() bool { return ts.registryHealth() == nil })
	}
	return c
}

// disconnects lists the cluster's disconnects by reason, and lost
// registrations; empty when there were none.
func (c *testCluster) disconnects() string {
	var out []string
	for _, why := range disconnectNames {
		if n := c.sum(func(m *Metrics) int64 { return m.Disconnects(why) }); n != 0 {
			out = append(out, fmt.Sprintf("%s=%d", why, n))
		}
	}
	var lost int64
	for _, ts := range c.servers {
		lost += ts.bc.lost.Load()
	}
	if lost != 0 {
		out = append(out, fmt.Sprintf("registrations_lost=%d", lost))
	}
	return strings.Join(out, " ")
}

// dialNonReader joins path with a client that never reads, not even its
// IdAssigned, behind a tiny receive window so that the kernel buffers fill
// fast; watcher, already in the room, learns its id.
func (ts *testServer) dialNonReader(t *testing.T, path string, watcher *peer) signalwire.PeerID {
	t.Helper()
	dialer := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			_ = conn.(*net.TCPConn).SetReadBuffer(4096)
		}
		return conn, err
	}}
	conn, _, err := dialer.Dial(ts.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var np struct{ NewPeer signalwire.PeerID }
	if err := json.Unmarshal(watcher.next(), &np); err != nil {
		t.Fatal(err)
	}
	return np.NewPeer
}

// peakQueuedBytes samples the server's queued bytes until the returned
// function is called, which returns the largest value seen.
func peakQueuedBytes(ts *testServer) func() int64 {
	var peak atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if q := ts.Metrics().QueuedBytes.Load(); q > peak.Load() {
				peak.Store(q)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return func() int64 {
		close(stop)
		<-done
		return peak.Load()
	}
}

// slowConsumerRoom joins two reading peers, a and fast, to room /r on here
// and a client that never reads to it on there (which may be here), and
// returns them with the never-reading client's id.
func slowConsumerRoom(t *testing.T, here, there *testServer) (a, fast *peer, slowID signalwire.PeerID) {
	t.Helper()
	a = here.dial(t, "/r")
	fast = here.dial(t, "/r")
	a.expect(newPeerMsg(fast.id))
	slowID = there.dialNonReader(t, "/r", a)
	fast.expect(newPeerMsg(slowID))
	return a, fast, slowID
}

// floodPastSlowConsumer has a send 800 signals of 16 KiB (12.5 MiB) each to
// slowID and to fast, then waits until fast has received all of its own and
// a has seen the slow peer leave.
func floodPastSlowConsumer(t *testing.T, a, fast *peer, slowID signalwire.PeerID) {
	t.Helper()
	payload := `"` + strings.Repeat("z", 16<<10) + `"`
	const n = 800
	done := readSignalsOf(fast, a.id, payload, n)
	for range n {
		a.signal(slowID, payload)
		a.signal(fast.id, payload)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	a.expect(peerLeftMsg(slowID))
}

// TestSlowConsumerDisconnected: a client that never reads is disconnected
// once its full queue has not drained for SlowConsumerTimeout, the server
// never holds more than its queue's bound for it meanwhile, and the
// sender's other room-mate receives everything.
func TestSlowConsumerDisconnected(t *testing.T) {
	const bound = 64 << 10
	ts := startServer(t, Config{SendQueueBytes: bound, SlowConsumerTimeout: time.Second, WriteTimeout: 30 * time.Second})
	a, fast, slowID := slowConsumerRoom(t, ts, ts)
	peak := peakQueuedBytes(ts)
	floodPastSlowConsumer(t, a, fast, slowID)
	// Two queues (the slow and the fast peer's), each within its bound,
	// and a few bytes of NewPeer.
	if got := peak(); got > 2*bound+1024 {
		t.Errorf("queued up to %d bytes, want at most %d", got, 2*bound+1024)
	}
	m := ts.Metrics()
	if got := m.Disconnects("slow_consumer"); got != 1 {
		t.Errorf("slow_consumer disconnects = %d, want 1", got)
	}
	if got := m.Peers.Load(); got != 2 {
		t.Errorf("peers = %d, want 2", got)
	}
	if m.SenderPauses.Load() == 0 {
		t.Error("the sender never waited for the slow peer's queue")
	}
	eventually(t, "queue memory released", func() bool { return m.QueuedBytes.Load() == 0 })
}

// TestGlobalQueueCapShedsOnlyStalledClients: when the queues together
// exceed MaxQueuedBytes, the clients whose writes have stalled are
// disconnected at once (long before SlowConsumerTimeout), and a client
// that reads keeps everything.
func TestGlobalQueueCapShedsOnlyStalledClients(t *testing.T) {
	ts := startServer(t, unlimited(Config{
		SendQueueBytes:      1 << 20,
		MaxQueuedBytes:      256 << 10,
		SlowConsumerTimeout: time.Minute, // only the global cap may act
		ReadTimeout:         2 * time.Minute,
		WriteTimeout:        10 * time.Minute,
	}))
	a := ts.dial(t, "/r")
	fast := ts.dial(t, "/r")
	a.expect(newPeerMsg(fast.id))
	var stalled []signalwire.PeerID
	for range 3 {
		id := ts.dialNonReader(t, "/r", a)
		fast.expect(newPeerMsg(id))
		stalled = append(stalled, id)
	}
	// More than the kernel buffers (up to 4 MiB of send buffer) and the
	// 1 MiB queue hold.
	payload := `"` + strings.Repeat("z", 48<<10) + `"`
	const n = 200 // 9.4 MiB to each
	done := readSignalsOf(fast, a.id, payload, n)
	for range n {
		for _, id := range stalled {
			a.signal(id, payload)
		}
		a.signal(fast.id, payload)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	a.expectAll(peerLeftMsg(stalled[0]), peerLeftMsg(stalled[1]), peerLeftMsg(stalled[2]))
	m := ts.Metrics()
	if got := m.Disconnects("memory_cap"); got != 3 {
		t.Errorf("memory_cap disconnects = %d, want 3", got)
	}
	if got := m.Disconnects("slow_consumer"); got != 0 {
		t.Errorf("slow_consumer disconnects = %d, want 0", got)
	}
	if got := m.Peers.Load(); got != 2 {
		t.Errorf("peers = %d, want 2", got)
	}
}

// readSignalsOf reads frames on p's connection in a goroutine until n of
// them were signalMsg(from, data), skipping PeerLeft; any other frame is an
// error.
func readSignalsOf(p *peer, from signalwire.PeerID, data string, n int) <-chan error {
	done := make(chan error, 1)
	want := signalMsg(from, data)
	go func() {
		for i := 0; i < n; {
			_ = p.conn.SetReadDeadline(time.Now().Add(60 * time.Second))
			_, msg, err := p.conn.ReadMessage()
			if err != nil {
				done <- fmt.Errorf("signal %d: %w", i, err)
				return
			}
			if strings.HasPrefix(string(msg), `{"PeerLeft":`) {
				continue
			}
			i++
			if string(msg) != want {
				done <- fmt.Errorf("signal %d: got %.80s, want %.80s", i, msg, want)
				return
			}
		}
		done <- nil
	}()
	return done
}

// TestInvalidUTF8ClosesSenderWith1007: a text frame that is not UTF-8
// closes its sender with status 1007 and never reaches the receiver, whose
// browser would close its own WebSocket on it.
func TestInvalidUTF8ClosesSenderWith1007(t *testing.T) {
	ts := startServer(t, Config{})
	a := ts.dial(t, "/r")
	b := ts.dial(t, "/r")
	a.expect(newPeerMsg(b.id))
	a.signal(b.id, `"fine é"`)
	a.signal(b.id, "\"bad \xff\"")
	if code := a.expectClose(); code != websocket.CloseInvalidFramePayloadData {
		t.Fatalf("close code %d, want 1007", code)
	}
	b.expect(signalMsg(a.id, `"fine é"`))
	b.expect(peerLeftMsg(a.id)) // and not the bad signal
	if n := ts.Metrics().Disconnects("invalid_utf8"); n != 1 {
		t.Fatalf("invalid_utf8 disconnects = %d, want 1", n)
	}
	if body := get(t, ts.http.URL+"/metrics"); !strings.Contains(body, `signalserver_disconnects_total{reason="invalid_utf8"} 1`+"\n") {
		t.Fatalf("/metrics does not count it:\n%s", body)
	}
	b.expectSilence(quiet)
}

// TestSlowConsumerAcrossInstances: frames from another instance cannot
// pause their sender, so a never-reading client there is disconnected once
// its queue overruns twice its bound (or stays full without a write for
// SlowConsumerTimeout), and its instance never holds more for it.
func TestSlowConsumerAcrossInstances(t *testing.T) {
	const bound = 64 << 10
	c := startSlowRedisPair(t, Config{SendQueueBytes: bound, SlowConsumerTimeout: time.Second, WriteTimeout: 30 * time.Second})
	here, there := c.servers[0], c.servers[1]
	a, fast, slowID := slowConsumerRoom(t, here, there)
	peak := peakQueuedBytes(there)
	floodPastSlowConsumer(t, a, fast, slowID)
	if got := peak(); got > 2*bound+1024 {
		t.Errorf("the slow peer's instance queued up to %d bytes, want at most %d", got, 2*bound+1024)
	}
	if got := there.Metrics().Disconnects("slow_consumer"); got != 1 {
		t.Errorf("slow_consumer disconnects = %d, want 1 (%s)", got, c.disconnects())
	}
	if got := c.sum(func(m *Metrics) int64 { return m.Peers.Load() }); got != 2 {
		t.Errorf("peers = %d, want 2", got)
	}
	eventually(t, "queue memory released", func() bool { return there.Metrics().QueuedBytes.Load() == 0 })
}

// TestSendQueueConfig: the queue settings' defaults, and the rule that a
// sender's pause must end before its read deadline.
func TestSendQueueConfig(t *testing.T) {
	cfg, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SendQueueBytes != 1<<20 || cfg.MaxQueuedBytes != 256<<20 || cfg.SlowConsumerTimeout != 5*time.Second || cfg.SendQueue != 0 {
		t.Fatalf("defaults: %+v", cfg)
	}
	cfg, err = Config{ReadTimeout: 4 * time.Second, PingInterval: time.Second}.withDefaults()
	if err != nil || cfg.SlowConsumerTimeout != 2*time.Second {
		t.Fatalf("with a 4 s ReadTimeout: SlowConsumerTimeout %v, %v; want 2s", cfg.SlowConsumerTimeout, err)
	}
	for _, bad := range []Config{
		{SlowConsumerTimeout: DefaultReadTimeout},
		{SendQueueBytes: -1},
		{MaxQueuedBytes: -1},
		{SendQueue: -1},
	} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v) accepted", bad)
		}
	}
}
