//go:build !js

package transport

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/rollbox/rollbox/signalserver"
	"github.com/rollbox/rollbox/signalserver/signaltest"
)

// startRelayOnly starts an embedded TURN server minting credentials for ttl
// (0: the default) and a signalling server offering it on /ice, and returns
// them with a socket config that fetches ICE from there and may only relay.
func startRelayOnly(t *testing.T, ttl time.Duration) (*signalserver.TURNServer, *testServer, Config) {
	turnSrv, err := signalserver.StartTURN(t.Context(), signalserver.TURNConfig{
		Listen: "127.0.0.1:0",
		Secret: []byte("transport test secret"),
		TTL:    ttl,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := turnSrv.Shutdown(ctx); err != nil {
			t.Errorf("TURN shutdown: %v", err)
		}
	})
	ts := &testServer{signaltest.Start(t, signalserver.Config{ICE: signalserver.ICEConfig{TURN: turnSrv}})}
	cfg := testConfig(t, Unreliable(), Reliable())
	cfg.ICEFromServer = true
	cfg.RelayOnly = true
	return turnSrv, ts, cfg
}

// TestRelayOnlyThroughEmbeddedTURN connects two sockets that may only use
// relayed candidates through the signalling server's embedded TURN server,
// with credentials fetched from its /ice, and exchanges packets both ways.
func TestRelayOnlyThroughEmbeddedTURN(t *testing.T) {
	turnSrv, ts, cfg := startRelayOnly(t, 0)
	socks := joinMesh(t, ts, "relay", 2, cfg)

	for _, s := range socks {
		for _, p := range *s.connected.Load() {
			pair, err := p.conn.(*pionConn).pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
			if err != nil || pair == nil {
				t.Fatalf("%s: no selected candidate pair: %v", s.ID(), err)
			}
			if pair.Local.Typ != webrtc.ICECandidateTypeRelay || pair.Remote.Typ != webrtc.ICECandidateTypeRelay {
				t.Fatalf("%s: selected pair %s <-> %s, want relay on both ends", s.ID(), pair.Local, pair.Remote)
			}
			if pair.Local.Address != "127.0.0.1" || pair.Local.RelatedAddress != "127.0.0.1" {
				t.Fatalf("%s: relay candidate %s, want on loopback", s.ID(), pair.Local)
			}
		}
	}
	exchange(t, socks, 200)
	if n := turnSrv.Metrics().AllocationsTotal.Load(); n < 2 {
		t.Fatalf("%d TURN allocations, want one per socket at least", n)
	}
	// The relays met at the server's own address, open to its relays
	// without any AllowPeers: as two players behind one TURN server do.
	if n := turnSrv.Metrics().Refused("peer_address"); n != 0 {
		t.Fatalf("%d peer addresses refused", n)
	}
}

// TestTURNCredentialsRefreshed: a socket that meets a peer after the TURN
// credentials it joined with have expired still gets a relay, because it
// fetched new ones from /ice in time. With the old ones the relay-only
// connection could not form.
func TestTURNCredentialsRefreshed(t *testing.T) {
	const ttl = 4 * time.Second
	_, ts, cfg := startRelayOnly(t, ttl)
	ctx := testContext(t, 30*time.Second)

	first, err := Join(ctx, ts.url("late?next=2"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeSocket(t, first) })
	joined := first.ice.Load().expires
	time.Sleep(ttl + time.Second) // the credentials it joined with are dead
	if time.Now().Before(joined) {
		t.Fatalf("credentials from the join still valid until %v", joined)
	}
	if got := first.ice.Load().expires; !got.After(time.Now()) {
		t.Fatalf("credentials not refreshed: they expire at %v", got)
	}

	late, err := Join(ctx, ts.url("late?next=2"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeSocket(t, late) })
	// The first socket offers (it receives NewPeer), so its credentials
	// are the ones its relay allocation needs.
	waitMesh(t, first, late)
	exchange(t, []*Socket{first, late}, 50)
}

func TestICEURL(t *testing.T) {
	for room, want := range map[string]string{
		"ws://127.0.0.1:3536/room?next=2":    "http://127.0.0.1:3536/ice",
		"wss://example.org/signal/caf%C3%A9": "https://example.org/signal/ice",
		"ws://h/":                            "http://h/ice",
		"ws://h/duel?next=2&token=a.b-c_d":   "http://h/ice?token=a.b-c_d", // the room token goes along
	} {
		u, err := url.Parse(room)
		if err != nil {
			t.Fatal(err)
		}
		if got := iceURL(u).String(); got != want {
			t.Errorf("iceURL(%s) = %s, want %s", room, got, want)
		}
	}
}

// TestICEFromServerWithoutICE joins a server that offers no ICE servers
// (matchbox_server answers /ice 426): the join goes on with Config's own.
func TestICEFromServerWithoutICE(t *testing.T) {
	ts := startServer(t)
	cfg := testConfig(t)
	cfg.ICEFromServer = true
	socks := joinMesh(t, ts, "noice", 2, cfg)
	if len(socks[0].cfg.ICEServers) != 0 {
		t.Fatalf("ICE servers %+v from a server offering none", socks[0].cfg.ICEServers)
	}
}
