package rollback

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func newSyncTest(t *testing.T, checkDistance, delay int) *SyncTestSession[stubState, uint32] {
	t.Helper()
	cfg := DefaultConfig[uint32, string](UintCodec[uint32]{})
	cfg.CheckDistance = checkDistance
	cfg.InputDelay = delay
	s, err := NewSyncTestSession[stubState](cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSyncTestRequestSequences(t *testing.T) {
	S, L, A := SaveState, LoadState, AdvanceFrame
	for _, tc := range []struct {
		distance int
		early    []RequestKind // until frame > distance
		steady   []RequestKind
	}{
		{0, []RequestKind{A}, []RequestKind{A}},
		{1, []RequestKind{S, A}, []RequestKind{L, A, S, A}},
		{2, []RequestKind{S, A}, []RequestKind{L, A, S, A, S, A}},
		{5, []RequestKind{S, A}, []RequestKind{L, A, S, A, S, A, S, A, S, A, S, A}},
	} {
		s := newSyncTest(t, tc.distance, 0)
		g := newStubGame()
		for i := range 200 {
			for h := range 2 {
				if err := s.AddLocalInput(PlayerHandle(h), uint32(i*(h+1))); err != nil {
					t.Fatal(err)
				}
			}
			reqs, err := s.AdvanceFrame()
			if err != nil {
				t.Fatalf("distance %d frame %d: %v", tc.distance, i, err)
			}
			want := tc.steady
			if i <= tc.distance {
				want = tc.early
			}
			if got := kinds(reqs); !slices.Equal(got, want) {
				t.Fatalf("distance %d frame %d: requests %v, want %v", tc.distance, i, got, want)
			}
			if tc.distance > 0 && i > tc.distance {
				if reqs[0].Frame != Frame(i-tc.distance) {
					t.Fatalf("distance %d frame %d: loads frame %d", tc.distance, i, reqs[0].Frame)
				}
			}
			if err := g.handle(reqs); err != nil {
				t.Fatal(err)
			}
			if g.gs.Frame != int32(i+1) {
				t.Fatalf("game at frame %d after %d advances", g.gs.Frame, i+1)
			}
		}
	}
}

// The resimulated game reaches the same state as a straight run.
func TestSyncTestMatchesStraightRun(t *testing.T) {
	s := newSyncTest(t, 7, 2)
	g := newStubGame()
	straight := newStubGame()
	var delayed [][]uint32
	for i := range 300 {
		in := []uint32{uint32(i % 7), uint32(i % 3)}
		for h, v := range in {
			if err := s.AddLocalInput(PlayerHandle(h), v); err != nil {
				t.Fatal(err)
			}
		}
		reqs, err := s.AdvanceFrame()
		if err != nil {
			t.Fatal(err)
		}
		if err := g.handle(reqs); err != nil {
			t.Fatal(err)
		}
		// With delay 2 the first two frames get zero input.
		delayed = append(delayed, in)
		var applied []PlayerInput[uint32]
		if i >= 2 {
			for _, v := range delayed[i-2] {
				applied = append(applied, PlayerInput[uint32]{Input: v, Status: Confirmed})
			}
		} else {
			applied = []PlayerInput[uint32]{{Status: Confirmed}, {Status: Confirmed}}
		}
		straight.advance(applied)
	}
	if g.gs != straight.gs {
		t.Fatalf("sync test state %+v, straight run %+v", g.gs, straight.gs)
	}
}

func TestSyncTestMismatchError(t *testing.T) {
	s := newSyncTest(t, 2, 2)
	g := newStubGame()
	g.corrupt = randomCorruption(1)
	var mErr *MismatchedChecksumError
	for i := range 200 {
		_ = s.AddLocalInput(0, uint32(i))
		_ = s.AddLocalInput(1, uint32(i))
		reqs, err := s.AdvanceFrame()
		if err != nil {
			if !errors.As(err, &mErr) || !errors.Is(err, ErrMismatchedChecksum) {
				t.Fatalf("error %v, want a MismatchedChecksumError", err)
			}
			break
		}
		if err := g.handle(reqs); err != nil {
			t.Fatal(err)
		}
	}
	if mErr == nil {
		t.Fatal("a non-deterministic game passed the sync test")
	}
	// At frame 3 the first checks record frames 1 and 2 and the rollback
	// resaves frame 2; at frame 4 its new checksum differs.
	if mErr.CurrentFrame != 4 || !slices.Equal(mErr.Frames, []Frame{2}) {
		t.Fatalf("mismatch at current frame %d, frames %v; want 4, [2]", mErr.CurrentFrame, mErr.Frames)
	}
	if want := "rollback: mismatched checksum at current frame 4: frames 2"; mErr.Error() != want {
		t.Fatalf("error text %q, want %q", mErr.Error(), want)
	}
}

func TestSyncTestMissingInput(t *testing.T) {
	s := newSyncTest(t, 2, 0)
	_ = s.AddLocalInput(0, 1)
	if _, err := s.AdvanceFrame(); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("AdvanceFrame without input of player 1: %v, want ErrInvalidRequest", err)
	}
	if err := s.AddLocalInput(2, 1); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("AddLocalInput(2) in a 2-player test: %v", err)
	}
}

