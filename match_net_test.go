package rollbox_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/internal/syncbuf"
	"github.com/rollbox/rollbox/signalserver"
	"github.com/rollbox/rollbox/signalserver/signaltest"
	"go.uber.org/goleak"
)

// The tests of this file play real Matches: a real signalling server on
// loopback, real pion WebRTC peers on 127.0.0.1, every Update at 60 Hz.

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// netWorld is the real-network tests' game: each player pushes a point
// about.
type netWorld struct {
	X, Y  [8]int32
	Frame int32
}

type netPad struct {
	Buttons uint8
}

func (w *netWorld) Step(in []rollbox.PlayerInput[netPad]) {
	w.Frame++
	for i, p := range in {
		b := p.Input.Buttons
		w.X[i] += int32(b&1) - int32(b>>1&1)
		w.Y[i] += int32(b>>2&1) - int32(b>>3&1)
		w.X[i] ^= w.Frame * int32(i+1) // mixes the frame in: a skipped frame shows
	}
}

// otherWorld is a different game, with the same input type.
type otherWorld struct{ netWorld }

// netTestTimeout bounds each match of these tests: generous for a loaded
// machine under -race, and far below DefaultJoinTimeout (60 s), so a test
// that fails by timing out says so instead of looking like a join timeout.
const netTestTimeout = 45 * time.Second

// netConfig is a headless loopback match on srv in the test's own room.
func netConfig(t *testing.T, srv *signaltest.Server, players, frames int, seed uint64) rollbox.Config {
	return rollbox.Config{Server: srv.URL(), Room: strings.ReplaceAll(t.Name(), "/", "-"), Players: players,
		Frames: frames, Bot: true, Seed: seed, Loopback: true, Logger: testLogger(t), RejoinDir: t.TempDir()}
}

// played is the end of one peer's Run.
type played struct {
	res rollbox.Result
	err error
}

// playAll runs each match's Run in its own goroutine and returns their
// ends, in order.
func playAll[S any](ctx context.Context, t *testing.T, matches []*rollbox.Match[S, netPad]) []played {
	t.Helper()
	out := make([]played, len(matches))
	var wg sync.WaitGroup
	for i, m := range matches {
		wg.Go(func() {
			res, err := m.Run(ctx)
			out[i] = played{res, err}
		})
	}
	wg.Wait()
	return out
}

func newNetMatch(t *testing.T, ctx context.Context, cfg rollbox.Config) *rollbox.Match[netWorld, netPad] {
	t.Helper()
	m, err := rollbox.NewMatch(ctx, &netWorld{}, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Two peers play 180 frames over WebRTC and confirm the same state.
func TestTwoPeersAgreeOverWebRTC(t *testing.T) {
	srv := signaltest.Start(t, signalserver.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), netTestTimeout)
	defer cancel()
	const frames = 180
	var matches []*rollbox.Match[netWorld, netPad]
	for i := range 2 {
		matches = append(matches, newNetMatch(t, ctx, netConfig(t, srv, 2, frames, uint64(i+1))))
	}
	ends := playAll(ctx, t, matches)
	for i, e := range ends {
		if e.err != nil {
			t.Fatalf("peer %d: %v", i, e.err)
		}
		if e.res.Frame != frames || e.res.Players != 2 || e.res.Desyncs != 0 {
			t.Errorf("peer %d: result %+v, want frame %d of 2 players, no desync", i, e.res, frames)
		}
	}
	if ends[0].res.Checksum != ends[1].res.Checksum {
		t.Errorf("peers confirmed different states at frame %d: %016x and %016x", frames, ends[0].res.Checksum, ends[1].res.Checksum)
	}
}

// Three machines play four players (one machine has two local players) and
// a fourth machine watches: every player peer and the spectator confirm
// the same state.
func TestFourPlayersOnThreeMachinesAndASpectator(t *testing.T) {
	srv := signaltest.Start(t, signalserver.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), netTestTimeout)
	defer cancel()
	const frames = 180
	var matches []*rollbox.Match[netWorld, netPad]
	for i, local := range []int{2, 1, 1} {
		c := netConfig(t, srv, 4, frames, uint64(i+1))
		c.LocalPlayers, c.Peers, c.Spectators = local, 3, 1
		matches = append(matches, newNetMatch(t, ctx, c))
	}
	c := netConfig(t, srv, 4, frames, 9)
	c.Peers, c.Spectators, c.Spectate = 3, 1, true
	matches = append(matches, newNetMatch(t, ctx, c))

	ends := playAll(ctx, t, matches)
	for i, e := range ends {
		if e.err != nil {
			t.Fatalf("machine %d: %v", i, e.err)
		}
		if e.res.Frame != frames || e.res.Players != 4 || e.res.Desyncs != 0 {
			t.Errorf("machine %d: result %+v, want frame %d of 4 players, no desync", i, e.res, frames)
		}
		if e.res.Checksum != ends[0].res.Checksum {
			t.Errorf("machine %d (spectator: %v) confirmed %016x at frame %d, machine 0 %016x",
				i, i == 3, e.res.Checksum, frames, ends[0].res.Checksum)
		}
	}
}

