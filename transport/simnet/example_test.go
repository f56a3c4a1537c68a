package simnet_test

import (
	"fmt"
	"time"

	"github.com/rollbox/rollbox/transport/simnet"
)

// Two endpoints 30 ms apart: a packet shows up once the virtual clock has
// moved past the link's latency.
func Example() {
	net := simnet.New(1, 2, simnet.Link{Latency: 30 * time.Millisecond})
	alice, bob := net.Endpoint(0), net.Endpoint(1)

	_ = alice.Send(bob.Addr(), []byte("hello"))
	for range 4 {
		net.Advance(10 * time.Millisecond)
		for _, p := range bob.Receive() {
			fmt.Printf("at %v bob got %q from %d\n", net.Now(), p.Data, p.From)
		}
	}
	// Output:
	// at 30ms bob got "hello" from 0
}
