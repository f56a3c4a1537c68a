package main

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/rollbox/rollbox/transport"
	"github.com/rollbox/rollbox/transport/mocks"
	"go.uber.org/mock/gomock"
)

// While a match forms, the player sees who is in the room, then how many
// are connected, and the match starts with the peers the mesh waited for.
func TestWaitForPeersReportsProgress(t *testing.T) {
	ctrl := gomock.NewController(t)
	mesh := mocks.NewMockMesh(ctrl)
	all := []transport.PeerID{"a", "b", "c"}
	gomock.InOrder(
		mesh.EXPECT().Peers().Return(nil),
		mesh.EXPECT().Connecting().Return(1),
		mesh.EXPECT().Peers().Return(all[:1]),
		mesh.EXPECT().Connecting().Return(2),
		mesh.EXPECT().Peers().Return(all),
		mesh.EXPECT().WaitForPeers(gomock.Any(), 3).Return(all, nil),
	)
	var got []string
	peers, err := waitForPeers(context.Background(), mesh, 4, func(p phase, text string) {
		got = append(got, string(p)+": "+text)
	})
	if err != nil || !slices.Equal(peers, all) {
		t.Fatalf("waitForPeers = %v, %v; want %v", peers, err, all)
	}
	want := []string{
		"waiting: waiting for players: 2 of 4 here",
		"connecting: connecting to the other players: 1 of 3 connected",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("progress %q, want %q", got, want)
	}
}

// Giving up (the join timeout, or the player closing the game) ends the wait.
func TestWaitForPeersEndsWithContext(t *testing.T) {
	ctrl := gomock.NewController(t)
	mesh := mocks.NewMockMesh(ctrl)
	mesh.EXPECT().Peers().Return(nil).AnyTimes()
	mesh.EXPECT().Connecting().Return(0).AnyTimes()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := waitForPeers(ctx, mesh, 2, func(phase, string) {}); !errors.Is(err, context.Canceled) {
		t.Fatalf("waitForPeers after cancel: %v", err)
	}
}
