//go:build js

package transport

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall/js"
)

var errChannelClosed = errors.New("channel closed")

// maxFreeBuffers bounds the message buffers a channel keeps for reuse.
const maxFreeBuffers = 64

// browserChannel is an rtcChannel on the browser's RTCDataChannel. The
// browser hands over messages in onmessage as they arrive and cannot be told
// to wait, so they queue here, up to a bound in bytes, for the link's
// reader. Over the bound an unreliable message is dropped and counted, as a
// full inbox would drop it; a reliable one cannot be dropped without breaking
// the channel's promise, so the channel fails and the peer is dropped (the
// game is not calling Receive).
type browserChannel struct {
	dc       js.Value
	reliable bool
	limit    int
	dropped  func() // counts an unreliable message dropped here

	mu     sync.Mutex
	queue  [][]byte // messages from head on wait
	head   int
	queued int // bytes waiting
	free   [][]byte
	err    error         // why reads fail once the queue is empty
	wake   chan struct{} // a value when queue or err changed

	sendMu  sync.Mutex
	sendBuf js.Value // a Uint8Array reused for every send
}

func newBrowserChannel(dc js.Value, cfg ChannelConfig, limit int, dropped func()) *browserChannel {
	// Messages arrive as ArrayBuffers, not Blobs that would need a promise.
	dc.Set("binaryType", "arraybuffer")
	return &browserChannel{
		dc:       dc,
		reliable: cfg.MaxRetransmits == nil,
		limit:    limit,
		dropped:  dropped,
		wake:     make(chan struct{}, 1),
		sendBuf:  js.Global().Get("Uint8Array").New(maxSCTPMessage),
	}
}

// push queues one message from onmessage, without blocking.
func (ch *browserChannel) push(data js.Value) {
	n := byteLength(data)
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.err != nil {
		return
	}
	switch {
	case n > maxIncoming:
		ch.failLocked(fmt.Errorf("message of %d bytes, over %d", n, maxIncoming))
		return
	case ch.queued+n > ch.limit && ch.queued > 0:
		if !ch.reliable {
			ch.dropped()
			return
		}
		ch.failLocked(fmt.Errorf("%d bytes wait to be received, over ReceiveBufferSize", ch.queued+n))
		return
	}
	var buf []byte
	if k := len(ch.free); k > 0 {
		buf, ch.free = ch.free[k-1], ch.free[:k-1]
	}
	msg := bytesOf(data, buf)
	ch.queue = append(ch.queue, msg)
	ch.queued += len(msg)
	ch.signal()
}

// fail makes reads fail with err once the queue is empty.
func (ch *browserChannel) fail(err error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.failLocked(err)
}

func (ch *browserChannel) failLocked(err error) {
	if ch.err == nil {
		ch.err = err
		ch.signal()
	}
}

func (ch *browserChannel) signal() {
	select {
	case ch.wake <- struct{}{}:
	default:
	}
}

func (ch *browserChannel) open() error { return nil }

// read is called by one goroutine at a time, the link's reader.
func (ch *browserChannel) read(buf []byte) (int, error) {
	for {
		ch.mu.Lock()
		if ch.head < len(ch.queue) {
			msg := ch.queue[ch.head]
			if len(msg) > len(buf) {
				ch.mu.Unlock()
				return len(msg), io.ErrShortBuffer
			}
			n := copy(buf, msg)
			ch.queue[ch.head] = nil
			ch.head++
			if ch.head == len(ch.queue) {
				ch.queue, ch.head = ch.queue[:0], 0
			}
			ch.queued -= n
			if len(ch.free) < maxFreeBuffers {
				ch.free = append(ch.free, msg[:0])
			}
			ch.mu.Unlock()
			return n, nil
		}
		err := ch.err
		ch.mu.Unlock()
		if err != nil {
			return 0, err
		}
		<-ch.wake
	}
}

func (ch *browserChannel) write(msg []byte) error {
	ch.sendMu.Lock()
	defer ch.sendMu.Unlock()
	arr := ch.sendBuf
	if len(msg) > arr.Length() {
		arr = js.Global().Get("Uint8Array").New(len(msg))
	}
	js.CopyBytesToJS(arr, msg)
	// send copies the bytes before it returns, so the buffer is free again.
	return catch(func() { ch.dc.Call("send", arr.Call("subarray", 0, len(msg))) })
}

func (ch *browserChannel) bufferedAmount() uint64 {
	return uint64(ch.dc.Get("bufferedAmount").Float())
}
