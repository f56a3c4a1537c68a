//go:build !js

package transport

import (
	"slices"
	"testing"
	"time"

	"github.com/rollbox/rollbox/signalserver"
	"github.com/rollbox/rollbox/signalserver/signaltest"
)

func (s *Socket) currentSignallingID() PeerID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signallingID
}

// The signalling server restarts: every WebSocket drops. Established peers
// keep talking, reconnect, are not introduced to each other twice, and a peer
// joining afterwards meshes with them through the new server.
func TestSignallingReconnectKeepsPeersTalking(t *testing.T) {
	rs := signaltest.StartRestartable(t, signalserver.Config{})
	url := rs.Room("reconnect")
	cfg := testConfig(t)

	ctx := testContext(t, 30*time.Second)
	join := func() *Socket {
		s, err := Join(ctx, url, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { closeSocket(t, s) })
		return s
	}
	a, b := join(), join()
	waitMesh(t, a, b)
	a.PeerEvents()
	b.PeerEvents()

	rs.Restart()

	for _, s := range []*Socket{a, b} {
		for s.currentSignallingID() == s.ID() {
			select {
			case <-ctx.Done():
				t.Fatalf("%s never reconnected", s.ID())
			case <-time.After(10 * time.Millisecond):
			}
		}
	}

	// The mesh link never depended on the server.
	for _, pair := range [][2]*Socket{{a, b}, {b, a}} {
		from, to := pair[0], pair[1]
		want := "after restart from " + string(from.ID())
		got := ""
		for got != want {
			if err := from.Send(to.ID(), []byte(want)); err != nil {
				t.Fatalf("send after reconnect: %v", err)
			}
			err := receiveUntil(testContext(t, 200*time.Millisecond), to, 0,
				func(_ PeerID, d []byte) { got = string(d) }, func() bool { return got == want })
			if ctx.Err() != nil {
				t.Fatalf("%s never heard %q: %v", to.ID(), want, err)
			}
		}
	}

	c := join()
	waitMesh(t, a, b, c)
	// Let any duplicate introduction of a and b to each other play out.
	time.Sleep(time.Second)
	for _, s := range []*Socket{a, b} {
		if ev := s.PeerEvents(); !slices.Equal(ev, []PeerEvent{{Peer: c.ID(), State: PeerConnected}}) {
			t.Errorf("%s: events %v, want only %s connected", s.ID(), ev, c.ID())
		}
		if got := len(s.Peers()); got != 2 {
			t.Errorf("%s has peers %v, want 2", s.ID(), s.Peers())
		}
	}
}
