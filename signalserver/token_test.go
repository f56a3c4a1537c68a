package signalserver

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestRoomTokens(t *testing.T) {
	secret := []byte("test secret of a decent length!!")
	ts := startServer(t, Config{AuthSecret: secret})
	now := time.Now()
	mint := func(room string, ttl time.Duration, maxNext int) string {
		t.Helper()
		tok, err := MintToken(secret, room, ttl, maxNext, now)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := mint("lobby", time.Hour, 0)
	a := ts.dial(t, "/lobby?token="+good)
	b := ts.dial(t, "/lobby?token="+good) // a token is not used up
	a.expect(newPeerMsg(b.id))
	ts.dial(t, "/caf%C3%A9?next=2&token="+mint("café", time.Hour, 2)) // the claim is the decoded id

	forged, err := MintToken([]byte("another secret, same length!!!!"), "lobby", time.Hour, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	unsigned, err := jwt.NewWithClaims(jwt.SigningMethodNone, RoomClaims{Room: "lobby",
		RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	noExpiry, err := jwt.NewWithClaims(jwt.SigningMethodHS256, RoomClaims{Room: "lobby"}).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, reason string }{
		{"/lobby", "token required: join with ?token="},
		{"/lobby?token=", "token required: join with ?token="},
		{"/lobby?token=" + good[:len(good)-2] + "AA", "token signature invalid"}, // tampered
		{"/lobby?token=" + expired(t, secret, now), "token expired"},
		{"/lobby?token=" + forged, "token signature invalid"},
		{"/lobby?token=" + unsigned, "token signature invalid"}, // alg none
		{"/lobby?token=" + noExpiry, "token has no expiry"},
		{"/lobby?token=not.a.jwt", "token invalid"},
		{"/other?token=" + good, "token is for another room"},
		{"/duel?token=" + mint("duel", time.Hour, 2), "token requires next between 1 and 2"},
		{"/duel?next=3&token=" + mint("duel", time.Hour, 2), "token requires next between 1 and 2"},
	} {
		status, body := ts.refused(t, tc.path, nil)
		if status != http.StatusUnauthorized || body != "signalserver: "+tc.reason+"\n" {
			t.Errorf("%.60s: got %d %q, want 401 %q", tc.path, status, body, tc.reason)
		}
	}
	if n := ts.Metrics().Refused("auth"); n != 11 {
		t.Errorf("auth refusals = %d, want 11", n)
	}
	// Without a secret, tokens are neither needed nor checked.
	open := startServer(t, Config{})
	open.dial(t, "/lobby")
	open.dial(t, "/lobby?token=garbage")
}

// expired mints a token whose expiry passed beyond the server's leeway.
func expired(t *testing.T, secret []byte, now time.Time) string {
	t.Helper()
	tok, err := MintToken(secret, "lobby", time.Minute, 0, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestMintTokenRefusesBadInput(t *testing.T) {
	if _, err := MintToken(nil, "r", time.Hour, 0, time.Now()); err == nil || !strings.Contains(err.Error(), "secret") {
		t.Errorf("empty secret: %v", err)
	}
	if _, err := MintToken([]byte("s"), "r", 0, 0, time.Now()); err == nil {
		t.Error("zero lifetime accepted")
	}
}
