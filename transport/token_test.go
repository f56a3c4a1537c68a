//go:build !js

package transport

import (
	"testing"
	"time"

	"github.com/rollbox/rollbox/signalserver"
	"github.com/rollbox/rollbox/signalserver/signaltest"
)

// A room token rides in the room URL (?token=, as browsers need), and the
// socket keeps it when it reconnects: the restarted server, which also
// demands a token, takes the socket back.
func TestRoomTokenInURLSurvivesReconnect(t *testing.T) {
	secret := []byte("transport test secret")
	rs := signaltest.StartRestartable(t, signalserver.Config{AuthSecret: secret, Logger: testLogger(t)})
	room := rs.Room("locked")
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

	rs.Restart()
	for s.currentSignallingID() == s.ID() {
		select {
		case <-ctx.Done():
			t.Fatal("never reconnected with the token")
		case <-time.After(10 * time.Millisecond):
		}
	}
	if n := rs.Server().Metrics().Refused("auth"); n != 0 {
		t.Fatalf("the reconnect was refused %d times for its token", n)
	}
}
