package signalserver

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rollbox/rollbox/internal/syncbuf"
	"github.com/rollbox/rollbox/signalwire"
)

func TestSignalDataRelayedByteForByte(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, ts *testCluster) {
		a := ts.dial(t, "/r")
		b := ts.dial(t, "/r")
		a.expect(newPeerMsg(b.id))
		// serde would re-serialise this; we keep spacing, key order and escapes.
		data := `{ "Offer" :"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n",  "z":[1, 2.50,"\u00e9"] }`
		a.signal(b.id, data)
		b.expect(signalMsg(a.id, data))
		// The double-encoded candidate form that matchbox_socket sends.
		cand := `{"IceCandidate":"{\"candidate\":\"candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host\",\"sdpMid\":\"0\",\"sdpMLineIndex\":0,\"usernameFragment\":null}"}`
		b.signal(a.id, cand)
		a.expect(signalMsg(b.id, cand))
		b.signal(a.id, `{"IceCandidate":"null"}`)
		a.expect(signalMsg(b.id, `{"IceCandidate":"null"}`))
	})
}

func TestRootPathIsEmptyRoom(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, ts *testCluster) {
		a := ts.dial(t, "/")
		b := ts.dial(t, "/")
		c := ts.dial(t, "/other")
		a.expect(newPeerMsg(b.id))
		c.expectSilence(quiet)
	})
}

func TestKeepAliveAcceptedSilently(t *testing.T) {
	ts := startServer(t, Config{})
	a := ts.dial(t, "/r")
	b := ts.dial(t, "/r")
	a.expect(newPeerMsg(b.id))
	a.sendText(`"KeepAlive"`)
	a.signal(b.id, `1`)
	b.expect(signalMsg(a.id, `1`)) // nothing else came first
	eventually(t, "keep-alive counted", func() bool { return ts.Metrics().KeepAlives.Load() == 1 })
	if n := ts.Metrics().Dropped("malformed") + ts.Metrics().Dropped("unknown_message"); n != 0 {
		t.Fatalf("keep-alive counted as %d dropped frames", n)
	}
}

func TestSignalOrderKept(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, ts *testCluster) {
		a := ts.dial(t, "/r")
		b := ts.dial(t, "/r")
		a.expect(newPeerMsg(b.id))
		const n = 500
		for i := range n {
			a.signal(b.id, fmt.Sprint(i))
		}
		for i := range n {
			b.expect(signalMsg(a.id, fmt.Sprint(i)))
		}
	})
}

func TestSignalsStayInTheirRoom(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, ts *testCluster) {
		a := ts.dial(t, "/one")
		b := ts.dial(t, "/one")
		x := ts.dial(t, "/two")
		a.expect(newPeerMsg(b.id))
		// matchbox_server would deliver this: it looks receivers up globally.
		x.signal(a.id, `"intruder"`)
		a.signal(x.id, `"leak"`)
		// The senders stay connected and their legitimate signals flow.
		a.signal(b.id, `"ok"`)
		b.expect(signalMsg(a.id, `"ok"`))
		eventually(t, "foreign signals counted", func() bool { return ts.sum(func(m *Metrics) int64 { return m.Dropped("foreign_receiver") }) == 2 })
		a.expectSilence(quiet)
		x.expectSilence(quiet)
	})
}

func TestSignalsStayInTheirNextGroup(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, ts *testCluster) {
		a := ts.dial(t, "/g?next=2")
		b := ts.dial(t, "/g?next=2")
		c := ts.dial(t, "/g?next=2") // a new group: same room id, another group
		a.expect(newPeerMsg(b.id))
		c.signal(a.id, `"wrong group"`)
		b.signal(a.id, `"right group"`)
		a.expect(signalMsg(b.id, `"right group"`))
		eventually(t, "cross-group signal dropped", func() bool { return ts.sum(func(m *Metrics) int64 { return m.Dropped("foreign_receiver") }) == 1 })
	})
}

func TestPeerLeftInsideCompletedNextGroup(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, ts *testCluster) {
		a := ts.dial(t, "/g?next=3")
		b := ts.dial(t, "/g?next=3")
		c := ts.dial(t, "/g?next=3")
		d := ts.dial(t, "/g?next=3") // starts the next group
		a.expectAll(newPeerMsg(b.id), newPeerMsg(c.id))
		b.expect(newPeerMsg(c.id))
		b.conn.Close()
		a.expect(peerLeftMsg(b.id))
		c.expect(peerLeftMsg(b.id))
		d.expectSilence(quiet)
	})
}

