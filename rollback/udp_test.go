package rollback

import (
	"net"
	"testing"
	"time"
)

// udpSocket adapts a loopback UDP socket to Socket[string] for tests:
// Receive drains what arrived using a very short read deadline.
type udpSocket struct {
	conn  *net.UDPConn
	addrs map[string]*net.UDPAddr
	bufs  [][]byte
	out   []Packet[string]
}

func newUDPSocket(t *testing.T) *udpSocket {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &udpSocket{conn: conn, addrs: map[string]*net.UDPAddr{}}
}

func (s *udpSocket) addr() string { return s.conn.LocalAddr().String() }

func (s *udpSocket) Send(to string, p []byte) error {
	a, ok := s.addrs[to]
	if !ok {
		var err error
		if a, err = net.ResolveUDPAddr("udp4", to); err != nil {
			return err
		}
		s.addrs[to] = a
	}
	_, err := s.conn.WriteToUDP(p, a)
	return err
}

func (s *udpSocket) Receive() []Packet[string] {
	s.out = s.out[:0]
	for i := 0; ; i++ {
		if i == len(s.bufs) {
			s.bufs = append(s.bufs, make([]byte, 2048))
		}
		_ = s.conn.SetReadDeadline(time.Now().Add(200 * time.Microsecond))
		n, from, err := s.conn.ReadFromUDP(s.bufs[i])
		if err != nil {
			// Deadline exceeded: nothing more queued. Any other error
			// (socket closed) also ends this receive.
			return s.out
		}
		s.out = append(s.out, Packet[string]{From: from.String(), Data: s.bufs[i][:n]})
	}
}

// The GGRS integration scenarios over real UDP on loopback: synchronize, one
// frame per tick, converge, detect a desync.
func TestP2POverUDP(t *testing.T) {
	clock := newTestNet(0) // virtual time only; packets go over UDP
	socks := []*udpSocket{newUDPSocket(t), newUDPSocket(t)}
	peers := make([]*testPeer, 2)
	for i := range 2 {
		cfg := DefaultConfig[uint32, string](UintCodec[uint32]{})
		cfg.Clock = clock.clock
		cfg.DesyncDetectionInterval = 100
		cfg.AddLocalPlayer(PlayerHandle(i))
		cfg.AddRemotePlayer(PlayerHandle(1-i), socks[1-i].addr())
		sess, err := NewP2PSession[stubState](cfg, socks[i])
		if err != nil {
			t.Fatal(err)
		}
		peers[i] = &testPeer{sess: sess, game: newStubGame(), handle: PlayerHandle(i), addr: socks[i].addr()}
	}
	for range 2000 {
		for _, p := range peers {
			p.sess.PollRemoteClients()
		}
		if peers[0].sess.State() == Running && peers[1].sess.State() == Running {
			break
		}
		clock.advance(time.Millisecond)
	}
	for _, p := range peers {
		evs := p.sess.Events()
		if p.sess.State() != Running || countEvents(evs, EventSynchronized) != 1 || countEvents(evs, EventSynchronizing) != 5 {
			t.Fatalf("%s did not synchronize: %v", p.addr, evs)
		}
	}
	for i := range 10 {
		tick(t, peers, func(p *testPeer) uint32 { return uint32(i) })
		for _, p := range peers {
			if p.game.gs.Frame != int32(i+1) {
				t.Fatalf("%s at frame %d after %d ticks", p.addr, p.game.gs.Frame, i+1)
			}
		}
		clock.advance(16 * time.Millisecond)
	}
	for i := 10; i < 110; i++ {
		tick(t, peers, func(p *testPeer) uint32 { return uint32(i) })
		clock.advance(16 * time.Millisecond)
	}
	if agree(t, peers) < 100 {
		t.Fatal("too few frames confirmed")
	}
	for range 100 {
		peers[0].game.gs.Value = 1234
		tick(t, peers, func(p *testPeer) uint32 { return uint32(p.handle) })
		clock.advance(16 * time.Millisecond)
	}
	for i, p := range peers {
		if len(p.events) != 1 || p.events[0].Kind != EventDesyncDetected || p.events[0].Frame != 200 ||
			p.events[0].Addr != peers[1-i].addr {
			t.Fatalf("%s: events %v, want one desync at frame 200", p.addr, p.events)
		}
	}
	if peers[0].events[0].LocalChecksum != peers[1].events[0].RemoteChecksum {
		t.Fatal("checksums not mirrored")
	}
}
