package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/rollbox/rollbox/packet"
	"github.com/rollbox/rollbox/transport/internal/inbox"
)

// Errors returned by Send.
var (
	// ErrClosed: the socket was closed. It wraps net.ErrClosed, as every
	// packet.Socket's closed error does.
	ErrClosed = fmt.Errorf("transport: socket closed: %w", net.ErrClosed)
	// ErrUnknownPeer: no connected peer has that id (never was, not yet,
	// or no longer).
	ErrUnknownPeer = errors.New("transport: unknown or disconnected peer")
	// ErrMessageTooLarge: the message exceeds one SCTP message (64 KiB) on a
	// channel that cannot chunk, or MaxMessageSize on one that can.
	ErrMessageTooLarge = errors.New("transport: message too large for channel")
	// ErrBufferFull: a reliable channel has ReliableBufferLimit bytes
	// waiting to that peer; sending more would only queue without bound.
	ErrBufferFull = errors.New("transport: reliable send buffer full")
)

// maxSCTPMessage is the largest message every WebRTC stack accepts in one
// piece (pion's default max-message-size).
const maxSCTPMessage = 64 << 10

// Large messages on reliable ordered channels travel as frames:
// chunkMagic, the total length as a big-endian uint32, then a slice of the
// message. Ordered delivery means frames of one message arrive back to back.
// Small messages go raw, so matchbox peers see exactly the bytes sent; a
// small message that happens to start with chunkMagic is framed too, so the
// receiver never mistakes it for a frame.
var chunkMagic = [8]byte{0xF0, 'r', 'b', 'x', 'c', 'h', 'n', 'k'}

const (
	chunkHeader  = len(chunkMagic) + 4
	chunkPayload = maxSCTPMessage - chunkHeader
	// maxIncoming bounds one incoming SCTP message: browsers send up to
	// 256 KiB in one piece.
	maxIncoming = 1 << 20
)

func isChunk(msg []byte) bool {
	return len(msg) >= chunkHeader && bytes.Equal(msg[:len(chunkMagic)], chunkMagic[:])
}

// Channel is one of a socket's data channels to every peer. It implements
// packet.Socket[PeerID]. Send may be called from any goroutine; Receive
// from one goroutine at a time.
type Channel struct {
	s           *Socket
	index       int
	cfg         ChannelConfig
	inbox       *inbox.Inbox[PeerID]
	sendDropped atomic.Uint64
	// recvDropped counts unreliable packets dropped before the inbox: in
	// the browser, where the page's channel cannot wait for Receive (see
	// the js build's message queue).
	recvDropped atomic.Uint64
}

var (
	_ packet.Socket[PeerID] = (*Channel)(nil)
	_ packet.Socket[PeerID] = (*Socket)(nil)
)

// ChannelStats counts what a channel dropped.
type ChannelStats struct {
	// SendDropped counts unreliable packets Send dropped because the
	// peer's send buffer was over SendBufferLimit.
	SendDropped uint64
	// ReceiveDropped counts unreliable packets dropped because
	// ReceiveBufferSize was full: call Receive more often.
	ReceiveDropped uint64
}

// Index returns the channel's position in Config.Channels.
func (c *Channel) Index() int { return c.index }

// Stats returns the channel's drop counters.
func (c *Channel) Stats() ChannelStats {
	return ChannelStats{SendDropped: c.sendDropped.Load(), ReceiveDropped: c.inbox.Dropped() + c.recvDropped.Load()}
}

var _ packet.Socket[PeerID] = (*Channel)(nil)

// Send sends packet to a connected peer without blocking; packet may be
// reused as soon as Send returns. On an unreliable channel a packet that does
// not fit the send buffer is dropped and counted, as UDP would; Send then
// returns nil. Errors: ErrUnknownPeer, ErrClosed, ErrMessageTooLarge, and on
// reliable channels ErrBufferFull.
func (c *Channel) Send(to PeerID, packet []byte) error {
	l, err := c.s.link(to, c.index)
	if err != nil {
		return err
	}
	return l.send(packet)
}

// Receive returns every packet that arrived on this channel since the
// previous call, oldest first, without blocking. The slice and each Data are
// valid until the next Receive on this channel; copy what you keep. Once the
// buffers have grown to the traffic, Receive does not allocate. Packets come
// only from peers that are (or were, until a disconnect since) connected, so
// an answer sent at once reaches its peer.
func (c *Channel) Receive() []packet.Packet[PeerID] { return c.inbox.Drain() }

