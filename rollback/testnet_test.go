package rollback

import (
	"math/rand/v2"
	"slices"
	"time"
)

// testNet is a deterministic simulated network for tests: packets get a
// latency with jitter, and may be lost, duplicated and reordered, all drawn
// from a seeded PCG. Time is virtual: the test advances it, nothing sleeps and
// no goroutine runs.
type testNet struct {
	now     time.Time
	rng     *rand.Rand
	latency time.Duration
	jitter  time.Duration
	lossPct int // percent of packets lost
	dupPct  int // percent of packets delivered twice
	seq     uint64
	inboxes map[string]*testSocket
	// blocked cuts every packet from or to an address (a peer that left).
	blocked map[string]bool
	// cut drops the packets of one direction, [2]string{from, to}.
	cut  map[[2]string]bool
	sent int
	// sentTypes and lostTypes count the packets sent and lost, by packet
	// type (byte 1).
	sentTypes, lostTypes [256]int
}

type inflight struct {
	from string
	data []byte
	at   time.Time
	seq  uint64
}

type testSocket struct {
	net      *testNet
	addr     string
	queue    []inflight
	received []Packet[string]
}

func newTestNet(seed uint64) *testNet {
	return &testNet{
		now:     time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		rng:     rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d)),
		inboxes: map[string]*testSocket{},
		blocked: map[string]bool{},
		cut:     map[[2]string]bool{},
	}
}

func (n *testNet) clock() time.Time { return n.now }

func (n *testNet) advance(d time.Duration) { n.now = n.now.Add(d) }

func (n *testNet) socket(addr string) *testSocket {
	s := &testSocket{net: n, addr: addr}
	n.inboxes[addr] = s
	return s
}

func (n *testNet) delay() time.Duration {
	d := n.latency
	if n.jitter > 0 {
		d += time.Duration(n.rng.Int64N(int64(2*n.jitter)+1)) - n.jitter
	}
	return max(d, 0)
}

func (s *testSocket) Send(to string, packet []byte) error {
	n := s.net
	n.sent++
	if len(packet) > 1 {
		n.sentTypes[packet[1]]++
	}
	dst, ok := n.inboxes[to]
	if !ok || n.blocked[to] || n.blocked[s.addr] || n.cut[[2]string{s.addr, to}] {
		return nil
	}
	copies := 1
	if n.lossPct > 0 && n.rng.IntN(100) < n.lossPct {
		copies = 0
		if len(packet) > 1 {
			n.lostTypes[packet[1]]++
		}
	} else if n.dupPct > 0 && n.rng.IntN(100) < n.dupPct {
		copies = 2
	}
	for range copies {
		n.seq++
		dst.queue = append(dst.queue, inflight{from: s.addr, data: slices.Clone(packet), at: n.now.Add(n.delay()), seq: n.seq})
	}
	return nil
}

// Receive delivers the packets due by now, in arrival order; jitter makes
// that differ from sending order.
func (s *testSocket) Receive() []Packet[string] {
	s.received = s.received[:0]
	if s.net.blocked[s.addr] {
		s.queue = s.queue[:0]
		return nil
	}
	slices.SortStableFunc(s.queue, func(a, b inflight) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return int(a.seq - b.seq)
	})
	i := 0
	for i < len(s.queue) && !s.queue[i].at.After(s.net.now) {
		s.received = append(s.received, Packet[string]{From: s.queue[i].from, Data: s.queue[i].data})
		i++
	}
	s.queue = append(s.queue[:0], s.queue[i:]...)
	return s.received
}
