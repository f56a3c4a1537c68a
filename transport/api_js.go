//go:build js

package transport

import (
	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"
)

// newAPI builds the pion API for one socket. In the browser ICE is the
// browser's: timeouts, loopback-only mode and virtual networks do not apply.
func newAPI(_ Config, _ transport.Net) *webrtc.API {
	var se webrtc.SettingEngine
	se.DetachDataChannels()
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

// newCertificate returns no certificate: the browser makes one per
// connection, so duplicate connections after a signalling reconnection are
// not recognised there.
func newCertificate() ([]webrtc.Certificate, error) { return nil, nil }

// onChannelClose calls f when dc closes. In the browser a detached channel's
// reader is not woken by the close (pion's wasm detach only forwards
// messages), so without this a peer that leaves is noticed only when the
// browser's ICE gives up on it, seconds later.
func onChannelClose(dc *webrtc.DataChannel, f func()) { dc.OnClose(f) }
