//go:build linux

package webgametest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rollbox/rollbox/internal/chromium"
)

// BuildTimeout bounds Test's Build: a cold build of a game for js/wasm on
// a loaded machine takes minutes.
const BuildTimeout = 5 * time.Minute

// Test is a browser test of a web page: built by the test, then opened in
// Chromium inside a network namespace where lo is the only interface, so
// that nothing is sent off the machine.
type Test struct {
	// ChildEnv names the environment variable that carries the page's
	// directory to the copy of the test binary in the namespace; it marks
	// that copy.
	ChildEnv string
	// Tools are what the test needs besides chromium and unshare
	// (chromium.RequireTools).
	Tools []string
	// Build puts the page into dir, within BuildTimeout.
	Build func(ctx context.Context, dir string) error
	// Timeout bounds the run in the namespace (chromium.RunInNamespace).
	Timeout time.Duration
	// Play is the test proper, run in the copy with the page's directory.
	Play func(t *testing.T, dir string)
}

// Run is the whole test. In the test it checks the tools, builds the page
// into a temporary directory and runs the test again in the namespace,
// where it calls Play. The copy inherits the environment and the working
// directory, so a variable such as a screenshot's path means the same
// there.
func (wt Test) Run(t *testing.T) {
	t.Helper()
	if dir := os.Getenv(wt.ChildEnv); dir != "" {
		wt.Play(t, dir)
		return
	}
	chromium.RequireTools(t, wt.Tools...)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), BuildTimeout)
	defer cancel()
	start := time.Now()
	if err := wt.Build(ctx, dir); err != nil {
		t.Fatalf("building the page: %v", err)
	}
	t.Logf("page built in %v", time.Since(start).Round(time.Millisecond))
	chromium.RunInNamespace(t, wt.Timeout, "", wt.ChildEnv+"="+dir)
}

// BuildWasm builds the package pkg for js/wasm into dir/wasmName, with the
// go build flags given, and puts the wasm_exec.js of the same toolchain
// next to it: the two must match. go test puts its own toolchain first in
// PATH.
func BuildWasm(ctx context.Context, dir, wasmName, pkg string, flags ...string) error {
	args := append(append([]string{"build"}, flags...), "-o", filepath.Join(dir, wasmName), pkg)
	build := exec.CommandContext(ctx, "go", args...)
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	goroot, err := exec.CommandContext(ctx, "go", "env", "GOROOT").Output()
	if err != nil {
		return fmt.Errorf("go env GOROOT: %w", err)
	}
	wasmExec, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js"))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "wasm_exec.js"), wasmExec, 0o644)
}
