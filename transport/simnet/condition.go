package simnet

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rollbox/rollbox/packet"
)

// maxConditionedQueue bounds the packets a Conditioned socket holds back.
const maxConditionedQueue = 1 << 14

// Conditioned wraps a real socket and makes the network under it worse: each
// packet it sends is delayed, dropped, duplicated or reordered as a Link
// says, with the same rules as a simulated Network. It lets a real game (or
// a test over a real transport) be played under bad network conditions.
//
// Only the sending side is conditioned; condition every peer to degrade
// every direction. There are no goroutines: held-back packets go out during
// the next Send or Receive, so delays are rounded up to the caller's polling
// period (one frame for a game).
type Conditioned[A comparable] struct {
	inner packet.Socket[A]
	now   func() time.Duration

	mu    sync.Mutex
	rng   *rand.Rand
	link  link
	seq   uint64
	queue deliveries[A]
	free  [][]byte
	// closed is the inner socket's closed error, once it returned one:
	// every later Send fails with it, as the inner socket's would.
	closed error
}

var _ packet.Socket[int] = (*Conditioned[int])(nil)

// Condition wraps inner. The seed drives every random decision; now is the
// clock that delays are measured on (for a real game, time since start).
func Condition[A comparable](inner packet.Socket[A], l Link, seed uint64, now func() time.Duration) *Conditioned[A] {
	return &Conditioned[A]{
		inner: inner,
		now:   now,
		rng:   rand.New(rand.NewPCG(seed, seed^0x636f6e646974696f)),
		link:  link{cfg: l},
	}
}

// Send schedules a copy of packet to be sent to to, as the link decides, and
// sends whatever is due. Like the socket it wraps, it never blocks. Its error
// is the inner socket's for this packet when it goes out now, or the inner
// socket's closed error once it has returned one; an error for a copy sent
// later (delayed by the link) is the link losing it.
func (c *Conditioned[A]) Send(to A, packet []byte) error {
	c.mu.Lock()
	if c.closed != nil {
		c.mu.Unlock()
		return c.closed
	}
	now := c.now()
	mine := c.seq + 1 // the sequence numbers of this packet's copies start here
	at, copies := c.link.schedule(c.rng, now, len(packet))
	for _, t := range at[:copies] {
		if len(c.queue) >= maxConditionedQueue {
			c.link.stats.Overflowed++
			continue
		}
		var buf []byte
		if k := len(c.free); k > 0 {
			buf, c.free = c.free[k-1], c.free[:k-1]
		}
		c.seq++
		c.queue.push(delivery[A]{at: t, seq: c.seq, to: to, data: append(buf, packet...)})
	}
	err := c.flush(now, mine)
	c.mu.Unlock()
	return err
}

// Receive sends whatever is due, then returns the inner socket's packets.
func (c *Conditioned[A]) Receive() []packet.Packet[A] {
	c.mu.Lock()
	_ = c.flush(c.now(), 0) // errors belong to packets already reported as sent
	c.mu.Unlock()
	return c.inner.Receive()
}

// Stats returns what the link decided so far.
func (c *Conditioned[A]) Stats() LinkStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.link.stats
}

// flush sends every packet due by now; the caller holds c.mu. It returns
// the inner socket's error for a copy numbered mine or later (0: none is
// the caller's), and keeps a closed error for every later Send.
func (c *Conditioned[A]) flush(now time.Duration, mine uint64) error {
	var err error
	for len(c.queue) > 0 && c.queue[0].at <= now {
		p := c.queue.pop()
		if e := c.inner.Send(p.to, p.data); e != nil {
			if errors.Is(e, net.ErrClosed) {
				c.closed = e
			}
			if mine != 0 && p.seq >= mine {
				err = e
			}
		} else {
			c.link.stats.Delivered++
		}
		c.free = append(c.free, p.data[:0])
	}
	return err
}

// ParseLink reads a link from comma-separated key=value pairs, as command
// line flags take it: "latency=100ms,jitter=50ms,loss=0.1". Keys: latency,
// jitter, loss, duplicate, reorder, bandwidth (bytes per second). Latency L
// with jitter J means a one-way delay spread evenly over L±J, as people
// quote it; loss, duplicate and reorder are probabilities (0.05 or 5%).
func ParseLink(s string) (Link, error) {
	var l Link
	var latency, jitter time.Duration
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		key, value, ok := strings.Cut(kv, "=")
		if !ok {
			return Link{}, fmt.Errorf("simnet: %q is not key=value", kv)
		}
		var err error
		switch key {
		case "latency":
			latency, err = time.ParseDuration(value)
		case "jitter":
			jitter, err = time.ParseDuration(value)
		case "loss":
			l.Loss, err = parseProbability(value)
		case "duplicate":
			l.Duplicate, err = parseProbability(value)
		case "reorder":
			l.Reorder, err = parseProbability(value)
		case "bandwidth":
			l.Bandwidth, err = strconv.Atoi(value)
			if err == nil && l.Bandwidth < 0 {
				err = fmt.Errorf("must not be negative")
			}
		default:
			return Link{}, fmt.Errorf("simnet: unknown key %q (want latency, jitter, loss, duplicate, reorder or bandwidth)", key)
		}
		if err != nil {
			return Link{}, fmt.Errorf("simnet: %s=%s: %w", key, value, err)
		}
	}
	if latency < 0 || jitter < 0 {
		return Link{}, fmt.Errorf("simnet: latency and jitter must not be negative")
	}
	if jitter > latency {
		return Link{}, fmt.Errorf("simnet: jitter %v exceeds latency %v: delays cannot be negative", jitter, latency)
	}
	l.Latency = latency - jitter
	l.Jitter = 2 * jitter
	return l, nil
}

func parseProbability(s string) (float64, error) {
	scale := 1.0
	if p, ok := strings.CutSuffix(s, "%"); ok {
		s, scale = p, 100
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, err
	}
	v /= scale
	if v < 0 || v > 1 {
		return 0, fmt.Errorf("probability %v outside [0, 1]", v)
	}
	return v, nil
}
