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

// A game's browser test builds its page, and in the network namespace
// opens it, the page joining the room first, then starts a native peer in
// the room and waits for the match.
func Example() {
	var t *testing.T // the test's
	webgametest.Test{
		ChildEnv: "MYGAME_BROWSER_WEB",
		Build: func(ctx context.Context, dir string) error {
			// ... and the game's index.html into dir
			return webgametest.BuildWasm(ctx, dir, "mygame.wasm", ".", "-trimpath")
		},
		Timeout: 3 * time.Minute,
		Play: func(t *testing.T, dir string) {
			h := webgametest.Start(t, dir, 640, 480)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			p := h.Open(t, ctx, "room1", url.Values{"bot": {""}})
			h.WaitJoins(t, ctx, 1)
			// ... start the native peer with -server h.Server.URL() -room room1 ...
			chromium.WaitFor(t, ctx, p, `game.phase === "playing"`, `game.phase`)
		},
	}.Run(t)
}
