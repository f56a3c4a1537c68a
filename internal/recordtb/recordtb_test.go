package recordtb_test

import (
	"slices"
	"testing"

	"github.com/rollbox/rollbox/internal/recordtb"
)

func TestRun(t *testing.T) {
	reached := false
	r := recordtb.Run(t, func(t testing.TB) {
		t.Helper()
		t.Log("a", 1)
		t.Logf("b %d", 2)
		t.Error("c", 3)
		t.Errorf("d %d", 4)
		if !t.Failed() {
			t.Errorf("not failed after Error")
		}
		if t.Name() != "TestRun" {
			t.Errorf("name %q", t.Name())
		}
		t.Fatalf("e %d", 5)
		reached = true
	})
	if reached {
		t.Error("Fatalf did not end the helper")
	}
	if !slices.Equal(r.Logs, []string{"a 1", "b 2"}) || !slices.Equal(r.Errors, []string{"c 3", "d 4"}) ||
		!slices.Equal(r.Fatals, []string{"e 5"}) || !r.Failed() {
		t.Errorf("report %+v", r)
	}
	if r := recordtb.Run(t, func(t testing.TB) { t.Log("fine") }); r.Failed() {
		t.Errorf("a helper that only logs failed: %+v", r)
	}
	r = recordtb.Run(t, func(t testing.TB) { t.Fatal("f") })
	if !slices.Equal(r.Fatals, []string{"f"}) || !r.Failed() {
		t.Errorf("report %+v", r)
	}
}
