// Package simnet is a simulated datagram network for tests: N endpoints that
// implement packet.Socket[int], joined by links with latency, jitter, loss,
// duplication, reordering and bandwidth.
//
// The network has no goroutines and never reads the wall clock. Time is
// virtual and moves only when the test calls Advance, and every random
// decision comes from one generator seeded by the caller, so the same seed and
// the same sequence of calls replay exactly the same deliveries. Log the seed
// of a failing run to replay it.
package simnet

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/rollbox/rollbox/packet"
	"github.com/rollbox/rollbox/transport/internal/inbox"
)

// Errors returned by Endpoint.Send.
var (
	ErrUnknownAddr = errors.New("simnet: unknown address")
	// ErrClosed wraps net.ErrClosed, as every packet.Socket's closed error
	// does.
	ErrClosed = fmt.Errorf("simnet: endpoint closed: %w", net.ErrClosed)
)

var (
	_ packet.Socket[int] = (*Endpoint)(nil)
)

const (
	// inboxBytes bounds what one endpoint holds between two Receives, like a
	// UDP receive buffer; later packets are dropped.
	inboxBytes = 4 << 20
	// maxInFlight bounds the packets travelling in the whole network.
	maxInFlight = 1 << 16
	// defaultMaxQueueDelay is a link's buffer when Link.MaxQueueDelay is 0.
	defaultMaxQueueDelay = time.Second
)

// Link describes one direction between two endpoints. The zero Link delivers
// every packet at the next Advance, in order.
type Link struct {
	// Latency is the fixed one-way delay.
	Latency time.Duration
	// Jitter adds a uniform random delay in [0, Jitter) to each packet.
	// Jitter larger than the gap between two sends reorders them.
	Jitter time.Duration
	// Loss is the probability that a packet is dropped.
	Loss float64
	// Duplicate is the probability that a packet is delivered twice; the copy
	// draws its own jitter.
	Duplicate float64
	// Reorder is the probability that a packet is held back by an extra
	// uniform delay in (0, Latency+Jitter] (at least up to 1 ms), so that
	// packets sent after it overtake it.
	Reorder float64
	// Bandwidth, in bytes per second, serialises packets on the link: each
	// waits for the ones before it. 0 means unlimited.
	Bandwidth int
	// MaxQueueDelay is the link's buffer: a packet that would wait longer than
	// this for bandwidth is dropped. 0 means one second.
	MaxQueueDelay time.Duration
}

// LinkStats counts what happened on one direction of a link.
type LinkStats struct {
	Sent       uint64 // packets handed to Send
	Lost       uint64 // dropped by Loss
	Overflowed uint64 // dropped because the link's queue or the network was full
	Duplicated uint64 // extra copies made by Duplicate
	Reordered  uint64 // packets held back by Reorder
	Delivered  uint64 // copies that reached the receiver's inbox
}

type link struct {
	cfg       Link
	busyUntil time.Duration // when the link finishes sending its backlog
	stats     LinkStats
}

// delivery is one packet copy on its way to an address of type D.
type delivery[D any] struct {
	at   time.Duration
	seq  uint64 // breaks ties so that equal times keep send order
	from int
	to   D
	data []byte
}

// deliveries is a min-heap by (at, seq), written out rather than through
// container/heap so that sending does not box every packet in an interface.
type deliveries[D any] []delivery[D]

func (d deliveries[D]) less(i, j int) bool {
	if d[i].at != d[j].at {
		return d[i].at < d[j].at
	}
	return d[i].seq < d[j].seq
}

func (d *deliveries[D]) push(x delivery[D]) {
	*d = append(*d, x)
	h := *d
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

func (d *deliveries[D]) pop() delivery[D] {
	h := *d
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = delivery[D]{}
	h = h[:last]
	for i := 0; ; {
		smallest, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && h.less(l, smallest) {
			smallest = l
		}
		if r < len(h) && h.less(r, smallest) {
			smallest = r
		}
		if smallest == i {
			break
		}
		h[i], h[smallest] = h[smallest], h[i]
		i = smallest
	}
	*d = h
	return top
}

// Network is a set of endpoints and the links between them. It is safe for
// concurrent use, but determinism needs a deterministic order of calls.
type Network struct {
	mu        sync.Mutex
	rng       *rand.Rand
	now       time.Duration
	seq       uint64
	links     [][]link // links[from][to]
	endpoints []*Endpoint
	inFlight  deliveries[int]
	free      [][]byte // recycled packet buffers
}

// New returns a network of n endpoints, addressed 0 to n-1, whose links all
// start as link. The seed drives every random decision.
func New(seed uint64, n int, l Link) *Network {
	net := &Network{
		rng:   rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		links: make([][]link, n),
	}
	for from := range n {
		net.links[from] = make([]link, n)
		for to := range n {
			net.links[from][to].cfg = l
		}
		net.endpoints = append(net.endpoints, &Endpoint{net: net, addr: from, inbox: inbox.New[int](inboxBytes)})
	}
	return net
}

// Endpoint returns the endpoint with address addr. It panics if addr is out
// of range, as indexing a slice would.
func (n *Network) Endpoint(addr int) *Endpoint { return n.endpoints[addr] }

// SetLink changes the link from one endpoint to another (one direction).
// Packets already travelling keep the delay they were given.
func (n *Network) SetLink(from, to int, l Link) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.links[from][to].cfg = l
}

