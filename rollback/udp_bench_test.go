package rollback

import (
	"net"
	"testing"
)

// chanUDPSocket is a loopback UDP socket whose reader goroutine hands
// packets to Receive through a channel, as a real transport does; sends are
// the real system calls the game goroutine pays for.
type chanUDPSocket struct {
	conn  *net.UDPConn
	addrs map[string]*net.UDPAddr
	in    chan Packet[string]
	out   []Packet[string]
	sent  int
}

func newChanUDPSocket(tb testing.TB) *chanUDPSocket {
	tb.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	s := &chanUDPSocket{conn: conn, addrs: map[string]*net.UDPAddr{}, in: make(chan Packet[string], 4096)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			buf := make([]byte, 2048)
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			select {
			case s.in <- Packet[string]{From: from.String(), Data: buf[:n]}:
			default: // full: dropped, as UDP would
			}
		}
	}()
	tb.Cleanup(func() {
		conn.Close()
		<-done
		close(s.in)
	})
	return s
}

func (s *chanUDPSocket) addr() string { return s.conn.LocalAddr().String() }

func (s *chanUDPSocket) Send(to string, p []byte) error {
	a, ok := s.addrs[to]
	if !ok {
		var err error
		if a, err = net.ResolveUDPAddr("udp4", to); err != nil {
			return err
		}
		s.addrs[to] = a
	}
	s.sent++
	_, err := s.conn.WriteToUDP(p, a)
	return err
}

func (s *chanUDPSocket) Receive() []Packet[string] {
	s.out = s.out[:0]
	for {
		select {
		case p := <-s.in:
			s.out = append(s.out, p)
		default:
			return s.out
		}
	}
}

// BenchmarkUDPSend is the cost of one 40-byte datagram (a steady-state input
// packet of a 2-player match) sent over loopback UDP: what every datagram a
// session saves is worth to the game goroutine.
func BenchmarkUDPSend(b *testing.B) {
	from, to := newChanUDPSocket(b), newChanUDPSocket(b)
	pkt := make([]byte, 40)
	go func() {
		for range to.in { // keep the receiver's queue from filling
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := from.Send(to.addr(), pkt); err != nil {
			b.Fatal(err)
		}
	}
}
