package rollbox_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/rollback"
	"github.com/rollbox/rollbox/transport/simnet"
)

// quiet discards the logs of matches that desync on purpose.
var quiet = slog.New(slog.DiscardHandler)

// badLink is a link that makes peers predict and roll back all the time.
var badLink = simnet.Link{Latency: 80 * time.Millisecond, Jitter: 40 * time.Millisecond, Loss: 0.1}

func TestSimulatePeersAgreeOverBadLinks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		players int
		seed    uint64
		cfg     rollbox.Config
	}{
		{"2 players seed 1", 2, 1, rollbox.Config{}},
		{"2 players seed 2", 2, 2, rollbox.Config{}},
		{"4 players seed 3", 4, 3, rollbox.Config{}},
		{"4 players seed 4", 4, 4, rollbox.Config{}},
		{"2 players no input delay", 2, 5, rollbox.Config{NoInputDelay: true}},
		{"3 players no input delay", 3, 6, rollbox.Config{NoInputDelay: true}},
		{"2 players lockstep", 2, 7, rollbox.Config{Lockstep: true}},
		{"4 players lockstep", 4, 8, rollbox.Config{Lockstep: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const frames = 400
			res, err := rollbox.Simulate(&arena{}, rollbox.Simulation[buttons]{
				Players: tc.players, Frames: frames, Seed: tc.seed, Link: badLink, Config: tc.cfg,
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Peers) != tc.players {
				t.Fatalf("%d peers, want %d", len(res.Peers), tc.players)
			}
			rollbacks := 0
			for p, peer := range res.Peers {
				if peer.State.Ticks != frames {
					t.Errorf("peer %d's final state is at tick %d, want %d", p, peer.State.Ticks, frames)
				}
				if peer.Result.Frame != frames || peer.Result.Checksum != peer.Checksums[frames] || peer.Result.Desyncs != 0 {
					t.Errorf("peer %d: result %+v", p, peer.Result)
				}
				if peer.State != res.Peers[0].State {
					t.Errorf("peer %d's final state %+v, peer 0's %+v", p, peer.State, res.Peers[0].State)
				}
				rollbacks += peer.Result.Rollbacks
			}
			// The bots moved, so agreement is not that of idle players.
			if res.Peers[0].State.Pos == ([8]int32{}) {
				t.Error("no one moved")
			}
			if tc.cfg.Lockstep {
				if rollbacks != 0 {
					t.Errorf("%d rollbacks in lockstep", rollbacks)
				}
			} else if rollbacks == 0 {
				t.Error("no rollbacks over a bad link: the test does not test rollback")
			}
		})
	}
}

