package packet_test

import (
	"errors"
	"fmt"
	"net"

	"github.com/rollbox/rollbox/packet"
)

// pipe is a Socket of its own: two ends in memory that deliver what the
// other sends, in order, at the next Receive.
type pipe struct {
	name   string
	peer   *pipe
	queue  []packet.Packet[string]
	out    []packet.Packet[string]
	closed bool
}

func (p *pipe) Send(to string, data []byte) error {
	switch {
	case p.closed:
		return fmt.Errorf("pipe: %w", net.ErrClosed)
	case to != p.peer.name:
		return errors.New("pipe: unknown peer " + to)
	}
	// The caller may reuse data once Send returns.
	p.peer.queue = append(p.peer.queue, packet.Packet[string]{From: p.name, Data: append([]byte(nil), data...)})
	return nil
}

func (p *pipe) Receive() []packet.Packet[string] {
	p.out, p.queue = append(p.out[:0], p.queue...), p.queue[:0]
	return p.out
}

// Any datagram transport becomes a Socket with Send and Receive; rollback's
// sessions, the WebRTC mesh, simnet and udp all meet there.
func Example() {
	a, b := &pipe{name: "a"}, &pipe{name: "b"}
	a.peer, b.peer = b, a
	var sock packet.Socket[string] = a

	_ = sock.Send("b", []byte("hello"))
	for _, p := range b.Receive() {
		fmt.Printf("%s from %s\n", p.Data, p.From)
	}
	a.closed = true
	err := sock.Send("b", []byte("late"))
	fmt.Println(errors.Is(err, net.ErrClosed))
	// Output:
	// hello from a
	// true
}