func TestWaitingPeerThatLeavesFreesItsSlot(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, ts *testCluster) {
		a := ts.dial(t, "/w?next=3")
		b := ts.dial(t, "/w?next=3")
		a.expect(newPeerMsg(b.id))
		b.conn.Close()
		a.expect(peerLeftMsg(b.id))
		c := ts.dial(t, "/w?next=3")
		d := ts.dial(t, "/w?next=3") // completes a+c+d: b's slot was freed
		e := ts.dial(t, "/w?next=3") // first of a new group
		a.expectAll(newPeerMsg(c.id), newPeerMsg(d.id))
		c.expect(newPeerMsg(d.id))
		e.expectSilence(quiet)
		a.expectSilence(quiet)
	})
}

func TestNextOneLeavesEveryPeerAlone(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, ts *testCluster) {
		a := ts.dial(t, "/solo?next=1")
		b := ts.dial(t, "/solo?next=1")
		a.signal(b.id, `"hi"`)
		a.expectSilence(quiet)
		b.expectSilence(quiet)
	})
}

func TestBadRequestsRefusedBeforeUpgrade(t *testing.T) {
	ts := startServer(t, Config{MaxRoomIDBytes: 16})
	for _, tc := range []struct{ path, reason string }{
		{"/r?next=0", "next must be between 1 and 64, got 0"},
		{"/r?next=-2", "next must be between 1 and 64, got -2"},
		{"/r?next=65", "next must be between 1 and 64, got 65"},
		{"/r?next=99999999999999999999999", "next must be between 1 and 64"},
		{"/a/b", "room id must be a single path segment"},
		{"/" + strings.Repeat("x", 17), "room id longer than 16 bytes"},
		{"/ctl%07", "room id must be UTF-8 text without control characters"},
		{"/utf%FF", "room id must be UTF-8 text without control characters"},
	} {
		status, body := ts.refused(t, tc.path, nil)
		if status != http.StatusBadRequest || body != "signalserver: "+tc.reason+"\n" {
			t.Errorf("%s: got %d %q, want 400 %q", tc.path, status, body, tc.reason)
		}
	}
	if got := ts.Metrics().Refused("bad_next") + ts.Metrics().Refused("bad_room"); got != 8 {
		t.Errorf("refusals counted %d, want 8", got)
	}
}

func TestNonNumericNextCountsAsAbsent(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, ts *testCluster) {
		a := ts.dial(t, "/r?next=two")
		b := ts.dial(t, "/r")
		a.expect(newPeerMsg(b.id))
	})
}

func TestPercentDecodedRoomID(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, ts *testCluster) {
		a := ts.dial(t, "/caf%C3%A9%2Fbar")
		b := ts.dial(t, "/caf%c3%a9%2fbar") // same id, other spelling
		a.expect(newPeerMsg(b.id))
	})
}

func TestBadFramesDroppedSenderStays(t *testing.T) {
	ts := startServer(t, Config{})
	a := ts.dial(t, "/r")
	b := ts.dial(t, "/r")
	a.expect(newPeerMsg(b.id))
	unknown := signalwire.NewPeerID()
	for _, bad := range []string{
		`not json`,
		`{"Signal":`,
		`{"Signal":{"receiver":"` + string(b.id) + `"}}`, // no data
		`{"Signal":{"receiver":42,"data":1}}`,
		`{"Signal":{"receiver":"not-a-uuid","data":1}}`,
		`{"Signal":{"receiver":"` + string(b.id) + `","data":1},"Extra":1}`,
		`[]`,
		`"Uuid"`,
		`{"Uuid":"` + string(a.id) + `"}`,
		`{"IdAssigned":"` + string(a.id) + `"}`,
	} {
		a.sendText(bad)
	}
	if err := a.conn.WriteMessage(websocket.BinaryMessage, []byte(`{"Signal":{"receiver":"`+string(b.id)+`","data":1}}`)); err != nil {
		t.Fatal(err)
	}
	a.signal(unknown, `"nobody"`)
	a.signal(b.id, `"after the garbage"`)
	b.expect(signalMsg(a.id, `"after the garbage"`))
	eventually(t, "drops counted", func() bool {
		m := ts.Metrics()
		return m.Dropped("malformed") == 6 && m.Dropped("unknown_message") == 4 &&
			m.Dropped("binary") == 1 && m.Dropped("unknown_receiver") == 1
	})
	b.expectSilence(quiet)
}

