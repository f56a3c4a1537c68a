package rollbox_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/rollbox/rollbox"
)

func TestArgsFromURL(t *testing.T) {
	for _, c := range []struct {
		url  string
		want []string
	}{
		{"http://host:3536/myroom?players=4&headless", []string{"-server=ws://host:3536", "-room=myroom", "-headless", "-players=4"}},
		{"https://example.org/games/index.html", []string{"-server=wss://example.org"}},
		{"https://example.org/a%20room?server=ws://other:1&room=r", []string{"-room=r", "-server=ws://other:1"}},
	} {
		got, err := rollbox.ArgsFromURL(c.url)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, %v; want %q", c.url, got, err, c.want)
		}
	}
	if _, err := rollbox.ArgsFromURL("http://host/%zz"); err == nil {
		t.Error("a malformed URL gave no error")
	}
}

// A Result survives its JSON line, which names its fields as the box game
// always printed them and carries the checksum as hex text.
func TestResultJSON(t *testing.T) {
	r := rollbox.Result{Frame: 600, Checksum: 0xfedcba9876543210, Players: 3, Rollbacks: 4, RollbackFrames: 9, Desyncs: 1, MaxPing: 42 * time.Millisecond}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"frame":600,"checksum":"fedcba9876543210","players":3,"rollbacks":4,"rollback_frames":9,"desyncs":1,"max_ping_ms":42}`
	if string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
	var back rollbox.Result
	if err := json.Unmarshal(b, &back); err != nil || back != r {
		t.Errorf("read back %+v, %v; want %+v", back, err, r)
	}
	if err := json.Unmarshal([]byte(`{"checksum":"xyz"}`), &back); err == nil {
		t.Error("a checksum that is not hex was accepted")
	}
}
