package signalwire_test

import (
	"fmt"

	"github.com/rollbox/rollbox/signalwire"
)

// A client reads the server's frames and answers a newcomer with a signal.
func Example() {
	alice := signalwire.PeerID("e0e9a2aa-620b-4cb9-be14-e7ee91e0f4eb")
	for _, frame := range []string{
		`{"IdAssigned":"` + string(alice) + `"}`,
		`{"NewPeer":"5d0a3c4e-1b2f-4c3d-8e9f-0a1b2c3d4e5f"}`,
	} {
		msg, err := signalwire.ParseServerMessage([]byte(frame))
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(msg.Kind, msg.Peer)
		if msg.Kind == signalwire.NewPeer {
			offer := signalwire.ClientMessage{Kind: signalwire.Signal, Receiver: msg.Peer, Data: []byte(`{"Offer":"v=0"}`)}
			fmt.Printf("%s\n", offer.Encode())
		}
	}
	// Output:
	// IdAssigned e0e9a2aa-620b-4cb9-be14-e7ee91e0f4eb
	// NewPeer 5d0a3c4e-1b2f-4c3d-8e9f-0a1b2c3d4e5f
	// {"Signal":{"receiver":"5d0a3c4e-1b2f-4c3d-8e9f-0a1b2c3d4e5f","data":{"Offer":"v=0"}}}
}
