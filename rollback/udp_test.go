package rollback

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/rollbox/rollbox/transport/udp"
	"go.uber.org/goleak"
)

// The GGRS integration scenario over real UDP on loopback, through
// transport/udp as a LAN game would use it: synchronize, one frame per tick,
// converge, detect a desync.
//
// Packets travel in real time but the sessions' clock is virtual and moves
// only by the test's ticks, never while it waits for the kernel to deliver:
// a loaded machine slows the test down but cannot time a peer out.
func TestP2POverUDP(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // registered first, so it runs after the sockets close
	var now time.Duration
	clock := func() time.Time { return testEpoch.Add(now) }
	type udpPeer struct {
		sock   *udp.Socket
		sess   *P2PSession[stubState, uint32, netip.AddrPort]
		game   *stubGame
		events []Event[netip.AddrPort]
	}
	var peers [2]*udpPeer
	for i := range peers {
		sock, err := udp.Listen(context.Background(), "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sock.Close() })
		peers[i] = &udpPeer{sock: sock, game: newStubGame()}
	}
	for i, p := range peers {
		cfg := DefaultConfig[uint32, netip.AddrPort](UintCodec[uint32]{})
		cfg.Clock = clock
		cfg.DesyncDetectionInterval = 100
		cfg.AddLocalPlayer(PlayerHandle(i))
		cfg.AddRemotePlayer(PlayerHandle(1-i), peers[1-i].sock.LocalAddr())
		sess, err := NewP2PSession[stubState](cfg, p.sock)
		if err != nil {
			t.Fatal(err)
		}
		p.sess = sess
	}
	// waitFor polls both sessions until cond holds, giving the kernel real
	// time between polls and moving the sessions' clock by step each time.
	// Once playing, it collects their events.
	playing := false
	waitFor := func(what string, step time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			for _, p := range peers {
				p.sess.PollRemoteClients()
				if playing {
					p.events = append(p.events, p.sess.Events()...)
				}
			}
			if cond() {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(200 * time.Microsecond)
			now += step
		}
	}
	// The handshake resends on a timer, so its clock runs while it waits.
	waitFor("synchronization", time.Millisecond, func() bool {
		return peers[0].sess.State() == Running && peers[1].sess.State() == Running
	})
	for i, p := range peers {
		evs := p.sess.Events()
		if countEvents(evs, EventSynchronized) != 1 || countEvents(evs, EventSynchronizing) != 5 {
			t.Fatalf("peer %d synchronized with events %v", i, evs)
		}
	}
	playing = true
	// tick plays one frame on both peers with their inputs, then waits
	// until each has the other's input for it: lockstep, whatever the
	// machine's load.
	tick := func(input func(i int) uint32) {
		t.Helper()
		for i, p := range peers {
			if err := p.sess.AddLocalInput(PlayerHandle(i), input(i)); err != nil {
				t.Fatal(err)
			}
			reqs, err := p.sess.AdvanceFrame()
			if err != nil {
				t.Fatalf("peer %d: %v", i, err)
			}
			if err := p.game.handle(reqs); err != nil {
				t.Fatalf("peer %d: %v", i, err)
			}
		}
		now += 16 * time.Millisecond
		waitFor("the remote inputs", 0, func() bool {
			return peers[0].sess.ConfirmedFrame() >= peers[0].sess.CurrentFrame()-1 &&
				peers[1].sess.ConfirmedFrame() >= peers[1].sess.CurrentFrame()-1
		})
	}
	for f := range 110 {
		tick(func(int) uint32 { return uint32(f) })
		for i, p := range peers {
			if p.game.gs.Frame != int32(f+1) {
				t.Fatalf("peer %d at frame %d after %d ticks", i, p.game.gs.Frame, f+1)
			}
		}
	}
	// Lockstep confirmed every frame played but the last.
	for f := int32(1); f <= 109; f++ {
		a, okA := peers[0].game.confirmed[f]
		b, okB := peers[1].game.confirmed[f]
		if !okA || !okB || a != b {
			t.Fatalf("frame %d: checksums %#x (%v) and %#x (%v)", f, a, okA, b, okB)
		}
	}
	// Peer 0's state diverges from frame 110; detection every 100 frames
	// reports it at frame 200.
	for range 100 {
		peers[0].game.gs.Value = 1234
		tick(func(i int) uint32 { return uint32(i) })
	}
	waitFor("the checksum reports of frame 200", 0, func() bool {
		return countEvents(peers[0].events, EventDesyncDetected) > 0 && countEvents(peers[1].events, EventDesyncDetected) > 0
	})
	for i, p := range peers {
		if len(p.events) != 1 || p.events[0].Kind != EventDesyncDetected || p.events[0].Frame != 200 ||
			p.events[0].Addr != peers[1-i].sock.LocalAddr() {
			t.Fatalf("peer %d: events %v, want one desync at frame 200", i, p.events)
		}
	}
	if peers[0].events[0].LocalChecksum != peers[1].events[0].RemoteChecksum {
		t.Fatal("checksums not mirrored")
	}
}

// udpSocket is a transport/udp socket addressed by strings, for tests whose
// sessions use the string addresses of the simulated ones.
type udpSocket struct {
	sock *udp.Socket
	out  []Packet[string]
}

func newUDPSocket(t *testing.T) *udpSocket {
	t.Helper()
	sock, err := udp.Listen(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sock.Close() })
	return &udpSocket{sock: sock}
}

func (s *udpSocket) addr() string { return s.sock.LocalAddr().String() }

func (s *udpSocket) Send(to string, p []byte) error {
	addr, err := netip.ParseAddrPort(to)
	if err != nil {
		return err
	}
	return s.sock.Send(addr, p)
}

func (s *udpSocket) Receive() []Packet[string] {
	s.out = s.out[:0]
	for _, p := range s.sock.Receive() {
		s.out = append(s.out, Packet[string]{From: p.From.String(), Data: p.Data})
	}
	return s.out
}