// Peers that disagree on the match stop before frame 0 with an error that
// names the difference, instead of waiting out the join timeout.
func TestMismatchedPeersFailBeforeFrameZero(t *testing.T) {
	for _, tc := range []struct {
		name string
		play func(t *testing.T, ctx context.Context, srv *signaltest.Server) []played
		want string
	}{
		{"players", func(t *testing.T, ctx context.Context, srv *signaltest.Server) []played {
			a := netConfig(t, srv, 2, 60, 1)
			b := netConfig(t, srv, 3, 60, 2)
			b.Peers = 2 // the same room (next=2), three players between two machines of one
			return playAll(ctx, t, []*rollbox.Match[netWorld, netPad]{newNetMatch(t, ctx, a), newNetMatch(t, ctx, b)})
		}, "players"},
		{"game", func(t *testing.T, ctx context.Context, srv *signaltest.Server) []played {
			a := newNetMatch(t, ctx, netConfig(t, srv, 2, 60, 1))
			b, err := rollbox.NewMatch(ctx, &otherWorld{}, nil, netConfig(t, srv, 2, 60, 2))
			if err != nil {
				t.Fatal(err)
			}
			ends := make([]played, 2)
			var wg sync.WaitGroup
			wg.Go(func() { ends[0] = playAll(ctx, t, []*rollbox.Match[netWorld, netPad]{a})[0] })
			wg.Go(func() { ends[1] = playAll(ctx, t, []*rollbox.Match[otherWorld, netPad]{b})[0] })
			wg.Wait()
			return ends
		}, "runs game"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := signaltest.Start(t, signalserver.Config{})
			ctx, cancel := context.WithTimeout(context.Background(), netTestTimeout)
			defer cancel()
			for i, e := range tc.play(t, ctx, srv) {
				if e.err == nil {
					t.Fatalf("peer %d played (%+v)", i, e.res)
				}
				if ctx.Err() != nil || !strings.Contains(e.err.Error(), "disagrees") || !strings.Contains(e.err.Error(), tc.want) {
					t.Errorf("peer %d: %v; want a disagreement about %q before the test's deadline", i, e.err, tc.want)
				}
				t.Logf("peer %d: %v", i, e.err)
				if e.res.Frame != 0 || e.res.Checksum != 0 {
					t.Errorf("peer %d got to a frame: %+v", i, e.res)
				}
			}
		})
	}
}

// The time from the last of four peers starting to every peer playing:
// three peers wait in the room, the fourth joins, and the clock runs from
// its NewMatch until every peer has advanced a frame. Logged, never
// asserted (speed is for benchmarks; BenchmarkTimeToFirstFrame repeats it).
func TestTimeToFirstFrameOfFourPeers(t *testing.T) {
	d, phases := timeToFirstFrame(t, 4)
	t.Logf("last of 4 peers started to frame 1 on every peer: %v (the last peer: %s)", d, phases)
}

