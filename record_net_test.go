package rollbox_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/signalserver"
	"github.com/rollbox/rollbox/signalserver/signaltest"
)

// errFull is the error of a writer whose disk is full.
var errFull = errors.New("disk full")

type fullWriter struct{}

func (fullWriter) Write([]byte) (int, error) { return 0, errFull }

// Recording over a real network: a player whose recording fails learns it
// from Run (Close, which Run calls, is where the buffered replay is
// written: Run dropped its error, so a headless recording cut short ended
// "successfully"), and the others' replays, a player's and a spectator's,
// play back to the frame and checksum of their Results.
func TestRecordingOverWebRTC(t *testing.T) {
	srv := signaltest.Start(t, signalserver.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), netTestTimeout)
	defer cancel()
	const frames = 120
	var recs [3]bytes.Buffer
	var matches []*rollbox.Match[netWorld, netPad]
	for i := range 3 {
		c := netConfig(t, srv, 2, frames, uint64(i+1))
		c.Spectators, c.Record = 1, &recs[i]
		if i == 0 {
			c.Record = fullWriter{}
		}
		if i == 2 {
			c.Spectate, c.LocalPlayers = true, 0
		}
		matches = append(matches, newNetMatch(t, ctx, c))
	}
	ends := playAll(ctx, t, matches)
	if err := ends[0].err; !errors.Is(err, errFull) || !strings.Contains(err.Error(), "recording") {
		t.Errorf("the peer whose recording failed: Run returned %v, want the recording's error", err)
	}
	for i := 1; i < 3; i++ {
		if ends[i].err != nil {
			t.Fatalf("peer %d: %v", i, ends[i].err)
		}
		frame, sum, err := rollbox.Replay(bytes.NewReader(recs[i].Bytes()), func(int) *netWorld { return &netWorld{} })
		if err != nil {
			t.Fatalf("peer %d's replay: %v", i, err)
		}
		if res := ends[i].res; frame != res.Frame || sum != res.Checksum || res.Frame != frames {
			t.Errorf("peer %d (spectator: %v): replay ends at frame %d, %016x; its result: frame %d, %016x",
				i, i == 2, frame, sum, res.Frame, res.Checksum)
		}
	}
}

// dropWorld is netWorld that counts, per player, the frames stepped with
// the player disconnected: a replay must carry that status.
type dropWorld struct {
	netWorld
	Gone [8]int32
}

func (w *dropWorld) Step(in []rollbox.PlayerInput[netPad]) {
	w.netWorld.Step(in)
	for i, p := range in {
		if p.Status == rollbox.Disconnected {
			w.Gone[i]++
		}
	}
}

