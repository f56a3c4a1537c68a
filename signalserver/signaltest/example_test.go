package signaltest_test

import (
	"fmt"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/rollbox/rollbox/signalserver"
	"github.com/rollbox/rollbox/signalserver/signaltest"
	"github.com/rollbox/rollbox/signalwire"
)

// A client test meets a real server on loopback.
func Example() {
	t := &testing.T{} // in a real test, the *testing.T of the test
	srv := signaltest.Start(t, signalserver.Config{})
	conn, _, err := websocket.DefaultDialer.Dial(srv.Room("lobby?next=2"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	var msg struct{ IdAssigned string }
	_ = conn.ReadJSON(&msg)
	fmt.Println("assigned an id:", signalwire.ValidPeerID(msg.IdAssigned))
	// Output: assigned an id: true
}
