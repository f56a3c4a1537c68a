package rollbox

import "testing"

func TestBotHoldsValidRandomInputs(t *testing.T) {
	type pad struct {
		Fire bool
		X    int8
		Jump bool
	}
	codec, err := newValueCodec[pad]()
	if err != nil {
		t.Fatal(err)
	}
	play := func(seed uint64) []pad {
		b := newBot[pad](codec, seed)
		var out []pad
		for range 3000 {
			out = append(out, b.input(0))
		}
		return out
	}
	a := play(1)
	changes, fired, longest, run := 0, 0, 0, 1
	for i, in := range a {
		if in.Fire {
			fired++
		}
		if i > 0 && in != a[i-1] {
			changes++
			longest, run = max(longest, run), 1
		} else if i > 0 {
			run++
		}
	}
	// Held 10 to 59 frames: about 3000/35 changes, none longer than 59.
	if changes < 3000/60 || changes > 3000/10 || longest > 59 {
		t.Errorf("%d changes, longest hold %d: want a restless player", changes, longest)
	}
	if fired < 3000/4 || fired > 3000*3/4 {
		t.Errorf("fire held %d of 3000 frames: want about half", fired)
	}
	b := play(1)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("the same seed played differently at frame %d", i)
		}
	}
	c := play(2)
	same := 0
	for i := range a {
		if a[i] == c[i] {
			same++
		}
	}
	if same > 3000/2 {
		t.Errorf("seeds 1 and 2 agree on %d of 3000 frames", same)
	}
}
