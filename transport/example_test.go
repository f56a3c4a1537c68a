package transport_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/rollbox/rollbox/signalserver"
	"github.com/rollbox/rollbox/transport"
)

// Two sockets meet through a signalling server on loopback and talk over a
// direct WebRTC data channel. A game calls Receive once per frame instead of
// waiting on Ready.
func Example() {
	srv, err := signalserver.New(signalserver.Config{})
	if err != nil {
		log.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background())
	room := "ws" + strings.TrimPrefix(hs.URL, "http") + "/example?next=2"

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg := transport.Config{
		LoopbackOnly: true, // both peers are on this machine
		Logger:       slog.New(slog.DiscardHandler),
	}
	alice, err := transport.Join(ctx, room, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer alice.Close(ctx)
	bob, err := transport.Join(ctx, room, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer bob.Close(ctx)

	if _, err := alice.WaitForPeers(ctx, 1); err != nil {
		log.Fatal(err)
	}
	if _, err := bob.WaitForPeers(ctx, 1); err != nil {
		log.Fatal(err)
	}
	if err := alice.Send(bob.ID(), []byte("hello")); err != nil {
		log.Fatal(err)
	}
	for {
		select {
		case <-bob.Ready():
		case <-ctx.Done():
			log.Fatal(ctx.Err())
		}
		for _, p := range bob.Receive() {
			fmt.Printf("bob got %q from alice: %v\n", p.Data, p.From == alice.ID())
			return
		}
	}
	// Output:
	// bob got "hello" from alice: true
}
