package transport

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/rollbox/rollbox/internal/ratelog"
	"github.com/rollbox/rollbox/packet"
	"github.com/rollbox/rollbox/signalwire"
	"github.com/rollbox/rollbox/transport/internal/inbox"
)

// PeerState is what happened to a peer.
type PeerState int

const (
	// PeerConnected: all channels to the peer are open.
	PeerConnected PeerState = iota + 1
	// PeerDisconnected: the peer's connection closed or failed. A peer is
	// never reported connected again under the same id.
	PeerDisconnected
)

// String returns "connected" or "disconnected".
func (s PeerState) String() string {
	switch s {
	case PeerConnected:
		return "connected"
	case PeerDisconnected:
		return "disconnected"
	}
	return fmt.Sprintf("PeerState(%d)", int(s))
}

// PeerEvent reports a change of one peer's state.
type PeerEvent struct {
	Peer  PeerID
	State PeerState
}

// maxEvents bounds the events waiting for PeerEvents; Peers always tells the
// current truth if some were dropped.
const maxEvents = 4096

// Socket is a full-mesh WebRTC socket to every peer in a matchbox room. Send
// and Receive use channel 0 and make it a packet.Socket[PeerID]; Channel
// gives the others. Its methods may be called from any goroutine, except
// that each channel's Receive must be called from one goroutine at a time.
type Socket struct {
	cfg      Config
	log      *slog.Logger
	rtc      *rtcFactory
	sig      *signalling
	channels []*Channel
	id       PeerID

	ctx    context.Context // ends when the socket closes
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the socket starts; Add under mu while !closed
	ready  chan struct{}

	// ice is what Config.ICEFromServer fetched (nil without it), replaced
	// before its credentials expire.
	ice atomic.Pointer[serverICE]

	// connected maps the ids of connected peers to them. It is replaced, never
	// changed, so Send reads it without a lock.
	connected atomic.Pointer[map[PeerID]*peer]

	// serverLogs limits the log lines the signalling server, and the peers
	// it introduces until they connect, can cause. The totals count for
	// every remote party (see Stats).
	serverLogs            ratelog.Limiter
	malformed, suppressed atomic.Uint64

	mu           sync.Mutex
	closed       bool
	signallingID PeerID
	peers        map[PeerID]*peer  // every peer not closed, by the id it was introduced with
	aliases      map[PeerID]PeerID // a connected peer's later signalling ids
	events       []PeerEvent
	changed      chan struct{} // closed and replaced when the connected set changes
}

// Join connects to the signalling server at roomURL (for example
// "ws://host:3536/room?next=4") and returns once the server has assigned this
// socket its id. Peers then connect in the background: watch PeerEvents or
// call WaitForPeers. ctx bounds Join only; the socket lives until Close.
func Join(ctx context.Context, roomURL string, cfg Config) (*Socket, error) {
	return join(ctx, roomURL, cfg, nil)
}

// join is Join with pion's network replaced by nw (tests use pion's vnet).
func join(ctx context.Context, roomURL string, cfg Config, nw netOverride) (*Socket, error) {
	u, err := url.Parse(roomURL)
	if err != nil {
		return nil, fmt.Errorf("transport: room URL: %w", err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, fmt.Errorf("transport: room URL %q: scheme must be ws or wss", roomURL)
	}
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var ice *serverICE
	if cfg.ICEFromServer {
		if ice, err = fetchServerICE(ctx, u); err != nil {
			return nil, err
		}
		cfg.Logger.Debug("ICE servers from the signalling server", "count", len(ice.servers), "expire", ice.expires)
	}
	rtc, err := newRTCFactory(ctx, cfg, nw)
	if err != nil {
		return nil, err
	}
	s := &Socket{
		cfg:     cfg,
		log:     cfg.Logger,
		rtc:     rtc,
		ready:   make(chan struct{}, 1),
		peers:   make(map[PeerID]*peer),
		aliases: make(map[PeerID]PeerID),
		changed: make(chan struct{}),
	}
	s.connected.Store(&map[PeerID]*peer{})
	s.ice.Store(ice)
	s.serverLogs = newRemoteLimiter(cfg.now)
	for i, c := range cfg.Channels {
		s.channels = append(s.channels, &Channel{s: s, index: i, cfg: c, inbox: inbox.New[PeerID](cfg.ReceiveBufferSize)})
	}
	s.sig = &signalling{
		url:         roomURL,
		cfg:         &s.cfg,
		log:         s.log,
		out:         make(chan []byte, signalQueue),
		handle:      s.handle,
		reconnected: s.reconnected,
		refuse:      s.refuseFromServer,
	}
	conn, id, err := s.sig.dial(ctx)
	if err != nil {
		return nil, err
	}
	s.id, s.signallingID = id, id
	s.log = s.log.With("socket", id)
	s.sig.log = s.log
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		s.sig.run(s.ctx, conn)
	}()
	go s.keepICEFresh(u)
	return s, nil
}

