package main

// The game: Pong for two players, or three or four with a paddle on each
// side of the court. Everything here is plain Go and Ebiten; nothing in
// this file knows the game is played online. The state is a plain value
// (integers and arrays of them) and Step uses integer math only, so rollbox
// saves, loads, hashes and dumps it without help and every machine steps it
// to the same bits.

import (
	"image/color"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/vector"
	"github.com/rollbox/rollbox"
)

// Buttons is one player's input for a frame: a bitmask of Minus and Plus.
type Buttons uint8

// Minus moves a paddle up (left and right players) or left (top and bottom);
// Plus moves it down or right.
const (
	Minus Buttons = 1 << iota
	Plus
)

// Positions are fixed point: One unit is one pixel of the court.
const One = 256

// The court and what is on it, in pixels. Side i belongs to player i: 0
// left, 1 right, 2 top, 3 bottom. A side with no player is a wall.
const (
	Width, Height = 640, 480
	MaxPlayers    = 4
	PaddleLength  = 64
	PaddleWidth   = 8
	PaddleInset   = 16 // from the court's edge to the paddle's back
	PaddleSpeed   = 6  // pixels per frame
	BallSize      = 8
	ServeDelay    = 60 // frames the ball waits at the centre after a goal
	// The ball leaves at ServeSpeed/One pixels per frame along its main
	// axis, gains SpeedUp at every hit, up to MaxSpeed: less than a paddle
	// is wide, so it cannot pass through one between two frames.
	ServeSpeed = 4 * One
	SpeedUp    = One / 4
	MaxSpeed   = 7 * One
	// MaxSlope is the speed across the main axis that a hit on a paddle's
	// very end gives; a hit in its middle sends the ball straight.
	MaxSlope = 5 * One
)

// Game is the whole state of a match: what every peer must agree on.
type Game struct {
	Frame int32
	// Ball is the ball's top left corner; VX and VY its speed, per frame.
	BallX, BallY, VX, VY int32
	// Paddle is the centre of each paddle along its side.
	Paddle [MaxPlayers]int32
	Score  [MaxPlayers]int32
	// Serve counts down the frames before the ball moves.
	Serve int32
	// Rand is a xorshift generator's state: serves go in random directions
	// that are the same on every peer.
	Rand uint32
}

// NewGame returns the state at frame 0: paddles centred, the ball waiting
// to be served.
func NewGame() *Game {
	g := &Game{Rand: 0x9e3779b9}
	for i := range g.Paddle {
		g.Paddle[i] = sideLength(i) * One / 2
	}
	g.serve(2)
	return g
}

// sideLength is how far paddle i moves along its side: the court's height
// for the left and right players, its width for the top and bottom ones.
func sideLength(side int) int32 {
	if side < 2 {
		return Height
	}
	return Width
}

// random returns the next number of the state's generator.
func (g *Game) random() uint32 {
	x := g.Rand
	x ^= x << 13
	x ^= x >> 17
	x ^= x << 5
	g.Rand = x
	return x
}

// serve puts the ball at the centre and picks its direction: towards the
// left or right player, or with three or four players, sometimes towards
// the top or bottom one.
func (g *Game) serve(players int) {
	g.BallX, g.BallY = (Width-BallSize)*One/2, (Height-BallSize)*One/2
	g.Serve = ServeDelay
	r := g.random()
	along, across := int32(ServeSpeed), int32(r>>8%uint32(MaxSlope/2))+One/2
	if r&1 != 0 {
		along = -along
	}
	if r&2 != 0 {
		across = -across
	}
	g.VX, g.VY = along, across
	if players > 2 && r&4 != 0 {
		g.VX, g.VY = across, along
	}
}

// Step advances the game one frame: the paddles move as their players
// say, the ball moves and bounces, and a ball past a player's side scores a
// point for every other player.
func (g *Game) Step(inputs []rollbox.PlayerInput[Buttons]) {
	g.Frame++
	players := min(len(inputs), MaxPlayers)
	for i := range players {
		g.movePaddle(i, inputs[i])
	}
	if g.Serve > 0 {
		g.Serve--
		return
	}
	oldX, oldY := g.BallX, g.BallY
	g.BallX += g.VX
	g.BallY += g.VY
	for side := range MaxPlayers {
		if side >= players {
			g.bounceOffWall(side)
			continue
		}
		g.bounceOffPaddle(side, oldX, oldY)
		if g.past(side) {
			for p := range players {
				if p != side {
					g.Score[p]++
				}
			}
			g.serve(players)
			return
		}
	}
}

