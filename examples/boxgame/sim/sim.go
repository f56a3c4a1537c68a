// Package sim is the box game's deterministic world: boxes on a walled plane,
// moved by their players' inputs, with velocity, friction and box-to-box
// pushing so that a wrong prediction visibly moves things.
//
// Everything a rollback session needs to be correct lives here, so the rules
// are strict: integer fixed-point math only (no floats), state as plain
// values (a World is saved by copying it), no maps, no time, no goroutines,
// no randomness. Two machines given the same inputs compute bit-identical
// worlds. A World is a rollbox game state (rollbox.Game): rollbox saves it by
// copying and checksums it by its bytes, so that peers compare their worlds.
// Rendering lives elsewhere.
package sim

import (
	"strconv"

	"github.com/rollbox/rollbox"
)

// Fixed-point positions and velocities: One is one pixel.
const One = 256

// Arena and box sizes, in fixed-point units.
const (
	Width   = 640 * One
	Height  = 480 * One
	BoxSize = 32 * One
)

// Movement tuning, in fixed-point units per frame.
const (
	accel    = One / 2 // per frame per pressed key
	maxSpeed = 6 * One
)

// MaxPlayers is the largest number of boxes a world holds.
const MaxPlayers = 8

// Input is one player's buttons for one frame.
type Input uint8

// Input bits.
const (
	Up Input = 1 << iota
	Down
	Left
	Right
)

// Box is one player's box. X and Y are its top-left corner.
type Box struct {
	X, Y   int32
	VX, VY int32
}

// World is the whole game state. It is a value: copying it saves it.
type World struct {
	Frame   int32
	Players int32
	Boxes   [MaxPlayers]Box
}

// New returns the starting world for players boxes (1 to MaxPlayers).
func New(players int) World {
	players = max(1, min(players, MaxPlayers))
	w := World{Players: int32(players)}
	// Around the arena's centre, first players in opposite corners.
	spawn := [MaxPlayers][2]int32{
		{160, 120}, {448, 328}, {448, 120}, {160, 328},
		{304, 72}, {304, 376}, {96, 224}, {512, 224},
	}
	for i := range players {
		w.Boxes[i] = Box{X: spawn[i][0] * One, Y: spawn[i][1] * One}
	}
	return w
}

// Step advances the world one frame. inputs holds one input per player; a
// missing one counts as no buttons pressed, and so does a disconnected
// player's (rollbox gives it the zero input).
func (w *World) Step(inputs []rollbox.PlayerInput[Input]) {
	n := int(w.Players)
	for i := range n {
		var in Input
		if i < len(inputs) {
			in = inputs[i].Input
		}
		w.Boxes[i].move(in)
	}
	// Pairs in a fixed order, twice, so stacks of boxes settle the same way
	// everywhere.
	for range 2 {
		for i := range n {
			for j := i + 1; j < n; j++ {
				push(&w.Boxes[i], &w.Boxes[j])
			}
		}
	}
	for i := range n {
		w.Boxes[i].wall()
	}
	w.Frame++
}

func (b *Box) move(in Input) {
	ax, ay := int32(0), int32(0)
	if in&Left != 0 {
		ax -= accel
	}
	if in&Right != 0 {
		ax += accel
	}
	if in&Up != 0 {
		ay -= accel
	}
	if in&Down != 0 {
		ay += accel
	}
	b.VX = clamp(b.VX+ax, -maxSpeed, maxSpeed)
	b.VY = clamp(b.VY+ay, -maxSpeed, maxSpeed)
	if ax == 0 {
		b.VX = friction(b.VX)
	}
	if ay == 0 {
		b.VY = friction(b.VY)
	}
	b.X += b.VX
	b.Y += b.VY
}

// friction slows v by an eighth, and stops it once it is tiny. Integer
// division truncates toward zero in Go on every platform.
func friction(v int32) int32 {
	v -= v / 8
	if v > -One/16 && v < One/16 {
		return 0
	}
	return v
}

// wall keeps the box inside the arena, bouncing it back at half speed.
func (b *Box) wall() {
	if b.X < 0 {
		b.X, b.VX = 0, -b.VX/2
	} else if b.X > Width-BoxSize {
		b.X, b.VX = Width-BoxSize, -b.VX/2
	}
	if b.Y < 0 {
		b.Y, b.VY = 0, -b.VY/2
	} else if b.Y > Height-BoxSize {
		b.Y, b.VY = Height-BoxSize, -b.VY/2
	}
}

// push separates two overlapping boxes along the axis of least overlap and
// trades their velocities along it, so a moving box shoves a resting one.
func push(a, b *Box) {
	dx := b.X - a.X
	dy := b.Y - a.Y
	ox := BoxSize - abs(dx)
	oy := BoxSize - abs(dy)
	if ox <= 0 || oy <= 0 {
		return
	}
	if ox <= oy {
		half := ox / 2
		if dx >= 0 {
			a.X -= half
			b.X += ox - half
		} else {
			a.X += half
			b.X -= ox - half
		}
		a.VX, b.VX = b.VX, a.VX
	} else {
		half := oy / 2
		if dy >= 0 {
			a.Y -= half
			b.Y += oy - half
		} else {
			a.Y += half
			b.Y -= oy - half
		}
		a.VY, b.VY = b.VY, a.VY
	}
}

// AppendText appends a readable dump of the world to dst, one line per box:
// rollbox logs the lines that differ between two peers' worlds when they
// desync. It implements encoding.TextAppender and never fails.
func (w *World) AppendText(dst []byte) ([]byte, error) {
	dst = strconv.AppendInt(append(dst, "frame "...), int64(w.Frame), 10)
	dst = strconv.AppendInt(append(dst, " players "...), int64(w.Players), 10)
	for i, b := range w.Boxes[:w.Players] {
		dst = strconv.AppendInt(append(dst, "\nbox "...), int64(i), 10)
		for _, v := range [4]int32{b.X, b.Y, b.VX, b.VY} {
			dst = strconv.AppendInt(append(dst, ' '), int64(v), 10)
		}
	}
	return append(dst, '\n'), nil
}

func clamp(v, lo, hi int32) int32 { return max(lo, min(v, hi)) }

func abs(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}
