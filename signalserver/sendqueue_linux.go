package signalserver

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// sendQueueProbe reports whether the kernel's send queue of a TCP
// connection is empty, which makes a small write complete at once.
type sendQueueProbe struct {
	raw   syscall.RawConn
	empty bool
	probe func(fd uintptr) // made once, so that a probe does not allocate
}

func newSendQueueProbe(conn net.Conn) *sendQueueProbe {
	tcp, ok := conn.(*net.TCPConn)
	if !ok {
		return nil // TLS, or a test's pipe: always the writer goroutine
	}
	raw, err := tcp.SyscallConn()
	if err != nil {
		return nil
	}
	p := &sendQueueProbe{raw: raw}
	p.probe = func(fd uintptr) {
		n, err := unix.IoctlGetInt(int(fd), unix.SIOCOUTQ)
		p.empty = err == nil && n == 0
	}
	return p
}

// sendQueueEmpty asks the kernel; the caller holds the client's lock, which
// also guards p.empty.
func (p *sendQueueProbe) sendQueueEmpty() bool {
	if p == nil {
		return false
	}
	p.empty = false
	if p.raw.Control(p.probe) != nil {
		return false
	}
	return p.empty
}
