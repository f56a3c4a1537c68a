//go:build linux

package browsertest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/rollbox/rollbox/internal/chromium"
	"github.com/rollbox/rollbox/internal/webgametest"
	"github.com/rollbox/rollbox/signalserver"
	"github.com/rollbox/rollbox/signalserver/signaltest"
	"github.com/rollbox/rollbox/transport"
)

// wasmChildEnv holds the directory of the built wasmecho page in the copy of
// the test binary that runs inside the network namespace.
const wasmChildEnv = "ROLLBOX_BROWSERTEST_WASM"

// wasmPage loads wasmecho.wasm; window.wasmecho is its report.
const wasmPage = `<!doctype html>
<meta charset="utf-8">
<script src="wasm_exec.js"></script>
<script>
window.wasmecho = {};
const go = new Go();
WebAssembly.instantiateStreaming(fetch("wasmecho.wasm"), go.importObject)
  .then((r) => go.run(r.instance))
  .catch((e) => { window.wasmecho.error = String(e); });
</script>
`

// TestWasmTransport runs the transport's js/wasm build (the browser's
// RTCPeerConnection, WebSocket and fetch instead of pion, coder/websocket
// and net/http) in Chromium against two native sockets: it gets its ICE
// servers from /ice, connects to both, echoes packets on the unreliable
// channel and on the reliable one, including a message chunked across
// several SCTP messages and one that looks like a chunk; after the
// signalling server restarts, it and the natives recognise each other by
// their DTLS certificates instead of connecting twice; and when it leaves
// every native sees it go.
func TestWasmTransport(t *testing.T) {
	webgametest.Test{
		ChildEnv: wasmChildEnv,
		Build: func(ctx context.Context, dir string) error {
			if err := webgametest.BuildWasm(ctx, dir, "wasmecho.wasm", "./wasmecho"); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, "index.html"), []byte(wasmPage), 0o644)
		},
		Timeout: childTimeout,
		Play:    runWasmInNamespace,
	}.Run(t)
}

