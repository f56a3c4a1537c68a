package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rollbox/rollbox/signalserver"
	"github.com/rollbox/rollbox/signalserver/signaltest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDemoAgainstRealServer(t *testing.T) {
	srv := signaltest.Start(t, signalserver.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out strings.Builder
	if err := run(ctx, srv.Room("demo?next=2"), &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{`alice <- {"IdAssigned":`, `alice <- {"NewPeer":`, `bob   <- {"Signal":{"sender":`, `alice <- {"PeerLeft":`, "ok: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
