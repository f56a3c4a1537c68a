//go:build js

package transport

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall/js"
)

// Bounds of the browser's signalling WebSocket, which cannot be told to
// wait: frames queue here until the signalling goroutine reads them.
const (
	// signalQueueBytes bounds the frames waiting to be read; a server that
	// sends more than the socket handles is dropped, and reconnected.
	signalQueueBytes = 4 * signalReadLimit
	// signalSendBuffer bounds what waits in the browser to be sent; more
	// means the server stopped reading.
	signalSendBuffer = signalReadLimit
)

var errSignalClosed = errors.New("websocket closed")

// browserWS is a signalConn on the browser's WebSocket.
type browserWS struct {
	ws js.Value
	h  handlers

	mu     sync.Mutex
	frames [][]byte
	queued int
	err    error // why reads fail once frames is empty
	wake   chan struct{}
	closed chan struct{} // closed by the first of onclose and closeNow
	once   sync.Once
}

func dialSignalling(ctx context.Context, url string) (signalConn, error) {
	w := &browserWS{wake: make(chan struct{}, 1), closed: make(chan struct{})}
	if err := catch(func() { w.ws = js.Global().Get("WebSocket").New(url) }); err != nil {
		return nil, err
	}
	w.ws.Set("binaryType", "arraybuffer")
	opened := make(chan struct{})
	w.h.on(w.ws, "onopen", func(js.Value, []js.Value) any {
		close(opened)
		return nil
	})
	w.h.on(w.ws, "onmessage", func(_ js.Value, args []js.Value) any {
		w.push(arg0(args).Get("data"))
		return nil
	})
	w.h.on(w.ws, "onclose", func(_ js.Value, args []js.Value) any {
		ev := arg0(args)
		w.fail(fmt.Errorf("%w: code %d %q", errSignalClosed, ev.Get("code").Int(), ev.Get("reason").String()))
		w.markClosed()
		return nil
	})
	select {
	case <-opened:
		return w, nil
	case <-w.closed:
		_, err := w.read(ctx) // the close event's reason
		w.closeNow()
		return nil, err
	case <-ctx.Done():
		w.closeNow()
		return nil, ctx.Err()
	}
}

// push queues one frame from onmessage, without blocking.
func (w *browserWS) push(data js.Value) {
	n := byteLength(data)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return
	}
	switch {
	case n > signalReadLimit:
		w.failLocked(fmt.Errorf("frame of %d bytes, over %d", n, signalReadLimit))
	case w.queued+n > signalQueueBytes:
		w.failLocked(fmt.Errorf("%d bytes of frames wait, over %d", w.queued+n, signalQueueBytes))
	default:
		msg := bytesOf(data, nil)
		w.frames = append(w.frames, msg)
		w.queued += len(msg)
		w.signal()
		return
	}
	_ = catch(func() { w.ws.Call("close", 1009) }) // message too big
}

func (w *browserWS) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failLocked(err)
}

func (w *browserWS) failLocked(err error) {
	if w.err == nil {
		w.err = err
		w.signal()
	}
}

func (w *browserWS) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *browserWS) markClosed() { w.once.Do(func() { close(w.closed) }) }

// read is called by one goroutine at a time.
func (w *browserWS) read(ctx context.Context) ([]byte, error) {
	for {
		w.mu.Lock()
		if len(w.frames) > 0 {
			msg := w.frames[0]
			w.frames[0] = nil
			w.frames = w.frames[1:]
			w.queued -= len(msg)
			w.mu.Unlock()
			return msg, nil
		}
		err := w.err
		w.mu.Unlock()
		if err != nil {
			return nil, err
		}
		select {
		case <-w.wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (w *browserWS) write(ctx context.Context, frame []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var buffered int
	err := catch(func() {
		buffered = w.ws.Get("bufferedAmount").Int()
		if buffered <= signalSendBuffer {
			w.ws.Call("send", string(frame))
		}
	})
	if err == nil && buffered > signalSendBuffer {
		err = fmt.Errorf("%d bytes wait to be sent: the server is not reading", buffered)
	}
	return err
}

// close says goodbye and waits for the server's answer until ctx ends.
func (w *browserWS) close(ctx context.Context) {
	_ = catch(func() { w.ws.Call("close", 1000) })
	select {
	case <-w.closed:
	case <-ctx.Done():
	}
	w.closeNow()
}

func (w *browserWS) closeNow() {
	_ = catch(func() { w.ws.Call("close") })
	w.fail(errSignalClosed)
	w.markClosed()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.h.release()
}
