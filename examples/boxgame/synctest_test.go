package main

import (
	"errors"
	"testing"

	"github.com/rollbox/rollbox/examples/boxgame/sim"
	"github.com/rollbox/rollbox/rollback"
)

func TestSyncTestDistance7For2000Frames(t *testing.T) {
	for _, players := range []int{2, 4, 8} {
		m := newMatch(players)
		if err := syncTest(m, players, 7, 2000, 42); err != nil {
			t.Fatalf("%d players: %v", players, err)
		}
		if m.world.Frame != 2000 {
			t.Fatalf("frame %d, want 2000", m.world.Frame)
		}
		// Every frame was loaded back 7 frames and simulated again.
		if m.rollbacks < 1990 || m.longestRollback != 7 {
			t.Fatalf("%d rollbacks, longest %d: the sync test did not roll back", m.rollbacks, m.longestRollback)
		}
	}
}

// TestSyncTestCatchesNonDeterminism: a simulation that depends on something
// outside its state (here a counter of how often it ran) is caught.
func TestSyncTestCatchesNonDeterminism(t *testing.T) {
	m := newMatch(2)
	calls := 0
	m.step = func(w *sim.World, in []sim.Input) {
		calls++
		w.Step(in)
		if calls%97 == 0 {
			w.Boxes[1].VX++ // hidden state leaks into the world
		}
	}
	err := syncTest(m, 2, 7, 2000, 42)
	var mismatch *rollback.MismatchedChecksumError
	if !errors.As(err, &mismatch) || !errors.Is(err, rollback.ErrMismatchedChecksum) {
		t.Fatalf("got %v, want a mismatched checksum error", err)
	}
	if m.world.Frame >= 2000 {
		t.Fatal("the sync test ran to the end")
	}
}
