//go:build js

package transport

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"syscall/js"
)

// browserConn is an rtcConn on the browser's RTCPeerConnection.
type browserConn struct {
	pc       js.Value
	channels []*browserChannel
	h        handlers
	// ctx ends at close: the browser never settles promises that were
	// pending when its connection closed.
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
}

// newConn creates a peer connection and its negotiated channels: channel i
// has id i and label "matchbox_socket_<i>", as matchbox_socket's and the
// native build's. The handlers only queue, or start goroutines: a js.FuncOf
// callback that blocks blocks the page's event loop.
func (f *rtcFactory) newConn(servers []ICEServer, channels []ChannelConfig, ev rtcEvents) (rtcConn, []rtcChannel, error) {
	c := &browserConn{}
	if err := catch(func() {
		c.pc = js.Global().Get("RTCPeerConnection").New(f.configuration(servers))
	}); err != nil {
		return nil, nil, err
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	out := make([]rtcChannel, 0, len(channels))
	for i, cfg := range channels {
		init := map[string]any{"negotiated": true, "id": i, "ordered": cfg.Ordered}
		if cfg.MaxRetransmits != nil {
			init["maxRetransmits"] = int(*cfg.MaxRetransmits)
		}
		var dc js.Value
		if err := catch(func() { dc = c.pc.Call("createDataChannel", fmt.Sprintf("matchbox_socket_%d", i), init) }); err != nil {
			c.close()
			return nil, nil, err
		}
		ch := newBrowserChannel(dc, cfg, f.cfg.ReceiveBufferSize, func() { ev.dropped(i) })
		c.channels = append(c.channels, ch)
		out = append(out, ch)
		c.h.on(dc, "onopen", func(js.Value, []js.Value) any {
			go ev.opened(i)
			return nil
		})
		c.h.on(dc, "onclose", func(js.Value, []js.Value) any {
			ch.fail(errChannelClosed)
			go ev.closed(i)
			return nil
		})
		c.h.on(dc, "onmessage", func(_ js.Value, args []js.Value) any {
			ch.push(arg0(args).Get("data"))
			return nil
		})
	}
	c.h.on(c.pc, "onicecandidate", func(_ js.Value, args []js.Value) any {
		cand := arg0(args).Get("candidate")
		if cand.IsNull() || cand.IsUndefined() {
			ev.candidate(nil)
			return nil
		}
		// Candidates keep their order: localCandidate only queues.
		ev.candidate([]byte(js.Global().Get("JSON").Call("stringify", cand).String()))
		return nil
	})
	c.h.on(c.pc, "onconnectionstatechange", func(js.Value, []js.Value) any {
		if state := c.pc.Get("connectionState").String(); state == "failed" || state == "closed" {
			go ev.failed("connection " + state)
		}
		return nil
	})
	return c, out, nil
}

// describe creates an offer or answer and makes it the local description.
func (c *browserConn) describe(method string) (string, error) {
	var p js.Value
	if err := catch(func() { p = c.pc.Call(method) }); err != nil {
		return "", err
	}
	desc, err := await(c.ctx, p)
	if err != nil {
		return "", err
	}
	if err := catch(func() { p = c.pc.Call("setLocalDescription", desc) }); err != nil {
		return "", err
	}
	if _, err := await(c.ctx, p); err != nil {
		return "", err
	}
	return desc.Get("sdp").String(), nil
}

func (c *browserConn) offer() (string, error)  { return c.describe("createOffer") }
func (c *browserConn) answer() (string, error) { return c.describe("createAnswer") }

func (c *browserConn) setRemote(isOffer bool, sdp string) error {
	typ := "answer"
	if isOffer {
		typ = "offer"
	}
	return c.call("setRemoteDescription", map[string]any{"type": typ, "sdp": sdp})
}

func (c *browserConn) addCandidate(init candidateInit) error {
	o := map[string]any{"candidate": init.Candidate}
	if init.SDPMid != nil {
		o["sdpMid"] = *init.SDPMid
	}
	if init.SDPMLineIndex != nil {
		o["sdpMLineIndex"] = int(*init.SDPMLineIndex)
	}
	if init.UsernameFragment != nil {
		o["usernameFragment"] = *init.UsernameFragment
	}
	return c.call("addIceCandidate", o)
}

// call calls a method of the connection that returns a promise and waits
// for it.
func (c *browserConn) call(method string, arg any) error {
	var p js.Value
	if err := catch(func() { p = c.pc.Call(method, arg) }); err != nil {
		return err
	}
	_, err := await(c.ctx, p)
	return err
}

// remoteFingerprint hashes the certificate the peer proved in the DTLS
// handshake, where the browser tells it (RTCDtlsTransport's
// getRemoteCertificates: Chromium, not Firefox).
func (c *browserConn) remoteFingerprint() string {
	var fp string
	_ = catch(func() {
		sctp := c.pc.Get("sctp")
		if sctp.IsNull() || sctp.IsUndefined() {
			return
		}
		dtls := sctp.Get("transport")
		if dtls.IsNull() || dtls.IsUndefined() || dtls.Get("getRemoteCertificates").Type() != js.TypeFunction {
			return
		}
		certs := dtls.Call("getRemoteCertificates")
		if certs.Length() == 0 {
			return
		}
		sum := sha256.Sum256(bytesOf(certs.Index(0), nil))
		fp = hex.EncodeToString(sum[:])
	})
	return fp
}

func (c *browserConn) close() {
	c.once.Do(func() {
		if c.cancel == nil {
			return // the connection could not be made
		}
		c.cancel()
		for _, ch := range c.channels {
			ch.fail(errChannelClosed)
			_ = catch(func() { ch.dc.Call("close") })
		}
		_ = catch(func() { c.pc.Call("close") })
		c.h.release()
	})
}
