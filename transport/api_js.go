//go:build js

package transport

import (
	"context"
	"errors"
	"syscall/js"
)

// netOverride has no use in the browser, whose network is its own.
type netOverride = any

// rtcFactory makes a socket's peer connections with the browser's
// RTCPeerConnection. ICE is the browser's: timeouts, loopback-only mode and
// virtual networks do not apply.
type rtcFactory struct {
	cfg Config
	// cert is the one certificate all of the socket's connections use, so
	// that peers recognise this socket after a signalling reconnection as
	// native sockets are recognised; undefined where the browser cannot
	// make one, and then each connection gets its own.
	cert js.Value
}

func newRTCFactory(ctx context.Context, cfg Config, _ netOverride) (*rtcFactory, error) {
	rtc := js.Global().Get("RTCPeerConnection")
	if rtc.Type() != js.TypeFunction {
		return nil, errors.New("transport: this browser has no RTCPeerConnection")
	}
	f := &rtcFactory{cfg: cfg, cert: js.Undefined()}
	algorithm := map[string]any{"name": "ECDSA", "namedCurve": "P-256"}
	var promise js.Value
	if err := catch(func() { promise = rtc.Call("generateCertificate", algorithm) }); err != nil {
		cfg.Logger.Debug("no shared DTLS certificate", "err", err)
		return f, nil
	}
	cert, err := await(ctx, promise)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		cfg.Logger.Debug("no shared DTLS certificate", "err", err)
		return f, nil
	}
	f.cert = cert
	return f, nil
}

// configuration is the RTCConfiguration of a new connection.
func (f *rtcFactory) configuration(servers []ICEServer) map[string]any {
	list := make([]any, 0, len(servers))
	for _, s := range servers {
		urls := make([]any, len(s.URLs))
		for i, u := range s.URLs {
			urls[i] = u
		}
		is := map[string]any{"urls": urls}
		if s.Username != "" {
			is["username"] = s.Username
		}
		if s.Credential != "" {
			is["credential"] = s.Credential
		}
		list = append(list, is)
	}
	c := map[string]any{"iceServers": list}
	if f.cfg.RelayOnly {
		c["iceTransportPolicy"] = "relay"
	}
	if !f.cert.IsUndefined() {
		c["certificates"] = []any{f.cert}
	}
	return c
}
