package rollback

import (
	"fmt"
	"time"

	"github.com/rollbox/rollbox/transport/simnet"
)

// testNetSize is the number of endpoints of a testNet's network: more than
// the peers and spectators of any test.
const testNetSize = 16

// testEpoch is the wall-clock time at which a testNet's virtual clock starts.
var testEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// testNet runs a test's sessions over a transport/simnet network: virtual
// time that only the test advances, and every packet's fate drawn from one
// seed. Tests address peers by name (failures read "p2: ..." rather than
// "2: ..."), so testNet gives each name an endpoint the first time it meets
// it and translates addresses both ways; the network itself is simnet's.
type testNet struct {
	sim   *simnet.Network
	addrs map[string]int
	names []string      // by endpoint address
	socks []*testSocket // by endpoint address; nil until socket asks
	// sentTypes and receivedTypes count packets by message type (byte 1).
	sentTypes, receivedTypes [256]int
	// sentPackets and sentBytes count what the sessions sent (before any
	// tamper), for the benchmarks' per-frame figures.
	sentPackets, sentBytes int
}

func newTestNet(seed uint64) *testNet {
	return &testNet{
		sim:   simnet.New(seed, testNetSize, simnet.Link{}),
		addrs: map[string]int{},
		socks: make([]*testSocket, testNetSize),
	}
}

// addr returns the endpoint address of a name, giving it the next free one
// the first time.
func (n *testNet) addr(name string) int {
	a, ok := n.addrs[name]
	if !ok {
		if len(n.names) == testNetSize {
			panic(fmt.Sprintf("testNet: %q is one name more than its %d endpoints", name, testNetSize))
		}
		a = len(n.names)
		n.addrs[name] = a
		n.names = append(n.names, name)
	}
	return a
}

// socket returns the socket of the endpoint named name; asking again returns
// the same socket.
func (n *testNet) socket(name string) *testSocket {
	a := n.addr(name)
	if n.socks[a] == nil {
		n.socks[a] = &testSocket{net: n, ep: n.sim.Endpoint(a)}
	}
	return n.socks[a]
}

// setLink makes l the link between every two endpoints, both ways.
func (n *testNet) setLink(l simnet.Link) {
	for from := range testNetSize {
		for to := range testNetSize {
			n.sim.SetLink(from, to, l)
		}
	}
}

// cut loses every packet from one name to another from now on.
func (n *testNet) cut(from, to string) { n.sim.SetLink(n.addr(from), n.addr(to), simnet.Link{Loss: 1}) }

// leave takes a name off the network, like a process that exits: packets to
// it are lost from now on, the ones it sent still arrive.
func (n *testNet) leave(name string) { n.sim.Endpoint(n.addr(name)).Close() }

// clock is the sessions' clock: the network's virtual time.
func (n *testNet) clock() time.Time { return testEpoch.Add(n.sim.Now()) }

func (n *testNet) advance(d time.Duration) { n.sim.Advance(d) }

// lostTypes returns how many packets of each message type were sent but
// never received. It lets everything in flight land and drains every socket,
// so call it once, when the sessions are done. Duplicated packets make the
// counts low.
func (n *testNet) lostTypes() [256]int {
	n.sim.Advance(time.Minute)
	for _, s := range n.socks {
		if s != nil {
			s.Receive()
		}
	}
	var lost [256]int
	for i := range lost {
		lost[i] = n.sentTypes[i] - n.receivedTypes[i]
	}
	return lost
}

// testSocket is a session's Socket[string] on a testNet endpoint.
type testSocket struct {
	net *testNet
	ep  *simnet.Endpoint
	// tamper, when set, stands between the session and the network: it
	// gets a copy of each packet sent (to edit at will) and returns the
	// packets to send in its place, in order: none drops it, more inject
	// others.
	tamper  func(to string, packet []byte) [][]byte
	scratch []byte
	out     []Packet[string]
}

func (s *testSocket) Send(to string, packet []byte) error {
	s.net.sentPackets++
	s.net.sentBytes += len(packet)
	if len(packet) > 1 {
		s.net.sentTypes[packet[1]]++
	}
	if s.tamper == nil {
		return s.ep.Send(s.net.addr(to), packet)
	}
	s.scratch = append(s.scratch[:0], packet...)
	for _, p := range s.tamper(to, s.scratch) {
		if err := s.ep.Send(s.net.addr(to), p); err != nil {
			return err
		}
	}
	return nil
}

// Receive returns what arrived. It first delivers the packets due by now, as
// a real network delivers a packet sent earlier in the same tick over a link
// without latency; simnet alone would hold them until the next Advance.
func (s *testSocket) Receive() []Packet[string] {
	s.net.sim.Advance(0)
	s.out = s.out[:0]
	for _, p := range s.ep.Receive() {
		if len(p.Data) > 1 {
			s.net.receivedTypes[p.Data[1]]++
		}
		s.out = append(s.out, Packet[string]{From: s.net.names[p.From], Data: p.Data})
	}
	return s.out
}
