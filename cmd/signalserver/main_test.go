package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/rollbox/rollbox/cmd/signalserver/internal/boxgameweb"
	"github.com/rollbox/rollbox/internal/syncbuf"
	"github.com/rollbox/rollbox/signalserver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestFlagsAndEnvironmentTwins(t *testing.T) {
	cfg, opts, err := parseFlags([]string{"-max-peers-per-room", "8", "127.0.0.1:9000"}, env(map[string]string{
		"SIGNALSERVER_MAX_PEERS_PER_ROOM": "99", // the flag wins
		"SIGNALSERVER_SEND_QUEUE":         "7",
		"SIGNALSERVER_ALLOWED_ORIGINS":    "https://a.example, https://b.example",
		"SIGNALSERVER_PING_INTERVAL":      "3s",
		"HOST":                            "ignored:1",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxPeersPerRoom != 8 || cfg.SendQueue != 7 || cfg.PingInterval != 3*time.Second || opts.listen != "127.0.0.1:9000" {
		t.Fatalf("got %+v %+v", cfg, opts)
	}
	if len(cfg.AllowedOrigins) != 2 || cfg.AllowedOrigins[1] != "https://b.example" {
		t.Fatalf("origins %q", cfg.AllowedOrigins)
	}
}

func TestListenAddressDefaults(t *testing.T) {
	_, opts, err := parseFlags(nil, env(nil), io.Discard)
	if err != nil || opts.listen != "0.0.0.0:3536" {
		t.Fatalf("default listen %q, %v", opts.listen, err)
	}
	_, opts, err = parseFlags(nil, env(map[string]string{"HOST": "127.0.0.1:4000"}), io.Discard)
	if err != nil || opts.listen != "127.0.0.1:4000" {
		t.Fatalf("HOST listen %q, %v", opts.listen, err)
	}
}

func TestBadSettingsRefused(t *testing.T) {
	for _, args := range [][]string{
		{"-tls-cert", "c.pem"},
		{"a:1", "b:2"},
		{"-log-level", "loud"},
		{"-log-format", "xml"},
		{"-read-timeout", "1s", "-ping-interval", "2s"},
		{"-real-ip-header", "X-Real-IP"}, // believed from anyone: refused
		{"-trusted-proxies", "10.0.0.0/8"},
		{"-real-ip-header", "X-Real-IP", "-trusted-proxies", "10.0.0.0/33"},
		{"-http-idle-timeout", "-1s"},
	} {
		if err := run(context.Background(), append(args, "127.0.0.1:0"), env(nil), io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	if _, _, err := parseFlags(nil, env(map[string]string{"SIGNALSERVER_SEND_QUEUE": "many"}), io.Discard); err == nil {
		t.Error("bad environment value accepted")
	}
}

// TestServeAndShutdownOnSIGTERM runs the command, joins a peer, and sends
// the process SIGTERM: the peer gets close 1001 and run returns nil.
func TestServeAndShutdownOnSIGTERM(t *testing.T) {
	var logs syncbuf.Buffer
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg, opts, err := parseFlags([]string{"-log-format", "json"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	logger, _ := newLogger(opts.logLevel, opts.logFormat, &logs)
	cfg.Logger = logger
	srv, err := signalserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve(context.Background(), srv, ln, opts, logger) }()

	addr := ln.Addr().String()
	resp, err := http.Get("http://" + addr + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/room", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, _, err := conn.ReadMessage(); err != nil { // IdAssigned
		t.Fatal(err)
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_, _, err = conn.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("got %v, want close 1001", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v after SIGTERM", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown after SIGTERM")
	}
	if !strings.Contains(logs.String(), `"msg":"shutting down"`) {
		t.Fatalf("logs lack the shutdown line:\n%s", logs.String())
	}
}

// TestWebFlags: the box game's page is served by default (as embedded by
// make web, or the page saying to run it) and -no-web or -web=false, or
// their environment twins, turn it off.
func TestWebFlags(t *testing.T) {
	var logs syncbuf.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	for _, tc := range []struct {
		args []string
		env  map[string]string
		on   bool
	}{
		{nil, nil, true},
		{[]string{"-no-web"}, nil, false},
		{[]string{"-web=false"}, nil, false},
		{nil, map[string]string{"SIGNALSERVER_NO_WEB": "true"}, false},
	} {
		_, opts, err := parseFlags(tc.args, env(tc.env), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		h := webPage(opts, logger)
		if (h != nil) != tc.on {
			t.Errorf("%q %v: page served %v, want %v", tc.args, tc.env, h != nil, tc.on)
			continue
		}
		if h == nil {
			continue
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/myroom", nil))
		if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" || w.Code != 200 && w.Code != 404 {
			t.Errorf("GET /myroom: %d %q", w.Code, ct)
		}
		if _, err := boxgameweb.Handler(); err != nil && !strings.Contains(w.Body.String(), "make web") {
			t.Errorf("without make web: %q", w.Body.String())
		}
	}
}

func TestConnectionLimitFlags(t *testing.T) {
	cfg, _, err := parseFlags([]string{"-real-ip-header", "X-Forwarded-For", "-max-conns", "500", "-http-idle-timeout", "5s"}, env(map[string]string{
		"SIGNALSERVER_TRUSTED_PROXIES":         "10.0.0.0/8, 192.0.2.1,2001:db8::/32",
		"SIGNALSERVER_HTTP_READ_TIMEOUT":       "3s",
		"SIGNALSERVER_HTTP_WRITE_TIMEOUT":      "4s",
		"SIGNALSERVER_MAX_CONNS_PER_IP":        "7",
		"SIGNALSERVER_JOIN_BURST_PER_IP":       "9",
		"SIGNALSERVER_HTTP_IDLE_TIMEOUT":       "1h", // the flag wins
		"SIGNALSERVER_JOINS_PER_SECOND_PER_IP": "2.5",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32"), netip.MustParsePrefix("2001:db8::/32")}
	if !slices.Equal(cfg.TrustedProxies, want) || cfg.RealIPHeader != "X-Forwarded-For" {
		t.Errorf("trusted proxies %v, header %q", cfg.TrustedProxies, cfg.RealIPHeader)
	}
	if cfg.MaxConns != 500 || cfg.MaxConnsPerIP != 7 || cfg.JoinBurstPerIP != 9 || cfg.JoinsPerSecondPerIP != 2.5 ||
		cfg.HTTPReadTimeout != 3*time.Second || cfg.HTTPWriteTimeout != 4*time.Second || cfg.HTTPIdleTimeout != 5*time.Second {
		t.Errorf("got %+v", cfg)
	}
	if _, _, err := parseFlags([]string{"-real-ip-header", "X-Real-IP", "-trusted-proxies", "10.0.0.0/8,proxy.example"}, env(nil), io.Discard); err == nil {
		t.Error("a host name accepted as a trusted proxy")
	}
	_, _, err = parseFlags([]string{"-real-ip-header", "X-Real-IP"}, env(nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "-trusted-proxies") {
		t.Errorf("-real-ip-header alone: %v, want an error naming -trusted-proxies", err)
	}
	// The defaults admit a crowd behind one address.
	cfg, _, err = parseFlags(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxConns != 0 || cfg.MaxConnsPerIP < 200 || cfg.JoinBurstPerIP < 100 {
		t.Errorf("defaults %d %d %d", cfg.MaxConns, cfg.MaxConnsPerIP, cfg.JoinBurstPerIP)
	}
}

// TestServeClosesIdleConnections: the command's HTTP server closes a
// keep-alive connection left idle, and counts it against -max-conns.
func TestServeClosesIdleConnections(t *testing.T) {
	cfg, opts, err := parseFlags([]string{"-http-idle-timeout", "200ms", "-max-conns", "1"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Logger = logger
	addr, stop := serveOnLoopback(t, cfg, opts, logger)
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	get := func(conn net.Conn) int {
		t.Helper()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(conn, "GET /health HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if status := get(idle); status != http.StatusOK {
		t.Fatalf("health: %d", status)
	}
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if status := get(second); status != http.StatusServiceUnavailable {
		t.Fatalf("a second connection with -max-conns 1: %d, want 503", status)
	}
	// The idle connection is closed after 200 ms, well within 5 s.
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = idle.Read(make([]byte, 1))
	if netErr, ok := err.(net.Error); ok && netErr.Timeout() {
		t.Fatal("idle connection still open after 5 s")
	}
}
