//go:build linux && !template

package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/examples/boxgame/sim"
	"github.com/rollbox/rollbox/internal/chromium"
	"github.com/rollbox/rollbox/internal/webgametest"
)

// The browser tests play the box game in headless Chromium, loaded from the
// signalling server as a player would (GET /<room>), against a native
// headless peer and against another page. Tests must not send off the
// machine, so TestBrowser re-runs this test binary in a network namespace
// where lo is the only interface (see internal/chromium).

// browserChildEnv holds the directory of the built page (scripts/web.sh) in
// the copy of the test binary that runs inside the namespace; its presence
// marks that copy.
const browserChildEnv = "BOXGAME_BROWSER_WEB"

// webScreenshotEnv, when set to a path, makes TestBrowser save its mid-game
// screenshot there (how docs/boxgame-web.png is made).
const webScreenshotEnv = "BOXGAME_WEB_SCREENSHOT"

const (
	browserTimeout   = 3 * time.Minute // the whole namespace run, about 45 s
	browserMatchTime = 60 * time.Second
	// The page is 640x480, the arena at one pixel per unit, as the native
	// window and its screenshot.
	pageWidth, pageHeight = sim.Width / sim.One, sim.Height / sim.One
)

// TestBrowser builds the web page and plays three 600-frame matches in
// Chromium: page against native peer with either joining first, and page
// against page, where one is played through the keyboard after a click.
func TestBrowser(t *testing.T) {
	webgametest.Test{
		ChildEnv: browserChildEnv,
		Tools:    []string{"ip", "gzip"}, // for AddPrivateLink, for scripts/web.sh
		Build:    buildWebPage,
		Timeout:  browserTimeout,
		Play:     runBrowserTests,
	}.Run(t)
}

// buildWebPage builds the page into dir with the script make web runs, so
// that the page under test is built from the sources under test. go test
// puts its own toolchain first in PATH.
func buildWebPage(ctx context.Context, dir string) error {
	out, err := exec.CommandContext(ctx, filepath.Join("..", "..", "scripts", "web.sh"), dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("scripts/web.sh: %v\n%s", err, out)
	}
	return nil
}

// browserHarness is what the browser scenarios share: the page served by
// a signalling server, and Chromium.
type browserHarness struct{ *webgametest.Harness }

// runBrowserTests is the test proper, in the namespace.
func runBrowserTests(t *testing.T, dir string) {
	h := browserHarness{webgametest.Start(t, dir, pageWidth, pageHeight)}
	t.Run("page-first", func(t *testing.T) { h.againstNative(t, true) })
	t.Run("native-first", func(t *testing.T) { h.againstNative(t, false) })
	// Two pages need an address that is not loopback (see AddPrivateLink);
	// the page and the native peer above played with lo alone.
	if err := chromium.AddPrivateLink(); err != nil {
		t.Fatalf("two pages need a non-loopback interface: %v", err)
	}
	t.Run("two-pages", h.twoPages)
}

// pageReport is what the page's rollbox.done promise resolves to.
type pageReport struct {
	Result  *rollbox.Result `json:"result"`
	Error   *string         `json:"error"`
	Timings struct {
		WasmReady       float64 `json:"wasmReady"`
		FirstFrame      float64 `json:"firstFrame"`
		FirstMatchFrame float64 `json:"firstMatchFrame"`
	} `json:"timings"`
}

// waitFor waits until the JavaScript condition holds in the page, and
// otherwise fails t with the game's phase and status.
func waitFor(t *testing.T, ctx context.Context, p *chromium.Page, cond string) {
	t.Helper()
	chromium.WaitFor(t, ctx, p, cond, `({phase: rollbox.phase, text: rollbox.text, error: rollbox.error})`)
}

// finishPage waits for the page's result.
func finishPage(t *testing.T, ctx context.Context, p *chromium.Page) pageReport {
	t.Helper()
	waitFor(t, ctx, p, `window.rollbox`)
	var rep pageReport
	if err := p.Evaluate(ctx, `rollbox.done`, &rep); err != nil {
		t.Fatalf("waiting for the page's result: %v", err)
	}
	if rep.Error != nil {
		t.Fatalf("the page failed: %s", *rep.Error)
	}
	if rep.Result == nil {
		t.Fatal("the page finished without a result")
	}
	return rep
}

func botQuery(seed int) url.Values {
	return url.Values{"players": {"2"}, "bot": {"1"}, "loopback": {""}, "frames": {"600"}, "seed": {fmt.Sprint(seed)}}
}

