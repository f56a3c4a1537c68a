package rollbox_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/internal/syncbuf"
)

// A peer that desyncs every check (here a Step that is not deterministic,
// 60 s of virtual time, a check every 10 frames: 360 desyncs a peer) must
// not write a line per desync: the lines other peers can cause come in a
// burst of 10, then one a second, each with the count held back.
func TestDesyncLogLinesAreRateLimited(t *testing.T) {
	drift = 0
	defer func() { drift = 0 }()
	var logs syncbuf.Buffer
	desyncs := 0
	_, err := rollbox.Simulate(&drifting{}, rollbox.Simulation[buttons]{
		Frames: 3600, Seed: 1,
		Config: rollbox.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil)), OnDesync: func(rollbox.Desync) { desyncs++ }},
	})
	if err == nil {
		t.Fatal("the drifting game did not diverge")
	}
	lines := strings.Count(logs.String(), "rollbox: desync")
	t.Logf("%d desync reports, %d log lines", desyncs, lines)
	// Two peers, each: a burst of 10, then at most one per second of the
	// match's 60 s (and a few more while the slowest peer confirms).
	if max := 2 * (10 + int(65*time.Second/time.Second)); lines > max || desyncs < 4*max {
		t.Errorf("%d log lines for %d desyncs, want at most %d lines (and desyncs well above that)", lines, desyncs, max)
	}
	if !strings.Contains(logs.String(), "suppressed=") {
		t.Error("no line reports how many were held back")
	}
}
