package signalserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rollbox/rollbox/internal/syncbuf"
)

// rawConn is a plain HTTP/1.1 client connection that stays open between
// requests, as a browser's or an attacker's keep-alive connection does.
type rawConn struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
}

func (ts *testServer) rawDial(t testing.TB) *rawConn {
	t.Helper()
	conn, err := net.Dial("tcp", ts.http.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawConn{t: t, conn: conn, br: bufio.NewReader(conn)}
}

// get sends GET path on the connection and returns the status and body.
func (c *rawConn) get(path string) (int, string) {
	c.t.Helper()
	if _, err := fmt.Fprintf(c.conn, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", path); err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		c.t.Fatalf("GET %s: body: %v", path, err)
	}
	return resp.StatusCode, string(body)
}

// expectClosed fails unless the server closes the connection within 5 s;
// nothing more may arrive before.
func (c *rawConn) expectClosed(why string) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := c.br.ReadByte()
	var netErr net.Error
	switch {
	case err == nil:
		c.t.Fatalf("%s: got data %q, want the connection closed", why, b)
	case errors.As(err, &netErr) && netErr.Timeout():
		c.t.Fatalf("%s: connection still open after 5 s", why)
	}
}

// setGrace sets how long a refused connection may linger.
func (t *connTracker) setGrace(d time.Duration) {
	t.mu.Lock()
	t.grace = d
	t.mu.Unlock()
}

func (t *connTracker) refusingConns() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.refusing
}

// TestIdleHTTPConnectionClosed: a keep-alive connection that goes quiet
// after one request is closed after HTTPIdleTimeout.
func TestIdleHTTPConnectionClosed(t *testing.T) {
	ts := startServer(t, Config{HTTPIdleTimeout: 200 * time.Millisecond})
	c := ts.rawDial(t)
	if status, _ := c.get("/health"); status != http.StatusOK {
		t.Fatalf("health: %d", status)
	}
	c.expectClosed("idle keep-alive connection")
	eventually(t, "slot freed", func() bool { return ts.tracker.openConns() == 0 })
}

// TestSlowlorisHeadersCutOff: a client that trickles its headers, one line
// at a time and never the blank line ending them, is cut off after
// HTTPReadTimeout however steadily it sends.
func TestSlowlorisHeadersCutOff(t *testing.T) {
	ts := startServer(t, Config{HTTPReadTimeout: 300 * time.Millisecond})
	c := ts.rawDial(t)
	stop := make(chan struct{})
	var trickler sync.WaitGroup
	trickler.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		if _, err := io.WriteString(c.conn, "GET /health HTTP/1.1\r\nHost: test\r\n"); err != nil {
			return
		}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := fmt.Fprintf(c.conn, "X-Slow-%d: x\r\n", i); err != nil {
				return // the server has closed the connection
			}
		}
	})
	defer trickler.Wait()
	defer close(stop)
	c.expectClosed("slowloris")
}

// TestWebSocketOutlivesHTTPTimeouts: an upgraded WebSocket is not bound by
// the HTTP timeouts (net/http clears the deadlines it set when the upgrade
// hijacks the connection; ReadTimeout governs it from then on).
func TestWebSocketOutlivesHTTPTimeouts(t *testing.T) {
	const d = 100 * time.Millisecond
	ts := startServer(t, Config{HTTPReadTimeout: d, HTTPWriteTimeout: d, HTTPIdleTimeout: d})
	a := ts.dial(t, "/r")
	b := ts.dial(t, "/r")
	a.expect(newPeerMsg(b.id))
	time.Sleep(10 * d) // every HTTP deadline would have passed many times
	a.signal(b.id, `"late"`)
	b.expect(signalMsg(a.id, `"late"`))
	b.signal(a.id, `"later"`)
	a.expect(signalMsg(b.id, `"later"`))
}

// TestHTTPWriteTimeout: a client that requests a large response and does
// not read it is cut off after HTTPWriteTimeout instead of holding the
// connection for as long as it likes.
func TestHTTPWriteTimeout(t *testing.T) {
	const size = 64 << 20 // far more than the socket buffers hold
	big := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 64<<10)
		for written := 0; written < size; written += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	ts := startServer(t, Config{Web: big, HTTPWriteTimeout: time.Second})
	c := ts.rawDial(t)
	if _, err := io.WriteString(c.conn, "GET /big HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// The connection is counted once accepted; only then can its end be
	// told from its not having started.
	eventually(t, "the connection accepted", func() bool { return ts.tracker.openConns() == 1 })
	eventually(t, "the stalled response to end the connection", func() bool { return ts.tracker.openConns() == 0 })
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _ := io.Copy(io.Discard, c.br)
	if n >= size {
		t.Fatalf("read the whole %d bytes; want the response cut off", n)
	}
}