func runWasmInNamespace(t *testing.T, dir string) {
	if err := chromium.BringLoopbackUp(); err != nil {
		t.Fatalf("bringing lo up: %v", err)
	}
	srv := signaltest.StartRestartable(t, signalserver.Config{
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		Web:    http.FileServerFS(os.DirFS(dir)),
		// Nothing answers there; the page only has to fetch and use it.
		ICE: signalserver.ICEConfig{STUN: []string{"stun:127.0.0.1:9"}},
	})
	browser := chromium.StartTest(t, chromium.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	room := srv.Room("wasm")
	page, err := browser.NewPage(ctx, srv.HTTP.URL+"/index.html?"+url.Values{"signal": {room}}.Encode(), 320, 240)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = page.Close(context.Background()) })
	var pageID string
	waitPage(t, ctx, page, `wasmecho.id`, &pageID)

	cfg := transport.Config{
		Channels:     []transport.ChannelConfig{transport.Unreliable(), transport.Reliable()},
		LoopbackOnly: true,
	}
	join := func() *transport.Socket {
		s, err := transport.Join(ctx, room, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.Close(ctx); err != nil {
				t.Error(err)
			}
		})
		return s
	}
	natives := []*transport.Socket{join(), join()}
	for _, s := range natives {
		peers, err := s.WaitForPeers(ctx, 2)
		if err != nil {
			t.Fatalf("%s: %v (page: %s)", s.ID(), err, pageState(page))
		}
		if !slices.Contains(peers, transport.PeerID(pageID)) {
			t.Fatalf("%s connected to %v, not the page %s", s.ID(), peers, pageID)
		}
	}

	big := bytes.Repeat([]byte("0123456789abcdef"), 200<<10/16) // 200 KiB: four chunks
	chunkLike := append([]byte{0xF0, 'r', 'b', 'x', 'c', 'h', 'n', 'k'}, "not a chunk"...)
	for _, s := range natives {
		var reliable [][]byte
		for i := range 20 {
			reliable = append(reliable, fmt.Appendf(nil, "%s reliable %d", s.ID(), i))
		}
		reliable = slices.Insert(reliable, 10, big, chunkLike)
		const unreliable = 100
		for i := range unreliable {
			if err := s.Channel(0).Send(transport.PeerID(pageID), fmt.Appendf(nil, "unreliable %d", i)); err != nil {
				t.Fatal(err)
			}
		}
		for _, m := range reliable {
			if err := s.Channel(1).Send(transport.PeerID(pageID), m); err != nil {
				t.Fatal(err)
			}
		}
		var gotReliable [][]byte
		gotUnreliable := 0
		for len(gotReliable) < len(reliable) {
			select {
			case <-s.Ready():
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
				t.Fatalf("%s: %d of %d reliable echoes, %d unreliable (page: %s)", s.ID(), len(gotReliable), len(reliable), gotUnreliable, pageState(page))
			}
			for _, p := range s.Channel(0).Receive() {
				if p.From == transport.PeerID(pageID) {
					gotUnreliable++
				}
			}
			for _, p := range s.Channel(1).Receive() {
				if p.From == transport.PeerID(pageID) {
					gotReliable = append(gotReliable, bytes.Clone(p.Data))
				}
			}
		}
		for i := range reliable {
			if !bytes.Equal(gotReliable[i], reliable[i]) {
				t.Fatalf("%s: reliable echo %d is %d bytes %.40q, want %d bytes %.40q", s.ID(), i, len(gotReliable[i]), gotReliable[i], len(reliable[i]), reliable[i])
			}
		}
		// Unreliable echoes that are still on their way when the reliable
		// ones are complete are not waited for; on loopback most are back.
		if gotUnreliable < unreliable/2 {
			t.Errorf("%s: %d of %d unreliable echoes", s.ID(), gotUnreliable, unreliable)
		}
	}
	// The page got every reliable message on its reliable channel and no
	// more (channel ids or options that differ between the builds would
	// mix the channels up), and refused nothing.
	var counts struct{ Unreliable, Reliable, Malformed int }
	waitPage(t, ctx, page, `wasmecho.reliable >= 44 && wasmecho`, &counts)
	if counts.Reliable != 44 || counts.Unreliable > 200 || counts.Malformed != 0 {
		t.Errorf("the page echoed %d reliable (want 44) and %d unreliable (at most 200) packets, and refused %d (want 0)",
			counts.Reliable, counts.Unreliable, counts.Malformed)
	}

	// The signalling server restarts: everybody reconnects under a new id
	// and is introduced to everybody again. The page and the natives
	// recognise each other by the certificates proven in DTLS (the page
	// uses one for all its connections, and reads the natives' from
	// RTCDtlsTransport), drop the duplicate connections and keep talking
	// over the first ones; a native joining afterwards meshes with all.
	for _, s := range natives {
		s.PeerEvents()
	}
	srv.Restart()
	natives = append(natives, join())
	if _, err := natives[2].WaitForPeers(ctx, 3); err != nil {
		t.Fatalf("a native joining after the restart: %v (page: %s)", err, pageState(page))
	}
	settled := func() bool {
		for _, s := range natives {
			if len(s.Peers()) != 3 || s.Connecting() != 0 {
				return false
			}
		}
		var pageSettled bool
		err := page.Evaluate(ctx, `wasmecho.peers === 3 && wasmecho.connecting === 0`, &pageSettled)
		return err == nil && pageSettled
	}
	for !settled() {
		select {
		case <-ctx.Done():
			t.Fatalf("the mesh never settled after the restart: natives %d/%d/%d peers, page %s",
				len(natives[0].Peers()), len(natives[1].Peers()), len(natives[2].Peers()), pageState(page))
		case <-time.After(50 * time.Millisecond):
		}
	}
	for _, s := range natives[:2] {
		want := []transport.PeerEvent{{Peer: natives[2].ID(), State: transport.PeerConnected}}
		if ev := s.PeerEvents(); !slices.Equal(ev, want) {
			t.Errorf("%s: events since the restart %v, want only %v", s.ID(), ev, want)
		}
	}
	var pageConnected int
	if err := page.Evaluate(ctx, `wasmecho.connected`, &pageConnected); err != nil || pageConnected != 3 {
		t.Errorf("the page saw %d peers connect (%v), want 3: the two natives before the restart, one after", pageConnected, err)
	}

	// The page leaves: every native sees it go at once, not after ICE
	// gives up.
	if err := natives[0].Channel(1).Send(transport.PeerID(pageID), []byte("close")); err != nil {
		t.Fatal(err)
	}
	var closed bool
	waitPage(t, ctx, page, `wasmecho.closed`, &closed)
	leaveCtx, cancelLeave := context.WithTimeout(ctx, 10*time.Second)
	defer cancelLeave()
	for _, s := range natives {
		for slices.Contains(s.Peers(), transport.PeerID(pageID)) {
			select {
			case <-s.Ready():
			case <-time.After(50 * time.Millisecond):
			case <-leaveCtx.Done():
				t.Fatalf("%s still has the page %s as a peer 10 s after it left", s.ID(), pageID)
			}
		}
	}
}

// waitPage waits until the JavaScript expression is truthy in the page, or
// an error is reported, and stores its value in out.
func waitPage(t *testing.T, ctx context.Context, p *chromium.Page, expr string, out any) {
	t.Helper()
	poll := `new Promise((resolve) => {
		const check = () => {
			if (window.wasmecho && window.wasmecho.error) { resolve({error: window.wasmecho.error}); return; }
			let v;
			try { v = (` + expr + `); } catch (e) {}
			v !== undefined && v !== false && v !== null ? resolve({value: v}) : setTimeout(check, 20);
		};
		check();
	})`
	var res struct {
		Value any
		Error string
	}
	if err := p.Evaluate(ctx, poll, &res); err != nil {
		t.Fatalf("waiting for %s: %v (page: %s)", expr, err, pageState(p))
	}
	if res.Error != "" {
		t.Fatalf("waiting for %s: the page failed: %s", expr, res.Error)
	}
	if err := p.Evaluate(ctx, expr, out); err != nil {
		t.Fatalf("reading %s: %v", expr, err)
	}
}

func pageState(p *chromium.Page) string {
	var state any
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Evaluate(ctx, `window.wasmecho`, &state); err != nil {
		return err.Error()
	}
	return fmt.Sprint(state)
}
