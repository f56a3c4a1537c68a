//go:build !js && !template

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

// secondNetworkStack matches the packages a web page does not need because
// the browser does their work: TLS and certificates (HTTPS, WSS), HTTP,
// DTLS, SCTP and ICE (RTCPeerConnection), and the Go clients built on them.
var secondNetworkStack = regexp.MustCompile(`^(crypto/tls|crypto/x509|net/http|github\.com/pion/[^/]+|github\.com/coder/websocket)(/|$)`)

// TestWebBuildLinksNoSecondNetworkStack: the page's wasm links none of
// them, which took it from 25 MB to 14 MB. A package that brings one back
// (net/http through ebitenutil did) fails here, naming the importer.
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
		if secondNetworkStack.MatchString(pkg) {
			continue // reported by its importer
		}
		for _, imp := range strings.Fields(imports) {
			if secondNetworkStack.MatchString(imp) {
				bad = append(bad, pkg+" imports "+imp)
			}
		}
	}
	if len(bad) > 0 {
		t.Errorf("the js/wasm build links a network stack the browser provides:\n%s", strings.Join(bad, "\n"))
	}
}