// movePaddle moves paddle i. A player who left is played by the game: its
// paddle follows the ball.
func (g *Game) movePaddle(i int, in rollbox.PlayerInput[Buttons]) {
	b := in.Input
	if in.Status == rollbox.Disconnected {
		ball, at := g.BallY+BallSize*One/2, g.Paddle[i]
		if i >= 2 {
			ball = g.BallX + BallSize*One/2
		}
		switch {
		case ball < at-PaddleSpeed*One:
			b = Minus
		case ball > at+PaddleSpeed*One:
			b = Plus
		}
	}
	if b&Minus != 0 {
		g.Paddle[i] -= PaddleSpeed * One
	}
	if b&Plus != 0 {
		g.Paddle[i] += PaddleSpeed * One
	}
	g.Paddle[i] = max(PaddleLength*One/2, min(g.Paddle[i], (sideLength(i)-PaddleLength/2)*One))
}

// face is where the ball touches side's paddle (or wall, at the court's
// edge): an x for sides 0 and 1, a y for 2 and 3, of the ball's top left
// corner.
func face(side int, wall bool) int32 {
	inset := int32(PaddleInset + PaddleWidth)
	if wall {
		inset = 0
	}
	switch side {
	case 0:
		return inset * One
	case 1:
		return (Width - inset - BallSize) * One
	case 2:
		return inset * One
	default:
		return (Height - inset - BallSize) * One
	}
}

// axis returns, for side, the ball's position and speed towards the side
// and across it, as pointers into g: sides 0 and 1 face x, 2 and 3 face y.
func (g *Game) axis(side int) (pos, vel, across, acrossVel *int32) {
	if side < 2 {
		return &g.BallX, &g.VX, &g.BallY, &g.VY
	}
	return &g.BallY, &g.VY, &g.BallX, &g.VX
}

// towards reports whether a speed v moves towards side (sides 0 and 2 are
// at the low end of their axis).
func towards(side int, v int32) bool {
	if side%2 == 0 {
		return v < 0
	}
	return v > 0
}

// crossed reports whether pos went from old to beyond the line at f,
// moving towards side.
func crossed(side int, old, pos, f int32) bool {
	if side%2 == 0 {
		return old >= f && pos < f
	}
	return old <= f && pos > f
}

// bounceOffWall reflects the ball off the wall on an empty side.
func (g *Game) bounceOffWall(side int) {
	pos, vel, _, _ := g.axis(side)
	f := face(side, true)
	if towards(side, *vel) && (side%2 == 0 && *pos < f || side%2 == 1 && *pos > f) {
		*pos = 2*f - *pos
		*vel = -*vel
	}
}

// bounceOffPaddle sends the ball back if it crossed side's paddle face in
// this frame where the paddle is: faster, and at an angle that grows
// with the distance from the paddle's centre.
func (g *Game) bounceOffPaddle(side int, oldX, oldY int32) {
	pos, vel, across, acrossVel := g.axis(side)
	old := oldX
	if side >= 2 {
		old = oldY
	}
	f := face(side, false)
	if !towards(side, *vel) || !crossed(side, old, *pos, f) {
		return
	}
	offset := *across + BallSize*One/2 - g.Paddle[side]
	const reach = (PaddleLength + BallSize) * One / 2
	if offset <= -reach || offset >= reach {
		return // missed
	}
	*pos = 2*f - *pos
	speed := min(abs(*vel)+SpeedUp, MaxSpeed)
	if side%2 == 0 {
		*vel = speed
	} else {
		*vel = -speed
	}
	*acrossVel = int32(int64(offset) * MaxSlope / reach)
}

// past reports whether the ball left the court on side.
func (g *Game) past(side int) bool {
	pos, _, _, _ := g.axis(side)
	switch side {
	case 0, 2:
		return *pos < -BallSize*One
	case 1:
		return *pos > Width*One
	default:
		return *pos > Height*One
	}
}

func abs(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}

