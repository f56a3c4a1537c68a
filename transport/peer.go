package transport

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
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

// peer is one pion PeerConnection and its negotiated channels.
type peer struct {
	s       *Socket
	id      PeerID
	pc      *webrtc.PeerConnection
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
	remoteEarly     []webrtc.ICECandidateInit

	// Local candidates wait until our offer or answer has been queued,
	// because native matchbox peers drop candidates that precede it.
	mu         sync.Mutex
	described  bool
	localEarly [][]byte
}

// newPeer creates the connection to id and its negotiated channels.
func (s *Socket) newPeer(id PeerID, offerer bool) (*peer, error) {
	wc := s.cfg.webrtcConfiguration(s.iceServers())
	wc.Certificates = s.certs
	pc, err := s.api.NewPeerConnection(wc)
	if err != nil {
		return nil, err
	}
	p := &peer{s: s, id: id, pc: pc, offerer: offerer}
	p.logs = newRemoteLimiter(s.cfg.now)
	negotiated := true
	for i, ch := range s.channels {
		chID := uint16(i)
		ordered := ch.cfg.Ordered
		dc, err := pc.CreateDataChannel(fmt.Sprintf("matchbox_socket_%d", i), &webrtc.DataChannelInit{
			Negotiated:     &negotiated,
			ID:             &chID,
			Ordered:        &ordered,
			MaxRetransmits: ch.cfg.MaxRetransmits,
		})
		if err != nil {
			_ = pc.Close()
			return nil, err
		}
		l := &link{p: p, ch: ch, dc: dc}
		dc.OnOpen(func() { s.linkOpened(l) })
		onChannelClose(dc, func() { s.dropPeer(p, fmt.Sprintf("channel %d closed", i)) })
		p.links = append(p.links, l)
	}
	pc.OnICECandidate(p.localCandidate)
	pc.OnConnectionStateChange(func(state webrtc.PeerConnectionState) {
		switch state {
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			s.dropPeer(p, "connection "+state.String())
		}
	})

	s.mu.Lock()
	if s.closed || len(s.peers) >= maxPeers {
		s.mu.Unlock()
		_ = pc.Close()
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
func (p *peer) localCandidate(c *webrtc.ICECandidate) {
	text := "null"
	if c != nil {
		init, err := json.Marshal(c.ToJSON())
		if err != nil {
			p.s.log.Warn("cannot encode local candidate", "err", err)
			return
		}
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
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	if err := p.pc.SetLocalDescription(offer); err != nil {
		return err
	}
	p.sendDescription(peerSignal{Offer: &offer.SDP})
	return nil
}

// answer answers the remote offer, already set, as the newcomer.
func (p *peer) answer() error {
	answer, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return err
	}
	if err := p.pc.SetLocalDescription(answer); err != nil {
		return err
	}
	p.sendDescription(peerSignal{Answer: &answer.SDP})
	return nil
}

// setRemote applies the remote description and then the candidates that
// arrived before it.
func (p *peer) setRemote(desc webrtc.SessionDescription) error {
	if err := p.pc.SetRemoteDescription(desc); err != nil {
		return err
	}
	p.remoteDescribed = true
	for _, c := range p.remoteEarly {
		if err := p.pc.AddICECandidate(c); err != nil {
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
		return // end of candidates: pion needs no marker
	}
	var c webrtc.ICECandidateInit
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
	if err := p.pc.AddICECandidate(c); err != nil {
		p.s.refuse(p, 1, "dropping bad remote candidate", "peer", p.id, "err", err)
	}
}

// read pumps one detached channel into its inbox until the channel closes.
func (l *link) read() {
	s := l.p.s
	defer s.wg.Done()
	buf := make([]byte, maxSCTPMessage)
	for {
		n, _, err := l.rw.ReadDataChannel(buf)
		if errors.Is(err, io.ErrShortBuffer) && n <= maxIncoming {
			buf = make([]byte, n) // the message waits in SCTP for a larger buffer
			continue
		}
		if err != nil {
			s.dropPeer(l.p, fmt.Sprintf("channel %d closed: %v", l.ch.index, err))
			return
		}
		l.deliver(buf[:n])
	}
}

// remoteFingerprint returns the SHA-256 of the certificate the peer used in
// the DTLS handshake, which proved that it holds the certificate's key; ""
// before the handshake or where the browser does not tell (Firefox).
func remoteFingerprint(pc *webrtc.PeerConnection) string {
	sctp := pc.SCTP()
	if sctp == nil {
		return ""
	}
	dtls := sctp.Transport()
	if dtls == nil {
		return ""
	}
	cert := dtls.GetRemoteCertificate()
	if len(cert) == 0 {
		return ""
	}
	sum := sha256.Sum256(cert)
	return hex.EncodeToString(sum[:])
}