// A game that only goes wrong in some resimulations gets every mismatched
// frame of the check window listed.
func TestSyncTestMismatchListsEveryFrame(t *testing.T) {
	s := newSyncTest(t, 3, 0)
	g := newStubGame()
	for i := range 10 {
		_ = s.AddLocalInput(0, 1)
		_ = s.AddLocalInput(1, 2)
		reqs, err := s.AdvanceFrame()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if err := g.handle(reqs); err != nil {
			t.Fatal(err)
		}
	}
	// From now on every save is corrupted: the next check finds the frames
	// of the window that were saved twice.
	g.corrupt = func() uint64 { return 1 }
	_ = s.AddLocalInput(0, 1)
	_ = s.AddLocalInput(1, 2)
	reqs, err := s.AdvanceFrame()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.handle(reqs); err != nil {
		t.Fatal(err)
	}
	_ = s.AddLocalInput(0, 1)
	_ = s.AddLocalInput(1, 2)
	_, err = s.AdvanceFrame()
	var mErr *MismatchedChecksumError
	if !errors.As(err, &mErr) {
		t.Fatalf("error %v, want MismatchedChecksumError", err)
	}
	// Current frame 11, window 8..11: the corrupted tick loaded 7 and
	// resaved 8 and 9 (mismatches); 10 was saved for the first time and 11
	// not yet.
	if mErr.CurrentFrame != 11 || !slices.Equal(mErr.Frames, []Frame{8, 9}) {
		t.Fatalf("got current %d frames %v, want 11 [8 9]", mErr.CurrentFrame, mErr.Frames)
	}
}

// With a state dump hook, a mismatch error carries both states of every
// mismatched frame: the first one saved and the resimulated one.
func TestSyncTestMismatchDumps(t *testing.T) {
	s := newSyncTest(t, 2, 2)
	calls := 0
	s.SetStateDump(func(dst []byte, f Frame, st stubState) []byte {
		calls++
		return fmt.Appendf(dst, "frame %d value %d", st.Frame, st.Value)
	})
	g := newStubGame()
	g.corrupt = randomCorruption(1)
	var mErr *MismatchedChecksumError
	for i := range 200 {
		_ = s.AddLocalInput(0, uint32(i))
		_ = s.AddLocalInput(1, uint32(i))
		reqs, err := s.AdvanceFrame()
		if errors.As(err, &mErr) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := g.handle(reqs); err != nil {
			t.Fatal(err)
		}
	}
	if mErr == nil || len(mErr.Mismatches) != len(mErr.Frames) || len(mErr.Frames) == 0 {
		t.Fatalf("error %v", mErr)
	}
	for i, m := range mErr.Mismatches {
		if m.Frame != mErr.Frames[i] || m.FirstChecksum == m.ResimulatedChecksum {
			t.Fatalf("mismatch %+v", m)
		}
		prefix := fmt.Sprintf("frame %d value ", m.Frame)
		if !strings.HasPrefix(string(m.FirstDump), prefix) || !strings.HasPrefix(string(m.ResimulatedDump), prefix) ||
			bytes.Equal(m.FirstDump, m.ResimulatedDump) {
			t.Fatalf("frame %d dumps %q and %q: want both states of the frame, differing", m.Frame, m.FirstDump,
				m.ResimulatedDump)
		}
	}
	if calls == 0 {
		t.Fatal("hook never called")
	}
}
