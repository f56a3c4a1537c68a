//go:build linux

// Package browsertest checks that a browser speaking the matchbox protocol
// interoperates with our signalling server and WebRTC transport: headless
// Chromium runs page.js, a plain JavaScript matchbox_socket client, in a
// room with `meshcat -echo`, and gets its packets back on both negotiated
// channels, with either side making the offer.
//
// Tests must not send off the machine, and pion in loopback-only mode
// (meshcat -loopback) offers only 127.0.0.1, so the test re-runs its own
// binary in a fresh network namespace where lo is the only interface, and a
// fresh PID namespace so that no process outlives it (see internal/chromium,
// which the box game's browser tests share). Linux only; it needs
// root or unprivileged user namespaces, the Debian packages chromium and
// util-linux (unshare), and the Go toolchain to build meshcat. `make test`
// installs the packages.
package browsertest

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"testing"
	"time"

	"github.com/rollbox/rollbox/internal/chromium"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// childEnv holds the path of the meshcat binary in the copy of the test
// binary that runs inside the network namespace; its presence marks that copy.
const childEnv = "ROLLBOX_BROWSERTEST_MESHCAT"

// Deadlines. The namespace run takes about 10 s; the build of meshcat is
// quick when the race-instrumented packages are cached (as after this test
// binary was built) and slow on a cold cache.
const (
	buildTimeout = 5 * time.Minute
	childTimeout = 90 * time.Second
)

// TestBrowserInterop runs page.js in Chromium against meshcat -echo: the
// browser first (it offers) and meshcat first (it offers), each with the
// browser sending its description after ICE gathering (matchbox's wasm
// client) and at once (a trickling client).
func TestBrowserInterop(t *testing.T) {
	if meshcat := os.Getenv(childEnv); meshcat != "" {
		runInNamespace(t, meshcat)
		return
	}
	chromium.RequireTools(t)
	meshcat := buildMeshcat(t)
	// The copy runs what -run selects of this test, so that
	// `go test -run 'TestBrowserInterop/meshcat-first'` narrows it too.
	chromium.RunInNamespace(t, childTimeout, flagValue("test.run", "^TestBrowserInterop$"), childEnv+"="+meshcat)
}

// buildMeshcat builds cmd/meshcat into a temporary directory, with the race
// detector if this test has it, so that it reuses the cached packages this
// test binary was built from.
func buildMeshcat(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "meshcat")
	args := []string{"build", "-o", bin}
	if raceEnabled() {
		args = append(args, "-race")
	}
	args = append(args, "github.com/rollbox/rollbox/cmd/meshcat")
	ctx, cancel := context.WithTimeout(t.Context(), buildTimeout)
	defer cancel()
	// go test puts its own toolchain first in PATH.
	if out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput(); err != nil {
		t.Fatalf("go %v: %v\n%s", args, err, out)
	}
	return bin
}

func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// flagValue returns a flag of this test binary, or def when it is unset, so
// that `go test -run 'TestBrowserInterop/meshcat-first'` narrows the child too.
func flagValue(name, def string) string {
	if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
		return f.Value.String()
	}
	return def
}
