package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v5"

	"github.com/rollbox/rollbox/signalserver"
	"github.com/rollbox/rollbox/signalwire"
)

func TestTURNFlags(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "turn-secret")
	if err := os.WriteFile(secretFile, []byte("from a file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, opts, err := parseFlags([]string{"-turn", "-turn-port", "5349", "-stun", "stun:a.example:3478, stun:b.example"}, env(map[string]string{
		"SIGNALSERVER_TURN_PUBLIC_IP":   "203.0.113.7",
		"SIGNALSERVER_TURN_SECRET_FILE": secretFile,
		"SIGNALSERVER_TURN_TTL":         "10m",
		"SIGNALSERVER_TURN_PORT":        "1", // the flag wins
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o := opts.turn
	if !o.enabled || o.port != 5349 || o.publicIP != "203.0.113.7" || o.secret != "from a file" || o.ttl != 10*time.Minute || o.realm != "rollbox" || o.listenIP != "0.0.0.0" {
		t.Fatalf("turn options %+v", o)
	}
	cfg, _, err := parseFlags([]string{"-stun", "stun:a.example:3478, stun:b.example"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.ICE.STUN, " ") != "stun:a.example:3478 stun:b.example" || cfg.ICE.TURN != nil {
		t.Fatalf("ICE %+v", cfg.ICE)
	}
	cfg, _, err = parseFlags([]string{"-turn-url", "turn:coturn.example:3478?transport=udp,turns:coturn.example:5349", "-turn-ttl", "2h"},
		env(map[string]string{"SIGNALSERVER_TURN_SECRET": "coturn's static-auth-secret"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.ICE.TURNURLs) != 2 || string(cfg.ICE.TURNSecret) != "coturn's static-auth-secret" || cfg.ICE.TURNTTL != 2*time.Hour || cfg.ICE.TURN != nil {
		t.Fatalf("external TURN %+v", cfg.ICE)
	}
	_, opts, err = parseFlags(nil, env(nil), io.Discard)
	if err != nil || opts.turn.enabled || opts.turn.port != 3478 || opts.turn.ttl != time.Hour {
		t.Fatalf("defaults %+v, %v", opts.turn, err)
	}
	if o := opts.turn; o.maxPerUser != 32 || o.maxPerIP != 128 || o.relayPorts != "49152-65535" || len(o.allowPeers) != 0 {
		t.Fatalf("defaults of the TURN limits %+v", o)
	}

	// Allowed peer ranges: repeatable, comma-separated, from the
	// environment too; the other limits.
	_, opts, err = parseFlags([]string{"-turn", "-turn-public-ip", "192.0.2.1", "-turn-secret", "s",
		"-turn-allow-cidr", "10.0.0.0/8, 192.168.1.7/24", "-turn-allow-cidr", "127.0.0.1",
		"-turn-max-allocations-per-user", "8", "-turn-relay-ports", "40000-40099"},
		env(map[string]string{"SIGNALSERVER_TURN_MAX_ALLOCATIONS_PER_IP": "-1"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o = opts.turn
	if fmt.Sprint(o.allowPeers) != "[10.0.0.0/8 192.168.1.0/24 127.0.0.1/32]" || o.maxPerUser != 8 || o.maxPerIP != -1 || o.relayMin != 40000 || o.relayMax != 40099 {
		t.Fatalf("TURN limits %+v", o)
	}
	_, opts, err = parseFlags([]string{"-turn", "-turn-public-ip", "192.0.2.1", "-turn-secret", "s", "-turn-relay-ports", ""},
		env(map[string]string{"SIGNALSERVER_TURN_ALLOW_CIDR": "fd00::/8,100.64.0.0/10"}), io.Discard)
	if err != nil || fmt.Sprint(opts.turn.allowPeers) != "[fd00::/8 100.64.0.0/10]" || opts.turn.relayMin != 0 {
		t.Fatalf("TURN limits from the environment %+v, %v", opts.turn, err)
	}

	for _, args := range [][]string{
		{"-turn", "-turn-secret", "s"},                               // no public IP
		{"-turn", "-turn-public-ip", "0.0.0.0", "-turn-secret", "s"}, // not reachable
		{"-turn", "-turn-public-ip", "192.0.2.1"},                    // no secret
		{"-turn", "-turn-public-ip", "192.0.2.1", "-turn-secret", "s", "-turn-secret-file", secretFile},
		{"-turn", "-turn-public-ip", "192.0.2.1", "-turn-secret", "s", "-turn-ttl", "-1s"},
		{"-turn", "-turn-public-ip", "192.0.2.1", "-turn-secret", "s", "-turn-port", "70000"},
		{"-turn", "-turn-public-ip", "192.0.2.1", "-turn-secret", "s", "-turn-listen-ip", "eth0"},
		{"-turn-allow-cidr", "10.0.0.0/33"},
		{"-turn-allow-cidr", "10.0.0.0/8,lan"},
		{"-turn", "-turn-public-ip", "192.0.2.1", "-turn-secret", "s", "-turn-relay-ports", "50000"},
		{"-turn", "-turn-public-ip", "192.0.2.1", "-turn-secret", "s", "-turn-relay-ports", "50000-40000"},
		{"-turn", "-turn-public-ip", "192.0.2.1", "-turn-secret", "s", "-turn-relay-ports", "0-100"},
		{"-turn", "-turn-public-ip", "192.0.2.1", "-turn-secret", "s", "-turn-relay-ports", "60000-70000"},
		{"-stun", "turn:a.example"},
		{"-turn-url", "turn:a.example"}, // no secret
		{"-turn-url", "stun:a.example", "-turn-secret", "s"},
	} {
		if _, _, err := parseFlags(args, env(nil), io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

// TestTURNCommand runs the command's TURN server and signalling server on
// loopback: GET /ice offers it with credentials it accepts.
func TestTURNCommand(t *testing.T) {
	cfg, opts, err := parseFlags([]string{"-no-web", "-log-level", "warn", "-turn", "-turn-port", "0", "-turn-listen-ip", "127.0.0.1",
		"-turn-public-ip", "127.0.0.1", "-turn-secret", "s3cret", "-turn-ttl", "5m", "-turn-allow-cidr", "127.0.0.0/8",
		"-turn-relay-ports", "61000-65535"}, env(nil), io.Discard) // above Linux's ephemeral ports
	if err != nil {
		t.Fatal(err)
	}
	logger, _ := newLogger(opts.logLevel, opts.logFormat, io.Discard)
	cfg.Logger = logger
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	turnSrv, err := opts.turn.start(ctx, &cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer stopTURN(turnSrv, time.Second, logger)
	addr, stop := serveOnLoopback(t, cfg, opts, logger)

	resp, err := http.Get("http://" + addr + "/ice")
	if err != nil {
		t.Fatal(err)
	}
	var servers []signalwire.ICEServer
	err = json.NewDecoder(resp.Body).Decode(&servers)
	resp.Body.Close()
	if err != nil || len(servers) != 1 {
		t.Fatalf("GET /ice: %+v, %v", servers, err)
	}
	s := servers[0]
	if !strings.HasPrefix(s.URLs[0], "turn:127.0.0.1:") || s.URLs[0] == "turn:127.0.0.1:0?transport=udp" {
		t.Fatalf("TURN URLs %q", s.URLs)
	}
	checkTURNRESTCredential(t, []byte("s3cret"), s, 5*time.Minute)
	checkTURNPeers(t, turnSrv, s)
	if err := stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
}

// checkTURNPeers relays through the command's TURN server with the
// credential s from GET /ice: the relay port is in -turn-relay-ports
// 61000-65535, -turn-allow-cidr 127.0.0.0/8 opens loopback peers, and
// private ones stay refused.
func checkTURNPeers(t *testing.T, turnSrv *signalserver.TURNServer, s signalwire.ICEServer) {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client, err := turn.NewClient(&turn.ClientConfig{
		TURNServerAddr: turnSrv.Addr().String(),
		STUNServerAddr: turnSrv.Addr().String(),
		Username:       s.Username,
		Password:       s.Credential,
		Realm:          "rollbox",
		Conn:           conn,
		RTO:            5 * time.Second, // no retransmission to count twice
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := client.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := client.Allocate()
	if err != nil {
		t.Fatalf("allocate: %v", err)
	}
	defer relay.Close()
	if port := relay.LocalAddr().(*net.UDPAddr).Port; port < 61000 {
		t.Errorf("relay port %d, want in 61000-65535", port)
	}
	if err := client.CreatePermission(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 9}); err != nil {
		t.Errorf("permission for 127.0.0.2 under -turn-allow-cidr 127.0.0.0/8: %v", err)
	}
	if err := client.CreatePermission(&net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 9}); err == nil {
		t.Error("permission for 10.0.0.1, outside -turn-allow-cidr")
	}
	if n := turnSrv.Metrics().Refused("peer_address"); n != 1 {
		t.Errorf("%d peer refusals, want 1", n)
	}
}

// checkTURNRESTCredential checks a credential from /ice against the TURN REST
// API scheme that coturn's use-auth-secret implements, computed here
// independently of the server: the username is "<expiry unix seconds>:<id>",
// the password base64(HMAC-SHA1(secret, username)), and the expiry at most
// ttl away.
func checkTURNRESTCredential(t *testing.T, secret []byte, s signalwire.ICEServer, ttl time.Duration) {
	t.Helper()
	expiryText, _, _ := strings.Cut(s.Username, ":")
	expiry, err := strconv.ParseInt(expiryText, 10, 64)
	if err != nil {
		t.Fatalf("username %q does not start with an expiry: %v", s.Username, err)
	}
	if until := time.Until(time.Unix(expiry, 0)); until <= 0 || until > ttl+time.Second {
		t.Fatalf("credential expires in %v, want within %v", until, ttl)
	}
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(s.Username))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); s.Credential != want {
		t.Fatalf("password %q, want %q", s.Credential, want)
	}
}
