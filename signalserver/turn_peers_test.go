package signalserver

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"
	"github.com/rollbox/rollbox/internal/syncbuf"
)

// dialTURN returns a pion TURN client of ts, talking to it over network
// ("udp" or "tcp") with user and pass, closed when the test ends.
func dialTURN(t *testing.T, ts *TURNServer, network, user, pass string) *turn.Client {
	t.Helper()
	var conn net.PacketConn
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conn = c
	case "tcp":
		c, err := net.Dial("tcp", ts.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conn = turn.NewSTUNConn(c)
	}
	client, err := turn.NewClient(&turn.ClientConfig{
		TURNServerAddr: ts.Addr().String(),
		STUNServerAddr: ts.Addr().String(),
		Username:       user,
		Password:       pass,
		Realm:          "rollbox",
		Conn:           conn,
		// Loopback loses nothing, and a retransmitted request could be
		// refused (and counted) twice on a slow machine.
		RTO: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.Close()
		_ = conn.Close()
	})
	if err := client.Listen(); err != nil {
		t.Fatal(err)
	}
	return client
}

// allocateUDP allocates a UDP relay for a new client of ts over network,
// closed when the test ends.
func allocateUDP(t *testing.T, ts *TURNServer, network, user, pass string) (*turn.Client, net.PacketConn) {
	t.Helper()
	c := dialTURN(t, ts, network, user, pass)
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("allocate over %s: %v", network, err)
	}
	t.Cleanup(func() { _ = relay.Close() })
	return c, relay
}

// udpService is a UDP socket standing for a service of the host (say, a
// Redis or a DNS resolver) that relays must not reach. It reports what it
// receives on got.
type udpService struct {
	net.PacketConn
	got chan string
}

func listenUDPService(t *testing.T, addr string) *udpService {
	t.Helper()
	c, err := net.ListenPacket("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &udpService{PacketConn: c, got: make(chan string, 16)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			s.got <- string(buf[:n])
			_, _ = c.WriteTo([]byte("PONG "+string(buf[:n])), from) // answer, as a service would
		}
	}()
	t.Cleanup(func() { _ = c.Close(); <-done })
	return s
}

// tcpService is a TCP listener standing for a service of the host: it
// reports each connection on conns and its first read on got, and answers
// it.
type tcpService struct {
	net.Listener
	conns chan string
	got   chan string
}

func listenTCPService(t *testing.T, addr string) *tcpService {
	t.Helper()
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &tcpService{Listener: ln, conns: make(chan string, 16), got: make(chan string, 16)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns <- c.RemoteAddr().String()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			buf := make([]byte, 64)
			n, _ := c.Read(buf)
			s.got <- string(buf[:n])
			_, _ = c.Write([]byte("+PONG\r\n"))
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); <-done })
	return s
}

// awaitRefusal waits for ts to count one more peer refusal than before,
// failing at once if svc receives anything meanwhile. Once the server has
// refused the packet, a relayed one would already have arrived (loopback
// delivers at once), so svc's silence is then checked without waiting.
func awaitRefusal(t *testing.T, ts *TURNServer, before int64, got <-chan string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for ts.Metrics().Refused("peer_address") <= before {
		select {
		case msg := <-got:
			t.Fatalf("the relay delivered %q to a service of the host", msg)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the server neither relayed nor refused the peer")
		}
	}
	select {
	case msg := <-got:
		t.Fatalf("the relay delivered %q to a service of the host", msg)
	default:
	}
}

