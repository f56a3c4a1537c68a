//go:build !js

package transport

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"
	"github.com/rollbox/rollbox/signalwire"
)

// rawClient is a hostile room member: its own WebSocket to the real
// signalling server, speaking matchbox by hand, and a plain pion
// PeerConnection it drives however the test likes.
type rawClient struct {
	t  *testing.T
	id PeerID
	ws *websocket.Conn
	pc *webrtc.PeerConnection
}

// dialRaw joins the room at url and reads the id the server assigns.
func dialRaw(ctx context.Context, t *testing.T, url string) *rawClient {
	t.Helper()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	ws.SetReadLimit(signalReadLimit)
	c := &rawClient{t: t, ws: ws, pc: remotePeer(t)}
	msg := c.read(ctx)
	if msg.Kind != signalwire.IDAssigned {
		t.Fatalf("first frame is not IdAssigned: %+v", msg)
	}
	c.id = msg.Peer
	return c
}

// read returns the next frame from the server, skipping keep-alives.
func (c *rawClient) read(ctx context.Context) signalwire.ServerMessage {
	c.t.Helper()
	for {
		_, data, err := c.ws.Read(ctx)
		if err != nil {
			c.t.Fatalf("raw client %s: read: %v", c.id, err)
		}
		msg, err := signalwire.ParseServerMessage(data)
		if err != nil {
			continue // not a message this client knows
		}
		return msg
	}
}

// readUntil reads frames until match accepts one, and returns it.
func (c *rawClient) readUntil(ctx context.Context, match func(signalwire.ServerMessage) bool) signalwire.ServerMessage {
	c.t.Helper()
	for {
		if msg := c.read(ctx); match(msg) {
			return msg
		}
	}
}

// signalOf returns the peer signal a frame carries from sender, if it is one.
func signalOf(msg signalwire.ServerMessage, sender PeerID) (peerSignal, bool) {
	var data peerSignal
	if msg.Kind != signalwire.Signal || msg.Peer != sender || json.Unmarshal(msg.Data, &data) != nil {
		return data, false
	}
	return data, true
}

// send relays data to another room member through the server.
func (c *rawClient) send(ctx context.Context, to PeerID, data peerSignal) {
	c.t.Helper()
	if err := c.ws.Write(ctx, websocket.MessageText, encodeSignal(to, data)); err != nil {
		c.t.Fatalf("raw client %s: write: %v", c.id, err)
	}
}

// description makes the pion connection's offer (remote nil) or its answer
// to remote, with every candidate in it, as a non-trickling peer sends.
func (c *rawClient) description(remote *webrtc.SessionDescription) string {
	c.t.Helper()
	var desc webrtc.SessionDescription
	var err error
	if remote == nil {
		desc, err = c.pc.CreateOffer(nil)
	} else {
		if err = c.pc.SetRemoteDescription(*remote); err != nil {
			c.t.Fatal(err)
		}
		desc, err = c.pc.CreateAnswer(nil)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(desc); err != nil {
		c.t.Fatal(err)
	}
	<-gathered
	return c.pc.LocalDescription().SDP
}

// follow applies what from sends (its answer and trickled candidates) to the
// pion connection until ctx ends or the WebSocket closes. It reads in the
// background; the test waits for it at cleanup.
func (c *rawClient) follow(ctx context.Context, from PeerID) {
	var wg sync.WaitGroup
	c.t.Cleanup(wg.Wait)
	c.t.Cleanup(func() { _ = c.ws.CloseNow() })
	wg.Go(func() {
		for {
			_, frame, err := c.ws.Read(ctx)
			if err != nil {
				return
			}
			msg, err := signalwire.ParseServerMessage(frame)
			if err != nil {
				continue
			}
			data, ok := signalOf(msg, from)
			switch {
			case !ok:
			case data.Answer != nil:
				_ = c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: *data.Answer})
			case data.IceCandidate != nil && *data.IceCandidate != "null":
				var init webrtc.ICECandidateInit
				if json.Unmarshal([]byte(*data.IceCandidate), &init) == nil {
					_ = c.pc.AddICECandidate(init)
				}
			}
		}
	})
}

// holdingProxy relays WebSocket frames between one client and the room URL
// upstream, and lets the test reorder what the server sends the client:
// while hold reports true for a frame, it and all later frames wait, until
// a frame release accepts has gone through. Networks reorder two senders'
// messages like this; the proxy makes one order certain.
type holdingProxy struct {
	hs       *httptest.Server
	upstream string
	hold     func(signalwire.ServerMessage) bool
	release  func(signalwire.ServerMessage) bool
	ctx      context.Context
	wg       sync.WaitGroup
}

func startHoldingProxy(t *testing.T, upstream string, hold, release func(signalwire.ServerMessage) bool) *holdingProxy {
	ctx, cancel := context.WithCancel(context.Background())
	p := &holdingProxy{upstream: upstream, hold: hold, release: release, ctx: ctx}
	p.hs = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(func() {
		cancel()
		p.wg.Wait()
		p.hs.Close()
	})
	return p
}

// url returns the WebSocket URL clients join through.
func (p *holdingProxy) url() string { return "ws" + strings.TrimPrefix(p.hs.URL, "http") + "/room" }

func (p *holdingProxy) serve(w http.ResponseWriter, r *http.Request) {
	p.wg.Add(1)
	defer p.wg.Done()
	client, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer client.CloseNow()
	ctx, cancel := context.WithCancel(p.ctx)
	defer cancel()
	up, _, err := websocket.Dial(ctx, p.upstream, nil)
	if err != nil {
		return
	}
	defer up.CloseNow()
	client.SetReadLimit(signalReadLimit)
	up.SetReadLimit(signalReadLimit)

	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		defer cancel()
		for {
			typ, frame, err := client.Read(ctx)
			if err != nil || up.Write(ctx, typ, frame) != nil {
				return
			}
		}
	})
	var held [][]byte
	released := false
	for {
		typ, frame, err := up.Read(ctx)
		if err != nil {
			return
		}
		msg, _ := signalwire.ParseServerMessage(frame) // hold and release see the zero message for a frame they cannot read
		out := [][]byte{frame}
		switch {
		case released:
		case p.release(msg):
			released = true
			out = append(out, held...)
			held = nil
		case len(held) > 0 || p.hold(msg):
			held = append(held, frame)
			continue
		}
		for _, f := range out {
			if client.Write(ctx, typ, f) != nil {
				return
			}
		}
	}
}

// withFingerprint replaces every fingerprint an SDP announces with fp (a
// whole "a=fingerprint:..." line).
func withFingerprint(sdp, fp string) string {
	lines := strings.SplitAfter(sdp, "\n")
	for i, line := range lines {
		if strings.HasPrefix(line, "a=fingerprint:") {
			lines[i] = fp + "\r\n"
		}
	}
	return strings.Join(lines, "")
}

// fingerprintLine returns the first "a=fingerprint:..." line of an SDP.
func fingerprintLine(sdp string) string {
	for line := range strings.Lines(sdp) {
		if strings.HasPrefix(line, "a=fingerprint:") {
			return strings.TrimRight(line, "\r\n")
		}
	}
	return ""
}
