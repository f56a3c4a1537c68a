//go:build linux

package chromium_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rollbox/rollbox/internal/chromium"
	"github.com/rollbox/rollbox/internal/recordtb"
)

// namespaceChildEnv marks the copy of this test binary that
// RunInNamespace starts, and says which way it ends.
const namespaceChildEnv = "ROLLBOX_CHROMIUM_TEST_CHILD"

// RunInNamespace's copy runs in a network namespace with lo alone, which
// BringLoopbackUp makes usable.
func TestRunInNamespace(t *testing.T) {
	if os.Getenv(namespaceChildEnv) == "pass" {
		ifaces, err := net.Interfaces()
		if err != nil {
			t.Fatal(err)
		}
		if len(ifaces) != 1 || ifaces[0].Name != "lo" {
			t.Fatalf("interfaces %v, want lo alone", ifaces)
		}
		if err := chromium.BringLoopbackUp(); err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listening on lo once it is up: %v", err)
		}
		ln.Close()
		fmt.Println("the copy passed in its namespace")
		return
	}
	chromium.RequireTools(t)
	r := recordtb.Run(t, func(t testing.TB) {
		chromium.RunInNamespace(t, 2*time.Minute, "", namespaceChildEnv+"=pass")
	})
	if r.Failed() {
		t.Fatalf("RunInNamespace failed: %s\n%s", r.Fatals, r.Logs)
	}
	if logs := strings.Join(r.Logs, "\n"); !strings.Contains(logs, "the copy passed in its namespace") {
		t.Fatalf("the copy's output is not logged, or it ran no test:\n%s", logs)
	}
}

// A copy that fails fails the test, and its output says why.
func TestRunInNamespaceFails(t *testing.T) {
	if os.Getenv(namespaceChildEnv) == "fail" {
		t.Fatal("the copy fails on purpose")
	}
	chromium.RequireTools(t)
	r := recordtb.Run(t, func(t testing.TB) {
		chromium.RunInNamespace(t, 2*time.Minute, "", namespaceChildEnv+"=fail")
	})
	if len(r.Fatals) != 1 || !strings.Contains(r.Fatals[0], "TestRunInNamespaceFails failed in its network namespace") {
		t.Fatalf("fatal %q, want one naming the test", r.Fatals)
	}
	if logs := strings.Join(r.Logs, "\n"); !strings.Contains(logs, "the copy fails on purpose") {
		t.Fatalf("the copy's output is not logged:\n%s", logs)
	}
}

// Wait polls until the condition holds; an exception counts as false, not
// as a failure. WaitFor fails the test with the page's state when the
// condition never holds.
func TestWait(t *testing.T) {
	b := chromium.StartTest(t, chromium.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	// game.ready throws until the game exists, 300 ms after the load.
	page, err := b.NewPage(ctx, `data:text/html,<title>boxes</title><script>setTimeout(() => { window.game = {ready: true}; }, 300)</script>`, 320, 240)
	if err != nil {
		t.Fatal(err)
	}
	if err := page.Wait(ctx, `game.ready === true`); err != nil {
		t.Fatal(err)
	}
	chromium.WaitFor(t, ctx, page, `game.ready`, `document.title`)

	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancelShort()
	r := recordtb.Run(t, func(t testing.TB) {
		chromium.WaitFor(t, short, page, `game.over === true`, `({title: document.title, ready: game.ready})`)
	})
	if len(r.Fatals) != 1 || !strings.Contains(r.Fatals[0], "waiting for game.over === true") ||
		!strings.Contains(r.Fatals[0], "map[ready:true title:boxes]") {
		t.Fatalf("fatal %q, want one with the condition and the page's state", r.Fatals)
	}
}
