//go:build !js

package transport

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net"

	"github.com/pion/ice/v4"
	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"
)

// netOverride replaces the operating system's network for pion (pion's vnet
// in tests); nil means the real one.
type netOverride = transport.Net

// rtcFactory makes a socket's peer connections with pion.
type rtcFactory struct {
	cfg   Config
	api   *webrtc.API
	certs []webrtc.Certificate
}

func newRTCFactory(_ context.Context, cfg Config, nw netOverride) (*rtcFactory, error) {
	certs, err := newCertificate()
	if err != nil {
		return nil, fmt.Errorf("transport: DTLS certificate: %w", err)
	}
	return &rtcFactory{cfg: cfg, api: newAPI(cfg, nw), certs: certs}, nil
}

// newAPI builds the pion API for one socket.
func newAPI(c Config, nw transport.Net) *webrtc.API {
	var se webrtc.SettingEngine
	// Detached channels let us read into our own buffers instead of pion
	// allocating a message per packet.
	se.DetachDataChannels()
	se.SetICETimeouts(c.ICEDisconnectedTimeout, c.ICEFailedTimeout, c.ICEKeepAliveInterval)
	if c.LoopbackOnly {
		restrictToLoopback(&se)
	}
	if c.RelayOnly {
		// pion waits 2 s after a relay pair succeeds in case a direct one
		// follows; with relays only none can, so nominate at once.
		se.SetRelayAcceptanceMinWait(0)
	}
	if nw != nil {
		se.SetNet(nw)
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

// restrictToLoopback keeps ICE to host candidates on lo over UDP4 without
// mDNS: it connects in milliseconds and never sends a packet off the machine.
func restrictToLoopback(se *webrtc.SettingEngine) {
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	// A browser on a loopback-only machine (the Chromium tests) signals no
	// candidate of its own: its address is learned from its checks, as
	// peer-reflexive. On loopback nothing better can turn up, so nominate
	// such a pair at once instead of after pion's default wait of a second.
	se.SetPrflxAcceptanceMinWait(0)
}

// newCertificate makes the one DTLS certificate all of a socket's peer
// connections share. Its fingerprint identifies this socket to peers across
// signalling reconnections, which assign a new peer id each time.
func newCertificate() ([]webrtc.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	cert, err := webrtc.GenerateCertificate(key)
	if err != nil {
		return nil, err
	}
	return []webrtc.Certificate{*cert}, nil
}

// webrtcConfiguration is the per-connection pion configuration, with these
// ICE servers.
func (c Config) webrtcConfiguration(servers []ICEServer) webrtc.Configuration {
	var wc webrtc.Configuration
	for _, s := range servers {
		is := webrtc.ICEServer{URLs: s.URLs, Username: s.Username}
		if s.Credential != "" {
			is.Credential = s.Credential
		}
		wc.ICEServers = append(wc.ICEServers, is)
	}
	if c.RelayOnly {
		wc.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	return wc
}
