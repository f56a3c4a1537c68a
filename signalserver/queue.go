package signalserver

import (
	"context"
	"log/slog"
	"time"
)

// A client's send queue is bounded in bytes (Config.SendQueueBytes), and
// all queues together by Config.MaxQueuedBytes. A client is slow when it
// stops making progress, not when a burst arrives faster than its writer
// is scheduled:
//
//   - A signal relayed from a peer connected here waits for room when the
//     receiver's queue is full: the sender's reader pauses, and TCP pushes
//     back on the sender. The receiver is disconnected as slow only if its
//     queue does not drain to half within SlowConsumerTimeout, so a sender
//     waits at most that long, once, for one receiver.
//   - Frames whose producer serves many clients (the bus goroutine) or the
//     server itself (NewPeer, PeerLeft, IdAssigned) cannot wait. They may
//     overrun the bound up to twice its size while the client keeps
//     completing writes. Past that, a signal from another instance is
//     dropped (enqueueSignal), not its receiver: nothing pushes back on a
//     sender elsewhere, so any peer there could otherwise disconnect a
//     room-mate that reads steadily by sending faster than it reads. A
//     receiver that makes no progress meanwhile is still disconnected as
//     slow, SlowConsumerTimeout after its last write (watchStall).
//   - Either way, a client whose queue is full while its writer has
//     completed no write for SlowConsumerTimeout is disconnected as slow
//     (a queue below its bound is left to the write deadline).
//   - When all queues together exceed MaxQueuedBytes, clients with queued
//     frames whose writes have stalled for stalledAfter are disconnected
//     at once (shedStalled).

// frameOverhead is what a queued frame costs beyond its payload: its slice
// header in the queue and its allocation's rounding. Charging it keeps a
// queue of tiny frames bounded too.
const frameOverhead = 64

func frameCost(frame []byte) int64 { return int64(len(frame)) + frameOverhead }

// stalledAfter is how long a client's writes must have stalled for the
// global cap to disconnect it (or SlowConsumerTimeout if shorter): far
// longer than any write to a client that reads, however busy the machine.
const stalledAfter = time.Second

// shedEvery spaces the scans for stalled clients while the global cap is
// exceeded: a scan visits every client.
const shedEvery = 100 * time.Millisecond

// clock returns the time as the server's clients record it.
func (s *Server) clock() int64 { return int64(time.Since(s.epoch)) }

// enqueue queues frame for c without waiting; see above for when it
// disconnects c instead.
func (s *Server) enqueue(c *client, frame []byte) bool { return s.enqueueFrame(c, frame, false) }

// enqueueSignal queues a signal from another instance for c like enqueue,
// but drops it, rather than disconnect c, when c's queue has overrun twice
// its bound while c still makes progress.
func (s *Server) enqueueSignal(c *client, frame []byte) bool { return s.enqueueFrame(c, frame, true) }

func (s *Server) enqueueFrame(c *client, frame []byte, droppable bool) bool {
	cost := frameCost(frame)
	c.mu.Lock()
	if c.kicked {
		c.mu.Unlock()
		return false
	}
	if s.full(c, cost) {
		queued := c.queued.Load()
		stalled := s.clock()-c.progress.Load() >= int64(s.cfg.SlowConsumerTimeout)
		overrun := queued+cost > 2*s.cfg.SendQueueBytes || s.cfg.SendQueue > 0 && s.pending(c) >= 2*s.cfg.SendQueue
		if stalled || overrun && !droppable {
			c.mu.Unlock()
			s.slow(c, queued)
			return false
		}
		if overrun {
			s.watchStall(c)
			c.mu.Unlock()
			s.metrics.dropped[dropReceiverFull].Add(1)
			return false
		}
	}
	over := s.push(c, frame, cost)
	c.mu.Unlock()
	if over {
		s.shedStalled()
	}
	return true
}

// enqueueOrWait queues frame for c, waiting while c's queue is full. It is
// for signals, on the sender's reader goroutine: the wait pauses the sender.
func (s *Server) enqueueOrWait(c *client, frame []byte) bool {
	cost := frameCost(frame)
	var timer *time.Timer // made on the first wait: a queue with room costs no timer
	var deadline time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		c.mu.Lock()
		if c.kicked {
			c.mu.Unlock()
			return false
		}
		if s.full(c, cost) {
			if c.room == nil {
				c.room = make(chan struct{})
			}
			// Announced before looking again: a writer that drained the
			// queue meanwhile either is seen below or sees this and wakes us.
			c.awaited.Store(true)
		}
		if !s.full(c, cost) {
			over := s.push(c, frame, cost)
			c.mu.Unlock()
			if over {
				s.shedStalled()
			}
			return true
		}
		room := c.room
		queued := c.queued.Load()
		c.mu.Unlock()

		now := time.Now()
		if timer == nil {
			s.metrics.SenderPauses.Add(1)
			deadline = now.Add(s.cfg.SlowConsumerTimeout)
		}
		if !now.Before(deadline) {
			s.slow(c, queued)
			return false
		}
		// Wake up at least every stalledAfter to apply the global cap,
		// which no enqueue checks while its senders all wait.
		wait := min(deadline.Sub(now), stalledAfter)
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait) // since Go 1.23 no stale tick survives a Reset
		}
		select {
		case <-room:
		case <-timer.C:
			if s.metrics.QueuedBytes.Load() > s.cfg.MaxQueuedBytes {
				s.shedStalled()
			}
		}
	}
}

