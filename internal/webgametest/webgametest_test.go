//go:build linux

package webgametest_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rollbox/rollbox/internal/chromium"
	"github.com/rollbox/rollbox/internal/recordtb"
	"github.com/rollbox/rollbox/internal/webgametest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// childEnv marks the copy of this test binary that runs in the network
// namespace.
const childEnv = "ROLLBOX_WEBGAMETEST_CHILD"

// The page, built by BuildWasm with an index.html, is served at /<room>,
// opens at the harness's size with the query, its wasm runs and its join
// is counted; WaitJoins fails when the joins do not come.
func TestHarness(t *testing.T) {
	webgametest.Test{
		ChildEnv: childEnv,
		Build: func(ctx context.Context, dir string) error {
			if err := webgametest.BuildWasm(ctx, dir, "page.wasm", "./testdata/wasm", "-trimpath"); err != nil {
				return err
			}
			index, err := os.ReadFile("testdata/page/index.html")
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, "index.html"), index, 0o644)
		},
		Timeout: 2 * time.Minute,
		Play:    playHarness,
	}.Run(t)
}

// playHarness is TestHarness proper, in the namespace.
func playHarness(t *testing.T, dir string) {
	h := webgametest.Start(t, dir, 320, 240)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	p := h.Open(t, ctx, "a room", url.Values{"seed": {"1"}})
	chromium.WaitFor(t, ctx, p, `page.open && window.wasmRan`, `({page: window.page, title: document.title})`)
	h.WaitJoins(t, ctx, 1)
	var got struct {
		Title, Path, Search string
		Width, Height       int
	}
	if err := p.Evaluate(ctx, `({title: document.title, path: location.pathname, search: location.search, width: innerWidth, height: innerHeight})`, &got); err != nil {
		t.Fatal(err)
	}
	if got.Title != "webgametest" || got.Path != "/a%20room" || got.Search != "?seed=1" || got.Width != 320 || got.Height != 240 {
		t.Errorf("page %+v, want testdata/page's at /a%%20room?seed=1, 320x240", got)
	}

	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancelShort()
	fatal := recordtb.Run(t, func(t testing.TB) { h.WaitJoins(t, short, 2) }).Fatals
	if len(fatal) != 1 || !strings.Contains(fatal[0], "1 joins, want 2") {
		t.Errorf("WaitJoins for a join that does not come: %q, want it to fail", fatal)
	}
}

// BuildWasm names what it could not build.
func TestBuildWasmFails(t *testing.T) {
	err := webgametest.BuildWasm(t.Context(), t.TempDir(), "x.wasm", "./testdata/missing")
	if err == nil || !strings.Contains(err.Error(), "testdata/missing") {
		t.Fatalf("error %v, want one naming the package", err)
	}
}

// SaveScreenshot writes where the variable says, and nothing without it.
func TestSaveScreenshot(t *testing.T) {
	const env = "ROLLBOX_WEBGAMETEST_SHOT"
	path := filepath.Join(t.TempDir(), "shot.png")
	t.Setenv(env, "")
	webgametest.SaveScreenshot(t, env, []byte("png"))
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("saved without the variable: %v", err)
	}
	t.Setenv(env, path)
	webgametest.SaveScreenshot(t, env, []byte("png"))
	if b, err := os.ReadFile(path); err != nil || string(b) != "png" {
		t.Fatalf("read %q, %v; want the shot", b, err)
	}
}
