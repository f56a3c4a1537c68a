// Command signalling shows the matchbox signalling protocol at work: two
// scripted clients join one room on a running signalserver, the first hears
// of the second (NewPeer) and sends it a signal, which the server relays.
//
//	go run ./examples/signalling -server ws://127.0.0.1:3536
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rollbox/rollbox/signalwire"
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

// receive reads one frame, prints it and decodes it, expecting a message
// of the given kind.
func (c *client) receive(ctx context.Context, want signalwire.Kind) (signalwire.ServerMessage, error) {
	deadline, _ := ctx.Deadline()
	_ = c.conn.SetReadDeadline(deadline)
	_, frame, err := c.conn.ReadMessage()
	if err != nil {
		return signalwire.ServerMessage{}, fmt.Errorf("%s: %w", c.name, err)
	}
	fmt.Fprintf(c.out, "%-5s <- %s\n", c.name, frame)
	msg, err := signalwire.ParseServerMessage(frame)
	if err != nil {
		return msg, fmt.Errorf("%s: %w", c.name, err)
	}
	if msg.Kind != want {
		return msg, fmt.Errorf("%s: got %v, want %v", c.name, msg.Kind, want)
	}
	return msg, nil
}

func run(ctx context.Context, url string, out io.Writer) error {
	alice, err := join(ctx, "alice", url, out)
	if err != nil {
		return err
	}
	defer alice.conn.Close()
	aliceID, err := alice.receive(ctx, signalwire.IDAssigned)
	if err != nil {
		return err
	}
	bob, err := join(ctx, "bob", url, out)
	if err != nil {
		return err
	}
	defer bob.conn.Close()
	bobID, err := bob.receive(ctx, signalwire.IDAssigned)
	if err != nil {
		return err
	}
	newPeer, err := alice.receive(ctx, signalwire.NewPeer)
	if err != nil {
		return err
	}
	if newPeer.Peer != bobID.Peer {
		return errors.New("alice was not told about bob")
	}
	// A real client would send its WebRTC offer here.
	signal := signalwire.ClientMessage{Kind: signalwire.Signal, Receiver: bobID.Peer, Data: []byte(`{"Offer":"v=0 (an SDP offer)"}`)}.Encode()
	fmt.Fprintf(out, "alice -> %s\n", signal)
	if err := alice.conn.WriteMessage(websocket.TextMessage, signal); err != nil {
		return err
	}
	relayed, err := bob.receive(ctx, signalwire.Signal)
	if err != nil {
		return err
	}
	if relayed.Peer != aliceID.Peer {
		return errors.New("bob's signal does not come from alice")
	}
	_ = bob.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	left, err := alice.receive(ctx, signalwire.PeerLeft)
	if err != nil {
		return err
	}
	if left.Peer != bobID.Peer {
		return errors.New("alice was not told that bob left")
	}
	fmt.Fprintln(out, "ok: join, NewPeer, relayed Signal and PeerLeft seen")
	return nil
}
