package rollback

import "testing"

func TestInputQueueSequentialAndDelay(t *testing.T) {
	q := newInputQueue[uint32](RepeatLast[uint32])
	for i := range Frame(10) {
		if f, l := q.addInput(i, uint32(i)); f != i || l != i {
			t.Fatalf("frame %d landed at %d..%d", i, f, l)
		}
		if in, st := q.input(i); in != uint32(i) || st != Confirmed {
			t.Fatalf("input(%d) = %d %v", i, in, st)
		}
	}
	if _, l := q.addInput(9, 1); l != NullFrame {
		t.Fatal("adding frame 9 twice was accepted")
	}

	d := newInputQueue[uint32](RepeatLast[uint32])
	d.frameDelay = 2
	for i := range Frame(10) {
		f, l := d.addInput(i, uint32(i)+100)
		wantFirst := i + 2
		if i == 0 {
			wantFirst = 0 // the delay frames get the zero input
		}
		if f != wantFirst || l != i+2 {
			t.Fatalf("delayed frame %d landed at %d..%d", i, f, l)
		}
	}
	for f := range Frame(12) {
		want := uint32(0)
		if f >= 2 {
			want = uint32(f) - 2 + 100
		}
		if in, _ := d.input(f); in != want {
			t.Fatalf("delayed input(%d) = %d, want %d", f, in, want)
		}
	}
}

func TestInputQueueDelayChanges(t *testing.T) {
	q := newInputQueue[uint32](RepeatLast[uint32])
	for i := range Frame(5) {
		q.addInput(i, uint32(i))
	}
	q.frameDelay = 3 // growing repeats the last input for the new gap
	if f, l := q.addInput(5, 50); f != 5 || l != 8 {
		t.Fatalf("after growing delay: %d..%d, want 5..8", f, l)
	}
	for f, want := range map[Frame]uint32{5: 4, 6: 4, 7: 4, 8: 50} {
		if in, _ := q.confirmedInput(f); in != want {
			t.Fatalf("frame %d = %d, want %d", f, in, want)
		}
	}
	q.frameDelay = 1 // shrinking drops inputs until the frames catch up
	for i := Frame(6); i <= 7; i++ {
		if f, _ := q.addInput(i, 60); f != NullFrame {
			t.Fatalf("input of frame %d with shrunk delay landed at %d", i, f)
		}
	}
	if f, l := q.addInput(8, 90); f != 9 || l != 9 {
		t.Fatalf("input of frame 8 with delay 1: %d..%d", f, l)
	}
}

func TestInputQueuePredictionAndFirstIncorrect(t *testing.T) {
	q := newInputQueue[uint32](RepeatLast[uint32])
	if in, st := q.input(0); in != 0 || st != Predicted {
		t.Fatalf("prediction before any input: %d %v", in, st)
	}
	q.resetPrediction()
	q.addInput(0, 7)
	for f := Frame(1); f <= 4; f++ {
		if in, st := q.input(f); in != 7 || st != Predicted {
			t.Fatalf("prediction of %d: %d %v", f, in, st)
		}
	}
	q.addInput(1, 7) // right
	q.addInput(2, 8) // wrong
	q.addInput(3, 9) // wrong too, but 2 is first
	if q.firstIncorrect != 2 {
		t.Fatalf("first incorrect %d, want 2", q.firstIncorrect)
	}
	q.resetPrediction()
	if in, st := q.input(2); in != 8 || st != Confirmed {
		t.Fatalf("after reset input(2) = %d %v", in, st)
	}

	custom := newInputQueue[uint32](func(last uint32) uint32 { return last + 1 })
	custom.addInput(0, 5)
	if in, _ := custom.input(3); in != 6 {
		t.Fatalf("custom predictor gave %d, want 6", in)
	}
	custom.addInput(1, 6) // matches the prediction
	if custom.firstIncorrect != NullFrame {
		t.Fatal("correct prediction marked incorrect")
	}
}

func TestInputQueueBounded(t *testing.T) {
	q := newInputQueue[uint32](RepeatLast[uint32])
	for i := range Frame(inputQueueLength) {
		if f, _ := q.addInput(i, 1); f != i {
			t.Fatalf("frame %d rejected", i)
		}
	}
	if f, _ := q.addInput(inputQueueLength, 1); f != NullFrame {
		t.Fatal("queue grew beyond its length")
	}
	q.discardConfirmedFrames(10)
	if q.length() != inputQueueLength-10 {
		t.Fatalf("length %d after discard", q.length())
	}
	if f, _ := q.addInput(inputQueueLength, 1); f != inputQueueLength {
		t.Fatal("room after discard not used")
	}
	if _, ok := q.confirmedInput(5); ok {
		t.Fatal("discarded frame still readable")
	}
	// A first frame far away (hostile) cannot fill the queue.
	r := newInputQueue[uint32](RepeatLast[uint32])
	if f, _ := r.addInput(1_000_000, 1); f != NullFrame {
		t.Fatal("frame 1000000 accepted into an empty queue")
	}
}
