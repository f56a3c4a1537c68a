package main

import (
	"math/rand/v2"

	"github.com/rollbox/rollbox/examples/boxgame/sim"
)

// bot plays without a human: it holds a direction for a while, then picks
// another, like a restless player. The same seed plays the same game.
type bot struct {
	rng  *rand.Rand
	held sim.Input
	left int // frames until the next change
}

func newBot(seed uint64) *bot { return &bot{rng: rand.New(rand.NewPCG(seed, 0x626f78))} }

// input returns the bot's buttons for the next frame.
func (b *bot) input() sim.Input {
	if b.left == 0 {
		b.held = sim.Input(b.rng.IntN(16))
		b.left = 10 + b.rng.IntN(50)
	}
	b.left--
	return b.held
}
