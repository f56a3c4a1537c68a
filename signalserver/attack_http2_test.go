package signalserver

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/rollbox/rollbox/internal/testcert"
)

// TestAttackHTTP2StreamsPerConnection: MaxConns budgets a connection at
// 64 KiB and counts TCP connections, but over TLS net/http speaks HTTP/2,
// where one connection carries up to 250 concurrent requests. A client that
// opens its streams with a flow-control window of zero keeps each handler
// blocked on its response until HTTPWriteTimeout (2 min): one connection
// holds hundreds of goroutines and their buffers, 1024 connections per
// address hundreds of thousands. The server's connections must serve one
// request at a time (HTTP/1.1, which WebSockets need anyway).
func TestAttackHTTP2StreamsPerConnection(t *testing.T) {
	srv, err := New(unlimited(Config{}))
	if err != nil {
		t.Fatal(err)
	}
	hs := srv.HTTPServer()
	hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{testcert.Loopback(t)}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- hs.ServeTLS(ln, "", "") }() // as cmd/signalserver -tls-cert does
	defer func() {
		hs.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()

	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		_, _ = io.Copy(io.Discard, conn)
	}()
	defer func() { conn.Close(); <-drained }()
	runtime.GC()
	base := runtime.NumGoroutine()

	// The HTTP/2 preface, SETTINGS with INITIAL_WINDOW_SIZE 0, then 200
	// GET /metrics streams. Sent whatever ALPN chose: an HTTP/1.1 server
	// refuses it as one bad request.
	frame := func(typ, flags byte, stream uint32, payload []byte) []byte {
		h := make([]byte, 9, 9+len(payload))
		h[0], h[1], h[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
		h[3], h[4] = typ, flags
		binary.BigEndian.PutUint32(h[5:], stream)
		return append(h, payload...)
	}
	out := []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	out = append(out, frame(0x4, 0, 0, []byte{0, 4, 0, 0, 0, 0})...) // SETTINGS_INITIAL_WINDOW_SIZE = 0
	authority := "127.0.0.1"
	block := []byte{0x82, 0x87, 0x04, 8}
	block = append(block, "/metrics"...)
	block = append(block, 0x01, byte(len(authority)))
	block = append(block, authority...)
	const streams = 200
	for i := range streams {
		out = append(out, frame(0x1, 0x5, uint32(2*i+1), block)...) // HEADERS, END_STREAM|END_HEADERS
	}
	if _, err := conn.Write(out); err != nil {
		// An HTTP/1.1 server may close the connection on the preface
		// before reading the rest: that is a refusal too.
		t.Logf("write: %v", err)
	}

	// Handlers that block show up as goroutines; give them time to start.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if n := runtime.NumGoroutine() - base; n > streams/2 {
			t.Fatalf("one TLS connection (ALPN %q) holds %d more goroutines: HTTP/2 multiplies what MaxConns bounds",
				conn.ConnectionState().NegotiatedProtocol, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
