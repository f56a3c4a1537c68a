package signalserver

import (
	"context"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rollbox/rollbox/internal/ratelog"
)

// maxHeaderBytes bounds a request's headers (net/http's default is 1 MiB):
// browsers' requests, cookies included, fit in a few KiB, and MaxConns
// budgets 64 KiB a connection.
const maxHeaderBytes = 32 << 10

// refuseGrace is how long a connection refused past a connection cap has
// to send its request and read the refusal before it is closed.
const refuseGrace = 2 * time.Second

// HTTPServer returns an http.Server that serves s with the limits of its
// Config that only a server of connections can apply (it speaks HTTP/1.1
// only, so that a connection is one request at a time): MaxConns and
// MaxConnsPerIP count every TCP connection, idle keep-alive ones included,
// and a connection past either is answered 503 or 429 and closed; plain
// requests are bounded by HTTPReadTimeout, HTTPWriteTimeout and
// HTTPIdleTimeout, while upgraded WebSockets keep their own deadlines
// (ReadTimeout and WriteTimeout); net/http's error log goes to Logger, rate
// limited. Set its Addr, or call its Serve or ServeTLS with a listener;
// several such servers (plain and TLS listeners) share the caps. Serving s
// with an http.Server of one's own applies MaxConnsPerIP to WebSockets only,
// and neither MaxConns nor the HTTP timeouts.
func (s *Server) HTTPServer() *http.Server {
	// HTTP/1.1 only, over TLS too: an HTTP/2 connection carries up to 250
	// requests at once, each holding a goroutine and buffers (for
	// HTTPWriteTimeout when the client opens no flow-control window), which
	// MaxConns, counting connections, would not bound. WebSockets need
	// HTTP/1.1 anyway.
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	return &http.Server{
		Protocols:         &protocols,
		Handler:           s,
		ReadHeaderTimeout: s.cfg.HTTPReadTimeout,
		ReadTimeout:       s.cfg.HTTPReadTimeout,
		WriteTimeout:      s.cfg.HTTPWriteTimeout,
		IdleTimeout:       s.cfg.HTTPIdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          log.New(newHTTPErrorLog(s.log), "", 0),
		ConnContext:       s.tracker.connContext,
		ConnState:         s.tracker.connState,
	}
}

// connTracker counts the TCP connections of the http.Servers from
// HTTPServer against MaxConns and MaxConnsPerIP. net/http reports each
// connection to connContext when it is accepted and to connState when it
// closes or is hijacked for a WebSocket, whose goroutine then releases it.
type connTracker struct {
	max     int // < 0: no cap
	perIP   int // < 0: no cap
	reserve int // refused connections held open at once to answer them
	realIP  realIP
	metrics *Metrics
	full    ratelog.Limiter // logs that MaxConns is reached
	log     *slog.Logger

	mu       sync.Mutex
	open     int // admitted connections
	refusing int // refused connections awaiting their answer
	byIP     map[netip.Addr]int
	slots    map[net.Conn]*connSlot
	grace    time.Duration // refuseGrace; shorter in tests
}

func newConnTracker(c Config, ri realIP, m *Metrics) *connTracker {
	return &connTracker{
		max:     c.MaxConns,
		perIP:   c.MaxConnsPerIP,
		reserve: max(c.MaxConns, 0)/16 + 16,
		realIP:  ri,
		metrics: m,
		full:    ratelog.Limiter{Interval: time.Minute},
		log:     c.Logger,
		byIP:    make(map[netip.Addr]int),
		slots:   make(map[net.Conn]*connSlot),
		grace:   refuseGrace,
	}
}

// connSlot is one connection's place in the counts.
type connSlot struct {
	t        *connTracker
	addr     netip.Addr  // the client's key in byIP (see clientAddrKey)
	perIP    bool        // counted in byIP
	refusal  refusal     // refusalNone: admitted
	kill     *time.Timer // closes a refused connection that lingers
	claimed  atomic.Bool // a WebSocket upgrade is under way
	hijacked atomic.Bool // the upgrade took the connection: its WebSocket releases the slot
	released atomic.Bool
}

type connSlotKey struct{}

// connSlotOf returns the slot of the connection a request came on, or nil
// when it is served by an http.Server not from HTTPServer.
func connSlotOf(ctx context.Context) *connSlot {
	sl, _ := ctx.Value(connSlotKey{}).(*connSlot)
	return sl
}

