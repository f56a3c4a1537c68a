// Package mocks holds a gomock mock of transport.Mesh, for unit tests of a
// game's networking code without a signalling server or WebRTC peers.
// Regenerate with go generate ./transport. The mock of the datagram socket
// itself lives in packet/mocks.
package mocks
