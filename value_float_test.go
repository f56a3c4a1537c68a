package rollbox_test

import (
	"math"
	"testing"
	"time"

	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/transport/simnet"
)

// stick is an analog stick: a float input, as many games have.
type stick struct {
	X float32
	C complex128
}

// signs counts the frames each player's stick read -0, as a Step that
// calls math.Signbit (or 1/x, or Atan2) tells -0 from +0.
type signs struct{ Neg [2]int32 }

func (s *signs) Step(in []rollbox.PlayerInput[stick]) {
	for i, p := range in {
		if math.Signbit(float64(p.Input.X)) || math.Signbit(imag(p.Input.C)) {
			s.Neg[i]++
		}
	}
}

// A stick that goes from +0 to -0 changes no input by == (-0 == +0), so a
// peer that predicted +0 kept its prediction while the owner stepped -0:
// the peers diverged at frame 103 before -0 was made +0 everywhere.
func TestNegativeZeroInputDoesNotDesync(t *testing.T) {
	negZero := math.Copysign(0, -1)
	for _, in := range []stick{{X: float32(negZero)}, {C: complex(0, negZero)}} {
		res, err := rollbox.Simulate(&signs{}, rollbox.Simulation[stick]{
			Players: 2, Frames: 300, Link: simnet.Link{Latency: 50 * time.Millisecond},
			Input: func(p rollbox.PlayerHandle, f rollbox.Frame) stick {
				if f >= 100 {
					return in
				}
				return stick{}
			},
		})
		if err != nil {
			t.Fatalf("input %v from frame 100: %v", in, err)
		}
		if s := res.Peers[0].State; s != (signs{}) {
			t.Errorf("input %v from frame 100: Step saw -0 (%+v)", in, s)
		}
	}
}