// TestClientLogsRateLimited: a client that sends garbage in a loop gets a
// burst of debug lines about it into the log, then about one a second, with
// a count of the rest; every frame is still counted.
func TestClientLogsRateLimited(t *testing.T) {
	var logs syncbuf.Buffer
	ts := startServer(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	a := ts.dial(t, "/r")
	start := time.Now()
	const n = 2000
	for range n {
		a.sendText(`not json`)
	}
	eventually(t, "drops counted", func() bool { return ts.Metrics().Dropped("malformed") == n })
	lines := strings.Count(logs.String(), "dropped frame")
	if most := 10 + int(time.Since(start)/time.Second) + 1; lines < 1 || lines > most {
		t.Fatalf("%d log lines for %d bad frames, want 1 to %d:\n%s", lines, n, most, logs.String())
	}
	if held := ts.clientLog.Suppressed(); held < n-uint64(lines) {
		t.Fatalf("%d lines counted as held back, want at least %d", held, n-lines)
	}
}

func TestOversizedFrameClosedWith1009(t *testing.T) {
	ts := startServer(t, Config{MaxFrameBytes: 1024})
	a := ts.dial(t, "/r")
	b := ts.dial(t, "/r")
	a.expect(newPeerMsg(b.id))
	a.signal(b.id, `"`+strings.Repeat("x", 900)+`"`) // under the limit
	b.expect(signalMsg(a.id, `"`+strings.Repeat("x", 900)+`"`))
	// Write errors are fine: the server may close while we are still sending.
	_ = a.conn.WriteMessage(websocket.TextMessage, []byte(`"`+strings.Repeat("y", 4096)+`"`))
	if code := a.expectClose(); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
	b.expect(peerLeftMsg(a.id))
	if n := ts.Metrics().Disconnects("frame_too_large"); n != 1 {
		t.Fatalf("frame_too_large disconnects = %d, want 1", n)
	}
}

// TestDefaultFrameLimitFitsLargeSDP checks that the default limit is 64 KiB:
// a 60 KiB offer passes, a 65 KiB one is refused.
func TestDefaultFrameLimitFitsLargeSDP(t *testing.T) {
	ts := startServer(t, Config{})
	a := ts.dial(t, "/r")
	b := ts.dial(t, "/r")
	a.expect(newPeerMsg(b.id))
	big := `{"Offer":"` + strings.Repeat("a", 60<<10) + `"}`
	a.signal(b.id, big)
	b.expect(signalMsg(a.id, big))
	_ = a.conn.WriteMessage(websocket.TextMessage, []byte(`"`+strings.Repeat("y", 65<<10)+`"`))
	if code := a.expectClose(); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
}

// TestHalfOpenConnectionReaped: a client that stops answering pings (as a
// vanished host behind a dead TCP connection does) is closed by the read
// deadline, and its room hears PeerLeft.
func TestHalfOpenConnectionReaped(t *testing.T) {
	ts := startServer(t, Config{PingInterval: 50 * time.Millisecond, ReadTimeout: 300 * time.Millisecond})
	a := ts.dial(t, "/r")
	// A raw TCP client: it completes the handshake and then never reads,
	// so it never sees a ping and never sends a pong.
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /r HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", err, resp)
	}
	var np struct{ NewPeer signalwire.PeerID }
	if err := json.Unmarshal(a.next(), &np); err != nil {
		t.Fatal(err)
	}
	// a answers pings (gorilla does while reading), so only the mute one goes.
	a.expect(peerLeftMsg(np.NewPeer))
	if n := ts.Metrics().Disconnects("timeout"); n != 1 {
		t.Fatalf("timeout disconnects = %d, want 1", n)
	}
	if got := ts.Metrics().Peers.Load(); got != 1 {
		t.Fatalf("peers = %d, want 1", got)
	}
}

