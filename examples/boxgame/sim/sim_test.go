package sim

import (
	"math/rand/v2"
	"testing"

	"github.com/rollbox/rollbox"
)

// step steps w with confirmed inputs, as rollbox does once they arrive.
func step(w *World, inputs ...Input) {
	in := make([]rollbox.PlayerInput[Input], len(inputs))
	for i, b := range inputs {
		in[i] = rollbox.PlayerInput[Input]{Input: b, Status: rollbox.Confirmed}
	}
	w.Step(in)
}

// randomInputs returns frames x players random inputs from seed.
func randomInputs(seed uint64, frames, players int) [][]Input {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([][]Input, frames)
	held := make([]Input, players)
	for f := range out {
		for p := range held {
			if rng.IntN(10) == 0 { // players hold keys for a while, as people do
				held[p] = Input(rng.IntN(16))
			}
		}
		out[f] = append([]Input(nil), held...)
	}
	return out
}

func play(w World, inputs [][]Input) World {
	for _, in := range inputs {
		step(&w, in...)
	}
	return w
}

func TestDeterministic(t *testing.T) {
	for players := 1; players <= MaxPlayers; players++ {
		inputs := randomInputs(uint64(players), 3000, players)
		a := play(New(players), inputs)
		b := play(New(players), inputs)
		if a != b {
			t.Fatalf("%d players: same inputs, different worlds", players)
		}
		if a.Frame != 3000 {
			t.Fatalf("frame %d, want 3000", a.Frame)
		}
		// Other inputs give another world (the inputs matter at all).
		c := play(New(players), randomInputs(uint64(players)+100, 3000, players))
		if c == a {
			t.Fatalf("%d players: different inputs, same world", players)
		}
	}
}

// TestSaveLoadByValue: a copied world resumes exactly where it was.
func TestSaveLoadByValue(t *testing.T) {
	inputs := randomInputs(7, 600, 4)
	w := New(4)
	var saved World
	for f, in := range inputs {
		if f == 300 {
			saved = w
		}
		step(&w, in...)
	}
	replayed := play(saved, inputs[300:])
	if replayed != w {
		t.Fatal("replay from a saved copy diverged")
	}
}

func TestBoxesStayInArena(t *testing.T) {
	w := play(New(MaxPlayers), randomInputs(3, 5000, MaxPlayers))
	for i, b := range w.Boxes {
		if b.X < 0 || b.Y < 0 || b.X > Width-BoxSize || b.Y > Height-BoxSize {
			t.Fatalf("box %d outside the arena: %+v", i, b)
		}
	}
	// Holding right forever parks the box against the right wall.
	w = New(1)
	for range 300 {
		step(&w, Right)
	}
	if w.Boxes[0].X != Width-BoxSize {
		t.Fatalf("box at x=%d, want the wall at %d", w.Boxes[0].X, Width-BoxSize)
	}
}

func TestFrictionStopsABox(t *testing.T) {
	w := New(1)
	for range 20 {
		step(&w, Down)
	}
	if w.Boxes[0].VY != maxSpeed {
		t.Fatalf("speed %d after 20 frames, want the cap %d", w.Boxes[0].VY, maxSpeed)
	}
	for range 60 {
		step(&w)
	}
	if w.Boxes[0].VX != 0 || w.Boxes[0].VY != 0 {
		t.Fatalf("box still moving: %+v", w.Boxes[0])
	}
}

func TestMovingBoxPushesAnother(t *testing.T) {
	w := New(2)
	w.Boxes[0] = Box{X: 100 * One, Y: 100 * One}
	w.Boxes[1] = Box{X: 140 * One, Y: 100 * One}
	for range 30 {
		step(&w, Right, 0)
	}
	a, b := w.Boxes[0], w.Boxes[1]
	if b.X <= 140*One {
		t.Fatalf("resting box not pushed: %+v", b)
	}
	if b.X-a.X < BoxSize {
		t.Fatalf("boxes overlap after the push: %+v %+v", a, b)
	}
}

func TestMissingInputsCountAsNone(t *testing.T) {
	a, b := New(3), New(3)
	step(&a, Left)
	step(&b, Left, 0, 0)
	if a != b {
		t.Fatal("missing inputs differ from zero inputs")
	}
}

func BenchmarkStep8(b *testing.B) {
	w := New(MaxPlayers)
	inputs := randomInputs(1, 1024, MaxPlayers)
	frames := make([][]rollbox.PlayerInput[Input], len(inputs))
	for f, in := range inputs {
		for _, b := range in {
			frames[f] = append(frames[f], rollbox.PlayerInput[Input]{Input: b})
		}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		w.Step(frames[i%len(frames)])
	}
}

func TestAppendText(t *testing.T) {
	w := New(2)
	w.Boxes[1].VX = -3
	want := "frame 0 players 2\nbox 0 40960 30720 0 0\nbox 1 114688 83968 -3 0\n"
	got, err := w.AppendText(nil)
	if string(got) != want || err != nil {
		t.Fatalf("got %q, %v; want %q", got, err, want)
	}
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { _, _ = w.AppendText(buf[:0]) }); n > 0 {
		t.Fatalf("%v allocations", n)
	}
}
