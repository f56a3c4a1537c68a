package wasmdeps_test

import (
	"strings"
	"testing"

	"github.com/rollbox/rollbox/internal/recordtb"
	"github.com/rollbox/rollbox/internal/wasmdeps"
)

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
			r := recordtb.Run(t, func(t testing.TB) { wasmdeps.Check(t, tc.dir) })
			reports, fatal := append(r.Errors, r.Fatals...), len(r.Fatals) > 0
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
		if r := recordtb.Run(t, func(t testing.TB) { wasmdeps.Check(t, dir) }); r.Failed() {
			t.Errorf("%s: %+v", dir, r)
		}
	}
}
