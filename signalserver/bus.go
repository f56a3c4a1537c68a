package signalserver

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync/atomic"

	"github.com/rollbox/rollbox/signalwire"
)

// instanceBus carries frames to peers connected to other server instances: the
// second seam next to registry. A registry shared by several instances says
// who must hear of what; the bus gets the frames there. Without one, a
// server delivers only to the peers connected to it, which is all of them
// when it is alone.
//
// An instanceBus must keep the order of the frames one caller publishes to one peer
// (the server publishes a peer's signals from that peer's reader goroutine,
// one after another) and deliver each exactly once.
type instanceBus interface {
	// Publish sends frame to each listed peer connected to another instance
	// and returns how many of them were found.
	Publish(ctx context.Context, to []signalwire.PeerID, frame []byte) (int, error)
	// Run hands ev.Deliver the frames published to this instance's peers,
	// in order, until ctx ends, and reports to ev what else happens.
	Run(ctx context.Context, ev busEvents) error
}

// busEvents is what a running instanceBus tells the server.
type busEvents struct {
	// Deliver hands over a frame for a peer connected to this instance.
	Deliver func(to signalwire.PeerID, frame []byte)
	// RegistrationLost: every peer connected here has been dropped from the
	// shared registry (this instance was presumed dead, for example after
	// losing its connection for too long). The server disconnects them so
	// that they join again.
	RegistrationLost func()
	// FramesLost: n frames for this instance were discarded before it read
	// them, because it fell further behind than the bus holds. The peers
	// whose signals they were may have to negotiate again.
	FramesLost func(n int)

	// Connected, Joined and PeersLost let a shared registry reconcile what
	// it holds for this instance with the connections (see reconcile.go);
	// with Connected nil it does not.
	//
	// Connected reports whether peer is connected here: joining, in a room,
	// or about to leave, but not gone.
	Connected func(peer signalwire.PeerID) bool
	// Joined returns the peers connected here whose join has completed.
	Joined func() []signalwire.PeerID
	// PeersLost: the registry no longer holds these peers, which joined
	// here. Those still connected are disconnected so that they join again.
	PeersLost func(peers []signalwire.PeerID)
}

// busCounters are the metrics of the cross-instance path; they are zero on a
// server without an instanceBus.
type busCounters struct {
	published  atomic.Int64 // frames handed to the bus for peers elsewhere
	received   atomic.Int64 // frames the bus delivered to this instance
	lost       atomic.Int64 // times this instance's registration was lost
	lostFrames atomic.Int64 // frames for this instance discarded unread
}

// startBus runs the bus until stopBus. The goroutine is the only consumer of
// frames for this instance's peers, so their order is the bus's order.
func (s *Server) startBus() {
	if s.bus == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.busStop = cancel
	s.busDone = make(chan struct{})
	go func() {
		defer close(s.busDone)
		err := s.bus.Run(ctx, busEvents{
			Deliver:          s.deliverFromBus,
			RegistrationLost: s.registrationLost,
			FramesLost:       s.busFramesLost,
			Connected:        s.connectedHere,
			Joined:           s.joinedHere,
			PeersLost:        s.peersLost,
		})
		if err != nil && ctx.Err() == nil {
			s.log.Error("bus stopped", "err", err)
		}
	}()
}

// stopBus stops the bus goroutine and closes what the server owns.
func (s *Server) stopBus() error {
	if s.busStop != nil {
		s.busStop()
		<-s.busDone
	}
	if s.redis != nil {
		return s.redis.Close()
	}
	return nil
}

func (s *Server) deliverFromBus(to signalwire.PeerID, frame []byte) {
	s.bc.received.Add(1)
	s.mu.RLock()
	c := s.clients[to]
	s.mu.RUnlock()
	if c == nil {
		return
	}
	if bytes.HasPrefix(frame, []byte(`{"Signal":`)) {
		s.enqueueSignal(c, frame) // dropped, not its receiver, past twice the bound
		return
	}
	s.enqueue(c, frame)
}

// busFramesLost counts frames lost on the way from other instances: the
// senders' WebRTC negotiation stalls, so an operator must hear of it.
func (s *Server) busFramesLost(n int) {
	s.bc.lostFrames.Add(int64(n))
	s.log.Warn("frames from other instances were discarded unread: this instance fell too far behind", "frames", n)
}

// registrationLost disconnects every local peer: the shared registry no
// longer lists them (their room-mates were told PeerLeft), so they must join
// again to be seen. Status 1012 (service restart) tells clients to retry.
func (s *Server) registrationLost() {
	s.bc.lost.Add(1)
	clients := s.clientList()
	s.log.Warn("registration in the shared registry lost; disconnecting local peers", "peers", len(clients))
	for _, c := range clients {
		s.kick(c, disconnectRegistryLost, websocket1012, "signalling state lost; join again")
	}
}

