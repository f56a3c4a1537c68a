//go:build linux

package webgametest_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rollbox/rollbox/internal/chromium"
	"github.com/rollbox/rollbox/internal/webgametest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// childEnv marks the copy of this test binary that runs in the network
// namespace.
const childEnv = "ROLLBOX_WEBGAMETEST_CHILD"

// recorder keeps what a helper reports instead of failing the test, and
// ends the helper's goroutine on Fatal as a real test would.
type recorder struct {
	testing.TB
	mu    sync.Mutex
	fatal []string
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatal = append(r.fatal, fmt.Sprintf(format, args...))
	r.mu.Unlock()
	runtime.Goexit()
}

func record(t *testing.T, f func(testing.TB)) []string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.fatal
}

// The page in dir is served at /<room>, opens at the harness's size with
// the query, and its join is counted; WaitJoins fails when the joins do not
// come.
func TestHarness(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		chromium.RequireTools(t)
		chromium.RunInNamespace(t, 2*time.Minute, "", childEnv+"=1")
		return
	}
	h := webgametest.Start(t, "testdata/page", 320, 240)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	p := h.Open(t, ctx, "a room", url.Values{"seed": {"1"}})
	chromium.WaitFor(t, ctx, p, `page.open`, `({page: window.page, title: document.title})`)
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
	fatal := record(t, func(t testing.TB) { h.WaitJoins(t, short, 2) })
	if len(fatal) != 1 || !strings.Contains(fatal[0], "1 joins, want 2") {
		t.Errorf("WaitJoins for a join that does not come: %q, want it to fail", fatal)
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
