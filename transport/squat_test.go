//go:build !js

package transport

import (
	"slices"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/rollbox/rollbox/signalwire"
)

// A room member that copies another's DTLS fingerprint into its own offer
// must not keep the two apart. The attacker learns the victim's fingerprint
// from the victim's offer to it, and when a newcomer joins, its munged offer
// reaches the newcomer before the victim's real one (a proxy in front of
// the newcomer makes that order certain). An SDP fingerprint is a claim
// until DTLS proves it: the newcomer must answer both, fail the attacker's
// handshake, and connect to the victim.
func TestCopiedFingerprintDoesNotBlockTheRealPeer(t *testing.T) {
	ts := startServer(t)
	url := ts.url("squat")
	cfg := testConfig(t, Reliable())
	ctx := testContext(t, 60*time.Second)

	victim, err := Join(ctx, url, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeSocket(t, victim) })

	attacker := dialRaw(ctx, t, url)
	offer := attacker.readUntil(ctx, func(msg signalwire.ServerMessage) bool {
		data, ok := signalOf(msg, victim.ID())
		return ok && data.Offer != nil
	})
	data, _ := signalOf(offer, victim.ID())
	victimFP := fingerprintLine(*data.Offer)
	if victimFP == "" {
		t.Fatalf("the victim's offer has no fingerprint:\n%s", *data.Offer)
	}
	negotiated, id := true, uint16(0)
	if _, err := attacker.pc.CreateDataChannel("matchbox_socket_0", &webrtc.DataChannelInit{Negotiated: &negotiated, ID: &id}); err != nil {
		t.Fatal(err)
	}
	own := attacker.description(nil)
	squatted := withFingerprint(own, victimFP)
	if fingerprintLine(squatted) != victimFP || fingerprintLine(own) == victimFP {
		t.Fatal("munging the fingerprint failed")
	}

	proxy := startHoldingProxy(t, url,
		func(msg signalwire.ServerMessage) bool {
			_, fromVictim := signalOf(msg, victim.ID())
			return fromVictim
		},
		func(msg signalwire.ServerMessage) bool {
			data, ok := signalOf(msg, attacker.id)
			return ok && data.Offer != nil
		})
	newcomer, err := Join(ctx, proxy.url(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeSocket(t, newcomer) })

	attacker.readUntil(ctx, func(msg signalwire.ServerMessage) bool {
		return msg.Kind == signalwire.NewPeer && msg.Peer == newcomer.ID()
	})
	attacker.send(ctx, newcomer.ID(), peerSignal{Offer: &squatted})
	attacker.follow(ctx, newcomer.ID())

	waitMesh(t, victim, newcomer)
	if got := newcomer.Peers(); !slices.Equal(got, []PeerID{victim.ID()}) {
		t.Fatalf("newcomer's peers %v, want only the victim %s", got, victim.ID())
	}
	for _, pair := range [][2]*Socket{{victim, newcomer}, {newcomer, victim}} {
		from, to := pair[0], pair[1]
		want := "from " + string(from.ID())
		if err := from.Send(to.ID(), []byte(want)); err != nil {
			t.Fatal(err)
		}
		got := ""
		if err := receiveUntil(ctx, to, 0, func(_ PeerID, d []byte) { got = string(d) }, func() bool { return got != "" }); err != nil || got != want {
			t.Fatalf("%s received %q, want %q (%v)", to.ID(), got, want, err)
		}
	}
}
