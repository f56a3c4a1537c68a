package rollbox

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rollbox/rollbox/rollback"
)

func TestParseHello(t *testing.T) {
	good := hello{Version: helloVersion, Game: "g", Players: 4, Local: 2, FPS: 60, Desync: 10}
	h, err := parseHello("p1", good.encode())
	if err != nil || h != good {
		t.Fatalf("round trip: %+v, %v", h, err)
	}
	for _, tc := range []struct {
		name, data, want string
	}{
		{"not json", "{", "peer p1: malformed hello"},
		{"wrong type", `{"rollbox":"1"}`, "peer p1: malformed hello"},
		{"no version", `{"players":2,"local":1}`, "hello version 0"},
		{"later version", `{"rollbox":2,"players":2,"local":1}`, "hello version 2"},
		{"no players", `{"rollbox":1,"players":0,"local":0}`, "with 0 players"},
		{"too many players", `{"rollbox":1,"players":65,"local":1}`, "with 65 players"},
		{"negative local", `{"rollbox":1,"players":2,"local":-1}`, "of which -1 local"},
		{"more local than players", `{"rollbox":1,"players":2,"local":3}`, "of which 3 local"},
		{"oversized", `{"rollbox":1,"players":2,"local":1,"game":"` + strings.Repeat("x", maxHelloSize) + `"}`, "longer than 1024"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseHello("p1", []byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "peer p1") {
				t.Errorf("error %v, want one naming peer p1 and containing %q", err, tc.want)
			}
		})
	}
}

func FuzzParseHello(f *testing.F) {
	f.Add(hello{Version: helloVersion, Game: "g/i", Players: 2, Local: 1, FPS: 60, Desync: 10}.encode())
	f.Add(hello{Version: helloVersion, Game: "g/i", Players: 4, Spectator: true, Lockstep: true}.encode())
	f.Add([]byte(`{"rollbox":1,"players":64,"local":64,"game":"\u0000"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[]`))
	f.Add(bytes.Repeat([]byte("["), 2000))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := parseHello("fuzz", data)
		if err != nil {
			if !strings.Contains(err.Error(), "peer fuzz") {
				t.Fatalf("error %q does not name the peer", err)
			}
			return
		}
		if len(data) > maxHelloSize {
			t.Fatalf("accepted a hello of %d bytes", len(data))
		}
		if h.Version != helloVersion || h.Players < 1 || h.Players > rollback.MaxPlayers || h.Local < 0 || h.Local > h.Players {
			t.Fatalf("accepted %+v", h)
		}
		// What a peer accepted it can say back.
		enc := h.encode()
		if len(enc) > maxHelloSize {
			return // an accepted hello with escapes may grow when re-encoded
		}
		again, err := parseHello("fuzz", enc)
		if err != nil || again != h {
			t.Fatalf("re-encoded %+v parses to %+v, %v", h, again, err)
		}
	})
}
