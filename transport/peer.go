package transport

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rollbox/rollbox/internal/ratelog"
)

type peerState int

const (
	peerConnecting peerState = iota
	peerConnected
	peerClosed
)

// maxPeers bounds the connections one socket keeps, whatever the server
// announces.
const maxPeers = 256

// maxEarlyCandidates bounds the candidates queued on either side of a
// negotiation that is not ready for them yet.
const maxEarlyCandidates = 64

// peer is one peer connection and its negotiated channels.
type peer struct {
	s       *Socket
	id      PeerID
	conn    rtcConn
	links   []*link
	offerer bool

	// malformed counts what the peer sent that was refused. logs limits
	// the lines about the peer once it has connected (ownLogs); until then
	// they use the signalling server's limiter, as the server introduced
	// the peer, so that a stream of fresh peer ids cannot log without limit.
	malformed atomic.Uint64
	logs      ratelog.Limiter
	ownLogs   atomic.Bool

	// Guarded by s.mu.
	state  peerState
	opened int
	timer  *time.Timer
	// fingerprint identifies the remote socket's certificate once the
	// peer is connected (see remoteFingerprint).
	fingerprint string

	// Negotiation, only touched by the signalling goroutine.
	remoteDescribed bool
	remoteEarly     []candidateInit

	// Local candidates wait until our offer or answer has been queued,
	// because native matchbox peers drop candidates that precede it.
	mu         sync.Mutex
	described  bool
	localEarly [][]byte
}

// newPeer creates the connection to id and its negotiated channels.
func (s *Socket) newPeer(id PeerID, offerer bool) (*peer, error) {
	p := &peer{s: s, id: id, offerer: offerer}
	p.logs = newRemoteLimiter(s.cfg.now)
	for _, ch := range s.channels {
		p.links = append(p.links, &link{p: p, ch: ch})
	}
	conn, chans, err := s.rtc.newConn(s.iceServers(), s.cfg.Channels, rtcEvents{
		candidate: p.localCandidate,
		failed:    func(reason string) { s.dropPeer(p, reason) },
		opened:    func(i int) { s.linkOpened(p.links[i]) },
		closed:    func(i int) { s.dropPeer(p, fmt.Sprintf("channel %d closed", i)) },
		dropped:   func(i int) { s.channels[i].recvDropped.Add(1) },
	})
	if err != nil {
		return nil, err
	}
	p.conn = conn
	for i, dc := range chans {
		p.links[i].dc = dc
	}

	s.mu.Lock()
	if s.closed || len(s.peers) >= maxPeers {
		s.mu.Unlock()
		conn.close()
		if s.closed {
			return nil, ErrClosed
		}
		return nil, fmt.Errorf("transport: %d peers already", maxPeers)
	}
	s.peers[id] = p
	p.timer = time.AfterFunc(s.cfg.ConnectTimeout, func() { s.dropPeer(p, "connect timeout") })
	s.mu.Unlock()
	return p, nil
}

// localCandidate trickles one of our candidates to the peer, as matchbox
// does: the JSON of RTCIceCandidateInit inside a JSON string, "null" at the end.
func (p *peer) localCandidate(init []byte) {
	text := "null"
	if init != nil {
		text = string(init)
	}
	frame := encodeSignal(p.id, peerSignal{IceCandidate: &text})
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.described {
		if len(p.localEarly) < maxEarlyCandidates {
			p.localEarly = append(p.localEarly, frame)
		}
		return
	}
	p.s.sig.send(frame)
}

// sendDescription queues our offer or answer, then the candidates that were
// gathered before it.
func (p *peer) sendDescription(data peerSignal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.s.sig.send(encodeSignal(p.id, data))
	p.described = true
	for _, frame := range p.localEarly {
		p.s.sig.send(frame)
	}
	p.localEarly = nil
}

// offer starts the negotiation as the peer already in the room.
func (p *peer) offer() error {
	sdp, err := p.conn.offer()
	if err != nil {
		return err
	}
	p.sendDescription(peerSignal{Offer: &sdp})
	return nil
}

// answer answers the remote offer, already set, as the newcomer.
func (p *peer) answer() error {
	sdp, err := p.conn.answer()
	if err != nil {
		return err
	}
	p.sendDescription(peerSignal{Answer: &sdp})
	return nil
}

// setRemote applies the remote description and then the candidates that
// arrived before it.
func (p *peer) setRemote(isOffer bool, sdp string) error {
	if err := p.conn.setRemote(isOffer, sdp); err != nil {
		return err
	}
	p.remoteDescribed = true
	for _, c := range p.remoteEarly {
		if err := p.conn.addCandidate(c); err != nil {
			p.s.refuse(p, 1, "dropping bad remote candidate", "peer", p.id, "err", err)
		}
	}
	p.remoteEarly = nil
	return nil
}

// remoteCandidate adds a trickled candidate, or queues it until the remote
// description is known.
func (p *peer) remoteCandidate(text string) {
	if text == "null" {
		return // end of candidates: neither stack needs a marker
	}
	var c candidateInit
	if err := json.Unmarshal([]byte(text), &c); err != nil {
		p.s.refuse(p, 1, "dropping unparsable candidate", "peer", p.id, "err", err)
		return
	}
	if !p.remoteDescribed {
		if len(p.remoteEarly) >= maxEarlyCandidates {
			p.s.refuse(p, 1, "dropping candidate: too many before the remote description", "peer", p.id)
			return
		}
		p.remoteEarly = append(p.remoteEarly, c)
		return
	}
	if err := p.conn.addCandidate(c); err != nil {
		p.s.refuse(p, 1, "dropping bad remote candidate", "peer", p.id, "err", err)
	}
}

// read pumps one channel into its inbox until the channel closes.
func (l *link) read() {
	s := l.p.s
	defer s.wg.Done()
	buf := make([]byte, maxSCTPMessage)
	for {
		n, err := l.dc.read(buf)
		if errors.Is(err, io.ErrShortBuffer) && n <= maxIncoming {
			buf = make([]byte, n) // the message waits for a larger buffer
			continue
		}
		if err != nil {
			s.dropPeer(l.p, fmt.Sprintf("channel %d closed: %v", l.ch.index, err))
			return
		}
		l.deliver(buf[:n])
	}
}
