package rollback_test

import (
	"context"
	"log"
	"slices"

	"github.com/rollbox/rollbox/rollback"
	"github.com/rollbox/rollbox/transport"
)

// State and Input stand for a game's own types in ExampleP2PSession.
type State struct{ X [2]int32 }

// Input is one player's buttons.
type Input uint8

// Step advances the state one frame.
func (s *State) Step(inputs []rollback.PlayerInput[Input]) {
	for i, in := range inputs {
		s.X[i] += int32(in.Input)
	}
}

// Checksum hashes the state.
func (s *State) Checksum() uint64 { return uint64(uint32(s.X[0]))<<32 | uint64(uint32(s.X[1])) }

func readInput() Input { return 1 }

// A game driving a P2P session by hand over the WebRTC mesh: what the
// rollbox package does for a game. (Compiled, not run: it needs a
// signalling server at host:3536; Example_p2p runs a session.)
func ExampleP2PSession() {
	ctx := context.Background()
	sock, err := transport.Join(ctx, "ws://host:3536/room?next=2", transport.Config{})
	if err != nil {
		log.Fatal(err)
	}
	peers, err := sock.WaitForPeers(ctx, 1)
	if err != nil {
		log.Fatal(err)
	}
	peerID := peers[0]
	var state State

	cfg := rollback.DefaultConfig[Input, transport.PeerID](rollback.UintCodec[Input]{})
	// Handles from the sorted peer ids: every peer hands them out the same way.
	var me rollback.PlayerHandle
	for i, id := range slices.Sorted(slices.Values([]transport.PeerID{sock.ID(), peerID})) {
		if id == sock.ID() {
			me = rollback.PlayerHandle(i)
			cfg.AddLocalPlayer(me)
		} else {
			cfg.AddRemotePlayer(rollback.PlayerHandle(i), id)
		}
	}
	session, err := rollback.NewP2PSession[State](cfg, sock)
	if err != nil {
		log.Fatal(err)
	}
	for { // every tick:
		session.PollRemoteClients()
		if err := session.AddLocalInput(me, readInput()); err != nil {
			log.Fatal(err)
		}
		requests, err := session.AdvanceFrame()
		if err != nil {
			continue // rollback.ErrNotSynchronized until the handshake is done
		}
		for _, r := range requests {
			switch r.Kind {
			case rollback.SaveState:
				r.Cell.Save(state, state.Checksum())
			case rollback.LoadState:
				state, _ = r.Cell.Load()
			case rollback.AdvanceFrame:
				state.Step(r.Inputs)
			}
		}
	}
}
