package sim_test

import (
	"fmt"

	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/examples/boxgame/sim"
)

// Two players: the first holds right for half a second while the second
// rests; saving is copying, which is how rollbox rolls back.
func Example() {
	w := sim.New(2)
	saved := w
	right := []rollbox.PlayerInput[sim.Input]{{Input: sim.Right}, {Input: 0}}
	for range 30 {
		w.Step(right)
	}
	fmt.Println("frame", w.Frame, "box 0 moved", (w.Boxes[0].X-saved.Boxes[0].X)/sim.One, "px")
	w = saved // load
	fmt.Println("back at frame", w.Frame, "same state:", w == saved)
	// Output:
	// frame 30 box 0 moved 147 px
	// back at frame 0 same state: true
}
