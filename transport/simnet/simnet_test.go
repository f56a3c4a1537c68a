package simnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"testing"
	"time"
)

// stamp encodes a sequence number and the virtual send time into a packet.
func stamp(seq int, at time.Duration) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, uint64(seq))
	binary.BigEndian.PutUint64(b[8:], uint64(at))
	return b
}

func unstamp(b []byte) (seq int, at time.Duration) {
	return int(binary.BigEndian.Uint64(b)), time.Duration(binary.BigEndian.Uint64(b[8:]))
}

// trace runs a busy three-endpoint scenario and records every delivery.
func trace(seed uint64) []string {
	n := New(seed, 3, Link{Latency: 20 * time.Millisecond, Jitter: 15 * time.Millisecond, Loss: 0.1, Duplicate: 0.05, Reorder: 0.05, Bandwidth: 200_000})
	var out []string
	for step := range 500 {
		for from := range 3 {
			to := (from + 1 + step%2) % 3
			_ = n.Endpoint(from).Send(to, stamp(step, n.Now()))
		}
		n.Advance(time.Millisecond)
		for addr := range 3 {
			for _, p := range n.Endpoint(addr).Receive() {
				seq, _ := unstamp(p.Data)
				out = append(out, fmt.Sprintf("%v %d<-%d #%d", n.Now(), addr, p.From, seq))
			}
		}
	}
	return out
}

func TestSameSeedReplaysExactly(t *testing.T) {
	a, b := trace(42), trace(42)
	if len(a) < 1000 {
		t.Fatalf("scenario delivered only %d packets", len(a))
	}
	if !slices.Equal(a, b) {
		t.Fatal("two runs with seed 42 differ")
	}
	if slices.Equal(a, trace(43)) {
		t.Fatal("seeds 42 and 43 produced the same run: the seed is not used")
	}
}

func TestMeasuredLossMatchesConfig(t *testing.T) {
	const sent = 20000
	for _, loss := range []float64{0, 0.05, 0.3} {
		n := New(7, 2, Link{Loss: loss})
		received := 0
		for i := range sent {
			if err := n.Endpoint(0).Send(1, stamp(i, 0)); err != nil {
				t.Fatal(err)
			}
			if i%100 == 99 {
				n.Advance(time.Millisecond)
				received += len(n.Endpoint(1).Receive())
			}
		}
		got := 1 - float64(received)/sent
		// 4 standard deviations of a binomial proportion.
		tol := 4 * math.Sqrt(loss*(1-loss)/sent)
		if math.Abs(got-loss) > tol {
			t.Errorf("loss %.2f: measured %.4f (tolerance %.4f)", loss, got, tol)
		}
		st := n.Stats(0, 1)
		if st.Sent != sent || st.Delivered != uint64(received) || st.Lost != uint64(sent-received) {
			t.Errorf("loss %.2f: stats %+v disagree with %d received", loss, st, received)
		}
	}
}

func TestMeasuredLatencyMatchesConfig(t *testing.T) {
	const latency, jitter = 40 * time.Millisecond, 20 * time.Millisecond
	n := New(3, 2, Link{Latency: latency, Jitter: jitter})
	var delays []time.Duration
	for i := range 3000 {
		_ = n.Endpoint(0).Send(1, stamp(i, n.Now()))
		n.Advance(time.Millisecond)
		for _, p := range n.Endpoint(1).Receive() {
			_, at := unstamp(p.Data)
			delays = append(delays, n.Now()-at)
		}
	}
	n.Advance(time.Second)
	for _, p := range n.Endpoint(1).Receive() {
		_, at := unstamp(p.Data)
		delays = append(delays, n.Now()-at)
	}
	// Packets are observed at the next whole millisecond, so a delay d shows
	// as d rounded up; the mean of the uniform jitter is jitter/2.
	if len(delays) < 2900 {
		t.Fatalf("only %d of 3000 packets measured", len(delays))
	}
	var sum time.Duration
	for _, d := range delays[:2900] {
		if d < latency || d > latency+jitter {
			t.Fatalf("delay %v outside [%v, %v]", d, latency, latency+jitter)
		}
		sum += d
	}
	mean := sum / 2900
	want := latency + jitter/2
	if mean < want-time.Millisecond || mean > want+2*time.Millisecond {
		t.Fatalf("mean delay %v, want about %v", mean, want)
	}
}

