package recordtb_test

import (
	"fmt"
	"testing"

	"github.com/rollbox/rollbox/internal/recordtb"
)

// checkPositive is a test helper under test.
func checkPositive(t testing.TB, n int) {
	t.Helper()
	if n <= 0 {
		t.Fatalf("%d is not positive", n)
	}
	t.Logf("%d is positive", n)
}

// A test checks that a helper fails, and with which message. Here t is nil,
// which serves when the helper calls only what Run records and Helper; a
// test passes its own t.
func Example() {
	var t testing.TB
	fmt.Printf("%+v\n", recordtb.Run(t, func(t testing.TB) { checkPositive(t, 1) }))
	r := recordtb.Run(t, func(t testing.TB) { checkPositive(t, -1) })
	fmt.Println(r.Failed(), r.Fatals)
	// Output:
	// {Logs:[1 is positive] Errors:[] Fatals:[]}
	// true [-1 is not positive]
}