// Colours: each player's, and the court's.
var (
	playerColours = [MaxPlayers]color.RGBA{
		{0x4f, 0xc3, 0xf7, 0xff}, {0xff, 0x8a, 0x65, 0xff}, {0xae, 0xd5, 0x81, 0xff}, {0xba, 0x68, 0xc8, 0xff},
	}
	courtColour = color.RGBA{0x10, 0x14, 0x18, 0xff}
	lineColour  = color.RGBA{0x50, 0x58, 0x60, 0xff}
	ballColour  = color.RGBA{0xff, 0xff, 0xff, 0xff}
	gone        = color.RGBA{0x60, 0x60, 0x60, 0xff}
)

// paddleRect returns paddle i's rectangle in pixels.
func (g *Game) paddleRect(i int) (x, y, w, h float32) {
	along := float32(g.Paddle[i])/One - PaddleLength/2
	switch i {
	case 0:
		return PaddleInset, along, PaddleWidth, PaddleLength
	case 1:
		return Width - PaddleInset - PaddleWidth, along, PaddleWidth, PaddleLength
	case 2:
		return along, PaddleInset, PaddleLength, PaddleWidth
	default:
		return along, Height - PaddleInset - PaddleWidth, PaddleLength, PaddleWidth
	}
}

// scoreAt is where player i's score is drawn: the left and right
// players' either side of the centre line (below the network overlay),
// the top and bottom players' near their sides.
var scoreAt = [MaxPlayers][2]float32{
	{Width/2 - 80, 64}, {Width/2 + 40, 64}, {Width/2 - 20, 120}, {Width/2 - 20, Height - 120},
}

// Draw draws the court, the paddles (the local players' outlined in
// white, those who left in grey) and the scores.
func (g *Game) Draw(screen *ebiten.Image, v rollbox.View) {
	screen.Fill(courtColour)
	players := min(len(v.Players), MaxPlayers)
	if players <= 2 {
		for y := float32(8); y < Height; y += 32 {
			vector.FillRect(screen, Width/2-2, y, 4, 16, lineColour, false)
		}
	}
	for i := range players {
		c := playerColours[i]
		if v.Players[i].Disconnected {
			c = gone
		}
		x, y, w, h := g.paddleRect(i)
		vector.FillRect(screen, x, y, w, h, c, false)
		if v.Players[i].Local {
			vector.StrokeRect(screen, x-2, y-2, w+4, h+4, 2, ballColour, false)
		}
		drawNumber(screen, int(g.Score[i]), scoreAt[i][0], scoreAt[i][1], c)
	}
	if g.Serve == 0 || g.Serve/8%2 == 0 { // blinks while waiting to serve
		vector.FillRect(screen, float32(g.BallX)/One, float32(g.BallY)/One, BallSize, BallSize, ballColour, false)
	}
}

// Layout implements ebiten.Game: the court, scaled to the window.
func (g *Game) Layout(int, int) (int, int) { return Width, Height }

// segments are the seven-segment shapes of the digits 0 to 9: bit 0 the
// top bar, then clockwise (top right, bottom right, bottom, bottom left,
// top left), bit 6 the middle.
var segments = [10]uint8{0x3f, 0x06, 0x5b, 0x4f, 0x66, 0x6d, 0x7d, 0x07, 0x7f, 0x6f}

// drawNumber draws n in seven-segment digits 20 by 36 pixels, the first at
// (x, y).
func drawNumber(screen *ebiten.Image, n int, x, y float32, c color.Color) {
	var digits [10]int
	k := 0
	for {
		digits[k] = n % 10
		k++
		n /= 10
		if n == 0 || k == len(digits) {
			break
		}
	}
	const w, h, t = 20, 36, 4 // digit width, height, bar thickness
	for i := k - 1; i >= 0; i-- {
		s := segments[digits[i]]
		bars := [7][4]float32{
			{0, 0, w, t}, {w - t, 0, t, h / 2}, {w - t, h / 2, t, h / 2}, {0, h - t, w, t},
			{0, h / 2, t, h / 2}, {0, 0, t, h / 2}, {0, h/2 - t/2, w, t},
		}
		for b, r := range bars {
			if s&(1<<b) != 0 {
				vector.FillRect(screen, x+r[0], y+r[1], r[2], r[3], c, false)
			}
		}
		x += w + 8
	}
}