// connectedHere reports whether peer is connected to this server and has
// not gone yet: serveClient adds a client before it joins and removes it
// before it leaves.
func (s *Server) connectedHere(peer signalwire.PeerID) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.clients[peer]
	return ok
}

// joinedHere returns the connected peers whose join has completed and that
// are not being disconnected.
func (s *Server) joinedHere() []signalwire.PeerID {
	var ids []signalwire.PeerID
	for _, c := range s.clientList() {
		if c.joined.Load() && !c.isKicked() {
			ids = append(ids, c.id)
		}
	}
	return ids
}

// isKicked reports whether the client is being disconnected.
func (c *client) isKicked() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kicked
}

// peersLost disconnects the listed peers still connected: the shared
// registry lost them (their room-mates may have been told PeerLeft), so
// they must join again to be seen. Status 1012 tells clients to retry.
func (s *Server) peersLost(peers []signalwire.PeerID) {
	for _, id := range peers {
		s.mu.RLock()
		c := s.clients[id]
		s.mu.RUnlock()
		if c != nil {
			s.kick(c, disconnectRegistryLost, websocket1012, "signalling state lost; join again")
		}
	}
}

// websocket1012 is the close status "service restart" (RFC 6455 registry),
// which gorilla has no constant for.
const websocket1012 = 1012

// deliver queues frame to every listed peer: directly to those connected
// here, through the bus to the others.
func (s *Server) deliver(ctx context.Context, to []signalwire.PeerID, frame []byte) {
	var remote []signalwire.PeerID
	for _, id := range to {
		s.mu.RLock()
		c := s.clients[id]
		s.mu.RUnlock()
		switch {
		case c != nil:
			s.enqueue(c, frame)
		case s.bus != nil:
			remote = append(remote, id)
		}
	}
	if len(remote) == 0 {
		return
	}
	n, err := s.bus.Publish(ctx, remote, frame)
	s.bc.published.Add(int64(n))
	if err != nil {
		s.metrics.dropped[dropBus].Add(int64(len(remote)))
		s.log.Warn("bus publish failed", "peers", len(remote), "err", err)
	}
}

// relayRemote forwards a signal to a receiver that is not connected here:
// through Redis, which checks that the two share a group and publishes in
// one round trip.
func (s *Server) relayRemote(ctx context.Context, c *client, msg signalwire.ClientMessage) (drop, error) {
	published, allowed, err := s.redis.RelaySignal(ctx, c.id, msg.Receiver, signalFrame(c.id, msg.Data))
	switch {
	case err != nil:
		return dropBus, err
	case !allowed:
		return dropForeignReceiver, nil
	case !published:
		return dropUnknownReceiver, nil
	}
	s.bc.published.Add(1)
	return dropCount, nil
}

// registryHealth returns why the registry cannot take joins, or nil.
func (s *Server) registryHealth() error {
	if s.redis != nil {
		return s.redis.Health()
	}
	return nil
}

// writeBusMetrics appends the cross-instance metrics to a /metrics answer.
func (s *Server) writeBusMetrics(w io.Writer) {
	healthy := int64(1)
	if s.registryHealth() != nil {
		healthy = 0
	}
	promMetric(w, "gauge", "signalserver_registry_healthy", "1 when the room registry takes joins (always 1 without Redis).", healthy)
	published := s.bc.published.Load()
	if r := s.redis; r != nil {
		published += r.published.Load() // PeerLeft queued by the scripts that remove peers
	}
	promMetric(w, "counter", "signalserver_bus_published_total", "Frames sent through the bus: to peers on other instances, and PeerLeft to every room-mate of a peer removed from Redis.", published)
	promMetric(w, "counter", "signalserver_bus_received_total", "Frames received from other instances.", s.bc.received.Load())
	promMetric(w, "counter", "signalserver_registration_lost_total", "Times this instance was presumed dead by the shared registry and dropped its peers.", s.bc.lost.Load())
	promMetric(w, "counter", "signalserver_bus_lost_frames_total", "Frames for this instance's peers discarded unread because it fell too far behind.", s.bc.lostFrames.Load())
	if r := s.redis; r != nil {
		promMetric(w, "counter", "signalserver_reaped_peers_total", "Peers of dead instances removed by this instance.", r.reaped.Load())
		promLabelled(w, "signalserver_reconciled_peers_total",
			"Peers for which the shared registry disagreed with this instance's connections (after a Redis failure): not_connected ones were removed and their rooms told PeerLeft, not_registered ones were disconnected to join again.",
			fixNames[:], func(i int) int64 { return r.rec.fixed[i].Load() })
	}
}

// serveUnhealthy answers /health when the registry is down.
func serveUnhealthy(w http.ResponseWriter, err error) {
	http.Error(w, "unhealthy: "+err.Error(), http.StatusServiceUnavailable)
}
