package inbox

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestDrainReturnsPacketsInOrderAndReusesBuffers(t *testing.T) {
	q := New[int](1 << 10)
	for i := range 3 {
		q.Push(i, []byte(fmt.Sprint("p", i)))
	}
	got := q.Drain()
	if len(got) != 3 {
		t.Fatalf("got %d packets, want 3", len(got))
	}
	for i, p := range got {
		if p.From != i || string(p.Data) != fmt.Sprint("p", i) {
			t.Fatalf("packet %d = %v %q", i, p.From, p.Data)
		}
	}
	if n := len(q.Drain()); n != 0 {
		t.Fatalf("second drain returned %d packets", n)
	}
	// Warm both buffers, then steady state must not allocate.
	data := make([]byte, 64)
	allocs := testing.AllocsPerRun(100, func() {
		q.Push(1, data)
		q.Push(2, data)
		if len(q.Drain()) != 2 {
			panic("lost a packet")
		}
	})
	if allocs != 0 {
		t.Fatalf("steady state allocates %.1f times per round", allocs)
	}
}

func TestPushDropsWhenFull(t *testing.T) {
	q := New[int](10)
	if !q.Push(0, make([]byte, 20)) {
		t.Fatal("an empty inbox must accept one oversized packet")
	}
	if q.Push(0, []byte{1}) {
		t.Fatal("full inbox accepted a packet")
	}
	if q.Dropped() != 1 {
		t.Fatalf("dropped = %d, want 1", q.Dropped())
	}
	q.Drain()
	if !q.Push(0, make([]byte, 10)) {
		t.Fatal("drained inbox refused a packet")
	}
}

func TestPushWaitBlocksUntilDrain(t *testing.T) {
	q := New[int](4)
	q.Push(0, []byte("full"))
	done := make(chan error, 1)
	go func() { done <- q.PushWait(context.Background(), 1, []byte("next")) }()
	select {
	case err := <-done:
		t.Fatalf("PushWait returned %v before a Drain", err)
	case <-time.After(20 * time.Millisecond):
	}
	if got := q.Drain(); len(got) != 1 || string(got[0].Data) != "full" {
		t.Fatalf("first drain = %v", got)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := q.Drain(); len(got) != 1 || string(got[0].Data) != "next" {
		t.Fatalf("second drain = %v", got)
	}

	q.Push(0, []byte("full"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := q.PushWait(ctx, 1, []byte("x")); err != context.Canceled {
		t.Fatalf("PushWait on a cancelled context = %v", err)
	}
}
