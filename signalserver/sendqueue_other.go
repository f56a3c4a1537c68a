//go:build !linux

package signalserver

import "net"

// sendQueueProbe would report whether a connection's kernel send queue is
// empty; off Linux it never knows, so every write goes through the writer
// goroutine.
type sendQueueProbe struct{}

func newSendQueueProbe(net.Conn) *sendQueueProbe { return nil }

func (*sendQueueProbe) sendQueueEmpty() bool { return false }
