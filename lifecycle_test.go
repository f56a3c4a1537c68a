package rollbox_test

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rollbox/rollbox"
	"go.uber.org/goleak"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// within fails the test if f does not return in a generous while: the
// calls below must never hang.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("%s hangs", what)
	}
}

func TestRunReturnsWhenJoiningFails(t *testing.T) {
	defer goleak.VerifyNone(t)
	cfg := rollbox.Config{Server: "ws://" + closedPort(t), JoinTimeout: 2 * time.Second, Loopback: true, Logger: quiet}
	m, err := rollbox.NewMatch(t.Context(), &arena{}, func(rollbox.PlayerHandle) buttons { return 0 }, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var runErr error
	within(t, "Run after a failed join", func() { _, runErr = m.Run(t.Context()) })
	if runErr == nil || !strings.Contains(runErr.Error(), "rollbox: join ") {
		t.Errorf("error %v, want the join's", runErr)
	}
	if v := m.View(); v.Phase != rollbox.PhaseFailed || v.Err == nil {
		t.Errorf("view %v %v, want failed", v.Phase, v.Err)
	}
	within(t, "a second Close", func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
}

// silentServer returns the address of a server that accepts connections
// and never answers: joining it stays in progress until its context ends.
// (A closed port refuses at once, which can fail the join before the test
// looks.)
func silentServer(t *testing.T) (addr string, stop func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	return l.Addr().String(), func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	}
}

func TestCloseWhileConnecting(t *testing.T) {
	defer goleak.VerifyNone(t)
	addr, stop := silentServer(t)
	defer stop()
	cfg := rollbox.Config{Server: "ws://" + addr, Loopback: true, Logger: quiet}
	m, err := rollbox.NewMatch(t.Context(), &arena{}, func(rollbox.PlayerHandle) buttons { return 0 }, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Update(); err != nil {
		t.Fatalf("Update while connecting: %v", err)
	}
	if v := m.View(); v.Phase != rollbox.PhaseJoining || !strings.Contains(v.Status, "joining room") {
		t.Errorf("view %v %q, want joining", v.Phase, v.Status)
	}
	within(t, "Close while connecting", func() { m.Close() })
	// A closed match says so, and never plays.
	within(t, "Update after Close", func() {
		if err := m.Update(); !errors.Is(err, rollbox.ErrClosed) || !errors.Is(err, net.ErrClosed) {
			t.Errorf("Update after Close: %v, want rollbox.ErrClosed (a net.ErrClosed)", err)
		}
	})
	if m.Done() {
		t.Error("a closed match is Done")
	}
}
