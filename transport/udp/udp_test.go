package udp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func listen(t *testing.T) *Socket {
	t.Helper()
	s, err := Listen(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// receive polls s until want packets arrived or two seconds passed.
func receive(t *testing.T, s *Socket, want int) []string {
	t.Helper()
	var got []string
	deadline := time.Now().Add(2 * time.Second)
	for len(got) < want && time.Now().Before(deadline) {
		for _, p := range s.Receive() {
			got = append(got, fmt.Sprintf("%v %s", p.From, p.Data))
		}
		time.Sleep(time.Millisecond)
	}
	return got
}

func TestExchangeOnLoopback(t *testing.T) {
	a, b := listen(t), listen(t)
	for i := range 100 {
		if err := a.Send(b.LocalAddr(), fmt.Appendf(nil, "a%d", i)); err != nil {
			t.Fatal(err)
		}
		if err := b.Send(a.LocalAddr(), fmt.Appendf(nil, "b%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	gotB, gotA := receive(t, b, 100), receive(t, a, 100)
	if len(gotB) != 100 || len(gotA) != 100 {
		t.Fatalf("received %d and %d of 100 datagrams on loopback", len(gotB), len(gotA))
	}
	if want := fmt.Sprintf("%v a7", a.LocalAddr()); gotB[7] != want {
		t.Fatalf("b's 8th datagram %q, want %q", gotB[7], want)
	}
	if want := fmt.Sprintf("%v b99", b.LocalAddr()); gotA[99] != want {
		t.Fatalf("a's last datagram %q, want %q", gotA[99], want)
	}
}

func TestSendErrors(t *testing.T) {
	a := listen(t)
	if err := a.Send(netip.AddrPort{}, []byte("x")); !errors.Is(err, ErrInvalidAddr) {
		t.Fatalf("send to the zero address: %v, want ErrInvalidAddr", err)
	}
	if err := a.Send(a.LocalAddr(), make([]byte, maxDatagram+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized send: %v, want ErrTooLarge", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Send(a.LocalAddr(), []byte("x")); !errors.Is(err, ErrClosed) || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("send after close: %v, want ErrClosed wrapping net.ErrClosed", err)
	}
}

func TestReceiveDoesNotAllocateInSteadyState(t *testing.T) {
	a, b := listen(t), listen(t)
	payload := make([]byte, 32)
	round := func() {
		_ = a.Send(b.LocalAddr(), payload)
		for len(b.Receive()) == 0 {
			time.Sleep(50 * time.Microsecond)
		}
	}
	for range 10 {
		round()
	}
	if allocs := testing.AllocsPerRun(100, round); allocs != 0 {
		t.Fatalf("send+receive allocates %.2f times per datagram", allocs)
	}
}