// TestLargeHeadersRefused: headers beyond what any browser sends are
// refused with 431 rather than buffered up to net/http's 1 MiB.
func TestLargeHeadersRefused(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.rawDial(t)
	fmt.Fprintf(c.conn, "GET /health HTTP/1.1\r\nHost: test\r\nX-Big: %s\r\n\r\n", strings.Repeat("x", 64<<10))
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(c.br, nil)
	if errors.Is(err, syscall.ECONNRESET) {
		// net/http answers 431 and resets the connection 500 ms later over
		// the unread rest; a slow reader may see only the reset. Either
		// way the request was refused, where an accepted one gets 200.
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("64 KiB of headers: %d, want 431", resp.StatusCode)
	}
	if status, _ := ts.rawDial(t).get("/health"); status != http.StatusOK {
		t.Fatalf("ordinary request: %d", status)
	}
}

// TestPerIPCapCountsPlainConnections: MaxConnsPerIP counts every TCP
// connection, so idle keep-alive connections from one address cannot pile
// up: past the cap a plain GET and a join alike get 429.
func TestPerIPCapCountsPlainConnections(t *testing.T) {
	ts := startServer(t, Config{MaxConnsPerIP: 2})
	first := ts.rawDial(t)
	for _, c := range []*rawConn{first, ts.rawDial(t)} {
		if status, _ := c.get("/health"); status != http.StatusOK {
			t.Fatalf("health: %d", status)
		}
	}
	// Both stay open, idle.
	c := ts.rawDial(t)
	status, body := c.get("/health")
	if status != http.StatusTooManyRequests || !strings.Contains(body, "too many connections from your address") {
		t.Fatalf("third connection: %d %q, want 429", status, body)
	}
	c.expectClosed("refused connection")
	if status, body := ts.refused(t, "/r", nil); status != http.StatusTooManyRequests {
		t.Fatalf("join past the cap: %d %q, want 429", status, body)
	}
	if n := ts.Metrics().Refused("ip_conns"); n != 2 {
		t.Fatalf("ip_conns refusals = %d, want 2", n)
	}
	first.conn.Close()
	eventually(t, "slot freed", func() bool { return ts.tracker.openConns() == 1 })
	ts.dial(t, "/r")
}

