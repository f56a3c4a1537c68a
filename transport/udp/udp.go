// Package udp is a plain UDP datagram socket that implements
// packet.Socket[netip.AddrPort], like GGRS's UdpNonBlockingSocket: for LAN
// play and dedicated setups where peers know each other's addresses and need
// no signalling server or WebRTC.
package udp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/rollbox/rollbox/packet"
	"github.com/rollbox/rollbox/transport/internal/inbox"
)

// ErrClosed is returned by Send after Close. It wraps net.ErrClosed, as every
// packet.Socket's closed error does.
var ErrClosed = fmt.Errorf("udp: socket closed: %w", net.ErrClosed)

// Send's other errors: a destination that is no address, and a packet no
// UDP datagram can carry. Both name the caller's mistake; neither is loss.
var (
	ErrInvalidAddr = errors.New("udp: invalid address")
	ErrTooLarge    = errors.New("udp: packet too large")
)

var _ packet.Socket[netip.AddrPort] = (*Socket)(nil)

const (
	// maxDatagram is the largest UDP payload over IPv4.
	maxDatagram = 65507
	// receiveBuffer bounds what waits between two Receives; later datagrams
	// are dropped, as a full kernel buffer would.
	receiveBuffer = 4 << 20
)

// Socket is a bound UDP socket. Send may be called from any goroutine;
// Receive from one at a time.
type Socket struct {
	conn        *net.UDPConn
	inbox       *inbox.Inbox[netip.AddrPort]
	closed      atomic.Bool
	sendDropped atomic.Uint64
	done        sync.WaitGroup
}

// Listen binds a socket to addr, for example "0.0.0.0:7000" or
// "127.0.0.1:0" (any free port; see LocalAddr). ctx bounds the bind only.
func Listen(ctx context.Context, addr string) (*Socket, error) {
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp", addr)
	if err != nil {
		return nil, fmt.Errorf("udp: listen: %w", err)
	}
	s := &Socket{conn: pc.(*net.UDPConn), inbox: inbox.New[netip.AddrPort](receiveBuffer)}
	s.done.Go(s.read)
	return s, nil
}

// read moves datagrams from the kernel into the inbox until Close.
func (s *Socket) read() {
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if s.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			continue // an ICMP error reported on the socket: not fatal for UDP
		}
		s.inbox.Push(from, buf[:n])
	}
}

// LocalAddr returns the address the socket is bound to.
func (s *Socket) LocalAddr() netip.AddrPort {
	return s.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Send sends packet to the address to. Like UDP itself it reports no loss: a
// datagram the kernel refuses is dropped and counted (the send count of Dropped). It fails
// only for an invalid address, an oversized packet, or a closed socket.
func (s *Socket) Send(to netip.AddrPort, packet []byte) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if !to.IsValid() {
		return fmt.Errorf("%w %v", ErrInvalidAddr, to)
	}
	if len(packet) > maxDatagram {
		return fmt.Errorf("%w: %d bytes, over %d", ErrTooLarge, len(packet), maxDatagram)
	}
	if _, err := s.conn.WriteToUDPAddrPort(packet, to); err != nil {
		if s.closed.Load() {
			return ErrClosed
		}
		s.sendDropped.Add(1)
	}
	return nil
}

// Receive returns the datagrams received since the previous call, without
// blocking. The slice and each Data are valid until the next Receive.
func (s *Socket) Receive() []packet.Packet[netip.AddrPort] { return s.inbox.Drain() }

// Dropped returns how many datagrams were dropped on sending (refused by the
// kernel) and on receiving (Receive not called often enough).
func (s *Socket) Dropped() (send, receive uint64) {
	return s.sendDropped.Load(), s.inbox.Dropped()
}

// Close closes the socket and waits for its reader goroutine, which ends as
// soon as the kernel socket is closed.
func (s *Socket) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	err := s.conn.Close()
	s.done.Wait()
	return err
}
