package rollbox_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/signalserver"
	"github.com/rollbox/rollbox/signalserver/signaltest"
)

// errFull is the error of a writer whose disk is full.
var errFull = errors.New("disk full")

type fullWriter struct{}

func (fullWriter) Write([]byte) (int, error) { return 0, errFull }

// Recording over a real network: a player whose recording fails learns it
// from Run (Close, which Run calls, is where the buffered replay is
// written: Run dropped its error, so a headless recording cut short ended
// "successfully"), and the others' replays, a player's and a spectator's,
// play back to the frame and checksum of their Results.
func TestRecordingOverWebRTC(t *testing.T) {
	srv := signaltest.Start(t, signalserver.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), netTestTimeout)
	defer cancel()
	const frames = 120
	var recs [3]bytes.Buffer
	var matches []*rollbox.Match[netWorld, netPad]
	for i := range 3 {
		c := netConfig(t, srv, 2, frames, uint64(i+1))
		c.Spectators, c.Record = 1, &recs[i]
		if i == 0 {
			c.Record = fullWriter{}
		}
		if i == 2 {
			c.Spectate, c.LocalPlayers = true, 0
		}
		matches = append(matches, newNetMatch(t, ctx, c))
	}
	ends := playAll(ctx, t, matches)
	if err := ends[0].err; !errors.Is(err, errFull) || !strings.Contains(err.Error(), "recording") {
		t.Errorf("the peer whose recording failed: Run returned %v, want the recording's error", err)
	}
	for i := 1; i < 3; i++ {
		if ends[i].err != nil {
			t.Fatalf("peer %d: %v", i, ends[i].err)
		}
		frame, sum, err := rollbox.Replay(bytes.NewReader(recs[i].Bytes()), func(int) *netWorld { return &netWorld{} })
		if err != nil {
			t.Fatalf("peer %d's replay: %v", i, err)
		}
		if res := ends[i].res; frame != res.Frame || sum != res.Checksum || res.Frame != frames {
			t.Errorf("peer %d (spectator: %v): replay ends at frame %d, %016x; its result: frame %d, %016x",
				i, i == 2, frame, sum, res.Frame, res.Checksum)
		}
	}
}
