package signalserver

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// TestSendQueueProbe: the probe that lets a relay skip the writer goroutine
// says "empty" only while the kernel holds nothing unsent or unacknowledged
// for the peer: not while a peer that stopped reading has a backlog.
func TestSendQueueProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	var mu sync.Mutex // the probe is used under the client's lock
	p := newSendQueueProbe(server)
	empty := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return p.sendQueueEmpty()
	}
	if !empty() {
		t.Fatal("a fresh connection's send queue is not empty")
	}
	// The client does not read: the server's writes pile up in the kernel.
	_ = server.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
	written, _ := server.Write(make([]byte, 64<<20)) // stops at the deadline
	if empty() {
		t.Fatalf("%d bytes unread by the peer, yet the send queue is empty", written)
	}
	// Once the client has read it all, the queue drains.
	if _, err := io.ReadFull(client, make([]byte, written)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "send queue drained", empty)

	if newSendQueueProbe(&net.UnixConn{}) != nil {
		t.Fatal("a probe for a non-TCP connection")
	}
	var none *sendQueueProbe
	if none.sendQueueEmpty() {
		t.Fatal("no probe, yet empty")
	}
}
