package rollbox_test

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/transport/simnet"
)

// recordMatch records a 3000-frame, 4-player match over a bad link.
func recordMatch(t *testing.T) (rollbox.SimulationResult[arena], []byte) {
	t.Helper()
	var rec bytes.Buffer
	res, err := rollbox.Simulate(&arena{}, rollbox.Simulation[buttons]{
		Players: 4, Frames: 3000, Seed: 7, Record: &rec,
		Link: simnet.Link{Latency: 100 * time.Millisecond, Jitter: 50 * time.Millisecond, Loss: 0.1},
	})
	if err != nil {
		t.Fatal(err)
	}
	return res, rec.Bytes()
}

func TestReplayPlaysTheMatchAgain(t *testing.T) {
	res, rec := recordMatch(t)
	p, err := rollbox.NewReplayer(bytes.NewReader(rec), func(int) *arena { return &arena{} })
	if err != nil {
		t.Fatal(err)
	}
	if p.Players() != 4 || p.FPS() != 60 {
		t.Errorf("replay of %d players at %d fps, want 4 at 60", p.Players(), p.FPS())
	}
	sums := res.Peers[0].Checksums
	for f := 1; f < len(sums); f++ {
		if err := p.Step(); err != nil {
			t.Fatalf("frame %d: %v", f, err)
		}
		if got := p.Checksum(); got != sums[f] {
			t.Fatalf("frame %d: replayed checksum %016x, the match confirmed %016x", f, got, sums[f])
		}
	}
	t.Logf("3000 frames, 4 players: %d bytes, %.2f bytes per frame", len(rec), float64(len(rec))/3000)
	frame, _, err := rollbox.Replay(bytes.NewReader(rec), func(int) *arena { return &arena{} })
	if err != nil || frame < 3000 {
		t.Fatalf("Replay: frame %d, %v; want >= 3000, nil", frame, err)
	}
}

// changedFrom, when positive, is the frame from which stepChanged's Step moves
// player 0 one step further each frame: a Step changed after a match was
// recorded. Only TestReplayReportsTheFirstFrameThatDiffers sets it.
var changedFrom int32

// stepChanged is arena with a Step that changedFrom can change.
type stepChanged struct{ arena }

func (d *stepChanged) Step(in []rollbox.PlayerInput[buttons]) {
	d.arena.Step(in)
	if changedFrom > 0 && d.Ticks >= changedFrom {
		d.Pos[0]++
	}
}

func TestReplayReportsTheFirstFrameThatDiffers(t *testing.T) {
	var rec bytes.Buffer
	if _, err := rollbox.Simulate(&stepChanged{}, rollbox.Simulation[buttons]{Players: 2, Frames: 2000, Seed: 3, Record: &rec}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := rollbox.Replay(bytes.NewReader(rec.Bytes()), func(int) *stepChanged { return &stepChanged{} }); err != nil {
		t.Fatalf("unchanged Step: %v", err)
	}
	changedFrom = 1234
	defer func() { changedFrom = 0 }()
	_, _, err := rollbox.Replay(bytes.NewReader(rec.Bytes()), func(int) *stepChanged { return &stepChanged{} })
	var mismatch *rollbox.ReplayMismatchError
	if !errors.As(err, &mismatch) || !errors.Is(err, rollbox.ErrReplayMismatch) {
		t.Fatalf("changed Step: %v, want a *ReplayMismatchError", err)
	}
	if mismatch.Frame != 1234 {
		t.Errorf("first differing frame reported as %d, want 1234 (the state after stepping frame 1233)", mismatch.Frame)
	}
}

func TestReplayRefusesAnotherGame(t *testing.T) {
	_, rec := recordMatch(t)
	if _, err := rollbox.NewReplayer(bytes.NewReader(rec), func(int) *stepChanged { return &stepChanged{} }); err == nil {
		t.Fatal("a replay of arena played on stepChanged")
	}
	if _, err := rollbox.NewReplayer(bytes.NewReader(rec[:10]), func(int) *arena { return &arena{} }); err == nil {
		t.Fatal("a truncated header was accepted")
	}
	p, err := rollbox.NewReplayer(bytes.NewReader(rec[:200]), func(int) *arena { return &arena{} })
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		err = p.Step()
	}
	if err == io.EOF || errors.Is(err, rollbox.ErrReplayMismatch) {
		t.Fatalf("a replay cut mid-frame ended with %v, want a truncation error", err)
	}
}

// FuzzReplayer: any bytes make a replay or an error, never a panic, and a
// playback ends (EOF or an error) within as many frames as there are bytes.
func FuzzReplayer(f *testing.F) {
	var rec bytes.Buffer
	if _, err := rollbox.Simulate(&arena{}, rollbox.Simulation[buttons]{Players: 3, Frames: 130, Seed: 1, Record: &rec}); err != nil {
		f.Fatal(err)
	}
	f.Add(rec.Bytes())
	f.Add(rec.Bytes()[:40])
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := rollbox.NewReplayer(bytes.NewReader(b), func(int) *arena { return &arena{} })
		if err != nil {
			return
		}
		for range len(b) + 1 {
			if err := p.Step(); err != nil {
				return
			}
		}
		t.Fatalf("%d bytes played more than %d frames", len(b), len(b))
	})
}

// BenchmarkReplay plays back a 3000-frame, 4-player match: b.N frames, so
// ns/op is the time per frame (frames per second = 1e9 / ns/op).
func BenchmarkReplay(b *testing.B) {
	var rec bytes.Buffer
	if _, err := rollbox.Simulate(&arena{}, rollbox.Simulation[buttons]{Players: 4, Frames: 3000, Seed: 7, Record: &rec}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(rec.Len()) / 3000)
	var p *rollbox.Replayer[arena, buttons]
	for i := 0; b.Loop(); i++ {
		if i%3000 == 0 {
			b.StopTimer()
			var err error
			if p, err = rollbox.NewReplayer(bytes.NewReader(rec.Bytes()), func(int) *arena { return &arena{} }); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		if err := p.Step(); err != nil {
			b.Fatal(err)
		}
	}
}
