//go:build !js

package transport

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

// A room token rides in the room URL (?token=, as browsers need), and the
// socket keeps it when it reconnects: the restarted server, which also
// demands a token, takes the socket back.
func TestRoomTokenInURLSurvivesReconnect(t *testing.T) {
	secret := []byte("transport test secret")
	newServer := func() *signalserver.Server {
		srv, err := signalserver.New(signalserver.Config{JoinsPerSecondPerIP: -1, MaxConnsPerIP: -1, AuthSecret: secret, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	var current atomic.Pointer[signalserver.Server]
	current.Store(newServer())
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		current.Load().ServeHTTP(w, r)
	}))
	shutdown := func(srv *signalserver.Server) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}
	t.Cleanup(func() {
		shutdown(current.Load())
		hs.Close()
	})
	room := "ws" + strings.TrimPrefix(hs.URL, "http") + "/locked"
	ctx := testContext(t, 20*time.Second)

	if s, err := Join(ctx, room, testConfig(t)); err == nil {
		closeSocket(t, s)
		t.Fatal("joined a token-protected room without a token")
	}
	token, err := signalserver.MintToken(secret, "locked", time.Hour, 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s, err := Join(ctx, room+"?token="+token, testConfig(t))
	if err != nil {
		t.Fatalf("join with a token: %v", err)
	}
	t.Cleanup(func() { closeSocket(t, s) })

	shutdown(current.Swap(newServer()))
	for s.currentSignallingID() == s.ID() {
		select {
		case <-ctx.Done():
			t.Fatal("never reconnected with the token")
		case <-time.After(10 * time.Millisecond):
		}
	}
	if n := current.Load().Metrics().Refused("auth"); n != 0 {
		t.Fatalf("the reconnect was refused %d times for its token", n)
	}
}
