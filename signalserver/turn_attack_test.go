package signalserver

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/pion/stun/v4"
	"github.com/pion/turn/v5"
)

// TestAttackTURNIPv6RelayOpensItsPortOnIPv4: with a dual-stack server
// (-turn-listen-ip ::, whose relays bind the wildcard address), a client may ask
// for an IPv6 relay (REQUESTED-ADDRESS-FAMILY). That socket holds port P on
// IPv6 only, so a service of the host can hold the same port P on IPv4. An
// IPv4 relay must still not reach that service at the host's own IPv4
// address: P is a relay port, but not on IPv4.
func TestAttackTURNIPv6RelayOpensItsPortOnIPv4(t *testing.T) {
	if c, err := net.ListenPacket("udp6", "[::1]:0"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI runs this attack, but this machine has no IPv6 loopback: %v", err)
		}
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		_ = c.Close()
	}
	ts := startTURNConfig(t, TURNConfig{Listen: "[::]:0", PublicIP: net.IPv4(127, 0, 0, 1)})
	server := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ts.Addr().Port}
	dial := func(family turn.RequestedAddressFamily) *turn.Client {
		t.Helper()
		conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		user, pass, _ := ts.mint()
		c, err := turn.NewClient(&turn.ClientConfig{
			TURNServerAddr: server.String(), STUNServerAddr: server.String(),
			Username: user, Password: pass, Realm: "rollbox", Conn: conn,
			RTO: 5 * time.Second, RequestedAddressFamily: family,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(); _ = conn.Close() })
		if err := c.Listen(); err != nil {
			t.Fatal(err)
		}
		return c
	}

	// The attacker's IPv6 relay: port P on [::] only.
	relay6, err := dial(turn.RequestedAddressFamilyIPv6).Allocate()
	if err != nil {
		t.Fatalf("allocate an IPv6 relay: %v", err)
	}
	t.Cleanup(func() { _ = relay6.Close() })
	port := relay6.LocalAddr().(*net.UDPAddr).Port

	// A service of the host on 127.0.0.1:P (the attacker would churn
	// allocations until one lands on a service's port).
	svc := listenUDPService(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))

	// The attacker's IPv4 relay sends to it.
	relay4, err := dial(turn.RequestedAddressFamilyIPv4).Allocate()
	if err != nil {
		t.Fatalf("allocate an IPv4 relay: %v", err)
	}
	t.Cleanup(func() { _ = relay4.Close() })
	before := ts.Metrics().Refused("peer_address")
	if _, err := relay4.WriteTo([]byte("PING"), svc.LocalAddr()); err != nil {
		t.Logf("write to the service: %v", err)
	}
	awaitRefusal(t, ts, before, svc.got)
}

