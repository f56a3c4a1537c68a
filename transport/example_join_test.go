package transport_test

import (
	"context"
	"fmt"
	"log"

	"github.com/rollbox/rollbox/transport"
)

// How a game uses a socket: join, wait for the others, then send and
// receive once per frame without blocking. (Compiled, not run: it needs a
// signalling server at host:3536; Example runs the same against one.)
func ExampleJoin() {
	ctx := context.Background()
	sock, err := transport.Join(ctx, "ws://host:3536/room?next=2", transport.Config{})
	if err != nil {
		log.Fatal(err)
	}
	peers, err := sock.WaitForPeers(ctx, 1)
	if err != nil {
		log.Fatal(err)
	}
	_ = sock.Send(peers[0], []byte("hello")) // never blocks; drops (and counts) when congested
	for _, p := range sock.Receive() {       // everything since the last call; no allocation per packet
		fmt.Printf("%s sent %q\n", p.From, p.Data)
	}
}
