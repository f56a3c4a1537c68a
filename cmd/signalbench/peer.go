package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rollbox/rollbox/signalwire"
)

// Kinds of signal data the peers exchange. Every data value the bench sends
// is {"k":"<kind>","f":<sender index>,"t":<send time, ns since the bench's base>}.
const (
	dataOffer = 'o' // sent to a newcomer on NewPeer, as a matchbox client sends its Offer
	dataRate  = 'r' // the fixed-rate latency phase
	dataPing  = 'p' // the closed-loop throughput phase: the receiver answers while it runs
)

// pongTimeout: see dial.
const pongTimeout = 30 * time.Second

// peer is one simulated matchbox client. Its reader goroutine handles every
// frame the server sends; sends come from the harness, from the peer's
// sender goroutine, and from its reader (offers, ping-pong answers).
type peer struct {
	h    *harness
	idx  int
	conn *websocket.Conn // set before the reader starts

	wmu sync.Mutex // one writer at a time

	gotID    chan struct{} // closed when IdAssigned arrives
	complete chan struct{} // closed when every room-mate is known
	readDone chan struct{} // closed when the reader has stopped

	mu         sync.Mutex // guards the fields below
	id         string
	dialStart  time.Time
	idAt       time.Time
	completeAt time.Time
	known      map[string]bool // room-mates learnt from NewPeer and offers
	latencies  []time.Duration // one-way latency of each rate signal received
	faults     int             // frames that break the protocol or the bench's expectations
	firstFault string

	mates []*peer // set by the harness before the rate phase; read-only after

	sent, received     atomic.Int64 // rate-phase signals
	pingSent, pingRecv atomic.Int64 // throughput-phase signals
}

func newPeer(h *harness, idx int) *peer {
	return &peer{
		h:        h,
		idx:      idx,
		gotID:    make(chan struct{}),
		complete: make(chan struct{}),
		readDone: make(chan struct{}),
		known:    make(map[string]bool),
	}
}

// ID returns the id the server assigned, or "" before IdAssigned.
func (p *peer) ID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.id
}

