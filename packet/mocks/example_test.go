package mocks_test

import (
	"errors"
	"fmt"

	"github.com/rollbox/rollbox/packet"
	"github.com/rollbox/rollbox/packet/mocks"
	"go.uber.org/mock/gomock"
)

// panicReporter stands in for the *testing.T that gomock.NewController
// usually gets: an Example has none, and a failed expectation must still
// stop it.
type panicReporter struct{}

func (panicReporter) Errorf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (panicReporter) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

// echo is the code under test: it answers every packet with "ack: " and
// its data, through any packet.Socket.
func echo(sock packet.Socket[string]) error {
	for _, p := range sock.Receive() {
		if err := sock.Send(p.From, append([]byte("ack: "), p.Data...)); err != nil {
			return fmt.Errorf("echo to %s: %w", p.From, err)
		}
	}
	return nil
}

// A MockSocket stands in for any packet.Socket: here it delivers two
// packets, expects the answers, and refuses the second as a closed socket
// would.
func ExampleMockSocket() {
	ctrl := gomock.NewController(panicReporter{})
	sock := mocks.NewMockSocket[string](ctrl)
	errClosed := errors.New("closed")

	sock.EXPECT().Receive().Return([]packet.Packet[string]{
		{From: "alice", Data: []byte("hi")},
		{From: "bob", Data: []byte("yo")},
	})
	gomock.InOrder(
		sock.EXPECT().Send("alice", []byte("ack: hi")).Return(nil),
		sock.EXPECT().Send("bob", []byte("ack: yo")).Return(errClosed),
	)

	err := echo(sock)
	fmt.Println(err)
	fmt.Println(errors.Is(err, errClosed))
	ctrl.Finish() // every expected call was made
	// Output:
	// echo to bob: closed
	// true
}
