package signalserver

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"testing"

	"github.com/gorilla/websocket"
)

// TestAttackIPv6AddressRotationDodgesPerIPLimits: one IPv6 host holds a
// whole /64 (2^64 addresses; SLAAC privacy addresses rotate within it), so
// per-IP limits keyed by the full address limit it not at all. The caps
// must count an IPv6 client by its /64. Seen through a trusted proxy, which
// forwards each client's address.
func TestAttackIPv6AddressRotationDodgesPerIPLimits(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	join := func(ts *testServer, ip string) (*websocket.Conn, int) {
		t.Helper()
		conn, resp, err := websocket.DefaultDialer.Dial(ts.url+"/r", http.Header{"X-Forwarded-For": {ip}})
		if err != nil {
			if resp == nil {
				t.Fatalf("join as %s: %v", ip, err)
			}
			resp.Body.Close()
			return nil, resp.StatusCode
		}
		t.Cleanup(func() { conn.Close() })
		return conn, http.StatusSwitchingProtocols
	}

	// Concurrent connections: two per client.
	ts := startServer(t, Config{MaxConnsPerIP: 2, JoinsPerSecondPerIP: -1, RealIPHeader: "X-Forwarded-For", TrustedProxies: trusted})
	for _, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2"} {
		if _, got := join(ts, ip); got != http.StatusSwitchingProtocols {
			t.Fatalf("join as %s: %d", ip, got)
		}
	}
	if _, got := join(ts, "2001:db8:1:2:a:b:c:d"); got != http.StatusTooManyRequests {
		t.Fatalf("third connection from the same /64: %d, want 429", got)
	}
	// Another /64 is another client.
	if _, got := join(ts, "2001:db8:1:3::1"); got != http.StatusSwitchingProtocols {
		t.Fatalf("join from another /64: %d", got)
	}

	// Join rate: a burst of one.
	ts = startServer(t, Config{MaxConnsPerIP: -1, JoinsPerSecondPerIP: 0.001, JoinBurstPerIP: 1, RealIPHeader: "X-Forwarded-For", TrustedProxies: trusted})
	if _, got := join(ts, "2001:db8:1:2::1"); got != http.StatusSwitchingProtocols {
		t.Fatalf("first join: %d", got)
	}
	if _, got := join(ts, "2001:db8:1:2::2"); got != http.StatusTooManyRequests {
		t.Fatalf("second join from the same /64: %d, want 429", got)
	}
	// IPv4 addresses stay one client each.
	if _, got := join(ts, "198.51.100.1"); got != http.StatusSwitchingProtocols {
		t.Fatalf("join from 198.51.100.1: %d", got)
	}
	if _, got := join(ts, "198.51.100.2"); got != http.StatusSwitchingProtocols {
		t.Fatalf("join from 198.51.100.2: %d", got)
	}
}

// addrConn is a connection from a given remote address, for the connection
// tracker, which looks at nothing else before the request.
type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }

// TestAttackIPv6AddressRotationDodgesConnCap: the per-IP cap on every TCP
// connection counts an IPv6 host by its /64 too.
func TestAttackIPv6AddressRotationDodgesConnCap(t *testing.T) {
	cfg, err := Config{MaxConnsPerIP: 2, MaxConns: 100}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	tr := newConnTracker(cfg, realIP{}, &Metrics{})
	refusals := 0
	for i, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2::3", "2001:db8:1:3::1"} {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		conn := addrConn{a, &net.TCPAddr{IP: net.ParseIP(ip), Port: 1000 + i}}
		sl := connSlotOf(tr.connContext(context.Background(), conn))
		refused := sl == nil || sl.refusal != refusalNone
		if want := i == 2; refused != want {
			t.Fatalf("connection %d from %s: refused %v, want %v", i, ip, refused, want)
		}
		if refused {
			refusals++
		}
		defer tr.connState(conn, http.StateClosed)
	}
	if refusals != 1 {
		t.Fatalf("%d refusals", refusals)
	}
}

// TestAttackBracketedIPv6ForwardedSharesProxyBudget: a proxy that writes a
// client's IPv6 address in brackets without a port ("[2001:db8::1]", as in
// RFC 7239's Forwarded and some proxies' X-Forwarded-For) is not a header
// to give up on: taken for garbage, every such client was counted as the
// proxy itself, so one client could use up the limits of all of them.
func TestAttackBracketedIPv6ForwardedSharesProxyBudget(t *testing.T) {
	ts := startServer(t, Config{MaxConnsPerIP: 1, JoinsPerSecondPerIP: -1, RealIPHeader: "X-Forwarded-For",
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	for _, ip := range []string{"[2001:db8:1::1]", "[2001:db8:2::1]", "[2001:db8:3::1]:443"} {
		conn, resp, err := websocket.DefaultDialer.Dial(ts.url+"/r", http.Header{"X-Forwarded-For": {ip}})
		if err != nil {
			status := 0
			if resp != nil {
				status = resp.StatusCode
				resp.Body.Close()
			}
			t.Fatalf("client %s through the proxy: %v (%d)", ip, err, status)
		}
		t.Cleanup(func() { conn.Close() })
	}
}

// FuzzClientIP: any forwarded header from a trusted proxy yields a valid
// address to count the client under, never a panic.
func FuzzClientIP(f *testing.F) {
	for _, seed := range []string{"203.0.113.1", "6.6.6.6, 203.0.113.1", "[2001:db8::1]", "[2001:db8::1]:443", "unknown", "fe80::1%eth0", ",,", "["} {
		f.Add(seed)
	}
	ri := realIP{header: "X-Forwarded-For", trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	f.Fuzz(func(t *testing.T, header string) {
		r := &http.Request{RemoteAddr: "127.0.0.1:4000", Header: http.Header{"X-Forwarded-For": {header}}}
		ip := ri.clientIP(r)
		if _, err := netip.ParseAddr(ip); err != nil {
			t.Fatalf("clientIP(%q) = %q, not an address", header, ip)
		}
		if _, err := netip.ParseAddr(clientKey(ip)); err != nil {
			t.Fatalf("clientKey(%q) = %q, not an address", ip, clientKey(ip))
		}
	})
}
