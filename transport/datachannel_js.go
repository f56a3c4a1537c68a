//go:build js

package transport

import (
	"context"
	"fmt"
	"net"
	"sync"
	"syscall/js"
)

var errChannelClosed = fmt.Errorf("transport: channel closed: %w", net.ErrClosed)

// browserChannel is an rtcChannel on the browser's RTCDataChannel. The
// browser hands over messages in onmessage as they arrive and cannot be told
// to wait, so they queue, up to ReceiveBufferSize bytes, for the link's
// reader. Over the bound an unreliable message is dropped and counted, as a
// full inbox would drop it; a reliable one cannot be dropped without breaking
// the channel's promise, so the channel fails and the peer is dropped (the
// game is not calling Receive).
type browserChannel struct {
	dc      js.Value
	in      *recvQueue
	dropped func() // counts an unreliable message dropped here

	sendMu  sync.Mutex
	sendBuf js.Value // a Uint8Array reused for every send, under sendMu
}

func newBrowserChannel(dc js.Value, cfg ChannelConfig, limit int, dropped func()) *browserChannel {
	// Messages arrive as ArrayBuffers, not Blobs that would need a promise.
	dc.Set("binaryType", "arraybuffer")
	return &browserChannel{
		dc:      dc,
		in:      newRecvQueue(limit, maxIncoming, cfg.MaxRetransmits != nil),
		dropped: dropped,
		sendBuf: js.Global().Get("Uint8Array").New(maxSCTPMessage),
	}
}

// push queues one message from onmessage, without blocking.
func (ch *browserChannel) push(data js.Value) {
	if ch.in.push(byteLength(data), func(buf []byte) []byte { return bytesOf(data, buf) }) {
		ch.dropped()
	}
}

func (ch *browserChannel) fail(err error) { ch.in.fail(err) }

func (ch *browserChannel) open() error { return nil }

func (ch *browserChannel) read(buf []byte) (int, error) {
	return ch.in.read(context.Background(), buf) // close fails the queue
}

// write sends one message.
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
