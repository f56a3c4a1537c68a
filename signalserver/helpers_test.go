package signalserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/rollbox/rollbox/internal/redistest"
	"github.com/rollbox/rollbox/internal/syncbuf"
	"github.com/rollbox/rollbox/signalwire"
)

func TestMain(m *testing.M) {
	// go-redis logs failed dials itself; the Redis tests cause them on purpose.
	redis.SetLogger(RedisLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	goleak.VerifyTestMain(m)
}

// testServer runs a real Server on a real loopback listener.
type testServer struct {
	*Server
	http *httptest.Server
	url  string // ws://127.0.0.1:port
}

// unlimited turns off the per-IP limits, which every test client (all on
// 127.0.0.1) would otherwise share.
func unlimited(c Config) Config {
	c.MaxConnsPerIP = -1
	c.JoinsPerSecondPerIP = -1
	return c
}

func startServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	if cfg.Logger == nil {
		// Warnings are kept and shown only if the test fails: they say why
		// a server closed its clients (a lost registration, a Redis timeout).
		var logs syncbuf.Buffer
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
		t.Cleanup(func() {
			if t.Failed() && logs.String() != "" {
				t.Logf("server warnings:\n%s", logs.String())
			}
		})
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	hs.Config = srv.HTTPServer() // the connection caps and HTTP timeouts, as in production
	hs.Start()
	ts := &testServer{Server: srv, http: hs, url: "ws" + strings.TrimPrefix(hs.URL, "http")}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		hs.Close()
	})
	return ts
}

// peer is a raw WebSocket client speaking the matchbox protocol.
type peer struct {
	t    testing.TB
	conn *websocket.Conn
	id   signalwire.PeerID
}

// dial connects to path and reads IdAssigned, which must come first.
func (ts *testServer) dial(t testing.TB, path string) *peer {
	t.Helper()
	p := ts.dialRaw(t, path)
	msg := p.next()
	var got struct{ IdAssigned string }
	if err := json.Unmarshal(msg, &got); err != nil || !signalwire.ValidPeerID(got.IdAssigned) {
		t.Fatalf("first frame %s is not IdAssigned", msg)
	}
	p.id = signalwire.PeerID(got.IdAssigned)
	return p
}

func (ts *testServer) dialRaw(t testing.TB, path string) *peer {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(ts.url+path, nil)
	if err != nil {
		t.Fatalf("dial %s: %v (%s)", path, err, httpBody(resp))
	}
	t.Cleanup(func() { conn.Close() })
	return &peer{t: t, conn: conn}
}

// refused dials path and returns the HTTP status and body of the refusal.
func (ts *testServer) refused(t testing.TB, path string, header http.Header) (int, string) {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(ts.url+path, header)
	if err == nil {
		conn.Close()
		t.Fatalf("dial %s succeeded, want a refusal", path)
	}
	if resp == nil {
		t.Fatalf("dial %s: %v, no HTTP response", path, err)
	}
	return resp.StatusCode, httpBody(resp)
}

