//go:build !js

package transport

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

const (
	reliableCh   = 1
	unreliableCh = 0
)

// exchange makes every socket send n numbered packets to every other on both
// channels, and checks that reliable ones all arrive in order and that
// unreliable ones arrive intact, without duplicates, nearly all of them.
func exchange(t *testing.T, socks []*Socket, n int) {
	t.Helper()
	ctx := testContext(t, 90*time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(socks))
	for _, s := range socks {
		wg.Go(func() {
			pkt := make([]byte, 16)
			for i := range n {
				binary.BigEndian.PutUint32(pkt, uint32(i))
				for _, to := range socks {
					if to == s {
						continue
					}
					if err := s.Channel(reliableCh).Send(to.ID(), pkt); err != nil {
						errs <- fmt.Errorf("reliable send %s->%s: %w", s.ID(), to.ID(), err)
						return
					}
					if err := s.Channel(unreliableCh).Send(to.ID(), pkt); err != nil {
						errs <- fmt.Errorf("unreliable send %s->%s: %w", s.ID(), to.ID(), err)
						return
					}
				}
				if i%50 == 49 {
					time.Sleep(2 * time.Millisecond) // a game sends a few packets per frame, not all at once
				}
			}
		})
		wg.Go(func() {
			nextReliable := map[PeerID]int{}
			seenUnreliable := map[PeerID]map[uint32]bool{}
			complete := func() bool {
				if len(nextReliable) < len(socks)-1 {
					return false
				}
				for _, next := range nextReliable {
					if next < n {
						return false
					}
				}
				return true
			}
			err := receiveUntil(ctx, s, reliableCh, func(from PeerID, d []byte) {
				if got := int(binary.BigEndian.Uint32(d)); got != nextReliable[from] {
					errs <- fmt.Errorf("%s got reliable #%d from %s, want #%d", s.ID(), got, from, nextReliable[from])
				}
				nextReliable[from]++
			}, func() bool {
				for _, p := range s.Channel(unreliableCh).Receive() {
					if len(p.Data) != 16 || !bytes.Equal(p.Data[4:], make([]byte, 12)) {
						errs <- fmt.Errorf("%s got corrupt unreliable packet %x", s.ID(), p.Data)
					}
					seq := binary.BigEndian.Uint32(p.Data)
					if seenUnreliable[p.From] == nil {
						seenUnreliable[p.From] = map[uint32]bool{}
					}
					if seenUnreliable[p.From][seq] {
						errs <- fmt.Errorf("%s got unreliable #%d from %s twice", s.ID(), seq, p.From)
					}
					seenUnreliable[p.From][seq] = true
				}
				return complete()
			})
			if err != nil {
				errs <- fmt.Errorf("%s: reliable from %v: %w", s.ID(), nextReliable, err)
				return
			}
			// Unreliable packets were sent alongside; give stragglers a moment.
			deadline := time.Now().Add(time.Second)
			for time.Now().Before(deadline) {
				for _, p := range s.Channel(unreliableCh).Receive() {
					if seenUnreliable[p.From] == nil {
						// Under load a peer's first unreliable packet may
						// arrive only now.
						seenUnreliable[p.From] = map[uint32]bool{}
					}
					seenUnreliable[p.From][binary.BigEndian.Uint32(p.Data)] = true
				}
				time.Sleep(10 * time.Millisecond)
			}
			for _, from := range socks {
				if from == s {
					continue
				}
				// Loopback loses nothing, but unreliable may drop under load.
				if got := len(seenUnreliable[from.ID()]); got < n*9/10 {
					errs <- fmt.Errorf("%s got %d of %d unreliable packets from %s (dropped sending: %d, receiving: %d)",
						s.ID(), got, n, from.ID(), from.Channel(unreliableCh).Stats().SendDropped, s.Channel(unreliableCh).Stats().ReceiveDropped)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestMeshExchange(t *testing.T) {
	ts := startServer(t)
	for _, n := range []int{2, 4, 8} {
		t.Run(fmt.Sprint(n, "peers"), func(t *testing.T) {
			socks := joinMesh(t, ts, fmt.Sprint("mesh", n), n, testConfig(t, Unreliable(), Reliable()))
			for _, s := range socks {
				if ev := s.PeerEvents(); len(ev) != n-1 {
					t.Errorf("%s has %d peer events, want %d connected: %v", s.ID(), len(ev), n-1, ev)
				}
			}
			exchange(t, socks, 1000)
		})
	}
}

func TestLargeMessagesAreChunkedOnReliableAndRefusedOnUnreliable(t *testing.T) {
	ts := startServer(t)
	socks := joinMesh(t, ts, "large", 2, testConfig(t, Unreliable(), Reliable()))
	a, b := socks[0], socks[1]

	big := func(n int, seed byte) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = seed + byte(i*7)
		}
		return p
	}
	looksLikeChunk := append(chunkMagic[:], []byte("\x00\x00\x00\x05hello")...)
	sent := [][]byte{
		[]byte("small"),
		big(200<<10, 1),
		looksLikeChunk,
		big(maxSCTPMessage, 2), // exactly one SCTP message: goes raw
		big(1<<20+3, 3),
		{},
		[]byte("last"),
	}
	for _, p := range sent {
		if err := a.Channel(reliableCh).Send(b.ID(), p); err != nil {
			t.Fatalf("reliable send of %d bytes: %v", len(p), err)
		}
	}
	var got [][]byte
	ctx := testContext(t, 20*time.Second)
	err := receiveUntil(ctx, b, reliableCh, func(_ PeerID, d []byte) { got = append(got, bytes.Clone(d)) },
		func() bool { return len(got) >= len(sent) })
	if err != nil {
		t.Fatalf("received %d of %d messages: %v", len(got), len(sent), err)
	}
	for i := range sent {
		if !bytes.Equal(got[i], sent[i]) {
			t.Fatalf("message %d: got %d bytes, want %d (equal prefix: %v)", i, len(got[i]), len(sent[i]), bytes.HasPrefix(sent[i], got[i][:min(16, len(got[i]))]))
		}
	}

	if err := a.Channel(unreliableCh).Send(b.ID(), make([]byte, maxSCTPMessage+1)); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("unreliable send of 64 KiB+1: %v, want ErrMessageTooLarge", err)
	}
	if err := a.Channel(unreliableCh).Send(b.ID(), make([]byte, maxSCTPMessage)); err != nil {
		t.Fatalf("unreliable send of exactly 64 KiB: %v", err)
	}
	if err := a.Send("no-such-peer", []byte("x")); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("send to unknown peer: %v", err)
	}
}

func TestLeavingPeerIsReportedDisconnectedEverywhere(t *testing.T) {
	ts := startServer(t)
	socks := joinMesh(t, ts, "leave", 4, testConfig(t))
	for _, s := range socks {
		s.PeerEvents()
	}
	leaver := socks[3]
	start := time.Now()
	closeSocket(t, leaver)
	if err := leaver.Send(socks[0].ID(), []byte("x")); !errors.Is(err, ErrClosed) || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("send on a closed socket: %v, want ErrClosed wrapping net.ErrClosed", err)
	}
	ctx := testContext(t, 10*time.Second)
	for _, s := range socks[:3] {
		ev := waitEvent(ctx, t, s)
		if ev != (PeerEvent{Peer: leaver.ID(), State: PeerDisconnected}) {
			t.Fatalf("%s: event %v, want %s disconnected", s.ID(), ev, leaver.ID())
		}
		if err := s.Send(leaver.ID(), []byte("x")); !errors.Is(err, ErrUnknownPeer) {
			t.Fatalf("send to a peer that left: %v, want ErrUnknownPeer", err)
		}
		if got := len(s.Peers()); got != 2 {
			t.Fatalf("%s has %d peers after one left, want 2", s.ID(), got)
		}
	}
	t.Logf("all peers saw the leave after %v", time.Since(start))
}

// TestPacketsOnlyFromConnectedPeers: a packet reaches the game only from a
// connected peer, so answering it at once works. The peer sends on both
// channels the moment it sees the mesh, while the receiver's channels may
// still be opening one after the other (meshcat -echo hit this).
func TestPacketsOnlyFromConnectedPeers(t *testing.T) {
	ts := startServer(t)
	// Many channels widen the window in which some are open and some not.
	channels := []ChannelConfig{Unreliable()}
	for range 7 {
		channels = append(channels, Reliable())
	}
	cfg := testConfig(t, channels...)
	const packets = 20
	for i := range 5 {
		ctx := testContext(t, 20*time.Second)
		url := ts.url(fmt.Sprintf("early-%d?next=2", i))
		a, err := Join(ctx, url, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { closeSocket(t, a) })
		b, err := Join(ctx, url, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { closeSocket(t, b) })
		sent := make(chan error, 1)
		go func() {
			peers, err := a.WaitForPeers(ctx, 1)
			for k := 0; err == nil && k < packets; k++ {
				for ch := range channels {
					err = errors.Join(err, a.Channel(ch).Send(peers[0], []byte("x")))
				}
			}
			sent <- err
		}()
		for answered := 0; answered < packets; {
			for ch := range channels {
				for _, p := range b.Channel(ch).Receive() {
					if err := b.Channel(ch).Send(p.From, p.Data); err != nil {
						t.Fatalf("join %d: answering a packet from %s on channel %d: %v (connected: %v)", i, p.From, ch, err, b.Peers())
					}
					if ch == len(channels)-1 {
						answered++
					}
				}
			}
			select {
			case <-ctx.Done():
				t.Fatalf("join %d: %d of %d reliable packets arrived", i, answered, packets)
			case <-time.After(time.Millisecond):
			}
		}
		if err := <-sent; err != nil {
			t.Fatalf("join %d: send: %v", i, err)
		}
	}
}

// waitEvent returns the next peer event of s.
func waitEvent(ctx context.Context, t *testing.T, s *Socket) PeerEvent {
	t.Helper()
	for {
		if ev := s.PeerEvents(); len(ev) > 0 {
			if len(ev) > 1 {
				t.Fatalf("%s: %d events at once, want 1: %v", s.ID(), len(ev), ev)
			}
			return ev[0]
		}
		select {
		case <-s.Ready():
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			t.Fatalf("%s: no peer event: %v", s.ID(), ctx.Err())
		}
	}
}
