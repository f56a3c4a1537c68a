package mocks_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rollbox/rollbox/transport"
	"github.com/rollbox/rollbox/transport/mocks"
	"go.uber.org/mock/gomock"
)

// panicReporter stands in for the *testing.T that gomock.NewController
// usually gets: an Example has none, and a failed expectation must still
// stop it.
type panicReporter struct{}

func (panicReporter) Errorf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (panicReporter) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

// seats is the connect logic under test: it waits for the other players of
// a match and gives every player, itself included, a seat in the order of
// their ids, which every peer computes alike.
func seats(ctx context.Context, m transport.Mesh, players int) ([]transport.PeerID, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	others, err := m.WaitForPeers(ctx, players-1)
	if err != nil {
		return nil, fmt.Errorf("waiting for %d players: %w", players-1, err)
	}
	all := append([]transport.PeerID{m.ID()}, others...)
	slices.Sort(all)
	return all, nil
}

// A MockMesh fakes a room without a signalling server or WebRTC: here
// WaitForPeers first finds the room complete, then fails as when the
// mesh is closed while waiting.
func ExampleMockMesh() {
	ctrl := gomock.NewController(panicReporter{})
	mesh := mocks.NewMockMesh(ctrl)

	mesh.EXPECT().ID().Return(transport.PeerID("b")).AnyTimes()
	gomock.InOrder(
		mesh.EXPECT().WaitForPeers(gomock.Any(), 2).Return([]transport.PeerID{"a", "c"}, nil),
		mesh.EXPECT().WaitForPeers(gomock.Any(), 2).Return(nil, transport.ErrClosed),
	)

	order, err := seats(context.Background(), mesh, 3)
	fmt.Println(order, err)
	_, err = seats(context.Background(), mesh, 3)
	fmt.Println("closed while waiting:", errors.Is(err, transport.ErrClosed))
	ctrl.Finish() // every expected call was made
	// Output:
	// [a b c] <nil>
	// closed while waiting: true
}
