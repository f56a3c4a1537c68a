//go:build linux && !template

package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rollbox/rollbox/internal/webgametest"
)

const (
	// reloadFrames is the length of the reload test's match: 20 s at 60
	// fps. The reload comes at about frame 200, and the page is back long
	// before the end even on a loaded machine (a match over refuses it).
	reloadFrames = 1200
	// reloadAtFrame is the frame the page reaches before the test reloads
	// it: its record has been written (and refreshed) by then.
	reloadAtFrame = 200
	// reloadMatchTime bounds the whole scenario: the match, the reload and
	// the wait of the peers left behind.
	reloadMatchTime = 2 * time.Minute
)

// TestBrowserReload plays a three-player match where one player is the
// page in Chromium and two are native headless peers, and reloads the page
// mid-match (the same tab, the same URL, as a player's reload button does).
// The reloaded page finds the record its match left in the tab's
// sessionStorage and comes back as the same player, instead of joining a
// new match; all three finish with the same checksum.
func TestBrowserReload(t *testing.T) {
	webgametest.Test{
		ChildEnv: browserChildEnv,
		Tools:    []string{"gzip"}, // for scripts/web.sh
		Build:    buildWebPage,
		Timeout:  browserTimeout,
		Play: func(t *testing.T, dir string) {
			h := browserHarness{webgametest.Start(t, dir, pageWidth, pageHeight)}
			h.reloadMidMatch(t)
		},
	}.Run(t)
}

// recordConsole is a test-only hook injected into the reloaded document
// before its own scripts: it keeps every line the page logs (the game's
// slog lines reach console.log through wasm_exec.js) in window.testConsole
// with the time since the reload's navigation started, for the test to
// read.
const recordConsole = `(() => {
	window.testConsole = [];
	for (const level of ["log", "info", "warn", "error"]) {
		const orig = console[level];
		console[level] = (...args) => {
			window.testConsole.push({ms: performance.now(), line: args.map(String).join(" ")});
			return orig.apply(console, args);
		};
	}
})()`

// backInBrowser is the reloaded page's log line saying it is back in its
// match (Go's default slog handler): its player, and the frames of the
// state it received (from) and of its inputs counting again (at).
var backInBrowser = regexp.MustCompile(`INFO rollbox: back in the match after a restart player=(\d+) from=(\d+) at=(\d+)`)

// playingAs is the page's status once it plays, which names its player.
var playingAs = regexp.MustCompile(`^playing as player (\d+)$`)

// consoleLine is one line recordConsole kept.
type consoleLine struct {
	MS   float64 `json:"ms"`
	Line string  `json:"line"`
}

