package rollbox_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/signalserver"
	"github.com/rollbox/rollbox/signalserver/signaltest"
)

// TestRunReturnsWhenTheServerRefuses: a match that cannot join (here the
// server wants a room token) ends Run with the server's refusal. Close,
// deferred by Run, once waited for the connecting goroutine's result that
// Update had already taken, and hung for ever.
func TestRunReturnsWhenTheServerRefuses(t *testing.T) {
	srv := signaltest.Start(t, signalserver.Config{AuthSecret: []byte("test secret")})
	m, err := rollbox.NewMatch(t.Context(), &arena{}, nil, rollbox.Config{Server: srv.URL(), Room: "r", Bot: true, Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := m.Run(context.Background())
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("Run: %v, want the server's 401", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return a minute after joining failed")
	}
	if err := m.Close(); err != nil {
		t.Errorf("Close after Run: %v", err)
	}
}
