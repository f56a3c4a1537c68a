package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/rollbox/rollbox/signalserver/signaltest"
)

// TestTokenSubcommandMintsWhatTheServerAccepts: a server configured with
// -auth-secret-file admits a token from "signalserver token" with the same
// secret (given through the environment twin) and refuses a join without one.
func TestTokenSubcommandMintsWhatTheServerAccepts(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte("s3cret-for-the-test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := tokenCommand([]string{"-room", "lobby", "-ttl", "10m"}, env(map[string]string{"SIGNALSERVER_AUTH_SECRET": "s3cret-for-the-test"}), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(out.String())

	cfg, _, err := parseFlags([]string{"-auth-secret-file", file}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	url := signaltest.Start(t, cfg).Room("lobby")
	conn, _, err := websocket.DefaultDialer.Dial(url+"?token="+token, nil)
	if err != nil {
		t.Fatalf("join with the minted token: %v", err)
	}
	conn.Close()
	_, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("join without a token: %v, %v; want 401", err, resp)
	}
	resp.Body.Close()
}

func TestTokenSubcommandAndSecretErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-ttl", "1h"},                     // no room
		{"-room", "", "-auth-secret", "s"}, // a token for no room would open none
		{"-room", "r"},                     // no secret
		{"-room", "r", "-auth-secret", "s", "-ttl", "0s"},
		{"-room", "r", "-auth-secret", "s", "extra"},
	} {
		if err := tokenCommand(args, env(nil), io.Discard, io.Discard); err == nil {
			t.Errorf("token %q accepted", args)
		}
	}
	if _, _, err := parseFlags([]string{"-auth-secret", "a", "-auth-secret-file", "f"}, env(nil), io.Discard); err == nil {
		t.Error("both secret flags accepted")
	}
	if _, _, err := parseFlags([]string{"-auth-secret-file", filepath.Join(t.TempDir(), "missing")}, env(nil), io.Discard); err == nil {
		t.Error("missing secret file accepted")
	}
}
