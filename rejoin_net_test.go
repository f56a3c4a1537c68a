package rollbox

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rollbox/rollbox/signalserver"
	"github.com/rollbox/rollbox/signalserver/signaltest"
)

// rejoinWorld is the rejoin network test's game: each player pushes a
// point about, and who was gone when counts.
type rejoinWorld struct {
	X, Y  [4]int32
	Gone  [4]int32
	Frame int32
}

func (w *rejoinWorld) Step(in []PlayerInput[uint8]) {
	w.Frame++
	for i, p := range in {
		if p.Status == Disconnected {
			w.Gone[i]++
			continue
		}
		w.X[i] += int32(p.Input&1) - int32(p.Input>>1&1)
		w.Y[i] += int32(p.Input>>2&1) - int32(p.Input>>3&1)
		w.X[i] ^= w.Frame * int32(i+1)
	}
}

// TestRejoinAfterCrashOverWebRTC: three players on the real server over
// WebRTC; the third "crashes" at frame 300 (its connections go without a
// word and its record stays on disk, as after a SIGKILL), and the same
// configuration started again comes back as the same player through the
// rejoin room. All three confirm the same state at the last frame.
func TestRejoinAfterCrashOverWebRTC(t *testing.T) {
	testRejoinOverWebRTC(t, true, func() *rejoinWorld { return new(rejoinWorld) })
}

// TestRejoinAfterNetworkLossOverWebRTC: the third player's connections to
// the match go at frame 300, but its program runs on: alone, it asks to
// come back from the rejoin room, and its match goes on in a new session
// from the others' state.
func TestRejoinAfterNetworkLossOverWebRTC(t *testing.T) {
	testRejoinOverWebRTC(t, false, func() *rejoinWorld { return new(rejoinWorld) })
}

// bigWorld is rejoinWorld with a mebibyte more state: what a returning
// player receives is 1 MiB. Its checksum and dump skip the constant
// ballast (hashing a mebibyte every frame is not what this measures); the
// state message's own checksum is of the same kind.
type bigWorld struct {
	rejoinWorld
	Ballast [1 << 20]byte
}

func (w *bigWorld) Checksum() uint64 {
	h := uint64(w.Frame)
	for i := range w.X {
		h = h*1099511628211 ^ uint64(uint32(w.X[i])) ^ uint64(uint32(w.Y[i]))<<32 ^ uint64(w.Gone[i])<<16
	}
	for i := 0; i < len(w.Ballast); i += 4096 {
		h = h*31 + uint64(w.Ballast[i])
	}
	return h
}

func (w *bigWorld) Clone() bigWorld { return *w }

func (w *bigWorld) AppendText(b []byte) ([]byte, error) {
	return fmt.Appendf(b, "frame %d x %v y %v gone %v\n", w.Frame, w.X, w.Y, w.Gone), nil
}

func newBigWorld() *bigWorld {
	w := new(bigWorld)
	for i := range w.Ballast {
		w.Ballast[i] = byte(i * 7)
	}
	return w
}

// TestRejoinLargeStateOverWebRTC: the restarted player receives a 1 MiB
// state, in chunks on the reliable channel.
func TestRejoinLargeStateOverWebRTC(t *testing.T) {
	testRejoinOverWebRTC(t, true, newBigWorld)
}

func testRejoinOverWebRTC[S any, G Game[S, uint8]](t *testing.T, crash bool, newState func() G) {
	srv := signaltest.Start(t, signalserver.Config{})
	dir := t.TempDir()
	logs := new(strings.Builder)
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	})
	cfg := Config{Server: srv.URL(), Room: "rejoin", Players: 3, Frames: 900, Bot: true, Loopback: true,
		RejoinDir: dir, Logger: log}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	matches := make([]*Match[S, uint8], 3)
	for i := range matches {
		c := cfg
		c.Seed = uint64(i)
		m, err := NewMatch(ctx, newState(), nil, c)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		matches[i] = m
	}
	tick := time.NewTicker(time.Second / 60)
	defer tick.Stop()
	// crashed is the match whose program died; it is not updated again.
	var crashed *Match[S, uint8]
	var handle PlayerHandle
	var restartedAt time.Time
	var back time.Duration
	for {
		done := true
		for i, m := range matches {
			if m == nil || m.Done() {
				continue
			}
			done = false
			if err := m.Update(); err != nil {
				t.Fatalf("player %d: %v", i+1, err)
			}
		}
		if done {
			break
		}
		if !crash && crashed == nil && matches[2].r != nil && matches[2].r.frame >= 300 {
			// The network goes: every connection of the match.
			crashed, handle, restartedAt = matches[2], matches[2].r.local[0], time.Now()
			cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
			_ = crashed.sock.Close(cctx)
			ccancel()
		}
		if crash && crashed == nil && matches[2].r != nil && matches[2].r.frame >= 300 {
			// The crash: the connections go, the record stays.
			crashed, handle = matches[2], matches[2].r.local[0]
			cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
			_ = crashed.sock.Close(cctx)
			ccancel()
			_ = crashed.rj.store.close()
			names, _ := os.ReadDir(dir)
			if len(names) == 0 {
				t.Fatal("the crashed player left no record")
			}
			// The same configuration started again.
			c := cfg
			c.Seed = 2
			m, err := NewMatch(ctx, newState(), nil, c)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			matches[2], restartedAt = m, time.Now()
		}
		if m := matches[2]; back == 0 && !restartedAt.IsZero() && m.r != nil && m.r.catchUpTo > 0 && m.r.frame >= m.r.catchUpTo {
			back = time.Since(restartedAt)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%v: frames %d %d %d", ctx.Err(), matches[0].View().Frame, matches[1].View().Frame, matches[2].View().Frame)
		case <-tick.C:
		}
	}
	if crashed == nil {
		t.Fatal("no crash happened")
	}
	if !crash {
		crashed = nil // the same match
	}
	want := matches[0].Result()
	for i, m := range matches {
		res := m.Result()
		if res.Frame != 900 || res.Checksum != want.Checksum || res.Desyncs != 0 {
			t.Fatalf("player %d: %+v, player 1: %+v", i+1, res, want)
		}
	}
	if crash && !strings.Contains(logs.String(), "back in the match after a restart") {
		t.Fatal("the restarted player did not come back through the rejoin room")
	}
	if !crash && !strings.Contains(logs.String(), "rollbox: back in the match\"") {
		t.Fatal("the player did not come back through the rejoin room")
	}
	if matches[2].r.local[0] != handle {
		t.Fatalf("the restarted program plays %v, want player %d", matches[2].r.local, handle)
	}
	t.Logf("restart to playing again: %v (player %d from frame %d)", back, handle+1, matches[2].r.catchUpTo)
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "back in the match") {
			t.Log(l)
		}
	}
	if crashed != nil {
		_ = crashed.Close()
	}
}
