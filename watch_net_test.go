package rollbox_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/signalserver"
	"github.com/rollbox/rollbox/signalserver/signaltest"
	"github.com/rollbox/rollbox/transport/simnet"
)

// updateAll calls Update at 60 Hz on each match that is not Done, and on
// the late spectator that join returns once it exists, until every match is
// Done or ctx ends. All in this goroutine: a Match is not safe for
// concurrent use, and the test must read the players' frames to decide
// when the spectator joins.
func updateAll[P, S any](ctx context.Context, t *testing.T, players []*rollbox.Match[P, netPad],
	join func() *rollbox.Match[S, netPad], watcherErr func(error) bool) (*rollbox.Match[S, netPad], rollbox.Frame) {
	t.Helper()
	var watcher *rollbox.Match[S, netPad]
	first := rollbox.Frame(-1) // the first frame the late spectator is at
	tick := time.NewTicker(time.Second / 60)
	defer tick.Stop()
	for {
		done := watcher != nil && watcher.Done()
		for i, m := range players {
			if m.Done() {
				continue
			}
			done = false
			if err := m.Update(); err != nil {
				t.Fatalf("player %d: %v", i, err)
			}
		}
		if done {
			return watcher, first
		}
		if watcher == nil && players[0].View().Frame > 120 && players[1].View().Frame > 120 {
			watcher = join()
		}
		if watcher != nil && !watcher.Done() {
			if err := watcher.Update(); err != nil {
				if watcherErr(err) {
					return watcher, first
				}
				t.Fatalf("late spectator: %v", err)
			}
			if f := watcher.View().Frame; first < 0 && f > 0 {
				first = f
			}
		}
		select {
		case <-ctx.Done():
			status := "not started"
			if watcher != nil {
				v := watcher.View()
				status = fmt.Sprintf("%q at frame %d", v.Status, v.Frame)
			}
			t.Fatalf("%v; players at frames %d and %d (done: %v, %v); late spectator %s", ctx.Err(),
				players[0].View().Frame, players[1].View().Frame, players[0].Done(), players[1].Done(), status)
		case <-tick.C:
		}
	}
}

// A spectator that joins a running match (Config.Watch) once the players
// are past frame 120 receives the state from the host, catches up and
// confirms the same state at frame 600 as the players. With latency
// between the players, the host's confirmed frame lags its current one, so
// the spectator usually starts from a saved state, not the current one.
func TestLateSpectatorJoinsRunningMatch(t *testing.T) {
	t.Run("loopback", func(t *testing.T) { testLateSpectatorJoins(t, nil) })
	t.Run("latency", func(t *testing.T) {
		testLateSpectatorJoins(t, &simnet.Link{Latency: 50 * time.Millisecond, Jitter: 10 * time.Millisecond})
	})
}

func testLateSpectatorJoins(t *testing.T, link *simnet.Link) {
	srv := signaltest.Start(t, signalserver.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), netTestTimeout)
	defer cancel()
	const frames = 600
	var players []*rollbox.Match[netWorld, netPad]
	for i := range 2 {
		cfg := netConfig(t, srv, 2, frames, uint64(i+1))
		cfg.NetSim = link
		players = append(players, newNetMatch(t, ctx, cfg))
	}
	defer func() {
		for _, m := range players {
			_ = m.Close()
		}
	}()
	watcher, first := updateAll(ctx, t, players, func() *rollbox.Match[netWorld, netPad] {
		cfg := netConfig(t, srv, 2, frames, 3)
		cfg.Watch = true
		return newNetMatch(t, ctx, cfg)
	}, func(error) bool { return false })
	defer func() { _ = watcher.Close() }()
	// It joined once the players were past frame 120, and its start is at
	// most a prediction window behind the host's frame (rollback's
	// AddSpectator).
	if first <= 120-rollbox.DefaultMaxPrediction {
		t.Errorf("late spectator first at frame %d: it did not start from the host's state", first)
	}

	res := watcher.Result()
	if res.Frame != frames || res.Desyncs != 0 {
		t.Fatalf("late spectator: result %+v, want frame %d", res, frames)
	}
	for i, m := range players {
		pr := m.Result()
		if pr.Frame != frames || pr.Desyncs != 0 {
			t.Errorf("player %d: result %+v, want frame %d, no desync", i, pr, frames)
		}
		if pr.Checksum != res.Checksum {
			t.Errorf("player %d confirmed %016x at frame %d, the late spectator %016x", i, pr.Checksum, frames, res.Checksum)
		}
	}
	if v := watcher.View(); v.Phase != rollbox.PhaseFinished || len(v.Local) != 0 {
		t.Errorf("late spectator's view: phase %v, local %v", v.Phase, v.Local)
	}
}