// TestTURNRefusesPeersInTheHost: a client holding credentials from GET /ice
// cannot relay into the host: not to a UDP or TCP service on its loopback
// address (which is also its listening address), nor to loopback, private,
// link-local, carrier-grade NAT, multicast or broadcast addresses, over
// either transport. Public addresses stay open. Refusals are counted and
// their logs rate limited.
func TestTURNRefusesPeersInTheHost(t *testing.T) {
	logs := &syncbuf.Buffer{}
	ts := startTURNConfig(t, TURNConfig{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	user, pass, _ := ts.mint()
	refused := func() int64 { return ts.Metrics().Refused("peer_address") }
	start := time.Now()

	udpSvc := listenUDPService(t, "127.0.0.1:0")
	tcpSvc := listenTCPService(t, "127.0.0.1:0")
	for _, network := range []string{"udp", "tcp"} {
		t.Run("udp relay over "+network, func(t *testing.T) {
			c, relay := allocateUDP(t, ts, network, user, pass)
			before := refused()
			// The client may well create the permission (the host's own
			// address is where other relays live), but the datagram must
			// not reach a port that is no relay's.
			if _, err := relay.WriteTo([]byte("PING"), udpSvc.LocalAddr()); err != nil {
				t.Logf("write to the service: %v", err)
			}
			awaitRefusal(t, ts, before, udpSvc.got)

			for _, ip := range []string{
				"127.0.0.2", "0.0.0.0", "0.1.2.3", "10.0.0.1", "172.16.5.4", "192.168.1.1",
				"169.254.169.254", "100.64.0.1", "224.0.0.251", "255.255.255.255",
			} {
				before := refused()
				if err := c.CreatePermission(&net.UDPAddr{IP: net.ParseIP(ip), Port: 6379}); err == nil {
					t.Errorf("permission granted for %s", ip)
				}
				if got := refused(); got != before+1 {
					t.Errorf("peer %s: refusals %d -> %d, want one more", ip, before, got)
				}
			}
			for _, ip := range []string{"198.51.100.7", "8.8.8.8"} {
				if err := c.CreatePermission(&net.UDPAddr{IP: net.ParseIP(ip), Port: 3478}); err != nil {
					t.Errorf("permission for the public address %s: %v", ip, err)
				}
			}
		})
	}

	t.Run("tcp relay (RFC 6062)", func(t *testing.T) {
		c := dialTURN(t, ts, "tcp", user, pass)
		alloc, err := c.AllocateTCP()
		if err != nil {
			t.Fatalf("allocate TCP: %v", err)
		}
		t.Cleanup(func() { _ = alloc.Close() })
		before := refused()
		if conn, err := alloc.Dial("tcp4", tcpSvc.Addr().String()); err == nil {
			_, _ = conn.Write([]byte("PING\r\n"))
			_ = conn.Close()
			t.Fatal("Connect to a TCP service on the host's loopback succeeded")
		}
		if got := refused(); got != before+1 {
			t.Errorf("refusals %d -> %d, want one more", before, got)
		}
		// Connect answers once the peer connection is up or refused, so a
		// connection the server dialled would be queued already.
		select {
		case from := <-tcpSvc.conns:
			t.Fatalf("the service was connected to from %s", from)
		case <-time.After(100 * time.Millisecond):
		}

		for _, ip := range []string{"127.0.0.2", "10.0.0.1", "169.254.169.254"} {
			if conn, err := alloc.Dial("tcp4", net.JoinHostPort(ip, "6379")); err == nil {
				_ = conn.Close()
				t.Errorf("Connect to %s succeeded", ip)
			}
		}
		if err := c.CreatePermission(&net.TCPAddr{IP: net.ParseIP("198.51.100.7"), Port: 443}); err != nil {
			t.Errorf("permission for a public address: %v", err)
		}
	})

	if n := refused(); n < 25 {
		t.Fatalf("%d peer refusals counted, want at least 25", n)
	}
	// Every refusal was counted, but few logged: a burst, then one a second.
	lines := strings.Count(logs.String(), "TURN request refused")
	if most := turnRefusalLogBurst + int(time.Since(start)/turnRefusalLogEvery) + 1; lines < 1 || lines > most {
		t.Errorf("%d refusal log lines for %d refusals, want 1 to %d", lines, refused(), most)
	}
	if !strings.Contains(logs.String(), "reason=peer_address") || !strings.Contains(logs.String(), "peer_range=loopback") {
		t.Errorf("refusal logs lack the reason and range:\n%s", logs.String())
	}
}

// TestTURNRelaysBetweenItsRelays: two clients of the same TURN server, each
// relay-only, reach each other at the server's own address (here loopback)
// without any AllowPeers: its relay ports are open to its relays.
func TestTURNRelaysBetweenItsRelays(t *testing.T) {
	ts := startTURN(t)
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			userA, passA, _ := ts.mint()
			userB, passB, _ := ts.mint()
			_, a := allocateUDP(t, ts, network, userA, passA)
			_, b := allocateUDP(t, ts, "udp", userB, passB)
			// Each relay's first write creates its permission for the
			// server's address; the first datagram, to a relay without one
			// yet, may be lost.
			if _, err := a.WriteTo([]byte("knock"), b.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			if _, err := b.WriteTo([]byte("hello a"), a.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			expectFrom(t, a, "hello a", b.LocalAddr())
			if _, err := a.WriteTo([]byte("hello b"), b.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			expectFrom(t, b, "hello b", a.LocalAddr())
		})
	}
	t.Run("tcp relays (RFC 6062)", func(t *testing.T) {
		userA, passA, _ := ts.mint()
		userB, passB, _ := ts.mint()
		a, err := dialTURN(t, ts, "tcp", userA, passA).AllocateTCP()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.Close() })
		clientB := dialTURN(t, ts, "tcp", userB, passB)
		b, err := clientB.AllocateTCP()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		if err := clientB.CreatePermission(a.Addr()); err != nil {
			t.Fatal(err)
		}
		accepted := make(chan net.Conn, 1)
		go func() {
			c, _ := b.Accept() // nil once b is closed
			accepted <- c
		}()
		conn, err := a.Dial("tcp4", b.Addr().String())
		if err != nil {
			t.Fatalf("Connect from a's relay to b's: %v", err)
		}
		defer conn.Close()
		peer := <-accepted
		if peer == nil {
			t.Fatal("b accepted no connection")
		}
		defer peer.Close()
		_ = peer.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write([]byte("hello b")); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len("hello b"))
		if _, err := io.ReadFull(peer, got); err != nil || string(got) != "hello b" {
			t.Fatalf("b got %q, %v", got, err)
		}
	})
	if n := ts.Metrics().Refused("peer_address"); n != 0 {
		t.Fatalf("%d peer refusals between the server's own relays", n)
	}
}