// TestAttackTURNTCPRelayPortShared: pion binds TCP relay listeners with
// SO_REUSEPORT (the relay dials RFC 6062 peers from its own port), and the
// port range generator binds ports it picks at random, so a second client's
// TCP relay can land on the port of another's. The kernel then shares the
// connections to that port between both listeners: an attacker that
// learned a victim's relay address (from the ICE candidates it signals)
// allocates until it holds the same port and takes over connections meant
// for the victim. A relay port must belong to one allocation.
func TestAttackTURNTCPRelayPortShared(t *testing.T) {
	free, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := free.Addr().(*net.TCPAddr).Port
	_ = free.Close()
	// One port in the range: the attacker's every try lands on the
	// victim's port (with a wide range it takes more tries).
	ts := startTURNConfig(t, TURNConfig{RelayPortMin: port, RelayPortMax: port})
	peerIP := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}

	userV, passV, _ := ts.mint()
	clientV := dialTURN(t, ts, "tcp", userV, passV)
	victim, err := clientV.AllocateTCP()
	if err != nil {
		t.Fatalf("victim's TCP allocation: %v", err)
	}
	t.Cleanup(func() { _ = victim.Close() })
	if err := clientV.CreatePermission(peerIP); err != nil {
		t.Fatal(err)
	}

	userA, passA, _ := ts.mint()
	clientA := dialTURN(t, ts, "tcp", userA, passA)
	attacker, err := clientA.AllocateTCP()
	if err != nil {
		if !isTURNError(err, stun.CodeInsufficientCapacity) {
			t.Fatalf("attacker's TCP allocation: %v, want 508 (no free relay port)", err)
		}
		return // refused: the port stays the victim's
	}
	t.Cleanup(func() { _ = attacker.Close() })
	if err := clientA.CreatePermission(peerIP); err != nil {
		t.Fatal(err)
	}
	stolen := make(chan struct{}, 64)
	go func() {
		for {
			c, err := attacker.Accept()
			if err != nil {
				return
			}
			stolen <- struct{}{}
			_ = c.Close()
		}
	}()
	go func() {
		for {
			c, err := victim.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	// A peer connects to the victim's relay address a few times.
	for range 16 {
		c, err := net.DialTimeout("tcp4", victim.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Close()
	}
	select {
	case <-stolen:
		t.Fatalf("the attacker's relay holds the victim's port %d and accepted a connection meant for the victim", port)
	case <-time.After(2 * time.Second):
	}
}

// TestAttackTURNIdleTCPConnections: TCP connections to the TURN port need
// no credentials, and pion reads them without a deadline, so one client
// could open connections by the hundred thousand and hold a descriptor and
// a goroutine for each, starving the process (and the signalling server in
// it) of file descriptors. Connections from one IP are capped: twice its
// allocation quota, room for a control connection per allocation and as
// many RFC 6062 data connections.
func TestAttackTURNIdleTCPConnections(t *testing.T) {
	const perIP = 4
	ts := startTURNConfig(t, TURNConfig{MaxAllocationsPerIP: perIP})
	const opened = 5 * perIP
	conns := make([]net.Conn, 0, opened)
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	for range opened {
		c, err := net.Dial("tcp4", ts.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	// Connections the server closed read EOF; open ones time out.
	want := opened - 2*perIP
	isClosed := make([]bool, opened)
	closed := 0
	for end := time.Now().Add(10 * time.Second); closed < want && time.Now().Before(end); {
		for i, c := range conns {
			if isClosed[i] {
				continue
			}
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
			if _, err := c.Read(make([]byte, 1)); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				isClosed[i] = true
				closed++
			}
		}
	}
	if closed < want {
		t.Fatalf("the server closed %d of %d idle TCP connections from one IP, want at least %d", closed, opened, want)
	}
	if n := ts.Metrics().Refused("ip_quota"); n < int64(want) {
		t.Errorf("%d connections counted as refused for the IP's quota, want at least %d", n, want)
	}
	// Once they are gone the IP's connections count no more: a client
	// allocates over TCP again.
	for _, c := range conns {
		_ = c.Close()
	}
	user, pass, _ := ts.mint()
	for end := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp4", ts.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		client, err := turn.NewClient(&turn.ClientConfig{
			TURNServerAddr: ts.Addr().String(), Username: user, Password: pass, Realm: "rollbox",
			Conn: turn.NewSTUNConn(c), RTO: 5 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err = client.Listen(); err == nil {
			var relay net.PacketConn
			if relay, err = client.Allocate(); err == nil {
				_ = relay.Close()
			}
		}
		client.Close()
		_ = c.Close()
		if err == nil {
			break
		}
		// The server may not have seen every close yet.
		if time.Now().After(end) {
			t.Fatalf("allocation over TCP after the idle connections closed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAttackTURNAddressAddedAfterStart: the host's own addresses were
// listed once, at start. One it gets later (an IPv6 privacy address
// rotating in, a DHCP lease, an interface brought up after the server) is
// a public address like any other to the peer policy, so a relay reaches
// every service of the host through it. Simulated with a peer policy that
// lacks a public address the host has, as if it had come after the start.
func TestAttackTURNAddressAddedAfterStart(t *testing.T) {
	own, _, err := ownAddresses(nil)
	if err != nil {
		t.Fatal(err)
	}
	var later netip.Addr
	for a := range own {
		if refusedPeer(a) == "" {
			later = a
		}
	}
	p := &turnPeers{own: own, refused: func(net.Addr, string, netip.AddrPort, string) {}}
	if later.IsValid() {
		delete(own, later)
	} else {
		// No public address here (a CI container): the interface list
		// the policy reads stands in for the host's, listed just now,
		// with an address the start-time list lacks.
		later = netip.MustParseAddr("203.0.113.9")
		p.local.addrs, p.local.listed = map[netip.Addr]struct{}{later: {}}, time.Now()
	}
	client := &net.UDPAddr{IP: net.IPv4(198, 51, 100, 1), Port: 5000}
	if !p.permit(client, later.AsSlice()) {
		return // refused outright: no relay reaches it
	}
	// A service of the host listening on every address, at a port no
	// relay holds.
	const svcPort = 6379
	for _, network := range []relayNetwork{relayUDP, relayTCP} {
		if p.reachable(network, later, svcPort) {
			t.Errorf("a relay reaches %v, an address of the host, at a port no relay holds", netip.AddrPortFrom(later, svcPort))
		}
	}
}
