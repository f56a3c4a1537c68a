package rollbox_test

import (
	"fmt"
	"time"

	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/transport/simnet"
)

// Pong is a game's state: a plain value, so rollbox saves, hashes and
// dumps it without help.
type Pong struct {
	Paddles [2]int32
	BallX   int32
	BallDx  int32
}

// Pad is a player's input: a plain value, so rollbox puts it on the wire
// without help.
type Pad struct{ Up, Down bool }

// Step advances the game one frame: integer math only, so every peer
// computes the same next state.
func (p *Pong) Step(inputs []rollbox.PlayerInput[Pad]) {
	for i, in := range inputs {
		if in.Input.Up {
			p.Paddles[i]--
		}
		if in.Input.Down {
			p.Paddles[i]++
		}
	}
	p.BallX += p.BallDx
	if p.BallX <= 0 || p.BallX >= 100 {
		p.BallDx = -p.BallDx
	}
}

// Simulate plays a match between two bots over a simulated network with
// latency, jitter and 5 % loss, in virtual time, and checks that both
// peers confirmed the same state at every frame: the test that shows a
// game plays online.
func Example() {
	res, err := rollbox.Simulate(&Pong{BallX: 50, BallDx: 1}, rollbox.Simulation[Pad]{
		Players: 2,
		Frames:  600,
		Seed:    1,
		Link:    simnet.Link{Latency: 50 * time.Millisecond, Jitter: 20 * time.Millisecond, Loss: 0.05},
	})
	if err != nil {
		fmt.Println("peers disagree:", err)
		return
	}
	a, b := res.Peers[0], res.Peers[1]
	fmt.Println("peers agree at frame", a.Result.Frame, a.State == b.State && a.Result.Checksum == b.Result.Checksum)
	fmt.Println("rolled back:", a.Result.Rollbacks > 0 && b.Result.Rollbacks > 0)
	// Output:
	// peers agree at frame 600 true
	// rolled back: true
}