// full reports whether frame's cost overruns c's bound; the caller holds
// c.mu. A frame always fits an empty queue, whatever the bound.
func (s *Server) full(c *client, cost int64) bool {
	queued := c.queued.Load()
	if queued == 0 {
		return false
	}
	return queued+cost > s.cfg.SendQueueBytes || s.cfg.SendQueue > 0 && s.pending(c) >= s.cfg.SendQueue
}

// pending counts the frames c's writer has yet to take; the caller holds c.mu.
func (s *Server) pending(c *client) int { return len(c.queue) + int(c.writing.Load()) }

// push queues frame for c and says whether all queues together now exceed
// their cap; the caller holds c.mu.
func (s *Server) push(c *client, frame []byte, cost int64) bool {
	if c.queued.Add(cost) == cost {
		c.progress.Store(s.clock()) // the wait for this queue's progress starts now
	}
	c.queue = append(c.queue, frame)
	s.startWriter(c)
	s.metrics.BytesOut.Add(int64(len(frame)))
	return s.metrics.QueuedBytes.Add(cost) > s.cfg.MaxQueuedBytes
}

// watchStall disconnects c as slow if its writer completes no write for
// SlowConsumerTimeout while frames are queued: a receiver whose signals are
// dropped may be hearing none that would find it stalled. The caller holds
// c.mu.
func (s *Server) watchStall(c *client) {
	if c.stallTimer != nil {
		return
	}
	var check func()
	check = func() {
		c.mu.Lock()
		if c.kicked || c.queued.Load() == 0 {
			c.stallTimer = nil
			c.mu.Unlock()
			return
		}
		quiet := time.Duration(s.clock() - c.progress.Load())
		if quiet < s.cfg.SlowConsumerTimeout {
			c.stallTimer = time.AfterFunc(s.cfg.SlowConsumerTimeout-quiet, check)
			c.mu.Unlock()
			return
		}
		c.stallTimer = nil
		queued := c.queued.Load()
		c.mu.Unlock()
		s.slow(c, queued)
	}
	c.stallTimer = time.AfterFunc(s.cfg.SlowConsumerTimeout, check)
}

// written records that c's writer has sent frame (or dropped it).
func (s *Server) written(c *client, frame []byte) {
	cost := frameCost(frame)
	c.progress.Store(s.clock())
	left := c.queued.Add(-cost)
	s.metrics.QueuedBytes.Add(-cost)
	if c.awaited.Load() && left <= s.cfg.SendQueueBytes/2 {
		c.mu.Lock()
		c.wakeSenders()
		c.mu.Unlock()
	}
}

// wakeSenders lets the senders waiting for room in c's queue look again;
// the caller holds c.mu.
func (c *client) wakeSenders() {
	if c.room != nil {
		close(c.room)
		c.room = nil
	}
	c.awaited.Store(false)
}

// discardQueue forgets what c's writer will never write; the caller holds
// c.mu and c is kicked, so nothing is queued again.
func (s *Server) discardQueue(c *client) {
	c.queue, c.spare = nil, nil
	s.metrics.QueuedBytes.Add(-c.queued.Swap(0))
}

// slow disconnects a client that makes no progress.
func (s *Server) slow(c *client, queued int64) {
	s.slowLog.Log(context.Background(), s.log, slog.LevelInfo,
		"disconnecting slow client (logged at most once a second)", "peer", c.id, "queued_bytes", queued)
	s.kick(c, disconnectSlowConsumer, 0, "")
}

// shedStalled disconnects, while all queues together exceed their cap,
// every client with queued frames whose writer has completed none for
// stalledAfter: they hold memory that they are not draining. A client whose
// writes progress is never shed, however much is queued for it.
func (s *Server) shedStalled() {
	now := s.clock()
	last := s.lastShed.Load()
	if now-last < int64(shedEvery) || !s.lastShed.CompareAndSwap(last, now) {
		return
	}
	grace := int64(min(stalledAfter, s.cfg.SlowConsumerTimeout))
	shed := 0
	for _, c := range s.clientList() {
		if c.queued.Load() > 0 && now-c.progress.Load() >= grace {
			s.kick(c, disconnectMemoryCap, 0, "")
			shed++
		}
	}
	if shed > 0 {
		s.shedLog.Log(context.Background(), s.log, slog.LevelWarn,
			"queued bytes over the cap: disconnected stalled clients", "clients", shed, "cap", s.cfg.MaxQueuedBytes)
	}
}
