package web_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/rollbox/rollbox/signalserver"
	"github.com/rollbox/rollbox/signalserver/signaltest"
	"github.com/rollbox/rollbox/signalserver/web"
	"github.com/rollbox/rollbox/signalwire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestInSignalServer: with Config.Web, a plain GET of a room answers the
// page while a WebSocket upgrade of the same path joins the room, and
// /health keeps answering health checks.
func TestInSignalServer(t *testing.T) {
	h, err := web.Handler(fstest.MapFS{"index.html": {Data: []byte("the page")}})
	if err != nil {
		t.Fatal(err)
	}
	srv := signaltest.Start(t, signalserver.Config{Web: h})
	for path, want := range map[string]string{"/myroom": "the page", "/": "the page", "/health": "ok\n"} {
		resp, err := http.Get(srv.HTTP.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != want {
			t.Errorf("GET %s: %d %q, want %q", path, resp.StatusCode, b, want)
		}
	}
	conn, _, err := websocket.DefaultDialer.Dial(srv.Room("myroom"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var msg map[string]string
	if err := conn.ReadJSON(&msg); err != nil || !signalwire.ValidPeerID(msg["IdAssigned"]) {
		t.Fatalf("joining /myroom: %v %v", msg, err)
	}
	resp, err := http.Post(srv.HTTP.URL+"/myroom", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Error("POST /myroom answered 200")
	}
}
