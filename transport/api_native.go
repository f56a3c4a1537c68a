//go:build !js

package transport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net"

	"github.com/pion/ice/v4"
	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"
)

// newAPI builds the pion API for one socket. nw replaces the operating
// system's network (pion's vnet in tests); nil means the real one.
func newAPI(c Config, nw transport.Net) *webrtc.API {
	var se webrtc.SettingEngine
	// Detached channels let us read into our own buffers instead of pion
	// allocating a message per packet.
	se.DetachDataChannels()
	se.SetICETimeouts(c.ICEDisconnectedTimeout, c.ICEFailedTimeout, c.ICEKeepAliveInterval)
	if c.LoopbackOnly {
		restrictToLoopback(&se)
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
