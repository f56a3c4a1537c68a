package rollbox_test

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/rollbox/rollbox"
)

// withFPS returns the replay rec with its header's frame rate replaced.
func withFPS(rec []byte, fps uint64) []byte {
	i := len("rollbox-replay\n")
	_, n := binary.Uvarint(rec[i:]) // version
	i += n
	l, n := binary.Uvarint(rec[i:]) // game name
	i += n + int(l)
	for range 2 { // players, input size
		_, n = binary.Uvarint(rec[i:])
		i += n
	}
	_, n = binary.Uvarint(rec[i:])
	out := binary.AppendUvarint(append([]byte(nil), rec[:i]...), fps)
	return append(out, rec[i+n:]...)
}

// A replay file's frame rate is what a player paces playback by
// (time.Second / FPS, as its documentation invites): a damaged or hostile
// file with a rate of 0 would divide by zero there, and one of millions
// would spin. NewReplayer refuses what Config refuses (1 to 1000).
func TestReplayRefusesAFrameRateNoMatchPlays(t *testing.T) {
	var rec bytes.Buffer
	if _, err := rollbox.Simulate(&arena{}, rollbox.Simulation[buttons]{Players: 2, Frames: 30, Record: &rec}); err != nil {
		t.Fatal(err)
	}
	for _, fps := range []uint64{0, 1001, 1 << 40} {
		p, err := rollbox.NewReplayer(bytes.NewReader(withFPS(rec.Bytes(), fps)), func(int) *arena { return &arena{} })
		if err == nil {
			t.Errorf("a replay at %d fps was accepted (FPS() = %d)", fps, p.FPS())
		}
	}
	p, err := rollbox.NewReplayer(bytes.NewReader(withFPS(rec.Bytes(), 30)), func(int) *arena { return &arena{} })
	if err != nil || p.FPS() != 30 {
		t.Fatalf("a replay at 30 fps: %v", err)
	}
}

// withGame returns the replay rec with its header's game name replaced.
func withGame(rec []byte, game string) []byte {
	i := len("rollbox-replay\n")
	_, n := binary.Uvarint(rec[i:]) // version
	i += n
	l, n := binary.Uvarint(rec[i:])
	out := binary.AppendUvarint(append([]byte(nil), rec[:i]...), uint64(len(game)))
	out = append(out, game...)
	return append(out, rec[i+n+int(l):]...)
}

// The game name of a replay of another game is the file's bytes: the
// error quotes it, so that a newline or a terminal escape in it cannot
// forge lines where the error is printed.
func TestReplayQuotesAnotherGamesName(t *testing.T) {
	var rec bytes.Buffer
	if _, err := rollbox.Simulate(&arena{}, rollbox.Simulation[buttons]{Players: 2, Frames: 30, Record: &rec}); err != nil {
		t.Fatal(err)
	}
	_, err := rollbox.NewReplayer(bytes.NewReader(withGame(rec.Bytes(), "g\n\x1b[2J")), func(int) *arena { return &arena{} })
	if err == nil || !strings.Contains(err.Error(), `"g\n\x1b[2J"`) || strings.ContainsAny(err.Error(), "\n\x1b") {
		t.Fatalf("error %q, want one quoting the replay's game name", err)
	}
}
