package rollback

import "testing"

func TestTimeSyncAverageFrameAdvantage(t *testing.T) {
	for _, tc := range []struct{ local, remote, want int }{
		{0, 0, 0},
		{5, -5, -5}, // we are behind: no waiting
		{-1, 1, 1},
		{-4, 4, 4},
		{-40, 40, 40},
		{-3, 4, 3}, // (4 - -3) / 2 truncates to 3
	} {
		var ts timeSync
		for f := range Frame(60) {
			ts.advanceFrame(f, tc.local, tc.remote)
		}
		if got := ts.averageFrameAdvantage(); got != tc.want {
			t.Errorf("local %d remote %d: %d, want %d", tc.local, tc.remote, got, tc.want)
		}
	}
}
