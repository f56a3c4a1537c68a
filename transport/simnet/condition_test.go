package simnet

import (
	"encoding/binary"
	"errors"
	"math"
	"net"
	"testing"
	"time"
)

// TestConditionedDelaysAndDrops wraps an endpoint of a perfect network in a
// Conditioned socket and checks the delays and the loss it adds.
func TestConditionedDelaysAndDrops(t *testing.T) {
	net := New(1, 2, Link{}) // perfect: delivers at the next Advance
	var now time.Duration
	link, err := ParseLink("latency=80ms,jitter=30ms,loss=5%")
	if err != nil {
		t.Fatal(err)
	}
	sender := Condition(net.Endpoint(0), link, 7, func() time.Duration { return now })
	receiver := net.Endpoint(1)
	const n = 4000
	sentAt := make(map[uint32]time.Duration)
	var delays []time.Duration
	step := time.Millisecond
	for i := uint32(0); now < n*step+200*time.Millisecond; now += step {
		if i < n {
			var b [4]byte
			binary.LittleEndian.PutUint32(b[:], i)
			if err := sender.Send(1, b[:]); err != nil {
				t.Fatal(err)
			}
			sentAt[i] = now
			i++
		}
		sender.Receive() // flushes what is due
		net.Advance(0)
		for _, p := range receiver.Receive() {
			delays = append(delays, now-sentAt[binary.LittleEndian.Uint32(p.Data)])
		}
	}
	lossRate := 1 - float64(len(delays))/n
	if sigma := math.Sqrt(0.05 * 0.95 / n); math.Abs(lossRate-0.05) > 4*sigma {
		t.Errorf("loss %.3f, want 0.05", lossRate)
	}
	var sum time.Duration
	for _, d := range delays {
		if d < 50*time.Millisecond || d > 110*time.Millisecond+step {
			t.Fatalf("delay %v outside 80ms±30ms", d)
		}
		sum += d
	}
	if mean := sum / time.Duration(len(delays)); mean < 78*time.Millisecond || mean > 82*time.Millisecond {
		t.Errorf("mean delay %v, want about 80ms", mean)
	}
	if st := sender.Stats(); st.Sent != n || st.Lost == 0 || st.Delivered != uint64(len(delays)) {
		t.Errorf("stats %+v, delivered %d", st, len(delays))
	}
}

func TestConditionedIsDeterministicForASeed(t *testing.T) {
	trace := func(seed uint64) []uint32 {
		net := New(1, 2, Link{})
		var now time.Duration
		c := Condition(net.Endpoint(0), Link{Latency: 10 * time.Millisecond, Jitter: 20 * time.Millisecond, Loss: 0.2}, seed, func() time.Duration { return now })
		var got []uint32
		for i := range uint32(500) {
			var b [4]byte
			binary.LittleEndian.PutUint32(b[:], i)
			_ = c.Send(1, b[:])
			now += time.Millisecond
			c.Receive()
			net.Advance(0)
			for _, p := range net.Endpoint(1).Receive() {
				got = append(got, binary.LittleEndian.Uint32(p.Data))
			}
		}
		return got
	}
	a, b, c := trace(3), trace(3), trace(4)
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("same seed, %d vs %d packets", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, traces differ at %d", i)
		}
	}
	if len(a) == len(c) && func() bool {
		for i := range a {
			if a[i] != c[i] {
				return false
			}
		}
		return true
	}() {
		t.Fatal("different seeds, same trace")
	}
}

func TestParseLink(t *testing.T) {
	l, err := ParseLink("latency=100ms, jitter=50ms,loss=0.1,duplicate=2%,reorder=0.01,bandwidth=64000")
	if err != nil {
		t.Fatal(err)
	}
	want := Link{Latency: 50 * time.Millisecond, Jitter: 100 * time.Millisecond, Loss: 0.1, Duplicate: 0.02, Reorder: 0.01, Bandwidth: 64000}
	if l != want {
		t.Fatalf("got %+v, want %+v", l, want)
	}
	for _, bad := range []string{"latency", "latency=fast", "loss=2", "loss=-1%", "jitter=20ms", "speed=1", "bandwidth=-5"} {
		if _, err := ParseLink(bad); err == nil {
			t.Errorf("ParseLink(%q) accepted", bad)
		}
	}
}

// TestConditionedSendErrors: Send reports the inner socket's error for the
// packet it was given and sent now, never one of an earlier packet's copy
// that the link delayed (that one is lost, as on a network), and once the
// inner socket is closed every later Send says so.
func TestConditionedSendErrors(t *testing.T) {
	n := New(1, 2, Link{})
	var now time.Duration
	delayed := Condition(n.Endpoint(0), Link{Latency: 10 * time.Millisecond}, 1, func() time.Duration { return now })
	if err := delayed.Send(7, []byte("to nobody")); err != nil { // address 7 is outside the network
		t.Fatalf("a packet the link delays: %v, want nil (its fate is decided later)", err)
	}
	now = 20 * time.Millisecond
	if err := delayed.Send(1, []byte("fine")); err != nil {
		t.Fatalf("Send reported an earlier packet's error: %v", err)
	}

	direct := Condition(n.Endpoint(1), Link{}, 1, func() time.Duration { return now })
	if err := direct.Send(7, []byte("to nobody")); err == nil {
		t.Fatal("a packet sent now to an address outside the network: nil error")
	}
	n.Endpoint(1).Close()
	if err := direct.Send(0, []byte("after close")); !errors.Is(err, ErrClosed) {
		t.Fatalf("after the inner socket closed: %v, want ErrClosed", err)
	}
	slow := Condition(n.Endpoint(0), Link{Latency: time.Second}, 1, func() time.Duration { return now })
	_ = slow.Send(1, []byte("queued"))
	n.Endpoint(0).Close()
	now += 2 * time.Second
	_ = slow.Send(1, []byte("flushes the queued one into a closed socket"))
	if err := slow.Send(1, []byte("later")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("a Send after the inner socket reported closed: %v, want net.ErrClosed", err)
	}
}
