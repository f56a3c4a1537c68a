//go:build !js

package transport

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/rollbox/rollbox/internal/syncbuf"
	"github.com/rollbox/rollbox/internal/testclock"
	"github.com/rollbox/rollbox/signalwire"
)

// A peer floods a reliable channel with malformed chunk frames. The log
// gets one line about it, the next line after the rate limit's interval
// says how many were held back, and the socket's stats count every frame.
// The log clock stands still, so the test does not depend on how long the
// flood takes.
func TestMalformedFloodIsCountedAndLoggedOnce(t *testing.T) {
	const flood = 100_000
	ts := startServer(t)
	url := ts.url("flood")
	var logs syncbuf.Buffer
	clock := testclock.New()
	cfg := testConfig(t, Reliable())
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.now = clock.Now
	ctx := testContext(t, 5*time.Minute)

	s, err := Join(ctx, url, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeSocket(t, s) })

	attacker := dialRaw(ctx, t, url)
	msg := attacker.readUntil(ctx, func(msg signalwire.ServerMessage) bool {
		data, ok := signalOf(msg, s.ID())
		return ok && data.Offer != nil
	})
	offer, _ := signalOf(msg, s.ID())
	negotiated, id := true, uint16(0)
	dc, err := attacker.pc.CreateDataChannel("matchbox_socket_0", &webrtc.DataChannelInit{Negotiated: &negotiated, ID: &id})
	if err != nil {
		t.Fatal(err)
	}
	opened := make(chan struct{})
	dc.OnOpen(func() { close(opened) })
	const lowWater = 256 << 10
	drained := make(chan struct{}, 1)
	dc.SetBufferedAmountLowThreshold(lowWater)
	dc.OnBufferedAmountLow(func() {
		select {
		case drained <- struct{}{}:
		default:
		}
	})
	answer := attacker.description(&webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: *offer.Offer})
	attacker.send(ctx, s.ID(), peerSignal{Answer: &answer})
	attacker.follow(ctx, s.ID())
	if _, err := s.WaitForPeers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-opened:
	case <-ctx.Done():
		t.Fatal("the attacker's channel never opened")
	}

	// send sends frames in order, never letting more than a few hundred
	// KiB wait in pion, then a plain marker message. Ordered delivery
	// means the socket has handled every frame once the marker arrives.
	send := func(frames int, marker string) {
		t.Helper()
		frame := chunkFrame(1, []byte("xy")) // longer than it announces
		for range frames {
			for dc.BufferedAmount() > 2*lowWater {
				select {
				case <-drained:
				case <-time.After(10 * time.Millisecond): // a missed wake-up costs a moment
				case <-ctx.Done():
					t.Fatal(ctx.Err())
				}
			}
			if err := dc.Send(frame); err != nil {
				t.Fatal(err)
			}
		}
		if err := dc.SendText(marker); err != nil {
			t.Fatal(err)
		}
		got := ""
		if err := receiveUntil(ctx, s, 0, func(_ PeerID, d []byte) { got = string(d) }, func() bool { return got == marker }); err != nil {
			t.Fatalf("waiting for %q after the flood: %v (stats %+v)", marker, err, s.Stats())
		}
	}
	checkStats := func(malformed, suppressed uint64) {
		t.Helper()
		st := s.Stats()
		if got := st.Peers[attacker.id]; got != (PeerStats{Malformed: malformed, LogsSuppressed: suppressed}) {
			t.Errorf("attacker's stats %+v, want %d malformed and %d log lines suppressed", got, malformed, suppressed)
		}
		if st.Malformed != malformed || st.LogsSuppressed < suppressed {
			t.Errorf("socket stats %+v, want %d malformed and at least %d suppressed", st, malformed, suppressed)
		}
	}

	send(flood, "done")
	checkStats(flood, flood-1)
	about := func() []string {
		var out []string
		for line := range strings.Lines(logs.String()) {
			if strings.Contains(line, "peer="+string(attacker.id)) {
				out = append(out, line)
			}
		}
		return out
	}
	if lines := about(); len(lines) > 3 {
		t.Fatalf("%d log lines about the attacker, want a handful:\n%s", len(lines), strings.Join(lines[:10], ""))
	}

	// The next malformed frame after the interval is logged with the count.
	clock.Advance(remoteLogInterval)
	send(1, "done again")
	checkStats(flood+1, flood-1)
	lines := about()
	if want := fmt.Sprintf("suppressed=%d", flood-1); len(lines) == 0 || !strings.Contains(lines[len(lines)-1], want) {
		t.Fatalf("log lines about the attacker:\n%s\nwant the last to say %s", strings.Join(lines, ""), want)
	}
	t.Logf("log:\n%s", logs.String())
}