// TestDefaultsAdmitABurstOfJoinsFromOneAddress: a classroom or LAN party
// behind one address, 100 players, all join at once with the defaults.
func TestDefaultsAdmitABurstOfJoinsFromOneAddress(t *testing.T) {
	ts := startServer(t, Config{})
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			conn, resp, err := websocket.DefaultDialer.Dial(fmt.Sprintf("%s/class-%d", ts.url, i%10), nil)
			if err != nil {
				errs <- fmt.Errorf("join %d: %v (%s)", i, err, httpBody(resp))
				return
			}
			defer conn.Close()
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, _, err := conn.ReadMessage(); err != nil {
				errs <- fmt.Errorf("join %d: IdAssigned: %v", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := ts.Metrics().Refused("ip_rate") + ts.Metrics().Refused("ip_conns"); n != 0 {
		t.Fatalf("%d per-IP refusals", n)
	}
}

// TestDefaultsAdmitHundredsOfConnectionsFromOneAddress: 300 connections
// from one address stay open together with the defaults, half of them
// WebSocket peers and half idle keep-alive HTTP connections.
func TestDefaultsAdmitHundredsOfConnectionsFromOneAddress(t *testing.T) {
	if DefaultMaxConns() < 300 {
		t.Fatalf("DefaultMaxConns() = %d on this machine; the test needs 300", DefaultMaxConns())
	}
	ts := startServer(t, Config{})
	const half = 150
	var wg sync.WaitGroup
	errs := make(chan error, 2*half)
	conns := make(chan io.Closer, 2*half)
	for i := range half {
		wg.Go(func() {
			conn, resp, err := websocket.DefaultDialer.Dial(fmt.Sprintf("%s/crowd-%d", ts.url, i%50), nil)
			if err != nil {
				errs <- fmt.Errorf("join %d: %v (%s)", i, err, httpBody(resp))
				return
			}
			conns <- conn
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, _, err := conn.ReadMessage(); err != nil {
				errs <- fmt.Errorf("join %d: IdAssigned: %v", i, err)
			}
		})
		wg.Go(func() {
			conn, err := net.Dial("tcp", ts.http.Listener.Addr().String())
			if err != nil {
				errs <- err
				return
			}
			conns <- conn
			fmt.Fprint(conn, "GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				errs <- fmt.Errorf("GET %d: %v", i, err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs <- fmt.Errorf("GET %d: %d", i, resp.StatusCode)
			}
		})
	}
	wg.Wait()
	close(errs)
	close(conns)
	defer func() {
		for c := range conns {
			c.Close()
		}
	}()
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	if n := ts.tracker.openConns(); n != 2*half {
		t.Fatalf("%d connections open, want %d", n, 2*half)
	}
}

// TestGlobalConnectionCap: past MaxConns every new connection is answered
// 503 and closed, and counted; refused connections waiting for their
// answer are bounded too, and closed if they send nothing.
func TestGlobalConnectionCap(t *testing.T) {
	ts := startServer(t, Config{MaxConns: 3, MaxConnsPerIP: -1})
	var admitted []*rawConn
	for range 3 {
		c := ts.rawDial(t)
		if status, _ := c.get("/health"); status != http.StatusOK {
			t.Fatalf("health: %d", status)
		}
		admitted = append(admitted, c)
	}
	c := ts.rawDial(t)
	status, body := c.get("/health")
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "connection limit") {
		t.Fatalf("connection past the cap: %d %q, want 503", status, body)
	}
	c.expectClosed("refused connection")
	if status, _ := ts.refused(t, "/r", nil); status != http.StatusServiceUnavailable {
		t.Fatalf("join past the cap: %d, want 503", status)
	}
	refused := int64(2)

	// The refusals show in /metrics once there is room to ask.
	admitted[0].conn.Close()
	eventually(t, "slot freed", func() bool { return ts.tracker.openConns() == 2 })
	scrape := ts.rawDial(t)
	_, metrics := scrape.get("/metrics")
	for _, want := range []string{
		`signalserver_refused_total{reason="max_conns"} 2` + "\n",
		"signalserver_connections 3\n",
		"signalserver_connections_max 3\n",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// Connections refused while their answers are pending are bounded:
	// past the reserve they are closed at once.
	ts.tracker.setGrace(time.Hour)
	pending := make([]*rawConn, ts.tracker.reserve)
	for i := range pending {
		pending[i] = ts.rawDial(t)
	}
	eventually(t, "refusals pending", func() bool { return ts.tracker.refusingConns() == ts.tracker.reserve })
	ts.rawDial(t).expectClosed("connection past the reserve")
	refused += int64(len(pending)) + 1
	for _, p := range pending {
		p.conn.Close()
	}
	eventually(t, "refusals ended", func() bool { return ts.tracker.refusingConns() == 0 })

	// A refused connection that sends nothing is closed after the grace
	// period, well before HTTPReadTimeout (10 s by default).
	ts.tracker.setGrace(100 * time.Millisecond)
	ts.rawDial(t).expectClosed("silent refused connection")
	refused++
	if n := ts.Metrics().Refused("max_conns"); n != refused {
		t.Fatalf("max_conns refusals = %d, want %d", n, refused)
	}
	if n := ts.tracker.openConns(); n != 3 {
		t.Fatalf("%d connections counted, want 3", n)
	}
}

// TestRealIPHeaderOnlyFromTrustedProxies: a client connecting directly
// cannot pick the address its limits apply to by sending the header; a
// trusted proxy's header is believed, per client.
func TestRealIPHeaderOnlyFromTrustedProxies(t *testing.T) {
	limited := Config{JoinsPerSecondPerIP: 0.5, JoinBurstPerIP: 1, RealIPHeader: "X-Real-IP"}
	join := func(ts *testServer, realIP string) int {
		t.Helper()
		conn, resp, err := websocket.DefaultDialer.Dial(ts.url+"/r", http.Header{"X-Real-IP": {realIP}})
		if err != nil {
			if resp == nil {
				t.Fatalf("join as %s: %v", realIP, err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		conn.Close()
		return http.StatusSwitchingProtocols
	}

	untrusted := limited
	untrusted.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")} // not 127.0.0.1
	ts := startServer(t, untrusted)
	if got := join(ts, "198.51.100.1"); got != http.StatusSwitchingProtocols {
		t.Fatalf("first join: %d", got)
	}
	if got := join(ts, "198.51.100.2"); got != http.StatusTooManyRequests {
		t.Fatalf("forged X-Real-IP from an untrusted peer: %d, want 429 (the peer's own limit)", got)
	}

	trusted := limited
	trusted.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	ts = startServer(t, trusted)
	for _, ip := range []string{"198.51.100.1", "198.51.100.2"} {
		if got := join(ts, ip); got != http.StatusSwitchingProtocols {
			t.Fatalf("join as %s through a trusted proxy: %d", ip, got)
		}
	}
	if got := join(ts, "198.51.100.1"); got != http.StatusTooManyRequests {
		t.Fatalf("second join as 198.51.100.1: %d, want 429", got)
	}

	// A trusted proxy carries many clients: the per-IP connection cap
	// counts its WebSockets per client, not its own connections.
	proxied := Config{MaxConnsPerIP: 1, RealIPHeader: "X-Real-IP", TrustedProxies: trusted.TrustedProxies}
	ts = startServer(t, proxied)
	var open []*websocket.Conn
	for _, ip := range []string{"198.51.100.1", "198.51.100.2"} {
		conn, _, err := websocket.DefaultDialer.Dial(ts.url+"/r", http.Header{"X-Real-IP": {ip}})
		if err != nil {
			t.Fatalf("client %s through the proxy: %v", ip, err)
		}
		open = append(open, conn)
	}
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	status, _ := ts.refused(t, "/r", http.Header{"X-Real-IP": {"198.51.100.1"}})
	if status != http.StatusTooManyRequests {
		t.Fatalf("second connection of 198.51.100.1: %d, want 429", status)
	}
}

func TestClientIP(t *testing.T) {
	ri := realIP{header: "X-Forwarded-For", trusted: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("2001:db8::/32"),
	}}
	for _, tc := range []struct {
		remote string
		header []string
		want   string
	}{
		{"198.51.100.7:4000", []string{"203.0.113.1"}, "198.51.100.7"}, // not a proxy: header ignored
		{"127.0.0.1:4000", nil, "127.0.0.1"},                           // the proxy's own request
		{"127.0.0.1:4000", []string{"203.0.113.1"}, "203.0.113.1"},
		{"127.0.0.1:4000", []string{"203.0.113.1, 10.1.2.3"}, "203.0.113.1"}, // two trusted hops
		{"127.0.0.1:4000", []string{"6.6.6.6, 203.0.113.1, 10.1.2.3"}, "203.0.113.1"},
		{"127.0.0.1:4000", []string{"6.6.6.6", "203.0.113.1,10.1.2.3"}, "203.0.113.1"}, // several header lines
		{"127.0.0.1:4000", []string{"203.0.113.1:5555"}, "203.0.113.1"},
		{"127.0.0.1:4000", []string{"[2001:db9::1]:5555, 2001:db8::2"}, "2001:db9::1"},
		{"127.0.0.1:4000", []string{"10.9.9.9, 10.1.2.3"}, "10.9.9.9"},         // all trusted: the left-most
		{"127.0.0.1:4000", []string{"6.6.6.6, garbage, 10.1.2.3"}, "10.1.2.3"}, // not an address: stop there
		{"127.0.0.1:4000", []string{" , 203.0.113.1 ,"}, "203.0.113.1"},
		{"[::ffff:127.0.0.1]:4000", []string{"::ffff:203.0.113.1"}, "203.0.113.1"},
	} {
		r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{"X-Forwarded-For": tc.header}}
		if got := ri.clientIP(r); got != tc.want {
			t.Errorf("%s %q: got %s, want %s", tc.remote, tc.header, got, tc.want)
		}
	}
}

func TestRealIPHeaderNeedsTrustedProxies(t *testing.T) {
	_, err := New(Config{RealIPHeader: "X-Real-IP"})
	if err == nil || !strings.Contains(err.Error(), "TrustedProxies") {
		t.Fatalf("RealIPHeader without TrustedProxies: %v", err)
	}
	if _, err := New(Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}); err == nil {
		t.Fatal("TrustedProxies without RealIPHeader accepted")
	}
}

func TestConnBudget(t *testing.T) {
	for _, tc := range []struct {
		fds, mem int64
		want     int
	}{
		{20000, 24 << 30, (20000 - 64) * 3 / 4}, // descriptors decide
		{1 << 20, 1 << 30, 8192},                // memory decides: 1 GiB / 2 / 64 KiB
		{1024, 0, (1024 - 64) * 3 / 4},          // memory unknown
		{0, 0, (16384 - 64) * 3 / 4},            // nothing known
		{100, 0, 32},                            // never below a floor
	} {
		if got := connBudget(tc.fds, tc.mem); got != tc.want {
			t.Errorf("connBudget(%d, %d) = %d, want %d", tc.fds, tc.mem, got, tc.want)
		}
	}
	if n := DefaultMaxConns(); n < 32 {
		t.Fatalf("DefaultMaxConns() = %d", n)
	}
}

// TestHTTPErrorLogRateLimited: net/http's error lines, which any client
// can cause, reach the log in a bounded burst, with a count of the rest.
func TestHTTPErrorLogRateLimited(t *testing.T) {
	var logs syncbuf.Buffer
	l := newHTTPErrorLog(slog.New(slog.NewTextHandler(&logs, nil)))
	for range 1000 {
		fmt.Fprintln(l, "http: TLS handshake error from 192.0.2.1:1234: EOF")
	}
	if n := strings.Count(logs.String(), "TLS handshake error"); n < 10 || n > 20 {
		t.Fatalf("%d of 1000 lines logged, want a burst of about 10:\n%s", n, logs.String())
	}
	if n := l.lines.Suppressed(); n < 980 {
		t.Fatalf("%d lines counted as suppressed", n)
	}
}
