//go:build linux

// Package webgametest is what the browser tests of rollbox's web games do
// the same way: in the copy of the test binary that
// chromium.RunInNamespace starts, serve the game's built page from a real
// signalling server as cmd/signalserver does (signalserver/web: a GET of
// /<room> answers the page, which joins that room), open it in Chromium,
// wait for the server to count the joins, and save a screenshot where the
// developer asked for one. What the page does is each game's own test.
package webgametest

import (
	"context"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/rollbox/rollbox/internal/chromium"
	"github.com/rollbox/rollbox/signalserver"
	"github.com/rollbox/rollbox/signalserver/signaltest"
	"github.com/rollbox/rollbox/signalserver/web"
)

// Harness is a game's page served by a real signalling server, and the
// Chromium that opens it.
type Harness struct {
	// Server serves the page and signals for it; its Metrics count the
	// page's joins.
	Server *signaltest.Server
	// Browser is the Chromium that Open opens pages in.
	Browser *chromium.Browser

	width, height int
}

// Start brings lo up (a new network namespace starts with it down), serves
// the page built in dir (index.html and its files) from a signalling
// server on it, and starts Chromium, whose pages Open makes width x height
// CSS pixels. Everything stops when the test ends.
func Start(t testing.TB, dir string, width, height int) *Harness {
	t.Helper()
	if err := chromium.BringLoopbackUp(); err != nil {
		t.Fatalf("bringing lo up: %v", err)
	}
	page, err := web.Handler(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	return &Harness{
		Server:  signaltest.Start(t, signalserver.Config{Web: page}),
		Browser: chromium.StartTest(t, chromium.Options{}),
		width:   width,
		height:  height,
	}
}

// Open opens the page of room, with the query's options, in a window of
// its own; it is closed when the test ends.
func (h *Harness) Open(t testing.TB, ctx context.Context, room string, query url.Values) *chromium.Page {
	t.Helper()
	u := h.Server.HTTP.URL + "/" + url.PathEscape(room) + "?" + query.Encode()
	p, err := h.Browser.NewPage(ctx, u, h.width, h.height)
	if err != nil {
		t.Fatalf("opening %s: %v", u, err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// joinPoll is how often WaitJoins reads the server's count.
const joinPoll = 10 * time.Millisecond

// WaitJoins waits until the server has counted n joins since it started
// (a page or a native peer in a room), and fails t if ctx ends first.
func (h *Harness) WaitJoins(t testing.TB, ctx context.Context, n int64) {
	t.Helper()
	for h.Server.Metrics().Joins.Load() < n {
		select {
		case <-ctx.Done():
			t.Fatalf("%d joins, want %d: %v", h.Server.Metrics().Joins.Load(), n, ctx.Err())
		case <-time.After(joinPoll):
		}
	}
}

// SaveScreenshot writes the PNG shot to the path the environment variable
// env names, if it is set (a relative path is from the test's package
// directory, where go test runs the test), as the games' docs screenshots
// are made.
func SaveScreenshot(t testing.TB, env string, shot []byte) {
	t.Helper()
	path := os.Getenv(env)
	if path == "" {
		return
	}
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot saved to %s", path)
}
