package transport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/rollbox/rollbox/signalwire"
)

// PeerID identifies a peer in a room: the UUID the signalling server assigned
// to it. It is the wire protocol's type, so ids pass between the transport,
// the server and tools unconverted.
type PeerID = signalwire.PeerID

// peerSignal is the data of a Signal between two matchbox peers; exactly one
// field is set. IceCandidate holds JSON text of an RTCIceCandidateInit, or
// "null" at the end of candidates.
type peerSignal struct {
	Offer        *string `json:"Offer,omitempty"`
	Answer       *string `json:"Answer,omitempty"`
	IceCandidate *string `json:"IceCandidate,omitempty"`
}

// Bounds of the signalling client.
const (
	signalQueue     = 256     // frames waiting to be written
	signalReadLimit = 1 << 20 // largest frame read (an SDP is a few KiB)
	closeTimeout    = time.Second
)

// signalling is the WebSocket client: it reads frames in order, writes from a
// bounded queue, sends keep-alives, and reconnects after a drop.
type signalling struct {
	url    string
	cfg    *Config
	log    *slog.Logger
	out    chan []byte
	handle func(signalwire.ServerMessage) // called in order, from one goroutine
	// reconnected is called with the id assigned by a new connection.
	reconnected func(PeerID)
	// refuse logs, rate limited, a frame that was dropped, and counts it if
	// the server sent it malformed.
	refuse func(malformed bool, msg string, args ...any)
}

// dial opens a WebSocket to the server and waits for its IdAssigned.
func (s *signalling) dial(ctx context.Context) (signalConn, PeerID, error) {
	conn, err := dialSignalling(ctx, s.url)
	if err != nil {
		return nil, "", fmt.Errorf("transport: dial signalling server: %w", err)
	}
	data, err := conn.read(ctx)
	if err != nil {
		conn.closeNow()
		return nil, "", fmt.Errorf("transport: waiting for IdAssigned: %w", err)
	}
	msg, err := signalwire.ParseServerMessage(data)
	if err != nil || msg.Kind != signalwire.IDAssigned {
		conn.closeNow()
		return nil, "", fmt.Errorf("transport: first frame from the signalling server is not IdAssigned: %.100q", data)
	}
	return conn, msg.Peer, nil
}

// send queues a frame without blocking. A full queue means the server is not
// reading; the frame is dropped and the peer it was for times out.
func (s *signalling) send(frame []byte) {
	select {
	case s.out <- frame:
	default:
		// A server that stops reading fills the queue.
		s.refuse(false, "signalling queue full, dropping frame")
	}
}

// run serves conn, and after it drops, reconnects with backoff, until ctx
// ends. It returns only when ctx is done.
func (s *signalling) run(ctx context.Context, conn signalConn) {
	delay := s.cfg.ReconnectMinDelay
	for {
		start := time.Now()
		err := s.serve(ctx, conn)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("signalling connection lost, reconnecting", "err", err)
		if time.Since(start) > s.cfg.ReconnectMaxDelay {
			delay = s.cfg.ReconnectMinDelay // it was up for a while: start over
		}
		for {
			// Jitter spreads reconnecting peers so a restarted server is not
			// hit by all of them at once.
			wait := delay/2 + rand.N(delay/2+1)
			delay = min(delay*2, s.cfg.ReconnectMaxDelay)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			var id PeerID
			conn, id, err = s.dial(ctx)
			if err == nil {
				s.log.Info("signalling reconnected", "id", id)
				// Frames queued for the old connection refer to negotiations
				// that died with it.
				for len(s.out) > 0 {
					<-s.out
				}
				s.reconnected(id)
				break
			}
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("signalling reconnect failed", "err", err, "retry_in", delay)
		}
	}
}

// serve reads and writes conn until it fails or ctx ends, then closes it.
func (s *signalling) serve(ctx context.Context, conn signalConn) error {
	ctx, cancel := context.WithCancel(ctx)
	writerDone := make(chan error, 1)
	go func() { writerDone <- s.write(ctx, conn) }()

	var err error
	for {
		var data []byte
		data, err = conn.read(ctx)
		if err != nil {
			break
		}
		msg, perr := signalwire.ParseServerMessage(data)
		if errors.Is(perr, signalwire.ErrUnknownMessage) {
			// Counted too: a newer server's message we cannot act on.
			s.refuse(true, "ignoring unknown message from signalling server", "err", perr, "frame", truncate(data))
			continue
		}
		if perr != nil {
			s.refuse(true, "dropping unparsable frame from signalling server", "err", perr, "frame", truncate(data))
			continue
		}
		s.handle(msg)
	}
	cancel()
	if werr := <-writerDone; err == nil {
		err = werr
	}
	closeCtx, cancelClose := context.WithTimeout(context.Background(), closeTimeout)
	defer cancelClose()
	conn.close(closeCtx)
	return err
}

// write sends queued frames and keep-alives until ctx ends or a write fails.
func (s *signalling) write(ctx context.Context, conn signalConn) error {
	keepAliveFrame := signalwire.ClientMessage{Kind: signalwire.KeepAlive}.Encode()
	keepAlive := time.NewTicker(s.cfg.KeepAliveInterval)
	defer keepAlive.Stop()
	for {
		var frame []byte
		select {
		case <-ctx.Done():
			return nil
		case frame = <-s.out:
		case <-keepAlive.C:
			frame = keepAliveFrame
		}
		if err := conn.write(ctx, frame); err != nil {
			if ctx.Err() == nil {
				conn.closeNow() // unblock the reader
			}
			return err
		}
	}
}

// encodeSignal builds the frame that carries data to a peer.
func encodeSignal(to PeerID, data peerSignal) []byte {
	payload, err := json.Marshal(data)
	if err != nil {
		panic(err) // a struct of strings always marshals
	}
	return signalwire.ClientMessage{Kind: signalwire.Signal, Receiver: to, Data: payload}.Encode()
}

// truncate shortens a frame for a log line.
func truncate(data []byte) string {
	const n = 200
	if len(data) > n {
		return string(data[:n]) + "..."
	}
	return string(data)
}