// ID returns the id the signalling server assigned to this socket when it
// joined. After a signalling reconnection the server knows this socket by a
// new id, which only peers met after that use; ID stays the same.
func (s *Socket) ID() PeerID { return s.id }

// Channel returns channel i of Config.Channels. It panics if i is out of
// range, as indexing a slice would.
func (s *Socket) Channel(i int) *Channel { return s.channels[i] }

// Send sends packet to a peer on channel 0. See Channel.Send.
func (s *Socket) Send(to PeerID, packet []byte) error { return s.channels[0].Send(to, packet) }

// Receive returns what arrived on channel 0. See Channel.Receive.
func (s *Socket) Receive() []packet.Packet[PeerID] { return s.channels[0].Receive() }

// Ready returns a channel that receives a value when packets or peer events
// may be waiting, for programs that block instead of polling once per frame.
// Wake-ups coalesce: drain everything after each one.
func (s *Socket) Ready() <-chan struct{} { return s.ready }

// Peers returns the ids of the connected peers, sorted.
func (s *Socket) Peers() []PeerID {
	return slices.Sorted(maps.Keys(*s.connected.Load()))
}

// Connecting returns how many peers the signalling server has introduced
// whose channels are not all open yet: with Peers, what a game shows while a
// match forms ("connecting 1 of 3 players").
func (s *Socket) Connecting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, p := range s.peers {
		if p.state == peerConnecting {
			n++
		}
	}
	return n
}

// PeerEvents returns the peer events since the previous call, oldest first.
func (s *Socket) PeerEvents() []PeerEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := s.events
	s.events = nil
	return ev
}