// againstNative plays the page (a bot) against a native headless boxgame,
// the page joining first (it makes the offer: the peer already in a room
// offers to the newcomer) or second (it answers), and checks that both
// agree at frame 600. The page-first match also checks a
// screenshot taken mid-game.
func (h *browserHarness) againstNative(t *testing.T, pageFirst bool) {
	ctx, cancel := context.WithTimeout(t.Context(), browserMatchTime)
	defer cancel()
	room := "web-" + strings.ReplaceAll(t.Name(), "/", "-")
	joins := h.Server.Metrics().Joins.Load()
	startNative := func() (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
		return startPeer(t, "-server", h.Server.URL(), "-room", room, "-players", "2",
			"-headless", "-loopback", "-seed", "2", "-frames", "600")
	}
	var cmd *exec.Cmd
	var stdout, stderr *bytes.Buffer
	if !pageFirst {
		cmd, stdout, stderr = startNative()
		h.WaitJoins(t, ctx, joins+1)
	}
	loaded := time.Now()
	p := h.Open(t, ctx, room, botQuery(1))
	if pageFirst {
		h.WaitJoins(t, ctx, joins+1)
		cmd, stdout, stderr = startNative()
	}
	waitFor(t, ctx, p, `rollbox.phase === "playing"`)
	playing := time.Since(loaded)
	if pageFirst {
		// Mid-game: about frame 120 of 600.
		time.Sleep(2 * time.Second)
		checkScreenshot(t, ctx, p)
	}
	native := finish(t, cmd, stdout, stderr)
	rep := finishPage(t, ctx, p)
	agree(t, []peerRun{{code: exitOK, result: *rep.Result}, native}, 600)
	t.Logf("page and native peer agree at frame 600: checksum %016x; page: wasm ready %.0f ms, first frame %.0f ms, first match frame %.0f ms after navigation; playing %v after opening the page",
		rep.Result.Checksum, rep.Timings.WasmReady, rep.Timings.FirstFrame, rep.Timings.FirstMatchFrame, playing.Round(time.Millisecond))
}

// twoPages plays a page against a page. The second is played through the
// keyboard: after the game has lost the focus, one click on the page (on
// the status line, not the canvas) must give it back, so that holding D
// moves the player right.
func (h *browserHarness) twoPages(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), browserMatchTime)
	defer cancel()
	room := "web-two-pages"
	bot := h.Open(t, ctx, room, botQuery(1))
	q := botQuery(0)
	q.Del("bot")
	q.Del("seed")
	human := h.Open(t, ctx, room, q)
	waitFor(t, ctx, human, `rollbox.phase === "playing"`)
	waitFor(t, ctx, human, `(document.activeElement.blur(), document.activeElement.tagName !== "CANVAS")`)
	if err := human.Click(ctx, pageWidth/2, pageHeight-8); err != nil {
		t.Fatal(err)
	}
	if err := human.Key(ctx, true, "d", "KeyD", 68); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, human, fmt.Sprintf(`rollbox.input === %d`, sim.Right))
	if err := human.Key(ctx, false, "d", "KeyD", 68); err != nil {
		t.Fatal(err)
	}
	a, b := finishPage(t, ctx, bot), finishPage(t, ctx, human)
	agree(t, []peerRun{{code: exitOK, result: *a.Result}, {code: exitOK, result: *b.Result}}, 600)
	t.Logf("two pages agree at frame 600: checksum %016x", a.Result.Checksum)
}

// checkScreenshot takes a screenshot of the page and checks that it shows
// both players' boxes; it saves it where webScreenshotEnv says.
func checkScreenshot(t *testing.T, ctx context.Context, p *chromium.Page) {
	t.Helper()
	var shot []byte
	var img image.Image
	var got []color.RGBA
	// The boxes may overlap at one moment, as in the native window test:
	// try a few frames.
	for range 20 {
		var err error
		if shot, err = p.Screenshot(ctx); err != nil {
			t.Fatal(err)
		}
		if img, err = png.Decode(bytes.NewReader(shot)); err != nil {
			t.Fatal(err)
		}
		rgba := image.NewRGBA(img.Bounds())
		draw.Draw(rgba, rgba.Bounds(), img, img.Bounds().Min, draw.Src)
		if got = boxColours(rgba); len(got) == 2 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(got) != 2 {
		t.Errorf("the screenshot shows %d box colours %v, want 2", len(got), got)
	}
	if b := img.Bounds(); b.Dx() != pageWidth || b.Dy() != pageHeight {
		t.Errorf("screenshot is %dx%d, want %dx%d", b.Dx(), b.Dy(), pageWidth, pageHeight)
	}
	webgametest.SaveScreenshot(t, webScreenshotEnv, shot)
}
