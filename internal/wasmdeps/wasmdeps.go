// Package wasmdeps checks, in a test, that a package's js/wasm build links
// no second network stack: a web page gets TLS, HTTP, WebSocket and WebRTC
// from the browser, and the Go versions of them only make its wasm larger
// (the box game's went from 25 MB to 14 MB without them).
package wasmdeps

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// browserProvides matches the packages a web page does not need because
// the browser does their work: TLS and certificates (HTTPS, WSS), HTTP,
// DTLS, SCTP and ICE (RTCPeerConnection, through pion), and the Go
// WebSocket client.
var browserProvides = regexp.MustCompile(`^(crypto/tls|crypto/x509|net/http|github\.com/pion/[^/]+|github\.com/coder/websocket)(/|$)`)

// listTimeout bounds go list, which may have to load a cold module cache
// on a loaded machine.
const listTimeout = 2 * time.Minute

// Check fails t unless the js/wasm build of the package in pkgDir (a
// directory, "." for the test's own package) links none of the packages
// the browser provides. It names each importer that brings one in rather
// than the package itself, so that the report points at the import to
// remove (ebitenutil, for one, imports net/http under js). It runs go list,
// which go test puts first in PATH.
func Check(t testing.TB, pkgDir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), listTimeout)
	defer cancel()
	bad, err := secondStackImports(ctx, pkgDir)
	if err != nil {
		t.Fatal(err)
	} else if len(bad) > 0 {
		t.Errorf("the js/wasm build of %s links a network stack the browser provides:\n%s", pkgDir, strings.Join(bad, "\n"))
	}
}

// secondStackImports returns "importer imports pkg" for every import by a
// package of pkgDir's js/wasm build of a package the browser provides.
func secondStackImports(ctx context.Context, pkgDir string) ([]string, error) {
	// DepOnly tells the package itself (false) from its dependencies.
	cmd := exec.CommandContext(ctx, "go", "list", "-deps", "-f", `{{.DepOnly}} {{.ImportPath}}: {{join .Imports " "}}`, ".")
	cmd.Dir = pkgDir
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list in %s: %v\n%s", pkgDir, err, stderr.String())
	}
	var bad []string
	listed := false
	for line := range strings.Lines(string(out)) {
		depOnly, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		pkg, imports, _ := strings.Cut(rest, ": ")
		listed = listed || depOnly == "false"
		if browserProvides.MatchString(pkg) {
			continue // reported by its importer
		}
		for _, imp := range strings.Fields(imports) {
			if browserProvides.MatchString(imp) {
				bad = append(bad, pkg+" imports "+imp)
			}
		}
	}
	// Without the package itself in the list, an empty result would say
	// nothing about it.
	if !listed {
		return nil, fmt.Errorf("go list in %s did not list the package:\n%s", pkgDir, out)
	}
	return bad, nil
}
