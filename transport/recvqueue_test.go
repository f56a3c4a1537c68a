package transport

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// fillWith is a push's fill that copies msg, reusing buf as the browser
// glue does.
func fillWith(msg string) func([]byte) []byte {
	return func(buf []byte) []byte { return append(buf, msg...) }
}

func readString(t *testing.T, q *recvQueue) string {
	t.Helper()
	buf := make([]byte, 64)
	n, err := q.read(context.Background(), buf)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(buf[:n])
}

func TestRecvQueueKeepsOrderAndAsksForALargerBuffer(t *testing.T) {
	q := newRecvQueue(100, 100, false)
	for _, m := range []string{"one", "a longer message", "three"} {
		q.push(len(m), fillWith(m))
	}
	if got := readString(t, q); got != "one" {
		t.Fatalf("first read %q, want one", got)
	}
	n, err := q.read(context.Background(), make([]byte, 4))
	if !errors.Is(err, io.ErrShortBuffer) || n != len("a longer message") {
		t.Fatalf("read into 4 bytes: %d, %v; want %d, io.ErrShortBuffer", n, err, len("a longer message"))
	}
	if got := readString(t, q); got != "a longer message" {
		t.Fatalf("the message did not wait for a larger buffer: got %q", got)
	}
	if got := readString(t, q); got != "three" {
		t.Fatalf("third read %q, want three", got)
	}
}

// An unreliable channel's queue drops what does not fit, as the inbox does.
func TestRecvQueueDropsWhenFullIfAllowed(t *testing.T) {
	q := newRecvQueue(10, 100, true)
	// One message larger than the bound still gets into an empty queue,
	// or it could never be received.
	if q.push(20, fillWith(strings.Repeat("x", 20))) {
		t.Fatal("a message into an empty queue was dropped")
	}
	if !q.push(1, fillWith("y")) {
		t.Fatal("a message over the bound was not dropped")
	}
	if got := readString(t, q); len(got) != 20 {
		t.Fatalf("read %d bytes, want 20", len(got))
	}
	if q.push(5, fillWith("fresh")) {
		t.Fatal("dropped although the queue was drained")
	}
	if got := readString(t, q); got != "fresh" {
		t.Fatalf("read %q, want fresh", got)
	}
}

// A reliable channel's queue must not lose a message: over the bound it
// fails, after what it holds has been read.
func TestRecvQueueFailsWhenFullIfReliable(t *testing.T) {
	q := newRecvQueue(10, 100, false)
	q.push(8, fillWith("12345678"))
	if q.push(8, fillWith("abcdefgh")) {
		t.Fatal("a reliable message was dropped")
	}
	q.push(1, fillWith("z")) // after the failure: ignored
	if got := readString(t, q); got != "12345678" {
		t.Fatalf("read %q, want what was queued before the failure", got)
	}
	if _, err := q.read(context.Background(), make([]byte, 64)); err == nil || !strings.Contains(err.Error(), "over 10") {
		t.Fatalf("read after overflow: %v, want the overflow", err)
	}
}

func TestRecvQueueFailsOnAnOversizedMessage(t *testing.T) {
	q := newRecvQueue(1000, 16, true)
	q.push(17, func([]byte) []byte { t.Fatal("an oversized message was copied"); return nil })
	if err := q.failed(); err == nil {
		t.Fatal("no failure for a message over maxMessage")
	}
}

func TestRecvQueueReadWaitsForPushAndFail(t *testing.T) {
	q := newRecvQueue(100, 100, false)
	got := make(chan string)
	go func() {
		msg, err := q.take(context.Background())
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		got <- string(msg)
		_, err = q.take(context.Background())
		got <- "error: " + err.Error()
	}()
	q.push(5, fillWith("hello"))
	if m := <-got; m != "hello" {
		t.Fatalf("take returned %q, want hello", m)
	}
	q.fail(errors.New("gone"))
	if m := <-got; m != "error: gone" {
		t.Fatalf("take returned %q after fail, want the error", m)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := newRecvQueue(10, 10, false).take(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("take on an empty queue: %v, want the context's error", err)
	}
}

// Once its buffers have grown, the queue of a data channel allocates
// nothing per message.
func TestRecvQueueReusesBuffers(t *testing.T) {
	q := newRecvQueue(1<<20, 1<<20, true)
	msg := strings.Repeat("m", 1200)
	buf := make([]byte, 2048)
	fill := fillWith(msg)
	step := func() {
		for range 8 {
			q.push(len(msg), fill)
		}
		for range 8 {
			if _, err := q.read(context.Background(), buf); err != nil {
				t.Fatal(err)
			}
		}
	}
	step()
	if allocs := testing.AllocsPerRun(100, step); allocs != 0 {
		t.Fatalf("%v allocations per 8 messages, want 0", allocs)
	}
}
