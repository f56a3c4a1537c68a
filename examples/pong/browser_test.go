//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rollbox/rollbox/internal/chromium"
	"github.com/rollbox/rollbox/internal/webgametest"
)

// The browser test plays Pong in headless Chromium, the page loaded from
// the signalling server as a player would (GET /<room>), against a native
// headless peer. Tests must not send off the machine, so TestBrowser
// re-runs this test binary in a network namespace where lo is the only
// interface (see internal/chromium).

// browserChildEnv holds the directory of the built page in the copy of the
// test binary that runs inside the namespace; its presence marks that copy.
const browserChildEnv = "PONG_BROWSER_WEB"

// webScreenshotEnv, when set to a path, makes TestBrowser save its
// mid-game screenshot there.
const webScreenshotEnv = "PONG_WEB_SCREENSHOT"

const (
	browserTimeout = 3 * time.Minute // the whole namespace run, about 20 s
	browserMatch   = 90 * time.Second
)

// TestBrowser builds the page as make pong-web does (pong.wasm, Go's
// wasm_exec.js, index.html) and plays a 600-frame match between the page
// (a bot, drawing in its canvas) and a native headless peer: both must
// finish with the same checksum, and a screenshot mid-game must show both
// paddles.
func TestBrowser(t *testing.T) {
	webgametest.Test{ChildEnv: browserChildEnv, Build: buildPage, Timeout: browserTimeout, Play: playInBrowser}.Run(t)
}

// buildPage puts the web page into dir as make pong-web does.
func buildPage(ctx context.Context, dir string) error {
	if err := webgametest.BuildWasm(ctx, dir, "pong.wasm", ".", "-trimpath", "-ldflags=-s -w"); err != nil {
		return err
	}
	index, err := os.ReadFile(filepath.Join("web", "index.html"))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "index.html"), index, 0o644)
}

// playInBrowser is the test proper, in the namespace.
func playInBrowser(t *testing.T, dir string) {
	h := webgametest.Start(t, dir, Width, Height)
	ctx, cancel := context.WithTimeout(t.Context(), browserMatch)
	defer cancel()

	// The page joins first, so it makes the WebRTC offer.
	room := "pong-browser"
	p := h.Open(t, ctx, room, url.Values{"players": {"2"}, "bot": {""}, "loopback": {""}, "frames": {"600"}, "seed": {"1"}})
	h.WaitJoins(t, ctx, 1)
	native := startPeer(t, "-server", h.Server.URL(), "-room", room, "-players", "2", "-headless", "-loopback",
		"-seed", "2", "-frames", "600")
	chromium.WaitFor(t, ctx, p, `pong.phase === "playing"`, pageState)
	time.Sleep(2 * time.Second) // mid-game: about frame 120 of 600
	checkScreenshot(t, ctx, p)

	native.wait(t)
	var rep struct {
		Result *string `json:"result"`
		Error  *string `json:"error"`
	}
	if err := p.Evaluate(ctx, `pong.done`, &rep); err != nil {
		t.Fatalf("waiting for the page's result: %v", err)
	}
	if rep.Error != nil {
		t.Fatalf("the page failed: %s", *rep.Error)
	}
	if rep.Result == nil {
		t.Fatal("the page finished without a result")
	}
	page1 := &peerRun{code: exitOK}
	if err := json.Unmarshal([]byte(*rep.Result), &page1.result); err != nil {
		t.Fatalf("the page's result %q: %v", *rep.Result, err)
	}
	agree(t, []*peerRun{page1, native}, 600)
	t.Logf("page and native peer agree at frame 600: checksum %x", page1.result.Checksum)
}

// pageState is what a failed wait shows of the page.
const pageState = `({phase: pong.phase, text: pong.text, error: pong.error})`

// checkScreenshot checks that the page draws the court with both players'
// paddles (and their scores) in their colours, at the court's size.
func checkScreenshot(t *testing.T, ctx context.Context, p *chromium.Page) {
	t.Helper()
	shot, err := p.Screenshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != Width || b.Dy() != Height {
		t.Errorf("screenshot is %dx%d, want %dx%d", b.Dx(), b.Dy(), Width, Height)
	}
	// A paddle is 8x64 pixels; a score at least two bars of 20x4.
	const enough = PaddleWidth*PaddleLength + 100
	for i := range 2 {
		n := countColour(img, playerColours[i])
		if n < enough {
			t.Errorf("player %d's colour covers %d pixels, want at least %d (a paddle and a score)", i, n, enough)
		}
		t.Logf("player %d's colour covers %d pixels", i, n)
	}
	if n := countColour(img, courtColour); n < Width*Height/2 {
		t.Errorf("the court's colour covers %d pixels, want most of the page", n)
	}
	webgametest.SaveScreenshot(t, webScreenshotEnv, shot)
}

// countColour counts the pixels of img within a few levels of c.
func countColour(img image.Image, c color.RGBA) int {
	near := func(a uint32, b uint8) bool { d := int(a>>8) - int(b); return d > -8 && d < 8 }
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(r, c.R) && near(g, c.G) && near(bl, c.B) {
				n++
			}
		}
	}
	return n
}
