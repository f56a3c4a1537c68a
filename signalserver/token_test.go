package signalserver

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rollbox/rollbox/internal/syncbuf"
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
	unsigned, err := jwt.NewWithClaims(jwt.SigningMethodNone, roomClaims{Room: "lobby",
		RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	noExpiry, err := jwt.NewWithClaims(jwt.SigningMethodHS256, roomClaims{Room: "lobby"}).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	// Validly signed, but naming no room: neither may open the room at /.
	emptyRoom, err := jwt.NewWithClaims(jwt.SigningMethodHS256, roomClaims{
		RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}}).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	noRoomClaim, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"exp": now.Add(time.Hour).Unix()}).SignedString(secret)
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
		{"/?token=" + emptyRoom, "token names no room"},
		{"/?token=" + noRoomClaim, "token names no room"},
		{"/?next=2&token=" + noRoomClaim, "token names no room"},
	} {
		status, body := ts.refused(t, tc.path, nil)
		if status != http.StatusUnauthorized || body != "signalserver: "+tc.reason+"\n" {
			t.Errorf("%.60s: got %d %q, want 401 %q", tc.path, status, body, tc.reason)
		}
	}
	if n := ts.Metrics().Refused("auth"); n != 14 {
		t.Errorf("auth refusals = %d, want 14", n)
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
	if _, err := MintToken([]byte("s"), "", time.Hour, 0, time.Now()); err == nil {
		t.Error("empty room accepted")
	}
}

// TestTokensNeverLogged: with debug logging, joins and refusals of every
// kind whose URL carries a token log no token.
func TestTokensNeverLogged(t *testing.T) {
	var logs syncbuf.Buffer
	secret := []byte("test secret of a decent length!!")
	ts := startServer(t, Config{
		AuthSecret:      secret,
		AllowedOrigins:  []string{"https://game.example"},
		MaxPeersPerRoom: 2,
		Logger:          slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	mint := func(room string) string {
		tok, err := MintToken(secret, room, time.Hour, 0, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	lobby, other, full := mint("lobby"), mint("other"), mint("full")
	a := ts.dial(t, "/lobby?token="+lobby)
	b := ts.dial(t, "/lobby?token="+lobby)
	a.expect(newPeerMsg(b.id))
	a.signal(b.id, `"x"`)
	b.expect(signalMsg(a.id, `"x"`))
	a.sendText("garbage")
	ts.dial(t, "/full?token="+full)
	ts.dial(t, "/full?token="+full)
	for _, path := range []string{
		"/lobby?token=" + other,        // another room's token
		"/lobby?next=0&token=" + lobby, // bad next
		"/full?token=" + full,          // room full
		"/lobby?tok%65n=" + lobby,      // an encoded key is still the token
		"/lobby?x=1;token=" + lobby,    // a part net/url skips
		"/lobby?token=" + lobby + "&token=" + other,
	} {
		ts.refused(t, path, nil)
	}
	ts.refused(t, "/lobby?token="+lobby, http.Header{"Origin": {"https://evil.example"}})
	a.conn.Close()
	eventually(t, "a's departure", func() bool { return ts.Metrics().Peers.Load() == 3 })

	out := logs.String()
	if strings.Count(out, "refused connection") != 7 || !strings.Contains(out, "peer joined") {
		t.Fatalf("the test logged not all it should:\n%s", out)
	}
	for _, tok := range []string{lobby, other, full} {
		signature := tok[strings.LastIndexByte(tok, '.')+1:]
		if strings.Contains(out, signature) {
			t.Fatalf("a token is in the logs:\n%s", out)
		}
	}
	if !strings.Contains(out, "/lobby?next=0&token=REDACTED") {
		t.Fatalf("the refused path is not logged, redacted:\n%s", out)
	}
}

func TestRedactedURI(t *testing.T) {
	for raw, want := range map[string]string{
		"/r":                           "/r",
		"/r?next=2":                    "/r?next=2",
		"/r?token=abc":                 "/r?token=REDACTED",
		"/r?next=2&token=abc&x=1":      "/r?next=2&token=REDACTED&x=1",
		"/r?TOKEN=abc":                 "/r?TOKEN=REDACTED",
		"/r?tok%65n=abc":               "/r?tok%65n=REDACTED",
		"/r?a=1;token=abc":             "/r?REDACTED",
		"/r?%zz=abc":                   "/r?REDACTED",
		"/caf%C3%A9?token=abc&token=d": "/caf%C3%A9?token=REDACTED&token=REDACTED",
	} {
		r, err := http.NewRequest("GET", "http://h"+raw, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := redactedURI(r.URL); got != want {
			t.Errorf("%s: got %s, want %s", raw, got, want)
		}
	}
}