// WaitForPeers blocks until at least n peers are connected and returns their
// ids, sorted. It fails when ctx ends or the socket closes.
func (s *Socket) WaitForPeers(ctx context.Context, n int) ([]PeerID, error) {
	for {
		s.mu.Lock()
		closed, changed := s.closed, s.changed
		s.mu.Unlock()
		if closed {
			return nil, ErrClosed
		}
		if peers := s.Peers(); len(peers) >= n {
			return peers, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Close leaves the room: it closes every peer connection (peers see this
// socket disconnect at once) and the signalling WebSocket, and waits until
// all of the socket's goroutines have ended or ctx ends.
func (s *Socket) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	peers := slices.Collect(maps.Values(s.peers))
	for _, p := range peers {
		p.state = peerClosed
		if p.timer != nil {
			p.timer.Stop()
		}
	}
	s.peers = nil
	// Cancelled before the peers go, so that a Send racing Close finds the
	// socket closed (ErrClosed), never a peer unknown.
	s.cancel()
	s.connected.Store(&map[PeerID]*peer{})
	close(s.changed)
	s.mu.Unlock()

	var closing sync.WaitGroup
	for _, p := range peers {
		closing.Go(p.conn.close)
	}
	done := make(chan struct{})
	go func() {
		closing.Wait()
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("transport: close: %w", ctx.Err())
	}
}

// link returns the open channel index to a connected peer.
func (s *Socket) link(to PeerID, index int) (*link, error) {
	p, ok := (*s.connected.Load())[to]
	if !ok {
		if s.ctx.Err() != nil {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("%w: %s", ErrUnknownPeer, to)
	}
	return p.links[index], nil
}

func (s *Socket) notify() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// publishLocked rebuilds the connected map and wakes WaitForPeers; the caller
// holds s.mu.
func (s *Socket) publishLocked(ev PeerEvent) {
	m := make(map[PeerID]*peer)
	for id, p := range s.peers {
		if p.state == peerConnected {
			m[id] = p
		}
	}
	s.connected.Store(&m)
	close(s.changed)
	s.changed = make(chan struct{})
	if len(s.events) < maxEvents {
		s.events = append(s.events, ev)
	}
}

// closePeerConnection closes p's connection on a goroutine the socket waits
// for: the stack may call back into the socket while closing. The caller
// holds s.mu.
func (s *Socket) closePeerConnection(p *peer) {
	if s.closed {
		return // Close closes every peer it took from s.peers
	}
	s.wg.Go(p.conn.close)
}

// linkOpened readies a channel that just opened (natively: detaches it).
// The peer is connected once all of its channels are open, and only then do the channels' readers
// start: a packet must not reach the game before the peer is connected, or
// an answer to it would be refused as sent to an unknown peer. Until then
// what arrives waits: natively in SCTP's receive buffer, in the browser in
// the channel's bounded queue.
func (s *Socket) linkOpened(l *link) {
	if err := l.dc.open(); err != nil {
		s.dropPeer(l.p, "open: "+err.Error())
		return
	}
	// A channel opens only after the DTLS handshake, which checked the
	// remote certificate against the fingerprint the peer announced.
	fp := l.p.conn.remoteFingerprint()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := l.p
	if s.closed || p.state != peerConnecting {
		return // whoever closed the peer closes its connection
	}
	p.opened++
	if p.opened < len(p.links) {
		return
	}
	if known, dup := s.duplicateOfLocked(fp, p); dup {
		s.dropPeerLocked(p, "already connected as "+string(known))
		s.aliases[p.id] = known
		return
	}
	p.fingerprint = fp
	for _, l := range p.links {
		s.wg.Add(1)
		go l.read()
	}
	p.state = peerConnected
	p.ownLogs.Store(true)
	p.timer.Stop()
	s.log.Info("peer connected", "peer", p.id)
	s.publishLocked(PeerEvent{Peer: p.id, State: PeerConnected})
	s.notify()
}

// dropPeer closes a peer for good; idempotent.
func (s *Socket) dropPeer(p *peer, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropPeerLocked(p, reason)
}

// dropPeerLocked is dropPeer for a caller that holds s.mu.
func (s *Socket) dropPeerLocked(p *peer, reason string) {
	if p.state == peerClosed {
		return
	}
	wasConnected := p.state == peerConnected
	p.state = peerClosed
	if p.timer != nil {
		p.timer.Stop()
	}
	if s.peers[p.id] == p {
		delete(s.peers, p.id)
	}
	for alias, id := range s.aliases {
		if id == p.id {
			delete(s.aliases, alias)
		}
	}
	s.closePeerConnection(p)
	if wasConnected {
		s.log.Info("peer disconnected", "peer", p.id, "reason", reason)
		s.publishLocked(PeerEvent{Peer: p.id, State: PeerDisconnected})
		s.notify()
	} else {
		// The server introduces peers, so it could make a line per
		// introduction here.
		s.logRemote(nil, slog.LevelDebug, "gave up on peer", "peer", p.id, "reason", reason)
	}
}

// reconnected is called by the signalling client with the id a new
// WebSocket was given. Established peers stay; negotiations that were under
// way used the old connection and can no longer finish.
func (s *Socket) reconnected(id PeerID) {
	s.mu.Lock()
	s.signallingID = id
	var stale []*peer
	for _, p := range s.peers {
		if p.state == peerConnecting {
			stale = append(stale, p)
		}
	}
	s.mu.Unlock()
	for _, p := range stale {
		s.dropPeer(p, "signalling reconnected during negotiation")
	}
}

// handle acts on one frame from the signalling server. It runs on the
// signalling goroutine, so negotiation steps happen in arrival order.
func (s *Socket) handle(msg signalwire.ServerMessage) {
	switch msg.Kind {
	case signalwire.IDAssigned:
		s.refuse(nil, 1, "ignoring a second IdAssigned", "id", msg.Peer)
	case signalwire.NewPeer:
		s.handleNewPeer(msg.Peer)
	case signalwire.PeerLeft:
		s.handlePeerLeft(msg.Peer)
	case signalwire.Signal:
		var data peerSignal
		if err := json.Unmarshal(msg.Data, &data); err != nil {
			p, _ := s.lookup(msg.Peer)
			s.refuse(p, 1, "dropping unparsable signal", "from", msg.Peer, "err", err)
			return
		}
		s.handleSignal(msg.Peer, data)
	default:
		s.refuse(nil, 1, "ignoring unknown message from signalling server", "kind", msg.Kind)
	}
}

// refuseFromServer is the signalling client's report of a frame it dropped.
func (s *Socket) refuseFromServer(malformed bool, msg string, args ...any) {
	if malformed {
		s.refuse(nil, 1, msg, args...)
	} else {
		s.logRemote(nil, slog.LevelWarn, msg, args...)
	}
}

// lookup returns the peer known by id, or nil; its state under s.mu.
func (s *Socket) lookup(id PeerID) (*peer, peerState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.peers[id]
	if p == nil {
		return nil, peerClosed
	}
	return p, p.state
}

func (s *Socket) handleNewPeer(id PeerID) {
	if id == "" || id == s.id {
		s.refuse(nil, 1, "ignoring NewPeer with a bad id", "peer", id)
		return
	}
	s.mu.Lock()
	sigID := s.signallingID
	s.mu.Unlock()
	if id == sigID {
		return
	}
	if p, _ := s.lookup(id); p != nil {
		s.refuse(nil, 1, "ignoring NewPeer for a known peer", "peer", id)
		return
	}
	p, err := s.newPeer(id, true)
	if err != nil {
		s.logRemote(nil, slog.LevelWarn, "cannot create peer connection", "peer", id, "err", err)
		return
	}
	if err := p.offer(); err != nil {
		s.dropPeer(p, "offer: "+err.Error())
	}
}

func (s *Socket) handlePeerLeft(id PeerID) {
	s.mu.Lock()
	if known, ok := s.aliases[id]; ok {
		// A later signalling id of a peer we still talk to under its first.
		delete(s.aliases, id)
		s.mu.Unlock()
		s.logRemote(nil, slog.LevelDebug, "peer left signalling under a later id", "peer", known, "id", id)
		return
	}
	p := s.peers[id]
	connected := p != nil && p.state == peerConnected
	s.mu.Unlock()
	switch {
	case p == nil:
	case connected:
		// A peer whose signalling link merely dropped keeps its mesh links; one
		// that really left closes its connection, and a crashed one fails ICE:
		// either way dropPeer follows.
		s.logRemote(p, slog.LevelInfo, "peer left signalling; keeping its connection while it lasts", "peer", id)
	default:
		s.dropPeer(p, "left before connecting")
	}
}

// duplicateOf returns the id of another connected peer that proved in its
// DTLS handshake that it holds the certificate whose fingerprint is fp: the
// same remote socket, introduced again under a new signalling id after a
// reconnection (a socket keeps its certificate for life). Only proven
// fingerprints count: one copied into an SDP is a claim anybody can make.
// The caller holds s.mu.
func (s *Socket) duplicateOfLocked(fp string, self *peer) (PeerID, bool) {
	if fp == "" {
		return "", false
	}
	for id, p := range s.peers {
		if p != self && p.state == peerConnected && p.fingerprint == fp {
			return id, true
		}
	}
	return "", false
}

func (s *Socket) handleSignal(from PeerID, data peerSignal) {
	switch {
	case data.Offer != nil:
		if p, _ := s.lookup(from); p != nil {
			s.refuse(p, 1, "dropping duplicate offer", "peer", from)
			return
		}
		p, err := s.newPeer(from, false)
		if err != nil {
			s.logRemote(nil, slog.LevelWarn, "cannot create peer connection", "peer", from, "err", err)
			return
		}
		if err := p.setRemote(true, *data.Offer); err != nil {
			s.refuse(p, 1, "dropping unusable offer", "peer", from, "err", err)
			s.dropPeer(p, "offer: "+err.Error())
			return
		}
		if err := p.answer(); err != nil {
			s.dropPeer(p, "answer: "+err.Error())
		}
	case data.Answer != nil:
		p, state := s.lookup(from)
		if p == nil || !p.offerer || p.remoteDescribed || state != peerConnecting {
			s.refuse(p, 1, "dropping unexpected answer", "peer", from)
			return
		}
		if err := p.setRemote(false, *data.Answer); err != nil {
			s.refuse(p, 1, "dropping unusable answer", "peer", from, "err", err)
			s.dropPeer(p, "answer: "+err.Error())
		}
	case data.IceCandidate != nil:
		p, _ := s.lookup(from)
		if p == nil {
			// Not malformed: candidates of a peer just given up on may
			// still be on their way.
			s.logRemote(nil, slog.LevelDebug, "dropping candidate from unknown peer", "peer", from)
			return
		}
		p.remoteCandidate(*data.IceCandidate)
	default:
		p, _ := s.lookup(from)
		s.refuse(p, 1, "dropping empty signal", "from", from)
	}
}