func httpBody(resp *http.Response) string {
	if resp == nil {
		return ""
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return string(b)
}

// next returns the next text frame, failing the test after 5 s.
func (p *peer) next() []byte {
	p.t.Helper()
	_ = p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, msg, err := p.conn.ReadMessage()
	if err != nil {
		p.t.Fatalf("read: %v", err)
	}
	if typ != websocket.TextMessage {
		p.t.Fatalf("got frame type %d, want text", typ)
	}
	return msg
}

// expect reads the next frame and compares it with want.
// expectAll reads len(wants) frames and compares them with wants in any
// order: announcements of different peers made on different instances may
// interleave (the order kept is per sender).
func (p *peer) expectAll(wants ...string) {
	p.t.Helper()
	got := make([]string, len(wants))
	for i := range got {
		got[i] = string(p.next())
	}
	slices.Sort(got)
	sorted := slices.Sorted(slices.Values(wants))
	if !slices.Equal(got, sorted) {
		p.t.Fatalf("got %q, want %q in any order", got, sorted)
	}
}

func (p *peer) expect(want string) {
	p.t.Helper()
	if got := string(p.next()); got != want {
		p.t.Fatalf("got %s, want %s", got, want)
	}
}

// expectSilence fails if a frame arrives within d.
func (p *peer) expectSilence(d time.Duration) {
	p.t.Helper()
	_ = p.conn.SetReadDeadline(time.Now().Add(d))
	_, msg, err := p.conn.ReadMessage()
	if err == nil {
		p.t.Fatalf("unexpected frame %s", msg)
	}
	var netErr net.Error
	if !errors.As(err, &netErr) || !netErr.Timeout() {
		p.t.Fatalf("connection ended while expecting silence: %v", err)
	}
	// A read deadline poisons a gorilla connection: reconnecting is the
	// caller's job, so expectSilence must be the last read on p.
}

// expectClose reads until the connection closes and returns the close code.
func (p *peer) expectClose() int {
	p.t.Helper()
	_ = p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := p.conn.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		p.t.Fatalf("connection ended without a close frame: %v", err)
	}
}

func (p *peer) sendText(s string) {
	p.t.Helper()
	if err := p.conn.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

func (p *peer) signal(to signalwire.PeerID, data string) {
	p.t.Helper()
	p.sendText(`{"Signal":{"receiver":"` + string(to) + `","data":` + data + `}}`)
}

func newPeerMsg(id signalwire.PeerID) string  { return `{"NewPeer":"` + string(id) + `"}` }
func peerLeftMsg(id signalwire.PeerID) string { return `{"PeerLeft":"` + string(id) + `"}` }
func signalMsg(from signalwire.PeerID, data string) string {
	return `{"Signal":{"sender":"` + string(from) + `","data":` + data + `}}`
}

// eventually polls cond until it holds, failing after 5 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testCluster is one or more server instances serving the same rooms. dial
// spreads peers over them round-robin, so with several instances
// consecutive peers of a room sit on different instances.
type testCluster struct {
	servers []*testServer
	redis   *redistest.Server // nil for the in-memory backend
	turn    int
}

// dial connects a peer to the next instance in turn and reads IdAssigned.
func (c *testCluster) dial(t testing.TB, path string) *peer {
	t.Helper()
	ts := c.servers[c.turn%len(c.servers)]
	c.turn++
	return ts.dial(t, path)
}

// sum adds a metric over every instance.
func (c *testCluster) sum(metric func(*Metrics) int64) int64 {
	var n int64
	for _, ts := range c.servers {
		n += metric(ts.Metrics())
	}
	return n
}

// settled waits until every frame published to another instance has been
// received there: then a frame a peer sends itself is queued behind all of
// them. It is immediate for a single in-memory instance.
func (c *testCluster) settled(t testing.TB) {
	t.Helper()
	eventually(t, "cross-instance frames delivered", func() bool {
		var pub, recv int64
		for _, ts := range c.servers {
			pub += ts.bc.published.Load()
			if r := ts.redis; r != nil {
				pub += r.published.Load()
			}
			recv += ts.bc.received.Load()
		}
		return pub == recv
	})
}

// eachBackend runs test twice: against one in-memory server, and against
// three instances sharing a real redis-server, peers spread over all three.
func eachBackend(t *testing.T, cfg Config, test func(t *testing.T, c *testCluster)) {
	t.Run("memory", func(t *testing.T) {
		test(t, &testCluster{servers: []*testServer{startServer(t, cfg)}})
	})
	t.Run("redis3", func(t *testing.T) {
		test(t, startRedisCluster(t, cfg, 3))
	})
}

// dialRaw connects to the next instance in turn without reading a frame.
func (c *testCluster) dialRaw(t testing.TB, path string) *peer {
	t.Helper()
	ts := c.servers[c.turn%len(c.servers)]
	c.turn++
	return ts.dialRaw(t, path)
}
