package signalserver_test

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http/httptest"
	"strings"

	"github.com/gorilla/websocket"
	"github.com/rollbox/rollbox/signalserver"
)

// Two matchbox clients meet in a room: the first hears of the second and
// sends it a signal through the server.
func Example() {
	srv, err := signalserver.New(signalserver.Config{})
	if err != nil {
		log.Fatal(err)
	}
	hs := httptest.NewServer(srv) // in production: srv.HTTPServer() (see its example)
	defer hs.Close()
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/my_room?next=2"

	join := func() (*websocket.Conn, string) {
		conn, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			log.Fatal(err)
		}
		var msg struct{ IdAssigned string }
		if err := conn.ReadJSON(&msg); err != nil {
			log.Fatal(err)
		}
		return conn, msg.IdAssigned
	}
	alice, _ := join()
	defer alice.Close()
	bob, bobID := join()
	defer bob.Close()

	var event struct{ NewPeer string }
	_ = alice.ReadJSON(&event)
	fmt.Println("alice hears of bob:", event.NewPeer == bobID)

	_ = alice.WriteMessage(websocket.TextMessage, []byte(`{"Signal":{"receiver":"`+bobID+`","data":{"Offer":"v=0 ..."}}}`))
	var signal struct {
		Signal struct {
			Sender string
			Data   json.RawMessage
		}
	}
	_ = bob.ReadJSON(&signal)
	fmt.Println("bob gets:", string(signal.Signal.Data))
	// Output:
	// alice hears of bob: true
	// bob gets: {"Offer":"v=0 ..."}
}

// A server for production: the http.Server from HTTPServer counts every
// connection against the caps and times out idle and slow ones.
func ExampleServer_HTTPServer() {
	srv, err := signalserver.New(signalserver.Config{})
	if err != nil {
		log.Fatal(err)
	}
	hs := srv.HTTPServer()
	hs.Addr = ":3536"
	// Then: go hs.ListenAndServe() (or ServeTLS); to stop, hs.Shutdown(ctx)
	// and srv.Shutdown(ctx), which closes the WebSockets hs no longer tracks.
	fmt.Println(hs.ReadHeaderTimeout, hs.IdleTimeout)
	// Output: 10s 1m15s
}