// connContext admits or refuses a new connection. It runs on the accept
// loop: it must not block.
func (t *connTracker) connContext(ctx context.Context, c net.Conn) context.Context {
	var addr netip.Addr
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		addr = ta.AddrPort().Addr().Unmap()
	} else if c.RemoteAddr() != nil {
		addr, _ = parseHop(c.RemoteAddr().String())
	}
	// A trusted proxy carries many clients: serveWebSocket applies the
	// per-IP cap to each by its forwarded address.
	sl := &connSlot{t: t, perIP: t.perIP >= 0 && !t.realIP.trusts(addr)}
	addr = clientAddrKey(addr) // counted per client: an IPv6 host by its /64
	sl.addr = addr
	t.mu.Lock()
	switch {
	case t.max >= 0 && t.open >= t.max:
		sl.refusal = refusalMaxConns
	case sl.perIP && t.byIP[addr] >= t.perIP:
		sl.refusal = refusalIPConns
	}
	drop := false
	switch {
	case sl.refusal == refusalNone:
		t.open++
		if sl.perIP {
			t.byIP[addr]++
		}
	case t.refusing < t.reserve:
		// Held for its answer only briefly: refused connections must not
		// use up the descriptors the cap protects.
		t.refusing++
		sl.kill = time.AfterFunc(t.grace, func() { _ = c.Close() })
	default:
		drop = true // too many refusals pending to answer this one
	}
	if !drop {
		t.slots[c] = sl
	}
	t.mu.Unlock()
	if sl.refusal == refusalNone {
		return context.WithValue(ctx, connSlotKey{}, sl)
	}
	t.metrics.refused[sl.refusal].Add(1)
	if sl.refusal == refusalMaxConns {
		t.full.Log(context.Background(), t.log, slog.LevelWarn,
			"at the connection limit: refusing connections with 503 (see signalserver_refused_total)", "max_conns", t.max)
	}
	if drop {
		_ = c.Close()
		return ctx
	}
	return context.WithValue(ctx, connSlotKey{}, sl)
}

// connState releases a connection's slot when it closes, or when it is
// hijacked by anything but a WebSocket upgrade of this server.
func (t *connTracker) connState(c net.Conn, state http.ConnState) {
	if state != http.StateClosed && state != http.StateHijacked {
		return
	}
	t.mu.Lock()
	sl := t.slots[c]
	delete(t.slots, c)
	t.mu.Unlock()
	if sl == nil {
		return
	}
	if state == http.StateHijacked && sl.claimed.Load() {
		sl.hijacked.Store(true)
		return
	}
	sl.release()
}

// openConns returns the admitted connections.
func (t *connTracker) openConns() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.open
}

// claim marks that a WebSocket upgrade may take the connection.
func (sl *connSlot) claim() {
	if sl != nil {
		sl.claimed.Store(true)
	}
}

// upgradeFailed returns the slot to net/http's care, or releases it if the
// failed upgrade had already taken the connection.
func (sl *connSlot) upgradeFailed() {
	if sl == nil {
		return
	}
	if sl.hijacked.Load() {
		sl.release()
		return
	}
	sl.claimed.Store(false)
}

// release gives the slot back; only the first call counts.
func (sl *connSlot) release() {
	if sl == nil || sl.released.Swap(true) {
		return
	}
	if sl.kill != nil {
		sl.kill.Stop()
	}
	t := sl.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if sl.refusal != refusalNone {
		t.refusing--
		return
	}
	t.open--
	if sl.perIP {
		if n := t.byIP[sl.addr] - 1; n > 0 {
			t.byIP[sl.addr] = n
		} else {
			delete(t.byIP, sl.addr)
		}
	}
}

// refuseConn answers a request on a connection refused past a cap, and
// closes the connection after the answer.
func refuseConn(w http.ResponseWriter, why refusal) {
	w.Header().Set("Connection", "close")
	if why == refusalMaxConns {
		http.Error(w, "signalserver: server at its connection limit; retry later", http.StatusServiceUnavailable)
		return
	}
	http.Error(w, "signalserver: too many connections from your address", http.StatusTooManyRequests)
}

// writeConnMetrics writes the connection gauges for /metrics.
func (s *Server) writeConnMetrics(w io.Writer) {
	promMetric(w, "gauge", "signalserver_connections", "Open connections counted against the connection cap (plain HTTP and WebSocket).", int64(s.tracker.openConns()))
	promMetric(w, "gauge", "signalserver_connections_max", "The connection cap (MaxConns; -1: none).", int64(s.tracker.max))
}

// httpErrorLog carries net/http's error log (failed TLS handshakes and
// the like, which any client can cause) to the server's logger at Warn:
// a burst of 10 lines, then one a second, with how many were suppressed.
type httpErrorLog struct {
	log   *slog.Logger
	lines ratelog.Limiter
}

func newHTTPErrorLog(l *slog.Logger) *httpErrorLog {
	return &httpErrorLog{log: l.With("component", "http"), lines: ratelog.Limiter{Interval: time.Second, Burst: 10}}
}

func (l *httpErrorLog) Write(p []byte) (int, error) {
	l.lines.Log(context.Background(), l.log, slog.LevelWarn, strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
