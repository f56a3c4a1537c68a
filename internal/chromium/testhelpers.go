//go:build linux

package chromium

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"
)

// What a test needs from this package, besides Chromium, and what tests
// do the same way around it: a browser test re-runs its own binary in a
// network namespace (RunInNamespace), starts Chromium there (StartTest)
// and waits for the page (WaitFor).

// RequireTools fails t unless chromium and unshare, which every browser
// test needs, and the tools named in more are on PATH. A missing tool is a
// failure, not a skip: make deps installs them (APT_PACKAGES).
func RequireTools(t testing.TB, more ...string) {
	t.Helper()
	for _, tool := range append([]string{"chromium", "unshare"}, more...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing (make deps installs it from APT_PACKAGES): %v", tool, err)
		}
	}
}

// namespaceMargin is what the copy's own -test.timeout leaves of the
// parent's, so that the copy reports its own timeout (with the stacks of
// its goroutines) before the parent kills it.
const namespaceMargin = 5 * time.Second

// RunInNamespace runs this test binary again, in a network namespace where
// lo is the only interface (LoopbackOnlyCommand; the copy brings lo up
// with BringLoopbackUp), with env ("KEY=value") added to its environment,
// for at most timeout. The copy runs the tests that the -test.run pattern
// run selects, t's own test alone when run is empty; env must tell the
// copy that it is the copy, so that the test does the work there instead
// of running itself again. The copy's output is logged, and t fails
// unless it passes.
func RunInNamespace(t testing.TB, timeout time.Duration, run string, env ...string) {
	t.Helper()
	if run == "" {
		run = "^" + regexp.QuoteMeta(t.Name()) + "$"
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := LoopbackOnlyCommand(ctx, self, "-test.run="+run, "-test.v", "-test.count=1",
		"-test.timeout="+(timeout-namespaceMargin).String())
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	t.Logf("in a network namespace: %s\n%s", cmd, out)
	if err != nil {
		t.Fatalf("%s failed in its network namespace (output above): %v", t.Name(), err)
	}
}

// chromiumLogTail is how much of Chromium's output a failed test logs.
const chromiumLogTail = 20000

// StartTest starts Chromium for t (Start; Dir defaults to a temporary
// directory of t's) and kills it, with all of its processes, when the test
// ends; a failed test logs the end of Chromium's output.
func StartTest(t testing.TB, o Options) *Browser {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	b, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("chromium output (without D-Bus complaints):\n%s", b.Log(chromiumLogTail))
		}
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}

// pollInterval is how often Wait evaluates its condition in the page.
const pollInterval = 20 * time.Millisecond

// Wait waits until the JavaScript condition cond is true in the page. An
// exception (an object of the page's that is not defined yet, while it
// loads) counts as false. The condition is polled in the page, so that one
// DevTools call waits.
func (p *Page) Wait(ctx context.Context, cond string) error {
	expr := fmt.Sprintf(`new Promise((resolve) => {
		const check = () => {
			let ok = false;
			try { ok = (%s); } catch (e) {}
			ok ? resolve(true) : setTimeout(check, %d);
		};
		check();
	})`, cond, pollInterval.Milliseconds())
	return p.Evaluate(ctx, expr, nil)
}

// stateTimeout bounds the evaluation of the page's state once a wait has
// failed, when the test's context may be done already.
const stateTimeout = 5 * time.Second

// WaitFor waits until cond is true in the page (Page.Wait) and otherwise
// fails t, with the value of the JavaScript expression state (the game's
// phase and status, say) to show where the page stood.
func WaitFor(t testing.TB, ctx context.Context, p *Page, cond, state string) {
	t.Helper()
	if err := p.Wait(ctx, cond); err != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stateTimeout)
		defer cancel()
		var got any
		if err := p.Evaluate(ctx, state, &got); err != nil {
			got = err
		}
		t.Fatalf("waiting for %s: %v (page: %v)", cond, err, got)
	}
}
