package signalserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pion/turn/v5"

	"github.com/rollbox/rollbox/signalwire"
)

var turnSecret = []byte("turn secret for the tests")

// startTURN runs an embedded TURN server on a free loopback port until the
// test ends.
func startTURN(t testing.TB) *TURNServer {
	t.Helper()
	return startTURNConfig(t, TURNConfig{})
}

// startTURNConfig is startTURN with cfg, whose Listen, Secret, TTL and
// Logger it fills in when empty.
func startTURNConfig(t testing.TB, cfg TURNConfig) *TURNServer {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Secret == nil {
		cfg.Secret = turnSecret
	}
	if cfg.TTL == 0 {
		cfg.TTL = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ts, err := StartTURN(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := ts.Shutdown(ctx); err != nil {
			t.Errorf("TURN shutdown: %v", err)
		}
	})
	return ts
}

// allocate asks the TURN server for a UDP relay with a new client of ts
// (dialTURN), over UDP or TCP, and returns the relay address or the error.
func allocate(t *testing.T, ts *TURNServer, network, username, password string) (net.Addr, error) {
	t.Helper()
	relay, err := dialTURN(t, ts, network, username, password).Allocate()
	if err != nil {
		return nil, err
	}
	defer relay.Close()
	return relay.LocalAddr(), nil
}

func TestTURNCredentials(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	user, pass := mintTURNCredential(turnSecret, "abc", now.Add(time.Hour))
	if user != "1800003600:abc" {
		t.Fatalf("username %q, want <expiry>:<id>", user)
	}
	// The TURN REST API scheme, computed independently by pion (as coturn's
	// use-auth-secret does).
	// pion's handler checks the expiry against the clock: mint one for now.
	liveUser, livePass := mintTURNCredential(turnSecret, "abc", time.Now().Add(time.Minute))
	_, key, ok := turn.LongTermTURNRESTAuthHandler(string(turnSecret), nil)(&turn.RequestAttributes{Username: liveUser, Realm: "r"})
	if !ok || string(key) != string(turn.GenerateAuthKey(liveUser, "r", livePass)) {
		t.Fatal("pion's TURN REST handler derives another key from a minted credential")
	}
	if err := verifyTURNCredential(turnSecret, user, pass, now); err != nil {
		t.Fatalf("fresh credential refused: %v", err)
	}
	if err := verifyTURNCredential(turnSecret, user, pass, now.Add(2*time.Hour)); !errors.Is(err, errTURNCredentialExpired) {
		t.Fatalf("expired credential: %v", err)
	}
	_, forged := mintTURNCredential([]byte("another secret"), "abc", now.Add(time.Hour))
	if err := verifyTURNCredential(turnSecret, user, forged, now); !errors.Is(err, errTURNCredentialInvalid) {
		t.Fatalf("forged credential: %v", err)
	}
	later, _ := mintTURNCredential(turnSecret, "abc", now.Add(10*time.Hour))
	if err := verifyTURNCredential(turnSecret, later, pass, now); !errors.Is(err, errTURNCredentialInvalid) {
		t.Fatalf("extended expiry with the old password: %v", err)
	}
	if err := verifyTURNCredential(turnSecret, "nobody", pass, now); !errors.Is(err, errTURNCredentialInvalid) {
		t.Fatalf("malformed username: %v", err)
	}
}

func TestTURNRefusesExpiredAndForgedCredentials(t *testing.T) {
	ts := startTURN(t)
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			user, pass, _ := ts.mint()
			relay, err := allocate(t, ts, network, user, pass)
			if err != nil {
				t.Fatalf("fresh credential: %v", err)
			}
			if ip := relay.(*net.UDPAddr).IP; !ip.Equal(net.IPv4(127, 0, 0, 1)) {
				t.Fatalf("relay address %v, want on 127.0.0.1", relay)
			}

			expiredUser, expiredPass := mintTURNCredential(turnSecret, "old", time.Now().Add(-time.Second))
			if _, err := allocate(t, ts, network, expiredUser, expiredPass); err == nil {
				t.Fatal("expired credential allocated a relay")
			}
			_, forged := mintTURNCredential([]byte("not the secret"), "x", time.Now().Add(time.Hour))
			forgedUser, _ := mintTURNCredential(turnSecret, "x", time.Now().Add(time.Hour))
			if _, err := allocate(t, ts, network, forgedUser, forged); err == nil {
				t.Fatal("forged credential allocated a relay")
			}
		})
	}
	m := ts.Metrics()
	if got := m.AllocationsTotal.Load(); got != 2 {
		t.Errorf("allocations_total %d, want 2", got)
	}
	if m.AuthExpired.Load() < 2 || m.AuthInvalid.Load() < 2 {
		t.Errorf("auth failures: expired %d, invalid %d; want at least 2 each", m.AuthExpired.Load(), m.AuthInvalid.Load())
	}
}

