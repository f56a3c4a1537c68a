package rollback

import "testing"

// SavedState returns the state the game saved for a recent frame, the one
// a late spectator starts from when its start is behind the current frame,
// and nothing for a frame no longer (or not yet) held.
func TestSavedState(t *testing.T) {
	_, peers := startMatch(t, 151, 300, nil)
	host := peers[0].sess
	cur := host.CurrentFrame()
	for f := cur - Frame(host.MaxPrediction()); f < cur; f++ {
		st, ok := host.SavedState(f)
		if !ok || Frame(st.Frame) != f {
			t.Fatalf("SavedState(%d) at frame %d: state of frame %d, ok %v", f, cur, st.Frame, ok)
		}
	}
	for _, f := range []Frame{NullFrame, 0, cur - 200, cur + 1} {
		if st, ok := host.SavedState(f); ok {
			t.Errorf("SavedState(%d) at frame %d: state of frame %d, want none", f, cur, st.Frame)
		}
	}
}
