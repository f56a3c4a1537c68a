//go:build !js

package transport

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v5/vnet"
)

// virtualLAN is pion's in-memory network: sockets joined through it send
// their WebRTC traffic through a router whose filter the test controls, while
// signalling still goes over real loopback TCP.
type virtualLAN struct {
	router *vnet.Router
	mu     sync.Mutex
	drop   func(src, dst net.IP) bool // nil: deliver everything
}

func newVirtualLAN(t *testing.T) *virtualLAN {
	t.Helper()
	router, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "192.0.2.0/24", LoggerFactory: logging.NewDefaultLoggerFactory()})
	if err != nil {
		t.Fatal(err)
	}
	lan := &virtualLAN{router: router}
	router.AddChunkFilter(func(c vnet.Chunk) bool {
		lan.mu.Lock()
		defer lan.mu.Unlock()
		if lan.drop == nil {
			return true
		}
		src, dst := c.SourceAddr().(*net.UDPAddr), c.DestinationAddr().(*net.UDPAddr)
		return src == nil || dst == nil || !lan.drop(src.IP, dst.IP)
	})
	if err := router.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = router.Stop() })
	return lan
}

func (lan *virtualLAN) setDrop(drop func(src, dst net.IP) bool) {
	lan.mu.Lock()
	defer lan.mu.Unlock()
	lan.drop = drop
}

// join joins a socket whose WebRTC traffic uses the virtual address ip.
func (lan *virtualLAN) join(t *testing.T, url, ip string, cfg Config) *Socket {
	t.Helper()
	nw, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
	if err != nil {
		t.Fatal(err)
	}
	if err := lan.router.AddNet(nw); err != nil {
		t.Fatal(err)
	}
	cfg.LoopbackOnly = false // the virtual interface is eth0
	s, err := join(testContext(t, 10*time.Second), url, cfg, nw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeSocket(t, s) })
	return s
}

// With datachannel before v1.5.10, a negotiated unordered channel with
// maxRetransmits 0 silently became reliable. Over a link that loses 20% of
// packets, the unreliable channel must lose about that many, while the
// reliable channel beside it still delivers everything.
func TestUnreliableChannelDoesNotRetransmit(t *testing.T) {
	ts := startServer(t)
	lan := newVirtualLAN(t)
	url := ts.url("lossy?next=2")
	cfg := testConfig(t, Unreliable(), Reliable())
	cfg.ICEFailedTimeout = 30 * time.Second // loss must not kill the connection
	a := lan.join(t, url, "192.0.2.1", cfg)
	b := lan.join(t, url, "192.0.2.2", cfg)
	waitMesh(t, a, b)

	rng := rand.New(rand.NewPCG(3, 4))
	lan.setDrop(func(net.IP, net.IP) bool { return rng.Float64() < 0.2 })

	const n = 1000
	pkt := make([]byte, 16)
	for i := range n {
		binary.BigEndian.PutUint32(pkt, uint32(i))
		if err := a.Channel(unreliableCh).Send(b.ID(), pkt); err != nil {
			t.Fatal(err)
		}
		if err := a.Channel(reliableCh).Send(b.ID(), pkt); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			time.Sleep(time.Millisecond)
		}
	}
	// Every first transmission has crossed the lossy link within a second.
	// Then the link heals: the reliable channel's retransmissions finish
	// fast even on a loaded machine (SCTP backs off under sustained loss),
	// and an unreliable channel that retransmitted would now get through.
	time.Sleep(time.Second)
	lan.setDrop(func(net.IP, net.IP) bool { return false })
	ctx := testContext(t, 60*time.Second)
	next := 0
	err := receiveUntil(ctx, b, reliableCh, func(_ PeerID, d []byte) {
		if got := int(binary.BigEndian.Uint32(d)); got != next {
			t.Fatalf("reliable #%d arrived, want #%d", got, next)
		}
		next++
	}, func() bool { return next == n })
	if err != nil {
		t.Fatalf("reliable channel delivered %d of %d under loss: %v", next, n, err)
	}
	// Every retransmission the reliable channel needed has happened by now;
	// an unreliable channel that retransmitted would have caught up as well.
	time.Sleep(time.Second)
	seen := map[uint32]bool{}
	for _, p := range b.Channel(unreliableCh).Receive() {
		seen[binary.BigEndian.Uint32(p.Data)] = true
	}
	if d := a.Channel(unreliableCh).Stats().SendDropped; d != 0 {
		t.Fatalf("%d packets dropped by the send buffer: the test measures the network, not the buffer", d)
	}
	t.Logf("unreliable channel delivered %d of %d packets over a 20%% lossy link", len(seen), n)
	if len(seen) > n*95/100 {
		t.Fatalf("unreliable channel delivered %d of %d packets over a 20%% lossy link: it retransmits", len(seen), n)
	}
	if len(seen) < n/2 {
		t.Fatalf("unreliable channel delivered only %d of %d packets", len(seen), n)
	}
}

// A peer whose process dies says nothing: its WebSocket here stays open (so
// no PeerLeft) and its packets just stop. ICE notices within the configured
// disconnected + failed timeouts.
func TestSilentPeerIsDisconnectedByICETimeout(t *testing.T) {
	ts := startServer(t)
	lan := newVirtualLAN(t)
	url := ts.url("silent?next=3")
	cfg := testConfig(t)
	cfg.ICEDisconnectedTimeout, cfg.ICEFailedTimeout = time.Second, time.Second
	socks := []*Socket{
		lan.join(t, url, "192.0.2.1", cfg),
		lan.join(t, url, "192.0.2.2", cfg),
		lan.join(t, url, "192.0.2.3", cfg),
	}
	waitMesh(t, socks...)
	for _, s := range socks {
		s.PeerEvents()
	}
	victim := net.ParseIP("192.0.2.3")
	start := time.Now()
	lan.setDrop(func(src, dst net.IP) bool { return src.Equal(victim) || dst.Equal(victim) })

	limit := cfg.ICEDisconnectedTimeout + cfg.ICEFailedTimeout + 3*time.Second
	ctx := testContext(t, limit)
	for _, s := range socks[:2] {
		ev := waitEvent(ctx, t, s)
		if ev != (PeerEvent{Peer: socks[2].ID(), State: PeerDisconnected}) {
			t.Fatalf("%s: event %v, want %s disconnected", s.ID(), ev, socks[2].ID())
		}
	}
	t.Logf("silent peer reported disconnected after %v (timeouts %v + %v)", time.Since(start), cfg.ICEDisconnectedTimeout, cfg.ICEFailedTimeout)
	if got := fmt.Sprint(socks[0].Peers()); got != fmt.Sprint([]PeerID{socks[1].ID()}) {
		t.Fatalf("peers of %s after the silent one went: %s", socks[0].ID(), got)
	}
}