func TestICEEndpoint(t *testing.T) {
	turnSrv := startTURN(t)
	ts := startServer(t, unlimited(Config{ICE: ICEConfig{STUN: []string{"stun:stun.example.org:3478"}, TURN: turnSrv}}))
	base := "http" + strings.TrimPrefix(ts.url, "ws")

	get := func() []signalwire.ICEServer {
		t.Helper()
		resp, err := http.Get(base + "/ice")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("GET /ice: %s, Cache-Control %q, Content-Type %q", resp.Status, resp.Header.Get("Cache-Control"), resp.Header.Get("Content-Type"))
		}
		var servers []signalwire.ICEServer
		if err := json.NewDecoder(resp.Body).Decode(&servers); err != nil {
			t.Fatal(err)
		}
		return servers
	}
	servers := get()
	if len(servers) != 2 || len(servers[0].URLs) != 1 || servers[0].URLs[0] != "stun:stun.example.org:3478" || servers[0].Username != "" {
		t.Fatalf("servers %+v", servers)
	}
	turnEntry := servers[1]
	port := turnSrv.Addr().Port
	wantURLs := []string{"turn:127.0.0.1:" + strconv.Itoa(port) + "?transport=udp", "turn:127.0.0.1:" + strconv.Itoa(port) + "?transport=tcp"}
	if strings.Join(turnEntry.URLs, " ") != strings.Join(wantURLs, " ") {
		t.Fatalf("TURN urls %q, want %q", turnEntry.URLs, wantURLs)
	}
	if err := verifyTURNCredential(turnSecret, turnEntry.Username, turnEntry.Credential, time.Now()); err != nil {
		t.Fatalf("minted credential does not verify: %v", err)
	}
	expiry, _ := turnExpiry(turnEntry.Username)
	if d := time.Until(expiry); d < 50*time.Second || d > time.Minute {
		t.Fatalf("credential expires in %v, want the 1 min TTL", d)
	}
	if again := get()[1]; again.Username == turnEntry.Username {
		t.Fatal("two requests got the same username: credentials are not minted per request")
	}
	// The credentials work on the TURN server itself.
	if _, err := allocate(t, turnSrv, "udp", turnEntry.Username, turnEntry.Credential); err != nil {
		t.Fatalf("allocate with /ice credentials: %v", err)
	}

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"signalserver_turn_allocations_total 1\n", "signalserver_turn_allocations ", `signalserver_turn_auth_failures_total{reason="invalid"} 0`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	resp, err = http.Post(base+"/ice", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /ice: %s", resp.Status)
	}
}

func TestICEEndpointWithoutServers(t *testing.T) {
	ts := startServer(t, unlimited(Config{}))
	resp, err := http.Get("http" + strings.TrimPrefix(ts.url, "ws") + "/ice")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "[]\n" {
		t.Fatalf("GET /ice without servers: %s %q", resp.Status, body)
	}
}

// TestICEEndpointNeedsTokenWithAuth: with room tokens on, TURN credentials
// (a relay through this host) go only to holders of a valid token, for any
// room.
func TestICEEndpointNeedsTokenWithAuth(t *testing.T) {
	secret := []byte("test secret of a decent length!!")
	ts := startServer(t, unlimited(Config{AuthSecret: secret, ICE: ICEConfig{STUN: []string{"stun:stun.example.org:3478"}}}))
	base := "http" + strings.TrimPrefix(ts.url, "ws") + "/ice"
	valid, err := MintToken(secret, "any room", time.Hour, 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	roomless, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()}).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query  string
		status int
		body   string
	}{
		{"", http.StatusUnauthorized, "signalserver: token required: join with ?token=\n"},
		{"?token=" + roomless, http.StatusUnauthorized, "signalserver: token names no room\n"},
		{"?token=" + expired(t, secret, time.Now()), http.StatusUnauthorized, "signalserver: token expired\n"},
		{"?token=" + valid[:len(valid)-2] + "AA", http.StatusUnauthorized, "signalserver: token signature invalid\n"},
		{"?token=" + valid, http.StatusOK, `[{"urls":["stun:stun.example.org:3478"]}]` + "\n"},
	} {
		resp, err := http.Get(base + tc.query)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || string(body) != tc.body {
			t.Errorf("GET /ice%.30s: %d %q, want %d %q", tc.query, resp.StatusCode, body, tc.status, tc.body)
		}
	}
}

func TestICEServersForExternalTURN(t *testing.T) {
	cfg := ICEConfig{TURNURLs: []string{"turn:coturn.example:3478"}, TURNSecret: []byte("coturn secret"), TURNTTL: 10 * time.Minute}
	servers := cfg.iceServers()
	if len(servers) != 1 || servers[0].URLs[0] != "turn:coturn.example:3478" {
		t.Fatalf("servers %+v", servers)
	}
	s := servers[0]
	if err := verifyTURNCredential([]byte("coturn secret"), s.Username, s.Credential, time.Now().Add(9*time.Minute)); err != nil {
		t.Fatalf("credential for coturn: %v", err)
	}
	if err := verifyTURNCredential([]byte("coturn secret"), s.Username, s.Credential, time.Now().Add(11*time.Minute)); !errors.Is(err, errTURNCredentialExpired) {
		t.Fatalf("credential past its TTL: %v", err)
	}
}

// An external TURN server without the secret its credentials are signed
// with is refused by New: /ice would hand out credentials that look valid
// and that the TURN server rejects.
func TestExternalTURNNeedsSecret(t *testing.T) {
	_, err := New(Config{ICE: ICEConfig{TURNURLs: []string{"turn:coturn.example:3478"}}})
	if err == nil || !strings.Contains(err.Error(), "TURNSecret") {
		t.Fatalf("New with TURNURLs and no TURNSecret: %v, want an error naming TURNSecret", err)
	}
	srv, err := New(Config{ICE: ICEConfig{TURNURLs: []string{"turn:coturn.example:3478"}, TURNSecret: []byte("s")}})
	if err != nil {
		t.Fatal(err)
	}
	_ = srv.Shutdown(context.Background())
}
