//go:build linux

package webgametest_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/rollbox/rollbox/internal/chromium"
	"github.com/rollbox/rollbox/internal/webgametest"
)

// A game's browser test, in the copy that chromium.RunInNamespace started:
// the page joins the room first, then the test starts a native peer in it.
func Example() {
	var t testing.TB // the test's *testing.T, in the namespace
	h := webgametest.Start(t, "/tmp/built-page", 640, 480)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	p := h.Open(t, ctx, "room1", url.Values{"bot": {""}})
	h.WaitJoins(t, ctx, 1)
	// ... start the native peer with -server h.Server.URL() -room room1 ...
	chromium.WaitFor(t, ctx, p, `game.phase === "playing"`, `game.phase`)
}