// A player leaves mid-match: the two who stay play on to Frames, and the
// replay one of them recorded plays back to its Result, with the frames
// after the drop stepped as Disconnected (the status is part of the
// confirmed input the replay must carry).
func TestRecordingOfAMatchAPlayerLeaves(t *testing.T) {
	srv := signaltest.Start(t, signalserver.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), netTestTimeout)
	defer cancel()
	const frames, leaveAt = 300, 60
	var rec bytes.Buffer
	var matches []*rollbox.Match[dropWorld, netPad]
	for i := range 3 {
		c := netConfig(t, srv, 3, frames, uint64(i+1))
		c.DisconnectTimeout, c.DisconnectNotifyStart = time.Second, 500*time.Millisecond
		if i == 0 {
			c.Record = &rec
		}
		m, err := rollbox.NewMatch(ctx, &dropWorld{}, nil, c)
		if err != nil {
			t.Fatal(err)
		}
		matches = append(matches, m)
	}
	ends := make([]played, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			res, err := matches[i].Run(ctx)
			ends[i] = played{res, err}
		})
	}
	leaver := matches[2]
	tick := time.NewTicker(time.Second / 60)
	for leaver.View().Frame < leaveAt && ctx.Err() == nil {
		if err := leaver.Update(); err != nil {
			t.Errorf("the leaver failed before leaving: %v", err)
			break
		}
		<-tick.C
	}
	tick.Stop()
	leaver.Close()
	wg.Wait()
	for i, e := range ends {
		if e.err != nil || e.res.Frame != frames {
			t.Fatalf("peer %d: %+v, %v", i, e.res, e.err)
		}
	}
	if ends[0].res.Checksum != ends[1].res.Checksum {
		t.Errorf("the peers who stayed confirmed %016x and %016x", ends[0].res.Checksum, ends[1].res.Checksum)
	}
	var replayed *dropWorld
	frame, sum, err := rollbox.Replay(bytes.NewReader(rec.Bytes()), func(int) *dropWorld { replayed = &dropWorld{}; return replayed })
	if err != nil {
		t.Fatal(err)
	}
	if frame != frames || sum != ends[0].res.Checksum {
		t.Errorf("replay ends at frame %d, %016x; the match at %d, %016x", frame, sum, frames, ends[0].res.Checksum)
	}
	// The leaver's handle is its place among the sorted peer ids: one
	// player, gone from a little after leaveAt (its last inputs, within the
	// disconnect timeout) to the end.
	gone := 0
	for _, n := range replayed.Gone[:3] {
		if n != 0 {
			gone++
			if n < frames-leaveAt-3*60 || n > frames-leaveAt {
				gone = 99
			}
		}
	}
	if gone != 1 {
		t.Errorf("frames stepped with each player disconnected: %v; want one player's, from about frame %d", replayed.Gone[:3], leaveAt)
	}
}

// A match closed while playing says so, as one closed while connecting
// does (TestCloseWhileConnecting), and plays no more: Update went on
// stepping it over the closed connections, returning nil, and a loop
// waiting for Done never ended.
func TestUpdateAfterCloseWhilePlaying(t *testing.T) {
	srv := signaltest.Start(t, signalserver.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), netTestTimeout)
	defer cancel()
	a := newNetMatch(t, ctx, netConfig(t, srv, 2, 0, 1))
	b := newNetMatch(t, ctx, netConfig(t, srv, 2, 0, 2))
	defer b.Close()
	tick := time.NewTicker(time.Second / 60)
	defer tick.Stop()
	for a.View().Frame < 30 {
		if err := errors.Join(a.Update(), b.Update(), ctx.Err()); err != nil {
			t.Fatal(err)
		}
		<-tick.C
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	frame := a.View().Frame
	for range 10 {
		if err := a.Update(); err == nil {
			t.Fatal("Update after Close: no error")
		}
		<-tick.C
	}
	if v := a.View(); v.Frame != frame || v.Phase == rollbox.PhasePlaying || a.Done() {
		t.Errorf("after Close: frame %d (closed at %d), phase %v, done %v", v.Frame, frame, v.Phase, a.Done())
	}
}

// A match that connected but was closed before its first Update still
// writes its replay's header: an empty replay, not a broken file.
func TestRecordingClosedBeforeTheFirstUpdate(t *testing.T) {
	srv := signaltest.Start(t, signalserver.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), netTestTimeout)
	defer cancel()
	var rec bytes.Buffer
	c := netConfig(t, srv, 2, 600, 1)
	c.Record = &rec
	idle := newNetMatch(t, ctx, c) // never updated: it connects in the background
	other := newNetMatch(t, ctx, netConfig(t, srv, 2, 600, 2))
	// The other peer plays only once the idle one's handshake, which runs
	// in its connecting goroutine, is done: by then that goroutine has
	// handed over the runner, recording and all.
	for other.View().Frame < 1 {
		if err := other.Update(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			t.Fatal("the other peer never played")
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	other.Close()
	p, err := rollbox.NewReplayer(bytes.NewReader(rec.Bytes()), func(int) *netWorld { return &netWorld{} })
	if err != nil {
		t.Fatalf("replay of a match closed before its first update: %v (%d bytes)", err, rec.Len())
	}
	if err := p.Step(); err != io.EOF {
		t.Errorf("first step: %v, want io.EOF (no frame played)", err)
	}
}
