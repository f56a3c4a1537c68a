package signalserver

// Go ports of matchbox_server's own tests (matchbox_server/src/signaling.rs
// and its topology tests), against a real server over real WebSockets.

import (
	"testing"
	"time"

	"github.com/rollbox/rollbox/signalwire"
)

const quiet = 100 * time.Millisecond // matchbox's tests wait this long for "no message"

func TestMatchboxConnect(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, ts *testCluster) {
		ts.dialRaw(t, "/room_a")
	})
}

func TestMatchboxIDAssigned(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, ts *testCluster) {
		a := ts.dial(t, "/room_a")
		b := ts.dial(t, "/room_a")
		if a.id == b.id {
			t.Fatalf("two peers got the same id %s", a.id)
		}
		for _, id := range []signalwire.PeerID{a.id, b.id} {
			if id[14] != '4' || !signalwire.ValidPeerID(string(id)) {
				t.Errorf("id %s is not a UUID v4", id)
			}
		}
	})
}

func TestMatchboxNewPeer(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, ts *testCluster) {
		a := ts.dial(t, "/room_a")
		b := ts.dial(t, "/room_a")
		a.expect(newPeerMsg(b.id))
		b.expectSilence(quiet) // never told about itself or about a
	})
}

func TestMatchboxSignal(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, ts *testCluster) {
		a := ts.dial(t, "/room_a")
		b := ts.dial(t, "/room_a")
		a.expect(newPeerMsg(b.id))
		a.signal(b.id, `"123"`)
		b.expect(signalMsg(a.id, `"123"`))
	})
}

func TestMatchboxDisconnect(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, ts *testCluster) {
		a := ts.dial(t, "/room_a")
		b := ts.dial(t, "/room_a")
		a.expect(newPeerMsg(b.id))
		b.conn.Close()
		a.expect(peerLeftMsg(b.id))
	})
}

func TestMatchboxMatchPairs(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, ts *testCluster) {
		a := ts.dial(t, "/room_name?next=2")
		b := ts.dial(t, "/room_name?next=2")
		c := ts.dial(t, "/room_name?next=2")
		d := ts.dial(t, "/room_name?next=2")
		// Matched in pairs as they arrive: a+b and c+d.
		a.expect(newPeerMsg(b.id))
		c.expect(newPeerMsg(d.id))
		for _, p := range []*peer{a, b, c, d} {
			p.expectSilence(quiet)
		}
	})
}

func TestMatchboxMatchPairAndOtherAloneRoomWithoutNext(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, ts *testCluster) {
		a := ts.dial(t, "/room_name?next=2")
		b := ts.dial(t, "/room_name")
		c := ts.dial(t, "/room_name?next=2")
		a.expect(newPeerMsg(c.id))
		for _, p := range []*peer{a, b, c} {
			p.expectSilence(quiet)
		}
	})
}

func TestMatchboxMatchDifferentIDSameNext(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, ts *testCluster) {
		a := ts.dial(t, "/scope_1?next=2")
		b := ts.dial(t, "/scope_2?next=2")
		c := ts.dial(t, "/scope_1?next=2")
		d := ts.dial(t, "/scope_2?next=2")
		a.expect(newPeerMsg(c.id))
		b.expect(newPeerMsg(d.id))
		for _, p := range []*peer{a, b, c, d} {
			p.expectSilence(quiet)
		}
	})
}

func TestMatchboxMatchSameIDDifferentNext(t *testing.T) {
	eachBackend(t, Config{}, func(t *testing.T, ts *testCluster) {
		a := ts.dial(t, "/scope_1?next=2")
		b := ts.dial(t, "/scope_1?next=3")
		c := ts.dial(t, "/scope_1?next=2")
		d := ts.dial(t, "/scope_1?next=3")
		e := ts.dial(t, "/scope_1?next=3")
		// a+c, and b+d+e.
		a.expect(newPeerMsg(c.id))
		b.expectAll(newPeerMsg(d.id), newPeerMsg(e.id))
		d.expect(newPeerMsg(e.id))
		for _, p := range []*peer{a, b, c, d, e} {
			p.expectSilence(quiet)
		}
	})
}