// BenchmarkTimeToFirstFrame repeats TestTimeToFirstFrameOfFourPeers: ms is
// the time from the fourth peer's NewMatch to every peer at frame 1.
func BenchmarkTimeToFirstFrame(b *testing.B) {
	var total time.Duration
	for range b.N {
		d, _ := timeToFirstFrame(b, 4)
		total += d
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms")
}

// timeToFirstFrame returns the time from the last of n peers starting to
// every peer at frame 1, and when the last peer's View first showed each
// phase (to a tick, 1/60 s).
func timeToFirstFrame(tb testing.TB, n int) (time.Duration, string) {
	tb.Helper()
	srv := signaltest.Start(tb, signalserver.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), netTestTimeout)
	defer cancel()
	room := fmt.Sprintf("first-frame-%d", time.Now().UnixNano())
	cfg := func(seed uint64) rollbox.Config {
		return rollbox.Config{Server: srv.URL(), Room: room, Players: n, Frames: 120, Bot: true, Seed: seed,
			Loopback: true, Logger: testLogger(tb)}
	}
	// Each peer's own loop: Update at 60 Hz and, from the same goroutine
	// (a Match is not safe for concurrent use), report once it waits for
	// the last peer with everyone else here and once it is at frame 1.
	type peer struct {
		waiting, playing chan time.Time
		done             chan error
		// seen is when View first showed each phase; read once done
		// has been received.
		seen *[rollbox.PhaseFailed + 1]time.Time
	}
	start := func(m *rollbox.Match[netWorld, netPad]) peer {
		p := peer{make(chan time.Time, 1), make(chan time.Time, 1), make(chan error, 1), new([rollbox.PhaseFailed + 1]time.Time)}
		go func() {
			defer m.Close()
			tick := time.NewTicker(time.Second / 60)
			defer tick.Stop()
			waiting, playing := false, false
			wantHere := fmt.Sprintf("%d of %d here", n-1, n)
			for {
				if err := m.Update(); err != nil {
					p.done <- err
					return
				}
				v := m.View()
				if p.seen[v.Phase].IsZero() {
					p.seen[v.Phase] = time.Now()
				}
				if !waiting && v.Phase == rollbox.PhaseWaiting && strings.Contains(v.Status, wantHere) {
					waiting = true
					p.waiting <- time.Now()
				}
				if !playing && v.Frame >= 1 {
					playing = true
					p.playing <- time.Now()
				}
				if m.Done() {
					p.done <- nil
					return
				}
				select {
				case <-ctx.Done():
					p.done <- ctx.Err()
					return
				case <-tick.C:
				}
			}
		}()
		return p
	}
	var peers []peer
	for i := range n - 1 {
		peers = append(peers, start(newNetMatchTB(tb, ctx, cfg(uint64(i+1)))))
	}
	for i, p := range peers {
		select {
		case <-p.waiting:
		case err := <-p.done:
			tb.Fatalf("peer %d ended while waiting for the last: %v", i, err)
		}
	}
	// The first peers' own connections settle (they connect to each other
	// while they wait): the figure is the last peer's arrival alone.
	time.Sleep(time.Second)
	t0 := time.Now()
	peers = append(peers, start(newNetMatchTB(tb, ctx, cfg(uint64(n)))))
	var last time.Time
	for i, p := range peers {
		select {
		case at := <-p.playing:
			if at.After(last) {
				last = at
			}
		case err := <-p.done:
			tb.Fatalf("peer %d ended before frame 1: %v", i, err)
		}
	}
	for i, p := range peers {
		if err := <-p.done; err != nil {
			tb.Errorf("peer %d: %v", i, err)
		}
	}
	var phases []string
	for ph, at := range peers[n-1].seen {
		if !at.IsZero() {
			phases = append(phases, fmt.Sprintf("%v %v", rollbox.Phase(ph), at.Sub(t0).Round(time.Millisecond)))
		}
	}
	return last.Sub(t0), strings.Join(phases, ", ")
}

func newNetMatchTB(tb testing.TB, ctx context.Context, cfg rollbox.Config) *rollbox.Match[netWorld, netPad] {
	tb.Helper()
	m, err := rollbox.NewMatch(ctx, &netWorld{}, nil, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// testLogger collects a match's logs (warnings and errors) and prints them
// if the test fails: a real network's logs explain its failures.
func testLogger(tb testing.TB) *slog.Logger {
	logs := new(syncbuf.Buffer)
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("logs:\n%s", logs.String())
		}
	})
	return slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
