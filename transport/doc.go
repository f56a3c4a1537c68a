// Package transport is matchbox_socket for Go: a full mesh of WebRTC data
// channels to every peer in a room of a matchbox-compatible signalling
// server, behind a socket a game polls once per frame without blocking.
//
// Join a room, wait for peers, then Send and Receive:
//
//	sock, err := transport.Join(ctx, "ws://host:3536/room?next=2", transport.Config{})
//	peers, err := sock.WaitForPeers(ctx, 1)
//	sock.Send(peers[0], []byte("hi"))
//	for _, p := range sock.Receive() { ... } // once per frame
//
// The peer already in the room offers, the newcomer answers, and ICE
// candidates trickle as matchbox does, so matchbox peers (native or browser)
// in the same room interoperate. Channels are negotiated data channels with
// id i and label "matchbox_socket_<i>"; channel 0 is unreliable and
// unordered by default. Socket and each Channel implement
// packet.Socket[PeerID], the socket rollback sessions send through; Mesh is
// the part of Socket a game needs, to mock in its unit tests.
//
// Unlike matchbox_socket, a dropped signalling WebSocket is reconnected with
// backoff while established peer connections carry on, and messages over
// 64 KiB on reliable ordered channels are split into chunks and reassembled.
//
// Subpackages: simnet simulates a lossy network deterministically for tests,
// udp is a plain UDP socket with the same interface, and mocks holds a gomock
// mock of Mesh.
package transport
