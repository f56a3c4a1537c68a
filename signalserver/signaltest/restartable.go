package signaltest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rollbox/rollbox/signalserver"
)

// Restartable is a signalling server behind one listener that a test
// replaces, as a restarted server process would be: clients see their
// WebSockets close and reconnect to the same URL.
type Restartable struct {
	tb      testing.TB
	cfg     signalserver.Config
	current atomic.Pointer[signalserver.Server]
	// HTTP is the listener, which outlives each server behind it.
	HTTP *httptest.Server
}

// StartRestartable starts a replaceable server with cfg on 127.0.0.1 and
// stops it when the test ends, failing the test if that shutdown fails. The
// per-IP limits are off unless cfg sets them and logs are discarded unless
// cfg has a Logger, as with Start.
func StartRestartable(tb testing.TB, cfg signalserver.Config) *Restartable {
	tb.Helper()
	r := &Restartable{tb: tb, cfg: forTests(cfg)}
	r.current.Store(r.newServer())
	r.HTTP = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.current.Load().ServeHTTP(w, req)
	}))
	// Registered before the test's sockets, so it runs after they have closed.
	tb.Cleanup(func() {
		r.shutdown(r.current.Load())
		r.HTTP.Close()
	})
	return r
}

func (r *Restartable) newServer() *signalserver.Server {
	srv, err := signalserver.New(r.cfg)
	if err != nil {
		r.tb.Fatal(err)
	}
	return srv
}

func (r *Restartable) shutdown(srv *signalserver.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		r.tb.Errorf("signalling server shutdown: %v", err)
	}
}

// Restart replaces the server with a fresh one, closing every client.
func (r *Restartable) Restart() { r.shutdown(r.current.Swap(r.newServer())) }

// Server returns the server now behind the listener.
func (r *Restartable) Server() *signalserver.Server { return r.current.Load() }

// Room returns the WebSocket URL of a room; room may carry "?next=N".
func (r *Restartable) Room(room string) string {
	return "ws" + strings.TrimPrefix(r.HTTP.URL, "http") + "/" + room
}
