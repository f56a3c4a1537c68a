//go:build !js

package transport

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/rollbox/rollbox/internal/syncbuf"
	"github.com/rollbox/rollbox/internal/testclock"
	"github.com/rollbox/rollbox/signalwire"
)

// fakeServer is a scripted matchbox signalling server: the test reads what
// the socket sends and writes whatever it likes back.
type fakeServer struct {
	hs    *httptest.Server
	conns chan *websocket.Conn
	done  chan struct{} // closed at cleanup to release the handlers
}

func newFakeServer(t *testing.T) *fakeServer {
	f := &fakeServer{conns: make(chan *websocket.Conn, 4), done: make(chan struct{})}
	f.hs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		f.conns <- c
		<-f.done // the test owns c now
	}))
	t.Cleanup(func() {
		close(f.done)
		f.hs.Close()
	})
	return f
}

func (f *fakeServer) url() string { return "ws" + strings.TrimPrefix(f.hs.URL, "http") + "/room" }

// accept returns the next client connection after sending it IdAssigned.
func (f *fakeServer) accept(ctx context.Context, t *testing.T, id PeerID) *websocket.Conn {
	t.Helper()
	select {
	case c := <-f.conns:
		t.Cleanup(func() { c.CloseNow() })
		write(ctx, t, c, `{"IdAssigned":"`+string(id)+`"}`)
		return c
	case <-ctx.Done():
		t.Fatal("no client connected")
		return nil
	}
}

func write(ctx context.Context, t *testing.T, c *websocket.Conn, frame string) {
	t.Helper()
	if err := c.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		t.Fatal(err)
	}
}

// signalFrom builds a Signal frame as the server relays it.
func signalFrom(sender PeerID, data peerSignal) string {
	b, _ := json.Marshal(map[string]any{"Signal": map[string]any{"sender": sender, "data": data}})
	return string(b)
}

// readSignals reads frames until it has the description (Offer or Answer)
// and the "null" end of candidates, checking the matchbox shapes on the way.
func readSignals(ctx context.Context, t *testing.T, c *websocket.Conn, to PeerID) (desc peerSignal, candidates []webrtc.ICECandidateInit) {
	t.Helper()
	ended := false
	for !ended || (desc.Offer == nil && desc.Answer == nil) {
		_, data, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("reading the socket's signals: %v", err)
		}
		if string(data) == `"KeepAlive"` {
			continue
		}
		// The server parses what the socket sends with signalwire.
		msg, err := signalwire.ParseClientMessage(data)
		if err != nil || msg.Kind != signalwire.Signal || msg.Receiver != to {
			t.Fatalf("unexpected frame %s (%v)", data, err)
		}
		var d peerSignal
		if err := json.Unmarshal(msg.Data, &d); err != nil {
			t.Fatalf("unexpected signal %s: %v", data, err)
		}
		switch {
		case d.Offer != nil || d.Answer != nil:
			if len(candidates) > 0 || ended {
				t.Fatalf("candidates sent before the description")
			}
			desc = d
		case d.IceCandidate != nil && *d.IceCandidate == "null":
			ended = true
		case d.IceCandidate != nil:
			var c webrtc.ICECandidateInit
			if err := json.Unmarshal([]byte(*d.IceCandidate), &c); err != nil || !strings.HasPrefix(c.Candidate, "candidate:") {
				t.Fatalf("candidate is not a JSON string of RTCIceCandidateInit: %s", data)
			}
			candidates = append(candidates, c)
		default:
			t.Fatalf("unexpected signal %s", data)
		}
	}
	return desc, candidates
}

// remotePeer is a plain pion peer on loopback standing in for another
// matchbox client.
func remotePeer(t *testing.T) *webrtc.PeerConnection {
	var se webrtc.SettingEngine
	restrictToLoopback(&se)
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	return pc
}