// dial connects the peer to its room and waits for its IdAssigned.
func (p *peer) dial(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	p.mu.Lock()
	p.dialStart = start
	p.mu.Unlock()
	conn, _, err := p.h.dialer.DialContext(ctx, url, nil)
	if err != nil {
		return fmt.Errorf("peer %d: %w", p.idx, err)
	}
	// gorilla's default ping handler gives the pong 1 s, and a write that
	// times out poisons the connection for good: too tight when the server
	// and this process share two busy cores.
	conn.SetPingHandler(func(data string) error {
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(pongTimeout))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	p.conn = conn
	go p.readLoop()
	select {
	case <-p.gotID:
		return nil
	case <-p.readDone:
		return fmt.Errorf("peer %d: connection closed before IdAssigned", p.idx)
	case <-ctx.Done():
		return fmt.Errorf("peer %d: waiting for IdAssigned: %w", p.idx, ctx.Err())
	}
}

func (p *peer) readLoop() {
	defer close(p.readDone)
	for {
		_, frame, err := p.conn.ReadMessage()
		if err != nil {
			return
		}
		p.handle(frame, time.Now())
	}
}

// handle reacts to one server frame received at now.
func (p *peer) handle(frame []byte, now time.Time) {
	msg, err := signalwire.ParseServerMessage(frame)
	if err != nil {
		p.fault("unexpected frame %q: %v", frame, err)
		return
	}
	id := string(msg.Peer)
	switch msg.Kind {
	case signalwire.Signal:
		p.onSignal(id, msg.Data, frame, now)
	case signalwire.IDAssigned:
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.id != "" {
			p.faultLocked("second IdAssigned %q", frame)
			return
		}
		p.id, p.idAt = id, now
		close(p.gotID)
	case signalwire.NewPeer:
		p.learn(id, now)
		if err := p.send(id, dataOffer); err != nil {
			p.fault("sending the offer: %v", err)
		}
	case signalwire.PeerLeft:
		// Only at teardown.
	}
}

func (p *peer) onSignal(sender string, data []byte, frame []byte, now time.Time) {
	kind, from, sentAt, ok := parseData(data)
	if !ok || from < 0 || from >= len(p.h.peers) {
		p.fault("bad Signal data %q", frame)
		return
	}
	if got := p.h.peers[from].ID(); got != sender {
		p.fault("signal from peer %d arrived with sender %s, want %s", from, sender, got)
		return
	}
	switch kind {
	case dataOffer:
		p.learn(sender, now)
	case dataRate:
		d := now.Sub(p.h.base) - time.Duration(sentAt)
		p.mu.Lock()
		p.latencies = append(p.latencies, d)
		p.mu.Unlock()
		p.received.Add(1)
	case dataPing:
		p.pingRecv.Add(1)
		if p.h.pinging.Load() {
			// Counted before it goes: the answer to it may arrive, and be
			// counted, before send returns.
			p.pingSent.Add(1)
			if err := p.send(sender, dataPing); err != nil {
				p.fault("answering a ping: %v", err)
				return
			}
		}
	default:
		p.fault("unknown data kind in %q", frame)
	}
}

// learn records a room-mate's id; the peer's group is complete when it knows
// every room-mate.
func (p *peer) learn(id string, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.known[id] {
		return
	}
	p.known[id] = true
	if len(p.known) == p.h.roomSize-1 {
		p.completeAt = now
		close(p.complete)
	} else if len(p.known) >= p.h.roomSize {
		p.faultLocked("learnt more room-mates than a room holds: %d", len(p.known))
	}
}

func (p *peer) fault(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faultLocked(format, args...)
}

func (p *peer) faultLocked(format string, args ...any) {
	p.faults++
	if p.firstFault == "" {
		p.firstFault = fmt.Sprintf("peer %d: ", p.idx) + fmt.Sprintf(format, args...)
	}
}

// send writes a Signal to receiver with bench data of the given kind,
// stamped with the time just before the write.
func (p *peer) send(receiver string, kind byte) error {
	if !signalwire.ValidPeerID(receiver) {
		return errors.New("no receiver id")
	}
	var dataBuf, frameBuf [160]byte
	data := append(dataBuf[:0], `{"k":"`...)
	data = append(data, kind)
	data = append(data, `","f":`...)
	data = strconv.AppendInt(data, int64(p.idx), 10)
	data = append(data, `,"t":`...)
	p.wmu.Lock()
	defer p.wmu.Unlock()
	data = strconv.AppendInt(data, int64(time.Since(p.h.base)), 10)
	data = append(data, '}')
	frame := signalwire.ClientMessage{Kind: signalwire.Signal, Receiver: signalwire.PeerID(receiver), Data: data}.Append(frameBuf[:0])
	return p.conn.WriteMessage(websocket.TextMessage, frame)
}

// parseData parses the bench's data value {"k":"<kind>","f":<int>,"t":<int>}.
func parseData(d []byte) (kind byte, from int, sentAt int64, ok bool) {
	const head = `{"k":"`
	if len(d) < len(head)+1 || !bytes.HasPrefix(d, []byte(head)) {
		return 0, 0, 0, false
	}
	kind = d[len(head)]
	d = d[len(head)+1:]
	num := func(key string) (int64, bool) {
		var ok bool
		if d, ok = bytes.CutPrefix(d, []byte(key)); !ok {
			return 0, false
		}
		end := bytes.IndexAny(d, ",}")
		if end < 0 {
			return 0, false
		}
		n, err := strconv.ParseInt(string(d[:end]), 10, 64)
		d = d[end:]
		return n, err == nil
	}
	f, ok1 := num(`","f":`)
	t, ok2 := num(`,"t":`)
	if !ok1 || !ok2 || string(d) != "}" {
		return 0, 0, 0, false
	}
	return kind, int(f), t, true
}
