// Command signalling shows the matchbox signalling protocol at work: two
// scripted clients join one room on a running signalserver, the first hears
// of the second (NewPeer) and sends it a signal, which the server relays.
//
//	go run ./examples/signalling -server ws://127.0.0.1:3536
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gorilla/websocket"
)

func main() {
	server := flag.String("server", "ws://127.0.0.1:3536", "signalling server URL")
	room := flag.String("room", "demo", "room to join")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := run(ctx, *server+"/"+*room+"?next=2", os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "signalling:", err)
		os.Exit(1)
	}
}

// client is one scripted peer that prints what it receives.
type client struct {
	name string
	conn *websocket.Conn
	out  io.Writer
}

func join(ctx context.Context, name, url string, out io.Writer) (*client, error) {
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	fmt.Fprintf(out, "%-5s joined %s\n", name, url)
	return &client{name: name, conn: conn, out: out}, nil
}

// receive reads one frame, prints it and decodes it into v.
func (c *client) receive(ctx context.Context, v any) error {
	deadline, _ := ctx.Deadline()
	_ = c.conn.SetReadDeadline(deadline)
	_, msg, err := c.conn.ReadMessage()
	if err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	fmt.Fprintf(c.out, "%-5s <- %s\n", c.name, msg)
	return json.Unmarshal(msg, v)
}

func run(ctx context.Context, url string, out io.Writer) error {
	alice, err := join(ctx, "alice", url, out)
	if err != nil {
		return err
	}
	defer alice.conn.Close()
	var aliceID struct{ IdAssigned string }
	if err := alice.receive(ctx, &aliceID); err != nil {
		return err
	}
	bob, err := join(ctx, "bob", url, out)
	if err != nil {
		return err
	}
	defer bob.conn.Close()
	var bobID struct{ IdAssigned string }
	if err := bob.receive(ctx, &bobID); err != nil {
		return err
	}
	var newPeer struct{ NewPeer string }
	if err := alice.receive(ctx, &newPeer); err != nil {
		return err
	}
	if newPeer.NewPeer != bobID.IdAssigned {
		return errors.New("alice was not told about bob")
	}
	// A real client would send its WebRTC offer here.
	signal := fmt.Sprintf(`{"Signal":{"receiver":%q,"data":{"Offer":"v=0 (an SDP offer)"}}}`, bobID.IdAssigned)
	fmt.Fprintf(out, "alice -> %s\n", signal)
	if err := alice.conn.WriteMessage(websocket.TextMessage, []byte(signal)); err != nil {
		return err
	}
	var relayed struct{ Signal struct{ Sender string } }
	if err := bob.receive(ctx, &relayed); err != nil {
		return err
	}
	if relayed.Signal.Sender != aliceID.IdAssigned {
		return errors.New("bob's signal does not come from alice")
	}
	_ = bob.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	var left struct{ PeerLeft string }
	if err := alice.receive(ctx, &left); err != nil {
		return err
	}
	if left.PeerLeft != bobID.IdAssigned {
		return errors.New("alice was not told that bob left")
	}
	fmt.Fprintln(out, "ok: join, NewPeer, relayed Signal and PeerLeft seen")
	return nil
}
