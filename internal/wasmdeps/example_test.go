package wasmdeps_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/rollbox/rollbox/internal/wasmdeps"
)

// printer stands for a test's *testing.T here: it prints what Check
// reports. Check calls no other method of it.
type printer struct{ testing.TB }

func (printer) Helper()                           {}
func (printer) Context() context.Context          { return context.Background() }
func (printer) Errorf(format string, args ...any) { fmt.Printf(format+"\n", args...) }

// A web game's test checks its package (".") in a file built for every
// platform but js: go list does the js/wasm build's resolution. Here a
// package that imports net/http, which the browser's fetch replaces.
func Example() {
	var t testing.TB = printer{}
	wasmdeps.Check(t, "testdata/direct")
	// Output:
	// the js/wasm build of testdata/direct links a network stack the browser provides:
	// github.com/rollbox/rollbox/internal/wasmdeps/testdata/direct imports net/http
}