// expectFrom reads datagrams from relay until want arrives, from from,
// within 10 s; a "knock" is skipped.
func expectFrom(t *testing.T, relay net.PacketConn, want string, from net.Addr) {
	t.Helper()
	_ = relay.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1500)
	for {
		n, src, err := relay.ReadFrom(buf)
		if err != nil {
			t.Fatalf("read from the relay: %v", err)
		}
		if string(buf[:n]) == "knock" {
			continue
		}
		if string(buf[:n]) != want || src.String() != from.String() {
			t.Fatalf("relay got %q from %v, want %q from %v", buf[:n], src, want, from)
		}
		return
	}
}

// TestTURNAllowPeers: AllowPeers 127.0.0.0/8 opens loopback peers, end to
// end over UDP and TCP (RFC 6062), as a LAN deployment opens its LAN; the
// server's own address (127.0.0.1) still leads only to its relays.
func TestTURNAllowPeers(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs 127.0.0.2, which only Linux routes to the loopback interface by default")
	}
	ts := startTURNConfig(t, TURNConfig{AllowPeers: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	user, pass, _ := ts.mint()

	udpSvc := listenUDPService(t, "127.0.0.2:0")
	_, relay := allocateUDP(t, ts, "udp", user, pass)
	if _, err := relay.WriteTo([]byte("PING"), udpSvc.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	select {
	case msg := <-udpSvc.got:
		if msg != "PING" {
			t.Fatalf("service got %q", msg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the allowed peer received nothing")
	}
	expectFrom(t, relay, "PONG PING", udpSvc.LocalAddr())

	tcpSvc := listenTCPService(t, "127.0.0.2:0")
	c := dialTURN(t, ts, "tcp", user, pass)
	alloc, err := c.AllocateTCP()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = alloc.Close() })
	conn, err := alloc.Dial("tcp4", tcpSvc.Addr().String())
	if err != nil {
		t.Fatalf("Connect to an allowed peer: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	answer := make([]byte, len("+PONG\r\n"))
	if _, err := io.ReadFull(conn, answer); err != nil || string(answer) != "+PONG\r\n" {
		t.Fatalf("answer %q, %v", answer, err)
	}
	if got := <-tcpSvc.got; got != "PING\r\n" {
		t.Fatalf("service got %q", got)
	}
	if n := ts.Metrics().Refused("peer_address"); n != 0 {
		t.Fatalf("%d refusals of allowed peers", n)
	}

	// The server's own address is not opened by the allowed range.
	ownSvc := listenUDPService(t, "127.0.0.1:0")
	if _, err := relay.WriteTo([]byte("PING"), ownSvc.LocalAddr()); err != nil {
		t.Logf("write to the server's own address: %v", err)
	}
	awaitRefusal(t, ts, 0, ownSvc.got)
}

// TestTURNQuotas: allocations beyond MaxAllocationsPerUser for one
// credential, or beyond MaxAllocationsPerIP from one IP, are refused with
// 486 and counted (also in /metrics); a deleted allocation frees its place.
func TestTURNQuotas(t *testing.T) {
	turnSrv := startTURNConfig(t, TURNConfig{MaxAllocationsPerUser: 2, MaxAllocationsPerIP: 3})
	userA, passA, _ := turnSrv.mint()
	userB, passB, _ := turnSrv.mint()
	m := turnSrv.Metrics()

	_, a1 := allocateUDP(t, turnSrv, "udp", userA, passA)
	allocateUDP(t, turnSrv, "tcp", userA, passA)
	_, err := dialTURN(t, turnSrv, "udp", userA, passA).Allocate()
	if !isTURNError(err, stun.CodeAllocQuotaReached) {
		t.Fatalf("third allocation of one credential: %v, want 486", err)
	}
	if m.Refused("user_quota") != 1 || m.Refused("ip_quota") != 0 {
		t.Fatalf("refusals: user %d, ip %d; want 1, 0", m.Refused("user_quota"), m.Refused("ip_quota"))
	}

	allocateUDP(t, turnSrv, "udp", userB, passB) // the IP's third
	_, err = dialTURN(t, turnSrv, "tcp", userB, passB).Allocate()
	if !isTURNError(err, stun.CodeAllocQuotaReached) {
		t.Fatalf("fourth allocation from one IP: %v, want 486", err)
	}
	if m.Refused("user_quota") != 1 || m.Refused("ip_quota") != 1 {
		t.Fatalf("refusals: user %d, ip %d; want 1, 1", m.Refused("user_quota"), m.Refused("ip_quota"))
	}

	if err := a1.Close(); err != nil { // deallocates
		t.Fatal(err)
	}
	eventually(t, "the allocation deleted", func() bool { return m.Allocations.Load() == 2 })
	allocateUDP(t, turnSrv, "udp", userB, passB)

	srv := startServer(t, unlimited(Config{ICE: ICEConfig{TURN: turnSrv}}))
	resp, err := http.Get("http" + strings.TrimPrefix(srv.url, "ws") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"# TYPE signalserver_turn_refused_total counter\n",
		`signalserver_turn_refused_total{reason="peer_address"} 0` + "\n",
		`signalserver_turn_refused_total{reason="user_quota"} 1` + "\n",
		`signalserver_turn_refused_total{reason="ip_quota"} 1` + "\n",
		"signalserver_turn_allocations 3\n",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestTURNQuotaUnderConcurrentAllocations: allocations racing over their
// own TCP connections get exactly the quota's number of relays.
func TestTURNQuotaUnderConcurrentAllocations(t *testing.T) {
	const quota, tries = 4, 12
	ts := startTURNConfig(t, TURNConfig{MaxAllocationsPerUser: quota})
	user, pass, _ := ts.mint()
	clients := make([]*turn.Client, tries)
	for i := range clients {
		clients[i] = dialTURN(t, ts, "tcp", user, pass)
	}
	results := make(chan error, tries)
	for _, c := range clients {
		go func() {
			relay, err := c.Allocate()
			if err == nil {
				t.Cleanup(func() { _ = relay.Close() })
			}
			results <- err
		}()
	}
	granted := 0
	for range tries {
		switch err := <-results; {
		case err == nil:
			granted++
		case !isTURNError(err, stun.CodeAllocQuotaReached):
			t.Errorf("allocation: %v", err)
		}
	}
	if granted != quota || ts.Metrics().Refused("user_quota") != tries-quota {
		t.Fatalf("%d allocations granted, %d refused; want %d, %d", granted, ts.Metrics().Refused("user_quota"), quota, tries-quota)
	}
}

func isTURNError(err error, code stun.ErrorCode) bool {
	var turnErr *stun.TurnError
	return errors.As(err, &turnErr) && turnErr.ErrorCodeAttr.Code == code
}

// TestTURNRelayPortsAndFailedAllocations: relays take ports from
// RelayPortMin-RelayPortMax; an allocation that fails there (the one port
// is taken) gives its quota place back.
func TestTURNRelayPortsAndFailedAllocations(t *testing.T) {
	taken, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := taken.LocalAddr().(*net.UDPAddr).Port
	ts := startTURNConfig(t, TURNConfig{RelayPortMin: port, RelayPortMax: port, MaxAllocationsPerUser: 1})
	user, pass, _ := ts.mint()
	c := dialTURN(t, ts, "udp", user, pass)
	for range 3 {
		if _, err := c.Allocate(); !isTURNError(err, stun.CodeInsufficientCapacity) {
			_ = taken.Close()
			t.Fatalf("allocation with the relay port taken: %v, want 508", err)
		}
	}
	_ = taken.Close()
	_, relay := allocateUDP(t, ts, "udp", user, pass)
	if got := relay.LocalAddr().(*net.UDPAddr).Port; got != port {
		t.Fatalf("relay on port %d, want %d", got, port)
	}
	if n := ts.Metrics().Refused("user_quota"); n != 0 {
		t.Fatalf("%d quota refusals: failed allocations kept their places", n)
	}
}

func TestRefusedPeer(t *testing.T) {
	for addr, want := range map[string]string{
		"198.51.100.7":             "",
		"8.8.8.8":                  "",
		"2001:db8::1":              "",
		"2606:4700::1111":          "",
		"64:ff9b::808:808":         "", // NAT64 of 8.8.8.8
		"127.0.0.1":                "loopback",
		"127.255.255.254":          "loopback",
		"::1":                      "loopback",
		"::ffff:127.0.0.1":         "loopback",
		"0.0.0.0":                  "unspecified",
		"::":                       "unspecified",
		"::ffff:0.0.0.0":           "unspecified",
		"0.1.2.3":                  "this_network",
		"10.1.2.3":                 "private",
		"172.31.255.255":           "private",
		"192.168.0.1":              "private",
		"::ffff:192.168.0.1":       "private",
		"fc00::1":                  "private",
		"fd12:3456::1":             "private",
		"169.254.169.254":          "link_local",
		"::ffff:169.254.169.254":   "link_local",
		"fe80::1":                  "link_local",
		"100.64.0.1":               "shared",
		"100.127.255.254":          "shared",
		"224.0.0.251":              "multicast",
		"239.255.255.250":          "multicast",
		"ff02::1":                  "multicast",
		"255.255.255.255":          "reserved",
		"240.0.0.1":                "reserved",
		"198.18.0.1":               "special",
		"192.0.0.170":              "special",
		"::7f00:1":                 "ipv4_compatible",
		"fec0::1":                  "site_local",
		"64:ff9b::7f00:1":          "loopback", // NAT64 of 127.0.0.1
		"64:ff9b::a9fe:a9fe":       "link_local",
		"64:ff9b:1::a00:1":         "nat64",
		"2002:7f00:1::1":           "loopback", // 6to4 through 127.0.0.1
		"2002:c0a8:101::1":         "private",
		"2002:808:808::1":          "",
		"100::1":                   "discard",
		"::ffff:100.64.0.1":        "shared",
		"::ffff:224.0.0.1":         "multicast",
		"::ffff:255.255.255.255":   "reserved",
		"2001:4860:4860::8888":     "",
		"fe80::1234:5678:9abc:def": "link_local",
	} {
		if got := refusedPeer(netip.MustParseAddr(addr)); got != want {
			t.Errorf("refusedPeer(%s) = %q, want %q", addr, got, want)
		}
	}
}

// TestTURNPeersPermit checks the order of the rules: the host's own
// addresses first (granted; their ports are checked later), then the
// allowed ranges, then the refused ones.
func TestTURNPeersPermit(t *testing.T) {
	var refusals []string
	p := &turnPeers{
		allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		own:   map[netip.Addr]struct{}{netip.MustParseAddr("10.0.0.5"): {}, netip.MustParseAddr("127.0.0.1"): {}},
		refused: func(_ net.Addr, _ string, peer netip.AddrPort, why string) {
			refusals = append(refusals, peer.Addr().String()+" "+why)
		},
	}
	client := &net.UDPAddr{IP: net.IPv4(198, 51, 100, 1), Port: 5000}
	for ip, want := range map[string]bool{
		"10.0.0.5": true, "10.9.9.9": true, "127.0.0.1": true, "::ffff:127.0.0.1": true,
		"127.0.0.2": false, "192.168.1.1": false, "203.0.113.9": true,
	} {
		if got := p.permit(client, net.ParseIP(ip)); got != want {
			t.Errorf("permit(%s) = %v, want %v", ip, got, want)
		}
	}
	if got := p.permit(client, net.IP{1, 2, 3}); got {
		t.Error("permit of a 3-byte IP")
	}
	if len(refusals) != 3 {
		t.Errorf("refusals %q, want 127.0.0.2, 192.168.1.1 and the malformed IP", refusals)
	}

	p.ports.add(relayUDP, netip.IPv4Unspecified(), 50000) // on every IPv4 address
	p.ports.add(relayUDP, netip.MustParseAddr("10.0.0.5"), 50002)
	p.ports.add(relayUDP, netip.IPv6Unspecified(), 50004) // on every IPv6 address only
	for _, tc := range []struct {
		ip      string
		port    int
		network relayNetwork
		want    bool
	}{
		{"10.0.0.5", 50000, relayUDP, true},
		{"10.0.0.5", 50001, relayUDP, false},
		{"10.0.0.5", 50000, relayTCP, false},
		{"::ffff:127.0.0.1", 50000, relayUDP, true},
		{"127.0.0.1", 6379, relayUDP, false},
		{"10.9.9.9", 6379, relayUDP, true}, // not own: its IP was vetted by permit
		// A relay bound to one address holds its port there only; an IPv6
		// one holds it on IPv6 only.
		{"10.0.0.5", 50002, relayUDP, true},
		{"127.0.0.1", 50002, relayUDP, false},
		{"127.0.0.1", 50004, relayUDP, false},
		{"10.0.0.5", 50004, relayUDP, false},
	} {
		if got := p.reachable(tc.network, netip.MustParseAddr(tc.ip), tc.port); got != tc.want {
			t.Errorf("reachable(%d, %s:%d) = %v, want %v", tc.network, tc.ip, tc.port, got, tc.want)
		}
	}
	p.ports.remove(relayUDP, netip.IPv4Unspecified(), 50000)
	if p.reachable(relayUDP, netip.MustParseAddr("10.0.0.5"), 50000) {
		t.Error("a closed relay's port is still reachable")
	}

	// Checked for every relayed datagram: no allocation.
	own := netip.MustParseAddr("10.0.0.5")
	p.ports.add(relayUDP, netip.IPv4Unspecified(), 50000)
	if n := testing.AllocsPerRun(100, func() { p.reachable(relayUDP, own, 50000) }); n != 0 {
		t.Errorf("reachable allocates %v times", n)
	}
}

func TestAllocQuota(t *testing.T) {
	q := newAllocQuota(2, 3)
	src := func(ip string, port int) net.Addr { return &net.UDPAddr{IP: net.ParseIP(ip), Port: port} }
	mustReserve := func(user string, a net.Addr) {
		t.Helper()
		if r, ok := q.reserve(user, a); !ok {
			t.Fatalf("reserve %s from %v: refused %s", user, a, turnRefusalNames[r])
		}
	}
	mustReserve("u", src("198.51.100.1", 1))
	q.created("u", src("198.51.100.1", 1))
	mustReserve("u", src("198.51.100.1", 2)) // pending counts at once
	if r, ok := q.reserve("u", src("198.51.100.1", 3)); ok || r != turnRefusedUserQuota {
		t.Fatalf("third of u: %v", r)
	}
	q.failed(src("198.51.100.1", 2))
	mustReserve("u", src("198.51.100.1", 3))
	mustReserve("v", src("198.51.100.1", 4))
	if r, ok := q.reserve("w", src("198.51.100.1", 5)); ok || r != turnRefusedIPQuota {
		t.Fatalf("fourth of the IP: %v", r)
	}
	// One /64 is one IPv6 client.
	mustReserve("x", src("2001:db8::1", 1))
	mustReserve("y", src("2001:db8::2", 1))
	mustReserve("z", src("2001:db8::3", 1))
	if r, ok := q.reserve("zz", src("2001:db8::ffff:4", 1)); ok || r != turnRefusedIPQuota {
		t.Fatalf("fourth of the /64: %v", r)
	}
	mustReserve("zz", src("2001:db8:0:1::4", 1))

	q.deleted(src("198.51.100.1", 1))
	mustReserve("w", src("198.51.100.1", 5))
	if q.users["u"] != 1 || q.ips[netip.MustParseAddr("198.51.100.1")] != 3 {
		t.Fatalf("counts %v %v", q.users, q.ips)
	}
}

// BenchmarkTURNRelayPeerCheck measures the check every relayed datagram
// passes: to a peer elsewhere, and to another relay at the host's address.
func BenchmarkTURNRelayPeerCheck(b *testing.B) {
	p := &turnPeers{own: map[netip.Addr]struct{}{netip.MustParseAddr("203.0.113.5"): {}, netip.MustParseAddr("10.0.0.5"): {}}}
	p.ports.add(relayUDP, netip.IPv4Unspecified(), 50000) // on every IPv4 address
	p.ports.add(relayUDP, netip.MustParseAddr("10.0.0.5"), 50002)
	p.ports.add(relayUDP, netip.IPv6Unspecified(), 50004) // on every IPv6 address only
	for _, tc := range []struct {
		name string
		peer *net.UDPAddr
	}{
		{"elsewhere", &net.UDPAddr{IP: net.ParseIP("198.51.100.7"), Port: 40000}},
		{"own relay", &net.UDPAddr{IP: net.ParseIP("203.0.113.5"), Port: 50000}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ip, _ := netip.AddrFromSlice(tc.peer.IP)
				if !p.reachable(relayUDP, ip, tc.peer.Port) {
					b.Fatal("refused")
				}
			}
		})
	}
}

// TestTURNPeersBehindNAT: behind 1:1 NAT the public address is on no
// interface; the relays of two players meet there, which the NAT forwards
// to the relay bind address, so there the bind address's relay ports are
// open, and only they.
func TestTURNPeersBehindNAT(t *testing.T) {
	public := net.IPv4(203, 0, 113, 77)
	_, nat, err := ownAddresses(public)
	if err != nil {
		t.Fatal(err)
	}
	if nat != netip.MustParseAddr("203.0.113.77") {
		t.Fatalf("public address on no interface: NAT address %v, want 203.0.113.77", nat)
	}
	if _, nat, _ := ownAddresses(net.IPv4(127, 0, 0, 1)); nat.IsValid() {
		t.Fatalf("public address on an interface taken for a NAT's: %v", nat)
	}

	bind := netip.MustParseAddr("10.0.0.5")
	p := &turnPeers{
		own:       map[netip.Addr]struct{}{nat: {}, bind: {}, netip.MustParseAddr("127.0.0.1"): {}},
		natPublic: nat, natTarget: bind,
	}
	p.ports.add(relayUDP, bind, 50000)
	for _, tc := range []struct {
		ip   netip.Addr
		port int
		want bool
	}{
		{nat, 50000, true},
		{nat, 50001, false},
		{bind, 50000, true},
		{netip.MustParseAddr("127.0.0.1"), 50000, false}, // the port is the relay's at 10.0.0.5 only
	} {
		if got := p.reachable(relayUDP, tc.ip, tc.port); got != tc.want {
			t.Errorf("reachable(%v) = %v, want %v", netip.AddrPortFrom(tc.ip, uint16(tc.port)), got, tc.want)
		}
	}
}
