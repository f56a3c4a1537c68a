package rollbox

import "testing"

func TestPhaseString(t *testing.T) {
	want := []string{"Phase(0)", "joining", "waiting", "connecting", "synchronizing", "playing", "finished", "failed", "rejoining", "Phase(9)"}
	for p, w := range want {
		if got := Phase(p).String(); got != w {
			t.Errorf("Phase(%d) is %q, want %q", p, got, w)
		}
	}
}

func TestDesyncDiff(t *testing.T) {
	for _, tc := range []struct{ local, remote, want string }{
		{"A=1\nB=2\n", "A=1\nB=2\n", ""},
		{"A=1\nB=2\n", "A=1\nB=3\n", "B=2 | B=3"},
		{"A=1\nB=2\n", "A=0\nB=3\n", "A=1 | A=0; B=2 | B=3"},
		// A longer dump on one side: the extra lines differ from nothing.
		{"A=1\n", "A=1\nB=2\n...\n", " | B=2;  | ..."},
		{"", "A=1", " | A=1"},
	} {
		d := Desync{LocalDump: []byte(tc.local), RemoteDump: []byte(tc.remote)}
		if got := d.Diff(); got != tc.want {
			t.Errorf("Diff(%q, %q) = %q, want %q", tc.local, tc.remote, got, tc.want)
		}
	}
	d := Desync{Frame: 30, Peer: "p2", LocalChecksum: 0xab, RemoteChecksum: 0xcd}
	if got, want := d.String(), "frame 30 differs from peer p2: 00000000000000ab here, 00000000000000cd there"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
