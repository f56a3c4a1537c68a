//go:build js

package transport

import (
	"context"
	"fmt"
	"net"
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

var errSignalClosed = fmt.Errorf("transport: signalling WebSocket closed: %w", net.ErrClosed)

// browserWS is a signalConn on the browser's WebSocket.
type browserWS struct {
	ws     js.Value
	h      handlers
	in     *recvQueue
	closed chan struct{} // closed by the first of onclose and closeNow
	once   sync.Once
	mu     sync.Mutex // guards h
}

func dialSignalling(ctx context.Context, url string) (signalConn, error) {
	w := &browserWS{in: newRecvQueue(signalQueueBytes, signalReadLimit, false), closed: make(chan struct{})}
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
		w.in.fail(fmt.Errorf("%w: code %d %q", errSignalClosed, ev.Get("code").Int(), ev.Get("reason").String()))
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

// push queues one frame from onmessage, without blocking. A frame over
// signalReadLimit, or more than signalQueueBytes waiting, fails the
// connection, which is then reconnected.
func (w *browserWS) push(data js.Value) {
	w.in.push(byteLength(data), func(buf []byte) []byte { return bytesOf(data, buf) })
	if w.in.failed() != nil {
		_ = catch(func() { w.ws.Call("close") }) // browsers let scripts send only 1000 and 3000-4999
	}
}

func (w *browserWS) markClosed() { w.once.Do(func() { close(w.closed) }) }

func (w *browserWS) read(ctx context.Context) ([]byte, error) { return w.in.take(ctx) }

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
		err = fmt.Errorf("transport: %d bytes wait to be sent: the server is not reading", buffered)
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
	w.in.fail(errSignalClosed)
	w.markClosed()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.h.release()
}