func TestNoJitterKeepsOrderAndJitterReorders(t *testing.T) {
	count := func(l Link) (received, outOfOrder int) {
		n := New(11, 2, l)
		last := -1
		for i := range 2000 {
			_ = n.Endpoint(0).Send(1, stamp(i, 0))
			n.Advance(time.Millisecond)
			for _, p := range n.Endpoint(1).Receive() {
				seq, _ := unstamp(p.Data)
				if seq < last {
					outOfOrder++
				}
				last = max(last, seq)
				received++
			}
		}
		n.Advance(time.Second)
		return received + len(n.Endpoint(1).Receive()), outOfOrder
	}
	if _, ooo := count(Link{Latency: 10 * time.Millisecond}); ooo != 0 {
		t.Fatalf("a link without jitter or reorder reordered %d packets", ooo)
	}
	if _, ooo := count(Link{Latency: 10 * time.Millisecond, Reorder: 0.1}); ooo < 100 || ooo > 300 {
		t.Fatalf("Reorder 0.1 reordered %d of 2000 packets, want about 200", ooo)
	}
	if got, _ := count(Link{Duplicate: 0.25}); got < 2400 || got > 2600 {
		t.Fatalf("Duplicate 0.25 delivered %d copies of 2000 packets, want about 2500", got)
	}
}

func TestBandwidthSerialisesPackets(t *testing.T) {
	// 10 kB/s: a 100-byte packet takes 10 ms on the wire.
	n := New(1, 2, Link{Latency: 5 * time.Millisecond, Bandwidth: 10_000, MaxQueueDelay: 500 * time.Millisecond})
	for range 100 {
		_ = n.Endpoint(0).Send(1, make([]byte, 100))
	}
	var arrivals []time.Duration
	for range 2000 {
		n.Advance(time.Millisecond)
		for range n.Endpoint(1).Receive() {
			arrivals = append(arrivals, n.Now())
		}
	}
	// The queue holds 500 ms, so 50 packets fit (plus the one on the wire).
	if len(arrivals) < 50 || len(arrivals) > 51 {
		t.Fatalf("%d packets arrived through a 500 ms queue, want 50 or 51", len(arrivals))
	}
	if st := n.Stats(0, 1); st.Overflowed != uint64(100-len(arrivals)) {
		t.Fatalf("overflowed %d, want %d", st.Overflowed, 100-len(arrivals))
	}
	if arrivals[0] != 15*time.Millisecond {
		t.Fatalf("first packet at %v, want 15ms (10 ms serialisation + 5 ms latency)", arrivals[0])
	}
	for i := 1; i < len(arrivals); i++ {
		if gap := arrivals[i] - arrivals[i-1]; gap != 10*time.Millisecond {
			t.Fatalf("gap between packets %d and %d is %v, want 10ms", i-1, i, gap)
		}
	}
}

func TestSendErrorsAndClose(t *testing.T) {
	n := New(1, 2, Link{})
	if err := n.Endpoint(0).Send(2, []byte("x")); !errors.Is(err, ErrUnknownAddr) {
		t.Fatalf("send to unknown address: %v", err)
	}
	_ = n.Endpoint(0).Send(1, []byte("in flight"))
	n.Endpoint(1).Close()
	n.Advance(time.Millisecond)
	if got := n.Endpoint(1).Receive(); len(got) != 0 {
		t.Fatalf("closed endpoint received %d packets", len(got))
	}
	if err := n.Endpoint(1).Send(0, []byte("x")); !errors.Is(err, ErrClosed) || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("send from closed endpoint: %v, want ErrClosed wrapping net.ErrClosed", err)
	}
	if err := n.Endpoint(0).Send(1, []byte("x")); err != nil {
		t.Fatalf("send to a closed endpoint must look like loss, got %v", err)
	}
}

func TestSendCopiesAndSteadyStateDoesNotAllocate(t *testing.T) {
	n := New(1, 2, Link{Latency: time.Millisecond, Jitter: time.Millisecond})
	buf := []byte("original")
	_ = n.Endpoint(0).Send(1, buf)
	copy(buf, "mutated!")
	n.Advance(time.Second)
	if got := n.Endpoint(1).Receive(); len(got) != 1 || string(got[0].Data) != "original" {
		t.Fatalf("received %v: Send must copy the packet", got)
	}
	payload := make([]byte, 64)
	rng := rand.New(rand.NewPCG(1, 2))
	round := func() {
		for range 1 + rng.IntN(3) {
			_ = n.Endpoint(0).Send(1, payload)
		}
		n.Advance(3 * time.Millisecond)
		n.Endpoint(1).Receive()
	}
	for range 100 {
		round() // grow every buffer first
	}
	if allocs := testing.AllocsPerRun(200, round); allocs != 0 {
		t.Fatalf("steady state allocates %.2f times per round", allocs)
	}
}
