package wasmdeps_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/rollbox/rollbox/internal/wasmdeps"
)

// recorder is the testing.TB Check gets in these tests: it keeps what
// Check reports instead of failing the test, and ends Check's goroutine on
// Fatal as a real test would.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
	fatal  bool
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatal(args ...any) {
	r.mu.Lock()
	r.errors = append(r.errors, fmt.Sprint(args...))
	r.fatal = true
	r.mu.Unlock()
	runtime.Goexit()
}

// check runs Check on pkgDir and returns what it reported.
func check(t *testing.T, pkgDir string) (reports []string, fatal bool) {
	t.Helper()
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		wasmdeps.Check(r, pkgDir)
	}()
	<-done
	return r.errors, r.fatal
}

func TestCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		dir   string
		want  string // in the report; empty: no report
		fatal bool
	}{
		{dir: "testdata/clean"},
		// The importer is named, and the packages net/http brings in are not.
		{dir: "testdata/direct", want: "the js/wasm build of testdata/direct links a network stack the browser provides:\ngithub.com/rollbox/rollbox/internal/wasmdeps/testdata/direct imports net/http"},
		// The dependency that brings it in is named, not the package.
		{dir: "testdata/indirect", want: "\ngithub.com/rollbox/rollbox/internal/wasmdeps/testdata/indirect/lib imports crypto/tls"},
		// No package is no pass.
		{dir: "testdata/empty", want: "no Go files", fatal: true},
		{dir: "testdata/missing", want: "testdata/missing", fatal: true},
	} {
		t.Run(strings.TrimPrefix(tc.dir, "testdata/"), func(t *testing.T) {
			t.Parallel()
			reports, fatal := check(t, tc.dir)
			if fatal != tc.fatal {
				t.Errorf("fatal %v, want %v", fatal, tc.fatal)
			}
			switch {
			case tc.want == "" && len(reports) > 0:
				t.Errorf("reported %q, want nothing", reports)
			case tc.want != "" && len(reports) != 1:
				t.Errorf("reported %q, want one report with %q", reports, tc.want)
			case tc.want != "" && !strings.Contains(reports[0], tc.want):
				t.Errorf("reported %q, want %q in it", reports[0], tc.want)
			}
			if len(reports) == 1 && strings.Contains(reports[0], " imports ") && strings.Count(reports[0], " imports ") != 1 {
				t.Errorf("reported more than the one import:\n%s", reports[0])
			}
		})
	}
}

// The game's own tests pass: they are what Check is for.
func TestCheckExamples(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"../../examples/boxgame", "../../examples/pong"} {
		if reports, _ := check(t, dir); len(reports) > 0 {
			t.Errorf("%s: %q", dir, reports)
		}
	}
}