// link is one channel to one peer.
type link struct {
	p  *peer
	ch *Channel
	dc rtcChannel // set by newPeer; read and written once opened

	sendMu  sync.Mutex // keeps the frames of one chunked message together
	scratch []byte     // frame being built, under sendMu

	// Reassembly state, only touched by the link's reader goroutine.
	want, got int
	frames    int  // frames in assembled, dropped as malformed if it fails
	discard   bool // the message is over MaxMessageSize: count its frames, keep nothing
	assembled []byte
}

func (l *link) send(packet []byte) error {
	cfg := &l.p.s.cfg
	if !l.ch.cfg.reliableOrdered() {
		if len(packet) > maxSCTPMessage {
			return fmt.Errorf("%w: %d bytes, unreliable channels carry at most %d", ErrMessageTooLarge, len(packet), maxSCTPMessage)
		}
		buffered := l.dc.bufferedAmount()
		if l.ch.cfg.MaxRetransmits != nil {
			if buffered > uint64(cfg.SendBufferLimit) {
				l.ch.sendDropped.Add(1)
				return nil
			}
		} else if buffered+uint64(len(packet)) > uint64(cfg.ReliableBufferLimit) {
			return ErrBufferFull
		}
		return l.write(packet)
	}
	if len(packet) > cfg.MaxMessageSize {
		return fmt.Errorf("%w: %d bytes, MaxMessageSize is %d", ErrMessageTooLarge, len(packet), cfg.MaxMessageSize)
	}
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	if l.dc.bufferedAmount()+uint64(len(packet)) > uint64(cfg.ReliableBufferLimit) {
		return ErrBufferFull
	}
	if len(packet) <= maxSCTPMessage && !isChunk(packet) {
		return l.write(packet)
	}
	for off := 0; off < len(packet); {
		n := min(len(packet)-off, chunkPayload)
		l.scratch = append(l.scratch[:0], chunkMagic[:]...)
		l.scratch = binary.BigEndian.AppendUint32(l.scratch, uint32(len(packet)))
		l.scratch = append(l.scratch, packet[off:off+n]...)
		if err := l.write(l.scratch); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// write sends one message; it fails only once the channel is closed.
func (l *link) write(msg []byte) error {
	if err := l.dc.write(msg); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrUnknownPeer, l.p.id, err)
	}
	return nil
}

// deliver hands one incoming message to the channel's inbox, reassembling
// chunks on reliable ordered channels. It runs on the link's reader goroutine.
func (l *link) deliver(msg []byte) {
	s := l.p.s
	switch {
	case l.ch.cfg.MaxRetransmits != nil:
		if l.ch.inbox.Push(l.p.id, msg) {
			s.notify()
		}
		return
	case !l.ch.cfg.Ordered:
		l.push(msg)
		return
	}
	if !isChunk(msg) {
		if l.want != 0 {
			l.dropChunks(0, "dropping unfinished chunked message", "got", l.got, "want", l.want)
		}
		l.push(msg)
		return
	}
	total := int(binary.BigEndian.Uint32(msg[len(chunkMagic):]))
	part := msg[chunkHeader:]
	switch {
	case l.want == 0:
		l.want, l.got = total, 0
		l.discard = total == 0 || total > s.cfg.MaxMessageSize
		if l.discard {
			s.logRemote(l.p, slog.LevelWarn, "dropping chunked message over MaxMessageSize", "peer", l.p.id, "channel", l.ch.index, "size", total)
		}
	case total != l.want:
		l.dropChunks(1, "dropping chunked message: frame of another message")
		return
	}
	l.got += len(part)
	if l.discard {
		s.countMalformed(l.p, 1) // logged above, once per message
	} else {
		l.frames++
		l.assembled = append(l.assembled, part...)
	}
	switch {
	case l.got > l.want:
		l.dropChunks(0, "dropping chunked message: longer than announced")
	case l.got == l.want:
		if !l.discard {
			l.push(l.assembled)
		}
		l.resetChunks()
	}
}

// dropChunks drops the message being reassembled, counting its frames and
// extra more as malformed, and logs why.
func (l *link) dropChunks(extra int, msg string, args ...any) {
	args = append([]any{"peer", l.p.id, "channel", l.ch.index}, args...)
	l.p.s.refuse(l.p, uint64(l.frames+extra), msg, args...)
	l.resetChunks()
}

func (l *link) resetChunks() {
	l.want, l.got, l.frames, l.discard = 0, 0, 0, false
	l.assembled = l.assembled[:0]
}

// push queues a reliable message, waiting while the inbox is full so the
// sender slows down instead of losing data.
func (l *link) push(msg []byte) {
	s := l.p.s
	if err := l.ch.inbox.PushWait(s.ctx, l.p.id, msg); err == nil {
		s.notify()
	}
}
