package transport

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// maxFreeBuffers bounds the message buffers a recvQueue keeps for reuse.
const maxFreeBuffers = 64

// recvQueue holds messages that a producer which cannot wait (the browser's
// onmessage events, in the js build) hands to one reader goroutine. It is
// bounded in bytes: over the bound a message is dropped (dropWhenFull) or
// the queue fails, so that a reliable stream never silently loses one.
type recvQueue struct {
	limit        int // bytes waiting; one message over it is let in to an empty queue
	maxMessage   int // larger messages fail the queue
	dropWhenFull bool

	mu     sync.Mutex
	queue  [][]byte // messages from head on wait
	head   int
	queued int // bytes waiting
	free   [][]byte
	err    error         // why reads fail once the queue is empty
	wake   chan struct{} // a value when queue or err changed
}

func newRecvQueue(limit, maxMessage int, dropWhenFull bool) *recvQueue {
	return &recvQueue{limit: limit, maxMessage: maxMessage, dropWhenFull: dropWhenFull, wake: make(chan struct{}, 1)}
}

// push queues a message of n bytes, which fill copies into the buffer it is
// given (nil or too small: fill allocates) and returns. It never blocks; it
// reports whether the message was dropped because the queue was full.
func (q *recvQueue) push(n int, fill func(buf []byte) []byte) (dropped bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.err != nil:
		return false
	case n > q.maxMessage:
		q.failLocked(fmt.Errorf("transport: message of %d bytes, over %d", n, q.maxMessage))
		return false
	case q.queued+n > q.limit && q.queued > 0:
		if q.dropWhenFull {
			return true
		}
		q.failLocked(fmt.Errorf("transport: %d bytes wait to be read, over %d", q.queued+n, q.limit))
		return false
	}
	var buf []byte
	if k := len(q.free); k > 0 {
		buf, q.free = q.free[k-1], q.free[:k-1]
	}
	msg := fill(buf[:0])
	q.queue = append(q.queue, msg)
	q.queued += len(msg)
	q.signal()
	return false
}

// fail makes reads fail with err once the queue is empty; the first error
// stays.
func (q *recvQueue) fail(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.failLocked(err)
}

// failed returns the error the queue failed with, or nil.
func (q *recvQueue) failed() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.err
}

func (q *recvQueue) failLocked(err error) {
	if q.err == nil {
		q.err = err
		q.signal()
	}
}

func (q *recvQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// next waits for the oldest message, or the error once none is left.
// The caller holds no lock; on success it returns with q.mu held.
func (q *recvQueue) next(ctx context.Context) ([]byte, error) {
	for {
		q.mu.Lock()
		if q.head < len(q.queue) {
			return q.queue[q.head], nil
		}
		err := q.err
		q.mu.Unlock()
		if err != nil {
			return nil, err
		}
		select {
		case <-q.wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// popLocked removes the oldest message.
func (q *recvQueue) popLocked() {
	q.queued -= len(q.queue[q.head])
	q.queue[q.head] = nil
	q.head++
	if q.head == len(q.queue) {
		q.queue, q.head = q.queue[:0], 0
	}
}

// read copies the oldest message into buf, as pion's ReadDataChannel does:
// a buffer too small gives io.ErrShortBuffer and the message's length, and
// the message stays. One goroutine reads at a time.
func (q *recvQueue) read(ctx context.Context, buf []byte) (int, error) {
	msg, err := q.next(ctx)
	if err != nil {
		return 0, err
	}
	defer q.mu.Unlock()
	if len(msg) > len(buf) {
		return len(msg), io.ErrShortBuffer
	}
	n := copy(buf, msg)
	q.popLocked()
	if len(q.free) < maxFreeBuffers {
		q.free = append(q.free, msg[:0])
	}
	return n, nil
}

// take returns the oldest message, which the caller then owns.
func (q *recvQueue) take(ctx context.Context) ([]byte, error) {
	msg, err := q.next(ctx)
	if err != nil {
		return nil, err
	}
	defer q.mu.Unlock()
	q.popLocked()
	return msg, nil
}
