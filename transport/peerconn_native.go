//go:build !js

package transport

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"sync"

	"github.com/pion/datachannel"
	"github.com/pion/webrtc/v4"
)

// pionConn is an rtcConn on a pion PeerConnection.
type pionConn struct {
	pc       *webrtc.PeerConnection
	channels []*pionChannel
}

// pionChannel is an rtcChannel on a detached pion data channel. Natively a
// detached channel's reader ends when the channel closes, so rtcEvents.closed
// is never called.
type pionChannel struct {
	dc *webrtc.DataChannel

	mu     sync.Mutex
	rw     datachannel.ReadWriteCloser // set by open
	closed bool
}

// newConn creates a peer connection and its negotiated channels: channel i
// has id i and label "matchbox_socket_<i>", as matchbox_socket's.
func (f *rtcFactory) newConn(servers []ICEServer, channels []ChannelConfig, ev rtcEvents) (rtcConn, []rtcChannel, error) {
	wc := f.cfg.webrtcConfiguration(servers)
	wc.Certificates = f.certs
	pc, err := f.api.NewPeerConnection(wc)
	if err != nil {
		return nil, nil, err
	}
	c := &pionConn{pc: pc}
	out := make([]rtcChannel, 0, len(channels))
	negotiated := true
	for i, cfg := range channels {
		chID := uint16(i)
		ordered := cfg.Ordered
		dc, err := pc.CreateDataChannel(fmt.Sprintf("matchbox_socket_%d", i), &webrtc.DataChannelInit{
			Negotiated:     &negotiated,
			ID:             &chID,
			Ordered:        &ordered,
			MaxRetransmits: cfg.MaxRetransmits,
		})
		if err != nil {
			_ = pc.Close()
			return nil, nil, err
		}
		dc.OnOpen(func() { ev.opened(i) })
		ch := &pionChannel{dc: dc}
		c.channels = append(c.channels, ch)
		out = append(out, ch)
	}
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			ev.candidate(nil)
			return
		}
		init, err := json.Marshal(cand.ToJSON())
		if err != nil {
			return // a struct of strings always marshals
		}
		ev.candidate(init)
	})
	pc.OnConnectionStateChange(func(state webrtc.PeerConnectionState) {
		switch state {
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			ev.failed("connection " + state.String())
		}
	})
	return c, out, nil
}

func (c *pionConn) offer() (string, error) {
	offer, err := c.pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	if err := c.pc.SetLocalDescription(offer); err != nil {
		return "", err
	}
	return offer.SDP, nil
}

func (c *pionConn) answer() (string, error) {
	answer, err := c.pc.CreateAnswer(nil)
	if err != nil {
		return "", err
	}
	if err := c.pc.SetLocalDescription(answer); err != nil {
		return "", err
	}
	return answer.SDP, nil
}

func (c *pionConn) setRemote(isOffer bool, sdp string) error {
	typ := webrtc.SDPTypeAnswer
	if isOffer {
		typ = webrtc.SDPTypeOffer
	}
	return c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: typ, SDP: sdp})
}

func (c *pionConn) addCandidate(init candidateInit) error {
	return c.pc.AddICECandidate(webrtc.ICECandidateInit{
		Candidate:        init.Candidate,
		SDPMid:           init.SDPMid,
		SDPMLineIndex:    init.SDPMLineIndex,
		UsernameFragment: init.UsernameFragment,
	})
}

// remoteFingerprint hashes the certificate the peer used in the DTLS
// handshake, which proved that it holds the certificate's key.
func (c *pionConn) remoteFingerprint() string {
	sctp := c.pc.SCTP()
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

func (c *pionConn) close() {
	for _, ch := range c.channels {
		ch.close()
	}
	_ = c.pc.Close()
}

// open detaches the channel, so that reads go into our own buffers.
func (ch *pionChannel) open() error {
	rw, err := ch.dc.Detach()
	if err != nil {
		return err
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.closed {
		_ = rw.Close()
		return fmt.Errorf("transport: channel closed: %w", net.ErrClosed)
	}
	ch.rw = rw
	return nil
}

func (ch *pionChannel) close() {
	ch.mu.Lock()
	ch.closed = true
	rw := ch.rw
	ch.mu.Unlock()
	if rw != nil {
		_ = rw.Close()
	}
}

// detached returns the detached channel without a lock: read and write run
// only once open has returned and the socket published the peer under s.mu,
// which orders them after rw was set.
func (ch *pionChannel) detached() datachannel.ReadWriteCloser { return ch.rw }

func (ch *pionChannel) read(buf []byte) (int, error) {
	n, _, err := ch.detached().ReadDataChannel(buf)
	return n, err
}

func (ch *pionChannel) write(msg []byte) error {
	_, err := ch.detached().Write(msg)
	return err
}

func (ch *pionChannel) bufferedAmount() uint64 { return ch.dc.BufferedAmount() }
