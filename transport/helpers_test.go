//go:build !js

package transport

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/rollbox/rollbox/signalserver"
	"github.com/rollbox/rollbox/signalserver/signaltest"
	"github.com/rollbox/rollbox/transport/internal/inbox"
)

// testServer is a real signalling server on loopback.
type testServer struct{ *signaltest.Server }

func startServer(t testing.TB) *testServer {
	return &testServer{signaltest.Start(t, signalserver.Config{})}
}

// url returns the WebSocket URL of a room; path may carry "?next=N".
func (ts *testServer) url(path string) string { return ts.Room(path) }

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// testConfig is loopback-only with ICE timeouts shorter than pion's
// defaults, so failures show fast, yet long enough that a loaded machine
// (the race detector, 56 ICE agents of an 8-peer mesh, other packages'
// tests) does not miss keep-alives for that long. Tests of ICE timeouts set
// their own.
func testConfig(t testing.TB, channels ...ChannelConfig) Config {
	return Config{
		Channels:               channels,
		LoopbackOnly:           true,
		ICEDisconnectedTimeout: 3 * time.Second,
		ICEFailedTimeout:       3 * time.Second,
		ICEKeepAliveInterval:   200 * time.Millisecond,
		ConnectTimeout:         10 * time.Second,
		ReconnectMinDelay:      50 * time.Millisecond,
		ReconnectMaxDelay:      500 * time.Millisecond,
		Logger:                 testLogger(t),
	}
}

func testContext(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// closeSocket closes s and fails the test if it takes more than 10 s.
func closeSocket(t testing.TB, s *Socket) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Errorf("close %s: %v", s.ID(), err)
	}
}

// joinMesh joins n sockets to one room and waits for the full mesh.
func joinMesh(t testing.TB, ts *testServer, room string, n int, cfg Config) []*Socket {
	t.Helper()
	ctx := testContext(t, 30*time.Second)
	url := ts.url(fmt.Sprintf("%s?next=%d", room, n))
	socks := make([]*Socket, n)
	for i := range socks {
		s, err := Join(ctx, url, cfg)
		if err != nil {
			t.Fatalf("join %d: %v", i, err)
		}
		t.Cleanup(func() { closeSocket(t, s) })
		socks[i] = s
	}
	waitMesh(t, socks...)
	for _, s := range socks {
		if got := len(s.Peers()); got != n-1 {
			t.Fatalf("%s has %d peers, want %d", s.ID(), got, n-1)
		}
	}
	return socks
}

// waitMesh waits until every socket is connected to all the others.
func waitMesh(t testing.TB, socks ...*Socket) {
	t.Helper()
	ctx := testContext(t, 30*time.Second)
	for _, s := range socks {
		if _, err := s.WaitForPeers(ctx, len(socks)-1); err != nil {
			t.Fatalf("%s waiting for %d peers (has %v): %v", s.ID(), len(socks)-1, s.Peers(), err)
		}
	}
}

// receiveUntil drains channel ch of s, calling got for each packet, until
// done returns true or ctx ends.
func receiveUntil(ctx context.Context, s *Socket, ch int, got func(from PeerID, data []byte), done func() bool) error {
	for !done() {
		for _, p := range s.Channel(ch).Receive() {
			got(p.From, p.Data)
		}
		if done() {
			return nil
		}
		select {
		case <-s.Ready():
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func newTestInbox() *inbox.Inbox[PeerID] { return inbox.New[PeerID](4 << 20) }
