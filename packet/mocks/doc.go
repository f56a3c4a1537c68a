// Package mocks holds a gomock mock of packet.Socket, for unit tests of code
// that sends and receives through a socket (a rollback session's, or one
// channel of a transport mesh). Regenerate with go generate ./packet.
package mocks