// A late spectator of another game is refused with an error that says so,
// and the match goes on.
func TestLateSpectatorOfAnotherGameRefused(t *testing.T) {
	srv := signaltest.Start(t, signalserver.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), netTestTimeout)
	defer cancel()
	// No target: the players play on until the refusal, however long joining
	// takes on a loaded machine (a finished host admits no one).
	const frames = 0
	players := []*rollbox.Match[netWorld, netPad]{
		newNetMatch(t, ctx, netConfig(t, srv, 2, frames, 1)),
		newNetMatch(t, ctx, netConfig(t, srv, 2, frames, 2)),
	}
	defer func() {
		for _, m := range players {
			_ = m.Close()
		}
	}()
	var got error
	watcher, _ := updateAll(ctx, t, players, func() *rollbox.Match[otherWorld, netPad] {
		cfg := netConfig(t, srv, 2, frames, 3)
		cfg.Watch = true
		m, err := rollbox.NewMatch(ctx, &otherWorld{}, nil, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}, func(err error) bool { got = err; return true })
	defer func() { _ = watcher.Close() }()
	if got == nil || !strings.Contains(got.Error(), "runs game") || !strings.Contains(got.Error(), "otherWorld") {
		t.Fatalf("late spectator of another game: %v, want an error naming the games", got)
	}
	for i, m := range players {
		if err := m.Update(); err != nil {
			t.Errorf("player %d after the refusal: %v", i, err)
		}
	}
}

// heapWorld holds a slice, so it needs Clone and Checksum, and has no
// binary encoding to send it to a late spectator.
type heapWorld struct {
	netWorld
	trail []int32
}

func (w *heapWorld) Step(in []rollbox.PlayerInput[netPad]) {
	w.netWorld.Step(in)
	w.trail = append(w.trail[:0], w.X[0])
}

func (w *heapWorld) Clone() heapWorld {
	c := *w
	c.trail = append([]int32(nil), w.trail...)
	return c
}

func (w *heapWorld) Checksum() uint64 {
	sum := uint64(w.Frame)
	for i := range w.X {
		sum = sum*31 + uint64(uint32(w.X[i])) + uint64(uint32(w.Y[i]))<<32
	}
	return sum
}

// A host whose state cannot be sent (no binary encoding) refuses a late
// spectator with an error that says what is missing, and plays on.
func TestLateSpectatorOfUnsendableStateRefused(t *testing.T) {
	srv := signaltest.Start(t, signalserver.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), netTestTimeout)
	defer cancel()
	const frames = 0 // as above
	var players []*rollbox.Match[heapWorld, netPad]
	for i := range 2 {
		m, err := rollbox.NewMatch(ctx, &heapWorld{}, nil, netConfig(t, srv, 2, frames, uint64(i+1)))
		if err != nil {
			t.Fatal(err)
		}
		players = append(players, m)
	}
	defer func() {
		for _, m := range players {
			_ = m.Close()
		}
	}()
	var got error
	watcher, _ := updateAll(ctx, t, players, func() *rollbox.Match[heapWorld, netPad] {
		cfg := netConfig(t, srv, 2, frames, 3)
		cfg.Watch = true
		m, err := rollbox.NewMatch(ctx, &heapWorld{}, nil, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}, func(err error) bool { got = err; return true })
	defer func() { _ = watcher.Close() }()
	if got == nil || !strings.Contains(got.Error(), "refuses") || !strings.Contains(got.Error(), "MarshalBinary") {
		t.Fatalf("late spectator of a state without MarshalBinary: %v, want the host's refusal", got)
	}
	for i, m := range players {
		if err := m.Update(); err != nil {
			t.Errorf("player %d after the refusal: %v", i, err)
		}
	}
}