// TestPingsOnlyQuietClients: a client that keeps sending is not pinged (its
// frames show it is alive) and is not reaped either; once it goes quiet it
// is pinged, and answering keeps it connected past ReadTimeout.
func TestPingsOnlyQuietClients(t *testing.T) {
	const interval = 200 * time.Millisecond
	ts := startServer(t, Config{PingInterval: interval, ReadTimeout: 5 * interval})
	a := ts.dial(t, "/r")
	var pings atomic.Int32
	a.conn.SetPingHandler(func(data string) error {
		pings.Add(1)
		return a.conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	readErr := make(chan error, 1)
	go func() {
		for {
			if _, _, err := a.conn.ReadMessage(); err != nil {
				readErr <- err
				return
			}
		}
	}()
	// Busy for longer than ReadTimeout: a KeepAlive every 10 ms. Pinging
	// regardless would send about 7 pings; a descheduled test goroutine may
	// earn one.
	for end := time.Now().Add(7 * interval); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		a.sendText(`"KeepAlive"`)
	}
	if n := pings.Load(); n > 1 {
		t.Fatalf("a client sending every 10 ms got %d pings", n)
	}
	busy := pings.Load()
	time.Sleep(7 * interval) // quiet, but answering pings
	if n := pings.Load() - busy; n < 2 {
		t.Fatalf("a quiet client got %d pings in %v, want several", n, 7*interval)
	}
	select {
	case err := <-readErr:
		t.Fatalf("client disconnected: %v", err)
	default:
	}
	if n := ts.Metrics().Disconnects("timeout"); n != 0 {
		t.Fatalf("timeout disconnects = %d, want 0", n)
	}
	a.conn.Close()
	<-readErr
}

func TestPerIPConnectionLimit(t *testing.T) {
	ts := startServer(t, Config{MaxConnsPerIP: 2, JoinsPerSecondPerIP: -1})
	a := ts.dial(t, "/r")
	ts.dial(t, "/r")
	status, body := ts.refused(t, "/r", nil)
	if status != http.StatusTooManyRequests || !strings.Contains(body, "too many connections") {
		t.Fatalf("got %d %q, want 429 too many connections", status, body)
	}
	a.conn.Close() // frees a slot once the server has closed its end too
	eventually(t, "slot freed", func() bool { return ts.tracker.openConns() == 1 })
	ts.dial(t, "/r")
	if n := ts.Metrics().Refused("ip_conns"); n != 1 {
		t.Fatalf("ip_conns refusals = %d, want 1", n)
	}
}

func TestPerIPJoinRate(t *testing.T) {
	ts := startServer(t, Config{MaxConnsPerIP: -1, JoinsPerSecondPerIP: 0.5, JoinBurstPerIP: 2})
	ts.dial(t, "/r")
	ts.dial(t, "/r")
	status, body := ts.refused(t, "/r", nil)
	if status != http.StatusTooManyRequests || !strings.Contains(body, "too many joins") {
		t.Fatalf("got %d %q, want 429 too many joins", status, body)
	}
	// Another address (as seen through a trusted proxy header) is unaffected.
	ts2 := startServer(t, Config{MaxConnsPerIP: -1, JoinsPerSecondPerIP: 0.5, JoinBurstPerIP: 1,
		RealIPHeader: "X-Real-IP", TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	for _, ip := range []string{"192.0.2.1", "192.0.2.2"} {
		conn, _, err := websocket.DefaultDialer.Dial(ts2.url+"/r", http.Header{"X-Real-IP": {ip}})
		if err != nil {
			t.Fatalf("%s: %v", ip, err)
		}
		conn.Close()
	}
	if status, _ := ts2.refused(t, "/r", http.Header{"X-Real-IP": {"192.0.2.1"}}); status != http.StatusTooManyRequests {
		t.Fatalf("second join from 192.0.2.1: %d, want 429", status)
	}
	if n := ts.Metrics().Refused("ip_rate"); n != 1 {
		t.Fatalf("ip_rate refusals = %d, want 1", n)
	}
}

func TestMaxPeersPerRoom(t *testing.T) {
	ts := startServer(t, unlimited(Config{MaxPeersPerRoom: 3}))
	for range 3 {
		ts.dial(t, "/full")
	}
	status, body := ts.refused(t, "/full", nil)
	if status != http.StatusConflict || body != "signalserver: room full (3 peers)\n" {
		t.Fatalf("got %d %q, want 409 room full", status, body)
	}
	ts.dial(t, "/other") // other rooms are unaffected
	if n := ts.Metrics().Refused("room_full"); n != 1 {
		t.Fatalf("room_full refusals = %d, want 1", n)
	}
	// The registry enforces the cap too, for joins racing past the check.
	reg := newMemoryRegistry(1)
	if _, err := reg.Join(context.Background(), roomKey{ID: "x"}, signalwire.NewPeerID()); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Join(context.Background(), roomKey{ID: "x"}, signalwire.NewPeerID()); err != errRoomFull {
		t.Fatalf("second join: %v, want errRoomFull", err)
	}
}

func TestOriginAllowList(t *testing.T) {
	ts := startServer(t, Config{AllowedOrigins: []string{"https://game.example"}})
	conn, _, err := websocket.DefaultDialer.Dial(ts.url+"/r", http.Header{"Origin": {"https://game.example"}})
	if err != nil {
		t.Fatalf("allowed origin refused: %v", err)
	}
	conn.Close()
	status, body := ts.refused(t, "/r", http.Header{"Origin": {"https://evil.example"}})
	if status != http.StatusForbidden || !strings.Contains(body, "origin not allowed") {
		t.Fatalf("got %d %q, want 403", status, body)
	}
	ts.dial(t, "/r") // native clients send no Origin
	// Without a list, any origin is allowed, as with matchbox_server.
	open := startServer(t, Config{})
	conn, _, err = websocket.DefaultDialer.Dial(open.url+"/r", http.Header{"Origin": {"https://evil.example"}})
	if err != nil {
		t.Fatalf("default config refused an origin: %v", err)
	}
	conn.Close()
}

func TestShutdownClosesClientsWith1001(t *testing.T) {
	ts := startServer(t, Config{})
	srv := ts.Server
	a := ts.dial(t, "/r")
	b := ts.dial(t, "/r")
	a.expect(newPeerMsg(b.id))
	codes := make(chan int, 2)
	for _, p := range []*peer{a, b} {
		go func() {
			_ = p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			for {
				_, _, err := p.conn.ReadMessage()
				if ce, ok := err.(*websocket.CloseError); ok {
					codes <- ce.Code
					return
				} else if err != nil {
					codes <- -1
					return
				}
			}
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if code := <-codes; code != websocket.CloseGoingAway {
			t.Fatalf("close code %d, want 1001", code)
		}
	}
	// New joins are refused and health says so.
	status, _ := ts.refused(t, "/r", nil)
	if status != http.StatusServiceUnavailable {
		t.Fatalf("join after shutdown: %d, want 503", status)
	}
	resp, err := http.Get(ts.http.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("health after shutdown: %d, want 503", resp.StatusCode)
	}
	if n := srv.Metrics().Disconnects("shutdown"); n != 2 {
		t.Fatalf("shutdown disconnects = %d, want 2", n)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	ts := startServer(t, Config{})
	a := ts.dial(t, "/m")
	b := ts.dial(t, "/m")
	a.expect(newPeerMsg(b.id))
	a.signal(b.id, `"x"`)
	b.expect(signalMsg(a.id, `"x"`))
	a.sendText("garbage")
	ts.refused(t, "/m?next=0", nil)

	resp, err := http.Get(ts.http.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("health: %d", resp.StatusCode)
	}
	eventually(t, "metrics", func() bool {
		body := get(t, ts.http.URL+"/metrics")
		for _, want := range []string{
			"signalserver_peers 2\n",
			"signalserver_rooms 1\n",
			"signalserver_joins_total 2\n",
			"signalserver_signals_relayed_total 1\n",
			`signalserver_dropped_total{reason="malformed"} 1` + "\n",
			`signalserver_refused_total{reason="bad_next"} 1` + "\n",
			"# TYPE signalserver_sent_bytes_total counter\n",
		} {
			if !strings.Contains(body, want) {
				return false
			}
		}
		return true
	})
	// A plain GET elsewhere explains itself; rooms named health or metrics
	// are still reachable over WebSocket (matchbox_server cannot do that).
	resp, err = http.Get(ts.http.URL + "/room")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("plain GET /room: %d, want 426", resp.StatusCode)
	}
	h1 := ts.dial(t, "/health")
	h2 := ts.dial(t, "/health")
	h1.expect(newPeerMsg(h2.id))
}

// TestConcurrentJoins: 200 peers in 50 rooms of 4 join at once; each group
// forms with the exact NewPeer pattern, and signals flow only inside groups.
func TestConcurrentJoins(t *testing.T) {
	eachBackend(t, unlimited(Config{}), func(t *testing.T, ts *testCluster) {
		const rooms, size = 50, 4
		type result struct {
			id       signalwire.PeerID
			room     int
			newPeers []signalwire.PeerID
		}
		results := make([]result, rooms*size)
		peers := make([]*peer, rooms*size)
		var wg sync.WaitGroup
		for i := range results {
			wg.Go(func() {
				// Consecutive peers of a room join different instances.
				url := ts.servers[i%len(ts.servers)].url
				conn, _, err := websocket.DefaultDialer.Dial(fmt.Sprintf("%s/room-%d?next=%d", url, i/size, size), nil)
				if err != nil {
					t.Errorf("dial: %v", err)
					return
				}
				p := &peer{t: t, conn: conn}
				peers[i] = p
				var first struct{ IdAssigned signalwire.PeerID }
				_ = json.Unmarshal(p.next(), &first)
				results[i] = result{id: first.IdAssigned, room: i / size}
			})
		}
		wg.Wait()
		t.Cleanup(func() {
			for _, p := range peers {
				if p != nil {
					p.conn.Close()
				}
			}
		})
		if t.Failed() {
			return
		}
		roomOf := map[signalwire.PeerID]int{}
		for _, r := range results {
			roomOf[r.id] = r.room
		}
		// Joins are counted after their NewPeers are queued (or published to
		// another instance, which settled waits for), and a signal to oneself
		// queues behind them: reading up to it reads every NewPeer.
		eventually(t, "all joins announced", func() bool {
			return ts.sum(func(m *Metrics) int64 { return m.Joins.Load() }) == rooms*size
		})
		ts.settled(t)
		readUntilMarker := func(i int, onFrame func(msg []byte)) {
			peers[i].signal(results[i].id, `"marker"`)
			marker := signalMsg(results[i].id, `"marker"`)
			for {
				msg := peers[i].next()
				if string(msg) == marker {
					return
				}
				onFrame(msg)
			}
		}
		counts := make([][]int, rooms)
		for i := range peers {
			readUntilMarker(i, func(msg []byte) {
				var np struct{ NewPeer signalwire.PeerID }
				if err := json.Unmarshal(msg, &np); err != nil || np.NewPeer == "" {
					t.Fatalf("peer %d got %s, want only NewPeer", i, msg)
				}
				if roomOf[np.NewPeer] != results[i].room {
					t.Fatalf("peer in room %d told of a peer in room %d", results[i].room, roomOf[np.NewPeer])
				}
				results[i].newPeers = append(results[i].newPeers, np.NewPeer)
			})
			counts[results[i].room] = append(counts[results[i].room], len(results[i].newPeers))
		}
		for room, c := range counts {
			slices.Sort(c)
			if !slices.Equal(c, []int{0, 1, 2, 3}) {
				t.Errorf("room %d: NewPeer counts %v, want [0 1 2 3]", room, c)
			}
		}
		// A shared registry counts groups at its heartbeat.
		eventually(t, fmt.Sprintf("%d groups", rooms), func() bool { return ts.servers[0].reg.Groups() == rooms })
		// Each peer offers to the peers it heard of, as matchbox clients do; the
		// earlier joiners' offers reach every peer, and nothing else does.
		for i, r := range results {
			for _, to := range r.newPeers {
				peers[i].signal(to, `"offer"`)
			}
		}
		eventually(t, "offers relayed", func() bool {
			return ts.sum(func(m *Metrics) int64 { return m.SignalsRelayed.Load() }) == rooms*size+rooms*6
		})
		ts.settled(t)
		for i, r := range results {
			offers := 0
			readUntilMarker(i, func(msg []byte) {
				var sig struct {
					Signal struct{ Sender signalwire.PeerID }
				}
				if err := json.Unmarshal(msg, &sig); err != nil || roomOf[sig.Signal.Sender] != r.room {
					t.Fatalf("peer in room %d got %s", r.room, msg)
				}
				offers++
			})
			if want := size - 1 - len(r.newPeers); offers != want {
				t.Errorf("peer %d got %d offers, want %d", i, offers, want)
			}
		}
	})
}

func get(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
