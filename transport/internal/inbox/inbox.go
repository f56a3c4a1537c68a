// Package inbox is the receive queue shared by rollbox's sockets: producers
// push datagrams from any goroutine, and the one consumer drains everything
// at once without allocating per packet once its buffers have grown.
package inbox

import (
	"context"
	"sync"

	"github.com/rollbox/rollbox/packet"
)

// batch holds packets back to back in one byte arena, so that a steady
// stream of datagrams reuses the same two allocations forever.
type batch[A comparable] struct {
	arena []byte
	from  []A
	ends  []int // ends[i] is where packet i's data stops in arena
}

func (b *batch[A]) reset() {
	b.arena = b.arena[:0]
	b.from = b.from[:0]
	b.ends = b.ends[:0]
}

// Inbox is a bounded, double-buffered queue of datagrams. The zero value is
// not usable; call New.
type Inbox[A comparable] struct {
	maxBytes int

	mu      sync.Mutex
	write   batch[A]
	dropped uint64
	space   chan struct{} // closed and replaced when Drain frees space for a waiter
	waiting bool          // a PushWait waits on space

	// read is only touched by the consumer inside Drain.
	read batch[A]
	out  []packet.Packet[A]
}

// New returns an inbox that holds at most maxBytes of payload between two
// Drains (at least one packet of any size fits into an empty inbox, so a
// large reliable message is never stuck).
func New[A comparable](maxBytes int) *Inbox[A] {
	return &Inbox[A]{maxBytes: maxBytes, space: make(chan struct{})}
}

// fits reports whether n more bytes may be queued; the caller holds mu.
func (q *Inbox[A]) fits(n int) bool {
	return len(q.write.ends) == 0 || len(q.write.arena)+n <= q.maxBytes
}

func (q *Inbox[A]) appendLocked(from A, data []byte) {
	q.write.arena = append(q.write.arena, data...)
	q.write.from = append(q.write.from, from)
	q.write.ends = append(q.write.ends, len(q.write.arena))
}

// Push copies data into the inbox. When the inbox is full it drops the
// packet, counts it, and returns false: unreliable transports behave like a
// full UDP receive buffer.
func (q *Inbox[A]) Push(from A, data []byte) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.fits(len(data)) {
		q.dropped++
		return false
	}
	q.appendLocked(from, data)
	return true
}

// PushWait copies data into the inbox, waiting for the consumer to Drain
// while the inbox is full. Reliable transports use it so that a slow reader
// pushes back on the sender instead of losing data. It returns ctx.Err()
// if ctx ends first.
func (q *Inbox[A]) PushWait(ctx context.Context, from A, data []byte) error {
	for {
		q.mu.Lock()
		if q.fits(len(data)) {
			q.appendLocked(from, data)
			q.mu.Unlock()
			return nil
		}
		space := q.space
		q.waiting = true
		q.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Drain returns every packet pushed since the previous Drain, oldest first.
// The slice and the Data of its packets stay valid until the next Drain;
// Drain must not be called concurrently with itself.
func (q *Inbox[A]) Drain() []packet.Packet[A] {
	q.mu.Lock()
	q.read.reset()
	q.read, q.write = q.write, q.read
	if q.waiting { // only then: a fresh channel per Drain would allocate
		q.waiting = false
		close(q.space)
		q.space = make(chan struct{})
	}
	q.mu.Unlock()

	q.out = q.out[:0]
	start := 0
	for i, end := range q.read.ends {
		q.out = append(q.out, packet.Packet[A]{From: q.read.from[i], Data: q.read.arena[start:end:end]})
		start = end
	}
	return q.out
}

// Dropped returns how many packets Push has refused since New.
func (q *Inbox[A]) Dropped() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dropped
}
