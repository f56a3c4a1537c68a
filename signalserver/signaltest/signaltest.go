// Package signaltest runs a real signalling server on a loopback port for the
// tests of its clients (the transport, meshcat, the box game), so they all
// meet the same server the same way.
package signaltest

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rollbox/rollbox/signalserver"
)

// Server is a running signalling server.
type Server struct {
	*signalserver.Server
	HTTP *httptest.Server
}

// Start starts a server with cfg on 127.0.0.1 and stops it when the test
// ends. The per-IP limits are off unless cfg sets them (every test client
// shares 127.0.0.1), and logs are discarded unless cfg has a Logger.
func Start(tb testing.TB, cfg signalserver.Config) *Server {
	tb.Helper()
	srv, err := signalserver.New(forTests(cfg))
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	hs.Config = srv.HTTPServer() // with the connection caps and timeouts of production
	hs.Start()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	return &Server{Server: srv, HTTP: hs}
}

// URL returns the server's WebSocket base URL, ws://127.0.0.1:port.
func (s *Server) URL() string { return "ws" + strings.TrimPrefix(s.HTTP.URL, "http") }

// Room returns the WebSocket URL of a room; room may carry "?next=N".
func (s *Server) Room(room string) string { return s.URL() + "/" + room }

// forTests turns off cfg's per-IP limits unless it sets them (every test
// client shares 127.0.0.1) and discards logs unless it has a Logger.
func forTests(cfg signalserver.Config) signalserver.Config {
	if cfg.MaxConnsPerIP == 0 {
		cfg.MaxConnsPerIP = -1
	}
	if cfg.JoinsPerSecondPerIP == 0 {
		cfg.JoinsPerSecondPerIP = -1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return cfg
}
