//go:build !js

package transport

import (
	"context"

	"github.com/coder/websocket"
)

// wsConn is a signalConn on coder/websocket.
type wsConn struct{ c *websocket.Conn }

func dialSignalling(ctx context.Context, url string) (signalConn, error) {
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(signalReadLimit)
	return wsConn{c}, nil
}

func (w wsConn) read(ctx context.Context) ([]byte, error) {
	_, data, err := w.c.Read(ctx)
	return data, err
}

func (w wsConn) write(ctx context.Context, frame []byte) error {
	return w.c.Write(ctx, websocket.MessageText, frame)
}

func (w wsConn) closeNow() { _ = w.c.CloseNow() }

func (w wsConn) close(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = w.c.Close(websocket.StatusNormalClosure, "")
	}()
	select {
	case <-done:
	case <-ctx.Done():
		_ = w.c.CloseNow()
		<-done
	}
}