// reloadMidMatch is TestBrowserReload in the namespace.
func (h *browserHarness) reloadMidMatch(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), reloadMatchTime)
	defer cancel()
	room := "web-reload"
	q := botQuery(1)
	q.Set("players", "3")
	q.Set("frames", fmt.Sprint(reloadFrames))

	joins := h.Server.Metrics().Joins.Load()
	p := h.Open(t, ctx, room, q)
	h.WaitJoins(t, ctx, joins+1)
	type proc struct {
		cmd            *exec.Cmd
		stdout, stderr *bytes.Buffer
	}
	// The native peers keep their own records away from the user's cache.
	env := []string{"XDG_CACHE_HOME=" + t.TempDir()}
	procs := make([]proc, 2)
	for i := range procs {
		cmd, out, errOut := startPeerEnv(t, env, "-server", h.Server.URL(), "-room", room, "-players", "3",
			"-headless", "-loopback", "-seed", fmt.Sprint(i+2), "-frames", fmt.Sprint(reloadFrames))
		procs[i] = proc{cmd, out, errOut}
	}
	runs := make([]peerRun, len(procs))
	var wg sync.WaitGroup
	for i, pr := range procs {
		wg.Go(func() { runs[i] = finish(t, pr.cmd, pr.stdout, pr.stderr) })
	}
	// On a failure, end the native peers now (the goroutines above wait for
	// them, and must be done before the test returns) and log what they
	// said.
	defer func() {
		if t.Failed() {
			for _, pr := range procs {
				_ = pr.cmd.Process.Kill()
			}
			wg.Wait()
			for i, r := range runs {
				t.Logf("native peer %d stdout:\n%sstderr:\n%s", i, r.stdout, r.stderr)
			}
		}
	}()

	waitFor(t, ctx, p, fmt.Sprintf(`rollbox.phase === "playing" && rollbox.frame >= %d`, reloadAtFrame))
	var before struct {
		Frame int    `json:"frame"`
		Text  string `json:"text"`
	}
	if err := p.Evaluate(ctx, `({frame: rollbox.frame, text: rollbox.text})`, &before); err != nil {
		t.Fatal(err)
	}
	player := playingAs.FindStringSubmatch(before.Text)
	if player == nil {
		t.Fatalf("the page's status %q does not say which player it is (want %s)", before.Text, playingAs)
	}
	if err := p.AddScriptOnNewDocument(ctx, recordConsole); err != nil {
		t.Fatal(err)
	}
	reloaded := time.Now()
	if err := p.Reload(ctx); err != nil {
		t.Fatalf("reloading the page: %v", err)
	}

	// Until the page says it is back, or stopped. Bounded: a page that
	// found no record joins a new match of its own and waits there for
	// players who never come, saying neither.
	backCtx, backCancel := context.WithTimeout(ctx, 60*time.Second)
	defer backCancel()
	waitErr := p.Wait(backCtx, `testConsole.some((l) => l.line.includes("back in the match after a restart")) ||
		rollbox.phase === "failed" || rollbox.phase === "finished"`)
	back := time.Since(reloaded)
	var page struct {
		Lines []consoleLine `json:"lines"`
		Phase string        `json:"phase"`
	}
	if err := p.Evaluate(ctx, `({lines: window.testConsole || [], phase: window.rollbox && rollbox.phase})`, &page); err != nil {
		t.Fatal(err)
	}
	lines := page.Lines
	var m []string
	var backMS float64
	for _, l := range lines {
		if m = backInBrowser.FindStringSubmatch(l.Line); m != nil {
			backMS = l.MS
			break
		}
	}
	if m == nil {
		t.Fatalf("the reloaded page did not come back to its match (phase %q, waiting: %v); want a line %s in its log:\n%s",
			page.Phase, waitErr, backInBrowser, consoleText(lines))
	}
	if m[1] != player[1] {
		t.Fatalf("the reloaded page came back as player %s; before the reload it was player %s", m[1], player[1])
	}
	// The page said what it was doing meanwhile (index.html logs each
	// status the game reports).
	if !slices.ContainsFunc(lines, func(l consoleLine) bool { return strings.HasPrefix(l.Line, "rollbox: rejoining: ") }) {
		t.Errorf("the reloaded page never showed the rejoining phase; its log:\n%s", consoleText(lines))
	}
	rep := finishPage(t, ctx, p)
	wg.Wait()
	all := append([]peerRun{{code: exitOK, result: *rep.Result}}, runs...)
	agree(t, all, reloadFrames)
	for i, r := range runs {
		if !strings.Contains(r.stderr, `msg="rollbox: player readmitted" player=`+m[1]+" ") {
			t.Errorf("native peer %d did not readmit player %s; stderr:\n%s", i, m[1], r.stderr)
		}
	}
	t.Logf("page reloaded at frame %d; back in the match as player %s %.0f ms after the reload's navigation started (%v as the test saw it; wasm ready at %.0f ms), state of frame %s, playing from frame %s; all three agree at frame %d: checksum %016x",
		before.Frame, m[1], backMS, back.Round(time.Millisecond), rep.Timings.WasmReady, m[2], m[3], reloadFrames, rep.Result.Checksum)
}

// consoleText is the page's log for a failure message.
func consoleText(lines []consoleLine) string {
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%8.0f ms  %s\n", l.MS, l.Line)
	}
	return b.String()
}
