//go:build !js

package main

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// browserProvides matches the packages a web page must not link because
// the browser does their work: TLS and certificates (HTTPS, WSS), HTTP,
// and WebRTC (pion's DTLS, SCTP and ICE), and the Go WebSocket client.
var browserProvides = regexp.MustCompile(`^(crypto/tls|crypto/x509|net/http|github\.com/pion/[^/]+|github\.com/coder/websocket)(/|$)`)

// TestWebBuildLinksNoSecondNetworkStack: the js/wasm build links none of
// them (ebitenutil, for one, imports net/http there); a package that
// brings one back fails here, naming the importer.
func TestWebBuildLinksNoSecondNetworkStack(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "list", "-deps", "-f", "{{.ImportPath}}: {{join .Imports \" \"}}", ".")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var bad []string
	for line := range strings.Lines(string(out)) {
		pkg, imports, _ := strings.Cut(strings.TrimSpace(line), ": ")
		if browserProvides.MatchString(pkg) {
			continue // reported by its importer
		}
		for _, imp := range strings.Fields(imports) {
			if browserProvides.MatchString(imp) {
				bad = append(bad, pkg+" imports "+imp)
			}
		}
	}
	if !strings.Contains(string(out), "github.com/rollbox/rollbox/examples/pong: ") {
		t.Fatalf("go list did not list the game:\n%s", out)
	}
	if len(bad) > 0 {
		t.Errorf("the js/wasm build links a network stack the browser provides:\n%s", strings.Join(bad, "\n"))
	}
}