func TestSimulateScriptedInput(t *testing.T) {
	const frames, delay = 300, 3
	// Player 0 walks right on even frames, player 1 left from frame 100.
	script := func(p rollbox.PlayerHandle, f rollbox.Frame) buttons {
		switch {
		case p == 0 && f%2 == 0:
			return 1
		case p == 1 && f >= 100:
			return 2
		}
		return 0
	}
	res, err := rollbox.Simulate(&arena{}, rollbox.Simulation[buttons]{
		Frames: frames, Seed: 1, Link: badLink, Input: script, Config: rollbox.Config{InputDelay: delay},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := stepScript(frames, delay, script)
	for p, peer := range res.Peers {
		if peer.State != want {
			t.Errorf("peer %d: %+v, want %+v", p, peer.State, want)
		}
	}
}

// With the longest prediction window and input delay the limits allow, a
// peer far ahead of the others still plays every local input it read.
func TestSimulateLongestPredictionKeepsEveryInput(t *testing.T) {
	const frames = 600
	script := func(p rollbox.PlayerHandle, f rollbox.Frame) buttons {
		if (int(f)/7+int(p))%3 == 0 {
			return 1
		}
		return 2
	}
	for _, delay := range []int{1, rollback.MaxInputDelay} {
		res, err := rollbox.Simulate(&arena{}, rollbox.Simulation[buttons]{
			Frames: frames, Seed: 1, Input: script,
			// A round trip of about 1.4 s: the peers run the whole
			// prediction window ahead of what they confirmed.
			Link:   simnet.Link{Latency: 700 * time.Millisecond, Jitter: 300 * time.Millisecond},
			Config: rollbox.Config{MaxPrediction: rollback.MaxPrediction, InputDelay: delay},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := stepScript(frames, delay, script)
		for p, peer := range res.Peers {
			if peer.State != want {
				t.Errorf("input delay %d: peer %d: %+v, want %+v", delay, p, peer.State, want)
			}
		}
	}
}

func TestSimulateIsDeterministic(t *testing.T) {
	run := func(seed uint64) rollbox.SimulationResult[arena] {
		res, err := rollbox.Simulate(&arena{Pos: [8]int32{5}}, rollbox.Simulation[buttons]{
			Players: 3, Frames: 300, Seed: seed, Link: badLink,
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b := run(42), run(42)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("the same seed played two matches:\n%+v\n%+v", a.Peers[0].Result, b.Peers[0].Result)
	}
	// And the seed matters, so the equality above is not that of constants.
	c := run(43)
	if reflect.DeepEqual(a.Peers[0].Checksums, c.Peers[0].Checksums) {
		t.Error("seeds 42 and 43 played the same match")
	}
	if a.Elapsed < 5*time.Second {
		t.Errorf("300 frames took %v of virtual time, want at least 5 s", a.Elapsed)
	}
}

// drift counts every Step of the drifting game across every peer: a
// package-level variable, which is exactly what a deterministic Step must
// never read. Only the tests below touch it, and they do not run in
// parallel.
var drift int

// drifting is a game whose Step is not deterministic: it reads drift.
type drifting struct {
	Pos   [4]int32
	Drift int32
}

func (d *drifting) Step(in []rollbox.PlayerInput[buttons]) {
	drift++
	if drift%29 == 0 {
		d.Drift++
	}
	for i, p := range in {
		if p.Input&1 != 0 {
			d.Pos[i]++
		}
	}
}

func TestSimulateCatchesNonDeterminism(t *testing.T) {
	for _, lockstep := range []bool{false, true} {
		t.Run(fmt.Sprint("lockstep ", lockstep), func(t *testing.T) {
			drift = 0
			var desyncs []rollbox.Desync
			res, err := rollbox.Simulate(&drifting{}, rollbox.Simulation[buttons]{
				Frames: 300, Seed: 1, Link: simnet.Link{Latency: 30 * time.Millisecond},
				Config: rollbox.Config{Lockstep: lockstep, Logger: quiet, OnDesync: func(d rollbox.Desync) {
					d.LocalDump, d.RemoteDump = slices.Clone(d.LocalDump), slices.Clone(d.RemoteDump)
					desyncs = append(desyncs, d)
				}},
			})
			var de *rollbox.DivergedError
			if !errors.As(err, &de) || !errors.Is(err, rollbox.ErrDiverged) {
				t.Fatalf("error %v, want a *DivergedError", err)
			}
			if de.Peer != 1 || de.Sum == de.Want || de.Sum != res.Peers[1].Checksums[de.Frame] || de.Want != res.Peers[0].Checksums[de.Frame] {
				t.Errorf("%+v does not describe the checksums %x and %x", de, res.Peers[1].Checksums[de.Frame], res.Peers[0].Checksums[de.Frame])
			}
			if de.Frame == 0 || res.Peers[0].Checksums[de.Frame-1] != res.Peers[1].Checksums[de.Frame-1] {
				t.Errorf("frame %d is not the first that differs", de.Frame)
			}
			if lockstep {
				return // lockstep saves no states, so it compares no checksums
			}
			// The sessions' own desync detection saw it too, with both
			// peers' dumps, and the diff names the field.
			if res.Peers[0].Result.Desyncs == 0 || res.Peers[1].Result.Desyncs == 0 {
				t.Errorf("desyncs detected: %d and %d, want some on both peers", res.Peers[0].Result.Desyncs, res.Peers[1].Result.Desyncs)
			}
			var withDumps *rollbox.Desync
			for i := range desyncs {
				if desyncs[i].RemoteDump != nil {
					withDumps = &desyncs[i]
					break
				}
			}
			if withDumps == nil {
				t.Fatalf("OnDesync never got the peer's dump (%d calls)", len(desyncs))
			}
			if diff := withDumps.Diff(); !strings.HasPrefix(diff, "Drift=") || strings.Contains(diff, "Pos") {
				t.Errorf("diff %q, want only the Drift line", diff)
			}
			if withDumps.LocalChecksum == withDumps.RemoteChecksum || !strings.Contains(withDumps.String(), fmt.Sprintf("%016x", withDumps.LocalChecksum)) {
				t.Errorf("desync %v", withDumps)
			}
		})
	}
}

// trail is a state with a slice: it needs Clone and Checksum.
type trail struct {
	Cells []int32
	Tick  int32
}

func newTrail() *trail { return &trail{Cells: make([]int32, 4)} }

func (s *trail) Step(in []rollbox.PlayerInput[buttons]) {
	s.Tick++
	for i, p := range in {
		// In place, as games do: a shallow copy would see this.
		s.Cells[i] = s.Cells[i]*3 + int32(p.Input) + s.Tick
	}
}

func (s *trail) Clone() trail { return trail{Cells: slices.Clone(s.Cells), Tick: s.Tick} }

func (s *trail) Checksum() uint64 {
	h := uint64(s.Tick)
	for _, c := range s.Cells {
		h = h*1099511628211 + uint64(uint32(c))
	}
	return h
}

// shallowTrail is trail with the classic bug: Clone copies the slice
// header, not the cells.
type shallowTrail struct{ trail }

func (s *shallowTrail) Clone() shallowTrail { return *s }

// trailNoClone and trailNoChecksum miss a method each.
type trailNoClone struct{ Cells []int32 }

func (*trailNoClone) Step([]rollbox.PlayerInput[buttons]) {}
func (*trailNoClone) Checksum() uint64                    { return 0 }

type trailNoChecksum struct{ Cells map[int]int }

func (*trailNoChecksum) Step([]rollbox.PlayerInput[buttons]) {}
func (s *trailNoChecksum) Clone() trailNoChecksum            { return *s }

func TestStateWithSlicesNeedsCloneAndChecksum(t *testing.T) {
	input := func(rollbox.PlayerHandle) buttons { return 0 }
	_, errSim := rollbox.Simulate(&trailNoClone{}, rollbox.Simulation[buttons]{Frames: 10})
	_, errMatch := rollbox.NewMatch(t.Context(), &trailNoClone{}, input, rollbox.Config{})
	for _, err := range []error{errSim, errMatch} {
		if err == nil || !strings.Contains(err.Error(), "Cells is a slice") || !strings.Contains(err.Error(), "give *trailNoClone a Clone() trailNoClone method") {
			t.Errorf("no Clone: error %v, want one naming the field and the method to add", err)
		}
	}
	_, errSim = rollbox.Simulate(&trailNoChecksum{}, rollbox.Simulation[buttons]{Frames: 10})
	_, errMatch = rollbox.NewMatch(t.Context(), &trailNoChecksum{}, input, rollbox.Config{})
	for _, err := range []error{errSim, errMatch} {
		if err == nil || !strings.Contains(err.Error(), "Cells is a map") || !strings.Contains(err.Error(), "give *trailNoChecksum a Checksum() uint64 method") {
			t.Errorf("no Checksum: error %v, want one naming the field and the method to add", err)
		}
	}
}

func TestStateWithSlicesPlaysWithCloneAndChecksum(t *testing.T) {
	sim := rollbox.Simulation[buttons]{Frames: 300, Seed: 3, Link: badLink}
	res, err := rollbox.Simulate(newTrail(), sim)
	if err != nil {
		t.Fatal(err)
	}
	if res.Peers[0].Result.Rollbacks+res.Peers[1].Result.Rollbacks == 0 {
		t.Fatal("no rollbacks: saved states were never loaded, so Clone was not put to the test")
	}
	// Each peer's final state is its own.
	a, b := res.Peers[0].State, res.Peers[1].State
	if !slices.Equal(a.Cells, b.Cells) || &a.Cells[0] == &b.Cells[0] {
		t.Errorf("final states %v and %v", a.Cells, b.Cells)
	}
	// The initial state is copied, never stepped.
	initial := newTrail()
	if _, err := rollbox.Simulate(initial, rollbox.Simulation[buttons]{Frames: 10}); err != nil || initial.Tick != 0 || initial.Cells[0] != 0 {
		t.Errorf("Simulate stepped the initial state: %+v, %v", initial, err)
	}

	// The same match with a shallow Clone fails: saved states share the
	// cells that Step changes, so loading one does not go back.
	shallow := &shallowTrail{*newTrail()}
	if _, err := rollbox.Simulate(shallow, sim); !errors.Is(err, rollbox.ErrDiverged) {
		t.Errorf("a shallow Clone: error %v, want ErrDiverged", err)
	}
}

func TestSyncTest(t *testing.T) {
	t.Run("deterministic", func(t *testing.T) {
		m, err := rollbox.NewMatch(t.Context(), &arena{}, nil, rollbox.Config{SyncTest: true, Players: 3, Frames: 200, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		res, err := m.Run(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if res.Frame != 200 || res.Players != 3 || res.Checksum == 0 {
			t.Errorf("result %+v", res)
		}
		if v := m.View(); v.Phase != rollbox.PhaseFinished || v.Rollbacks == 0 || len(v.Local) != 3 {
			t.Errorf("view %+v: want finished, with rollbacks, every player local", v)
		}
	})
	t.Run("non-deterministic", func(t *testing.T) {
		drift = 0
		m, err := rollbox.NewMatch(t.Context(), &drifting{}, nil, rollbox.Config{SyncTest: true, Frames: 200, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.Run(t.Context())
		var mm *rollback.MismatchedChecksumError
		if !errors.As(err, &mm) || !errors.Is(err, rollback.ErrMismatchedChecksum) {
			t.Fatalf("error %v, want a *rollback.MismatchedChecksumError", err)
		}
		first := mm.Mismatches[0]
		d := rollbox.Desync{LocalDump: first.FirstDump, RemoteDump: first.ResimulatedDump}
		if diff := d.Diff(); !strings.HasPrefix(diff, "Drift=") {
			t.Errorf("the mismatch's dumps differ in %q, want Drift", diff)
		}
		if v := m.View(); v.Phase != rollbox.PhaseFailed || !errors.Is(v.Err, rollback.ErrMismatchedChecksum) {
			t.Errorf("view phase %v err %v", v.Phase, v.Err)
		}
	})
	t.Run("context ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		m, err := rollbox.NewMatch(ctx, &arena{}, nil, rollbox.Config{SyncTest: true, Frames: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Run(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	})
}

// labelled is a state with its own dump.
type labelled struct{ Tick int32 }

func (s *labelled) Step([]rollbox.PlayerInput[buttons]) {
	drift++
	s.Tick += int32(drift % 2)
}

func (s *labelled) AppendText(b []byte) ([]byte, error) {
	return fmt.Appendf(b, "labelled at tick %d\n", s.Tick), nil
}

func TestTextAppenderDumpIsUsed(t *testing.T) {
	drift = 0
	m, err := rollbox.NewMatch(t.Context(), &labelled{}, nil, rollbox.Config{SyncTest: true, Frames: 100, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Run(t.Context())
	var mm *rollback.MismatchedChecksumError
	if !errors.As(err, &mm) {
		t.Fatalf("error %v, want a checksum mismatch", err)
	}
	for _, dump := range [][]byte{mm.Mismatches[0].FirstDump, mm.Mismatches[0].ResimulatedDump} {
		if !strings.HasPrefix(string(dump), "labelled at tick ") {
			t.Errorf("dump %q is not the state's AppendText", dump)
		}
	}
}

func TestSimulateReportsAStall(t *testing.T) {
	_, err := rollbox.Simulate(&arena{}, rollbox.Simulation[buttons]{
		Frames: 100, Link: simnet.Link{Loss: 1}, Config: rollbox.Config{Logger: quiet},
	})
	if err == nil || !strings.Contains(err.Error(), "stalled at frame 0") {
		t.Errorf("error %v, want a stall", err)
	}
}

func TestNewMatchRefusesWhatCannotPlay(t *testing.T) {
	input := func(rollbox.PlayerHandle) buttons { return 0 }
	if _, err := rollbox.NewMatch[arena, buttons](t.Context(), nil, input, rollbox.Config{}); err == nil || !strings.Contains(err.Error(), "state is nil") {
		t.Errorf("nil state: %v", err)
	}
	if _, err := rollbox.NewMatch[arena, buttons](t.Context(), &arena{}, nil, rollbox.Config{}); err == nil || !strings.Contains(err.Error(), "input is nil") {
		t.Errorf("nil input: %v", err)
	}
	if _, err := rollbox.NewMatch(t.Context(), &named{}, func(rollbox.PlayerHandle) chat { return chat{} }, rollbox.Config{}); err == nil || !strings.Contains(err.Error(), "holds a string") {
		t.Errorf("a string input: %v", err)
	}
	if _, err := rollbox.Simulate(&named{}, rollbox.Simulation[chat]{}); err == nil || !strings.Contains(err.Error(), "holds a string") {
		t.Errorf("a string input in Simulate: %v", err)
	}
}

// named is a game whose input, chat, cannot go on the wire: it holds a
// string.
type named struct{ Said int32 }

type chat struct{ Text string }

func (n *named) Step(in []rollbox.PlayerInput[chat]) { n.Said += int32(len(in)) }

// stepScript is the state two players reach by stepping an arena frames
// times with script's inputs by hand: an input read at frame f is played
// at f+delay.
func stepScript(frames, delay int, script func(rollbox.PlayerHandle, rollbox.Frame) buttons) arena {
	var want arena
	for played := range frames {
		var in [2]rollbox.PlayerInput[buttons]
		if f := rollbox.Frame(played - delay); f >= 0 {
			in[0].Input, in[1].Input = script(0, f), script(1, f)
		}
		want.Step(in[:])
	}
	return want
}
