package redistest_test

import (
	"testing"

	"github.com/rollbox/rollbox/internal/redistest"
)

// A test gets its own redis-server and stops it to see how the code under
// test copes with Redis going away.
func Example() {
	var t testing.TB // the test's *testing.T
	rs := redistest.Start(t)
	_ = rs.URL() // redis://127.0.0.1:<port>/0, for the code under test
	rs.Stop()
	rs.Start()
}
