package udp_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/rollbox/rollbox/transport/udp"
)

// Two sockets on loopback: Receive is polled, as a game would once per frame.
func Example() {
	ctx := context.Background()
	alice, err := udp.Listen(ctx, "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer alice.Close()
	bob, err := udp.Listen(ctx, "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer bob.Close()

	if err := alice.Send(bob.LocalAddr(), []byte("hello")); err != nil {
		log.Fatal(err)
	}
	for range 1000 {
		packets := bob.Receive()
		if len(packets) > 0 {
			fmt.Printf("bob got %q from alice: %v\n", packets[0].Data, packets[0].From == alice.LocalAddr())
			return
		}
		time.Sleep(time.Millisecond)
	}
	// Output:
	// bob got "hello" from alice: true
}
