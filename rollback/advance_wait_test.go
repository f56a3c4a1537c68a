package rollback

import (
	"context"
	"testing"
	"time"
)

// signalSocket wraps a socket and closes polled after its n-th Receive.
type signalSocket struct {
	*udpSocket
	n, calls int
	polled   chan struct{}
}

func (s *signalSocket) Receive() []Packet[string] {
	s.calls++
	if s.calls == s.n {
		close(s.polled)
	}
	return s.udpSocket.Receive()
}

// lockstepPair builds two synchronized lockstep sessions over loopback UDP;
// a's socket signals its n-th Receive after the handshake.
func lockstepPair(t *testing.T) (a, b *stubSession, aSock *signalSocket) {
	t.Helper()
	clock := newTestNet(0) // virtual protocol time; packets go over UDP
	ua, ub := newUDPSocket(t), newUDPSocket(t)
	aSock = &signalSocket{udpSocket: ua, polled: make(chan struct{})}
	mk := func(local PlayerHandle, remote string, sock Socket[string]) *stubSession {
		cfg := DefaultConfig[uint32, string](UintCodec[uint32]{})
		cfg.Clock = clock.clock
		cfg.MaxPrediction = 0
		cfg.AddLocalPlayer(local)
		cfg.AddRemotePlayer(1-local, remote)
		s, err := NewP2PSession[stubState](cfg, sock)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b = mk(0, ub.addr(), aSock), mk(1, ua.addr(), ub)
	// Packets travel in real time (the socket's reader goroutine hands them
	// over), so the loop gives them a moment between polls; the handshake
	// resends on the virtual clock, which moves a millisecond per poll.
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		a.PollRemoteClients()
		b.PollRemoteClients()
		if a.State() == Running && b.State() == Running {
			aSock.n = aSock.calls + 3 // AdvanceFrame's poll, then the wait's first
			return a, b, aSock
		}
		time.Sleep(200 * time.Microsecond)
		clock.advance(time.Millisecond)
	}
	t.Fatal("lockstep pair did not synchronize")
	return nil, nil, nil
}

// AdvanceFrameWait waits for the remote input that arrives while it polls,
// and advances in the same call.
func TestAdvanceFrameWaitAdvancesWhenInputArrives(t *testing.T) {
	a, b, aSock := lockstepPair(t)
	done := make(chan error, 1)
	go func() {
		// b gives its input only once a is waiting.
		<-aSock.polled
		if err := b.AddLocalInput(1, 9); err != nil {
			done <- err
			return
		}
		_, err := b.AdvanceFrame()
		done <- err
	}()
	if err := a.AddLocalInput(0, 4); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reqs, err := a.AdvanceFrameWait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("the wait ran into its deadline")
	}
	if aSock.calls <= aSock.n {
		t.Fatalf("advanced after %d polls: the wait never polled", aSock.calls)
	}
	if len(reqs) != 1 || reqs[0].Kind != AdvanceFrame || reqs[0].Inputs[0].Input != 4 ||
		reqs[0].Inputs[1].Input != 9 || reqs[0].Inputs[1].Status != Confirmed {
		t.Fatalf("requests %+v", reqs)
	}
}

// Without the remote input the wait ends with ctx: no Advance, no error, and
// the next call can still advance.
func TestAdvanceFrameWaitGivesUpWithContext(t *testing.T) {
	a, b, _ := lockstepPair(t)
	_ = a.AddLocalInput(0, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	reqs, err := a.AdvanceFrameWait(ctx)
	if err != nil || len(reqs) != 0 {
		t.Fatalf("AdvanceFrameWait without remote input: %v, %v", kinds(reqs), err)
	}
	if ctx.Err() == nil {
		t.Fatal("returned before the deadline without advancing")
	}
	_ = b.AddLocalInput(1, 9)
	if _, err := b.AdvanceFrame(); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	reqs, err = a.AdvanceFrameWait(ctx2)
	if err != nil || len(reqs) != 1 || reqs[0].Kind != AdvanceFrame {
		t.Fatalf("after the input arrived: %v, %v", kinds(reqs), err)
	}
}

// In rollback mode AdvanceFrameWait is AdvanceFrame: it never waits.
func TestAdvanceFrameWaitRollbackModeDoesNotWait(t *testing.T) {
	net := newTestNet(17)
	peers := newMesh(t, net, 2, nil)
	syncMesh(t, net, peers)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a wait would end at once; rollback mode must not even try
	a := peers[0].sess
	for i := range 12 {
		_ = a.AddLocalInput(0, 1)
		reqs, err := a.AdvanceFrameWait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		advanced := len(reqs) > 0 && reqs[len(reqs)-1].Kind == AdvanceFrame
		if want := i < DefaultMaxPrediction; advanced != want {
			t.Fatalf("tick %d: advanced %v, want %v (prediction window)", i, advanced, want)
		}
	}
}