// Stats returns the counters of the link from one endpoint to another.
func (n *Network) Stats(from, to int) LinkStats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.links[from][to].stats
}

// Now returns the virtual time: the sum of all Advances.
func (n *Network) Now() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.now
}

// Advance moves the virtual clock forward by d and delivers every packet due
// by then into its receiver's inbox.
func (n *Network) Advance(d time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if d < 0 {
		panic(fmt.Sprintf("simnet: Advance(%v): time runs forward only", d))
	}
	n.now += d
	for len(n.inFlight) > 0 && n.inFlight[0].at <= n.now {
		p := n.inFlight.pop()
		dst := n.endpoints[p.to]
		if !dst.closed && dst.inbox.Push(p.from, p.data) {
			n.links[p.from][p.to].stats.Delivered++
		}
		n.free = append(n.free, p.data[:0])
	}
}

// send decides the fate of one packet; the caller holds n.mu.
func (n *Network) send(from, to int, data []byte) {
	at, copies := n.links[from][to].schedule(n.rng, n.now, len(data))
	for _, t := range at[:copies] {
		if len(n.inFlight) >= maxInFlight {
			n.links[from][to].stats.Overflowed++
			continue
		}
		var buf []byte
		if k := len(n.free); k > 0 {
			buf, n.free = n.free[k-1], n.free[:k-1]
		}
		n.seq++
		n.inFlight.push(delivery[int]{at: t, seq: n.seq, from: from, to: to, data: append(buf, data...)})
	}
}

// schedule decides the fate of one packet of size bytes sent at now: it
// returns the arrival time of each copy, none when the packet is lost and
// two when it is duplicated, and counts what it decided.
func (l *link) schedule(rng *rand.Rand, now time.Duration, size int) (at [2]time.Duration, copies int) {
	l.stats.Sent++
	if l.cfg.Loss > 0 && rng.Float64() < l.cfg.Loss {
		l.stats.Lost++
		return at, 0
	}
	wanted := 1
	if l.cfg.Duplicate > 0 && rng.Float64() < l.cfg.Duplicate {
		wanted = 2
		l.stats.Duplicated++
	}
	for range wanted {
		start := now
		if l.cfg.Bandwidth > 0 {
			maxQueue := l.cfg.MaxQueueDelay
			if maxQueue == 0 {
				maxQueue = defaultMaxQueueDelay
			}
			start = max(start, l.busyUntil)
			if start-now > maxQueue {
				l.stats.Overflowed++
				continue
			}
			l.busyUntil = start + time.Duration(size)*time.Second/time.Duration(l.cfg.Bandwidth)
			start = l.busyUntil
		}
		t := start + l.cfg.Latency
		if l.cfg.Jitter > 0 {
			t += time.Duration(rng.Int64N(int64(l.cfg.Jitter)))
		}
		if l.cfg.Reorder > 0 && rng.Float64() < l.cfg.Reorder {
			hold := max(l.cfg.Latency+l.cfg.Jitter, time.Millisecond)
			t += 1 + time.Duration(rng.Int64N(int64(hold)))
			l.stats.Reordered++
		}
		at[copies] = t
		copies++
	}
	return at, copies
}

// Endpoint is one node of a Network. It implements packet.Socket[int].
type Endpoint struct {
	net    *Network
	addr   int
	inbox  *inbox.Inbox[int]
	closed bool // guarded by net.mu
}

// Addr returns the endpoint's address in its network.
func (e *Endpoint) Addr() int { return e.addr }

var _ packet.Socket[int] = (*Endpoint)(nil)

// Send queues a copy of packet for delivery to the endpoint at address to. It
// never blocks. It fails only for an address outside the network or when this
// endpoint is closed; packets to a closed endpoint are silently lost.
func (e *Endpoint) Send(to int, packet []byte) error {
	n := e.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	if to < 0 || to >= len(n.endpoints) {
		return fmt.Errorf("%w: %d", ErrUnknownAddr, to)
	}
	n.send(e.addr, to, packet)
	return nil
}

// Receive returns the packets delivered since the previous call, in delivery
// order. The slice and the packets' Data are valid until the next Receive on
// this endpoint.
func (e *Endpoint) Receive() []packet.Packet[int] { return e.inbox.Drain() }

// Close takes the endpoint off the network, like a process that exits: its
// Sends fail from now on and packets travelling to it are lost.
func (e *Endpoint) Close() {
	e.net.mu.Lock()
	defer e.net.mu.Unlock()
	e.closed = true
}