// Garbage from the server or from peers is dropped, counted, and logged
// once (the log clock stands still); the socket carries on, then negotiates
// correctly with a peer whose candidates arrive before its answer (they
// must be queued, not dropped).
func TestBadInputIsDroppedAndEarlyCandidatesAreQueued(t *testing.T) {
	f := newFakeServer(t)
	ctx := testContext(t, 20*time.Second)
	cfg := testConfig(t)
	var logs syncbuf.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg.now = (&testclock.Clock{}).Now
	cfg.KeepAliveInterval = 20 * time.Millisecond
	done := make(chan *Socket, 1)
	go func() {
		s, err := Join(ctx, f.url(), cfg)
		if err != nil {
			t.Error(err)
		}
		done <- s
	}()
	// Ids are UUIDs, as the real server assigns them: signalwire refuses
	// anything else.
	me, x, y, remote, nobody := signalwire.NewPeerID(), signalwire.NewPeerID(), signalwire.NewPeerID(), signalwire.NewPeerID(), signalwire.NewPeerID()
	c := f.accept(ctx, t, me)
	s := <-done
	if s == nil {
		t.FailNow()
	}
	defer closeSocket(t, s)
	if s.ID() != me {
		t.Fatalf("ID %q, want the assigned %q", s.ID(), me)
	}

	// The keep-alive is the bare JSON string.
	if _, data, err := c.Read(ctx); err != nil || string(data) != `"KeepAlive"` {
		t.Fatalf("first frame from the socket %q, %v; want \"KeepAlive\"", data, err)
	}

	str := func(s string) *string { return &s }
	for _, frame := range []string{
		`not json`,
		`"KeepAlive"`,
		`{"Unknown":1}`,
		`{"IdAssigned":"again"}`,
		`{"IdAssigned":"` + string(signalwire.NewPeerID()) + `"}`,
		`{"NewPeer":""}`,
		`{"NewPeer":"` + string(me) + `"}`,
		`{"NewPeer":"not-a-uuid"}`,
		`{"PeerLeft":"` + string(nobody) + `"}`, // not malformed: unknown peers may leave
		`{"Signal":{"sender":"` + string(x) + `","data":"garbage"}}`,
		`{"Signal":{"sender":"` + string(x) + `","data":{}}}`,
		signalFrom("x", peerSignal{Offer: str("v=0")}), // the sender is no peer id
		signalFrom(x, peerSignal{Answer: str("v=0")}),
		signalFrom(x, peerSignal{IceCandidate: str(`{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host"}`)}),
		signalFrom(y, peerSignal{Offer: str("this is not SDP")}),
		signalFrom(y, peerSignal{Offer: str("this is not SDP either")}),
	} {
		write(ctx, t, c, frame)
	}

	// A well-behaved peer joins: we offer, it answers with its candidates first.
	write(ctx, t, c, `{"NewPeer":"`+string(remote)+`"}`)
	desc, candidates := readSignals(ctx, t, c, remote)
	if desc.Offer == nil || len(candidates) == 0 {
		t.Fatalf("socket sent %+v and %d candidates, want an offer with trickled candidates", desc, len(candidates))
	}
	pc := remotePeer(t)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: *desc.Offer}); err != nil {
		t.Fatal(err)
	}
	// The remote peer is not told our candidates: only our side can start
	// connectivity checks, so the connection depends on the candidates it
	// queued before the answer.
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	if strings.Contains(answer.SDP, "a=candidate") {
		t.Fatal("the answer carries candidates; the test needs them trickled")
	}
	var local []string
	for _, line := range strings.Split(pc.LocalDescription().SDP, "\r\n") {
		if cand, ok := strings.CutPrefix(line, "a="); ok && strings.HasPrefix(cand, "candidate:") {
			local = append(local, cand)
		}
	}
	if len(local) == 0 {
		t.Fatal("remote peer gathered no candidates")
	}
	for _, cand := range local {
		init, _ := json.Marshal(webrtc.ICECandidateInit{Candidate: cand, SDPMid: str("0")})
		write(ctx, t, c, signalFrom(remote, peerSignal{IceCandidate: str(string(init))}))
	}
	write(ctx, t, c, signalFrom(remote, peerSignal{IceCandidate: str("null")}))
	write(ctx, t, c, signalFrom(remote, peerSignal{Answer: &answer.SDP}))
	write(ctx, t, c, signalFrom(remote, peerSignal{Answer: &answer.SDP})) // duplicate: dropped

	peers, err := s.WaitForPeers(ctx, 1)
	if err != nil {
		t.Fatalf("no connection with early candidates queued: %v", err)
	}
	if len(peers) != 1 || peers[0] != remote {
		t.Fatalf("peers %v, want [%s]: garbage must not create peers", peers, remote)
	}
	if ev := s.PeerEvents(); len(ev) != 1 || ev[0] != (PeerEvent{Peer: remote, State: PeerConnected}) {
		t.Fatalf("events %v", ev)
	}

	// Fifteen frames above are malformed (the duplicate answer may still be
	// on its way); each was logged or held back, and one line got through.
	const malformed = 15
	for s.Stats().Malformed < malformed {
		select {
		case <-ctx.Done():
			t.Fatalf("stats %+v, want %d malformed", s.Stats(), malformed)
		case <-time.After(10 * time.Millisecond):
		}
	}
	st := s.Stats()
	lines := strings.Count(logs.String(), "level=WARN")
	if st.Malformed != malformed || lines+int(st.LogsSuppressed) != malformed || lines > 2 {
		t.Fatalf("stats %+v with %d warnings logged, want %d malformed, each logged or held back, at most 2 logged:\n%s",
			st, lines, malformed, logs.String())
	}
}

// The first frame must assign a peer id, a UUID as every matchbox server
// sends: a socket under any other id could not be addressed by its peers,
// whose servers parse ids as UUIDs.
func TestJoinRefusesAnAssignedIDThatIsNoUUID(t *testing.T) {
	f := newFakeServer(t)
	ctx := testContext(t, 20*time.Second)
	type joined struct {
		s   *Socket
		err error
	}
	done := make(chan joined, 1)
	go func() {
		s, err := Join(ctx, f.url(), testConfig(t))
		done <- joined{s, err}
	}()
	f.accept(ctx, t, "me")
	j := <-done
	if j.err == nil {
		closeSocket(t, j.s)
		t.Fatalf("Join accepted the id %q", j.s.ID())
	}
	if !strings.HasPrefix(j.err.Error(), "transport: ") || !strings.Contains(j.err.Error(), "IdAssigned") {
		t.Fatalf("Join: %v, want an error that the first frame is no IdAssigned", j.err)
	}
}
