package main

import (
	"context"
	"testing"
	"time"

	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/transport/simnet"
)

// A whole four-player match over a bad network: every peer in this
// process, the network simulated, time virtual. Simulate fails if any two
// peers confirmed different states.
func TestFourPlayersOverABadNetwork(t *testing.T) {
	res, err := rollbox.Simulate(NewGame(), rollbox.Simulation[Buttons]{
		Players: 4, Frames: 3000, Seed: 1,
		Link: simnet.Link{Latency: 100 * time.Millisecond, Jitter: 50 * time.Millisecond, Loss: 0.1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if end := res.Peers[0].State; end.Score == [MaxPlayers]int32{} || res.Peers[0].Result.Rollbacks == 0 {
		t.Errorf("no goal or no rollback in 3000 frames: %+v, %+v", end, res.Peers[0].Result)
	}
}

// The usual match: two players, the same network.
func TestTwoPlayersOverABadNetwork(t *testing.T) {
	res, err := rollbox.Simulate(NewGame(), rollbox.Simulation[Buttons]{
		Players: 2, Frames: 3000, Seed: 2,
		Link: simnet.Link{Latency: 100 * time.Millisecond, Jitter: 50 * time.Millisecond, Loss: 0.1},
	})
	if err != nil {
		t.Fatal(err)
	}
	end := res.Peers[0].State
	if end.Score[0]+end.Score[1] == 0 || end.Score[2]+end.Score[3] != 0 {
		t.Errorf("scores %v after 3000 frames: want goals, and none for the absent players", end.Score)
	}
	t.Logf("%+v; virtual time %v", res.Peers[0].Result, res.Elapsed)
}

// TestSyncTest steps every frame, rolls back and steps again, comparing
// checksums: Step must give the same state from the same state and inputs.
func TestSyncTest(t *testing.T) {
	for _, players := range []int{2, 4} {
		m, err := rollbox.NewMatch(t.Context(), NewGame(), nil, rollbox.Config{SyncTest: true, Players: players, Frames: 1200})
		if err != nil {
			t.Fatal(err)
		}
		res, err := m.Run(context.Background())
		if err != nil || res.Frame != 1200 || res.Rollbacks == 0 {
			t.Fatalf("%d players: %+v, %v", players, res, err)
		}
	}
}

// step steps g one frame with these buttons, every player connected.
func step(g *Game, buttons ...Buttons) {
	in := make([]rollbox.PlayerInput[Buttons], len(buttons))
	for i, b := range buttons {
		in[i] = rollbox.PlayerInput[Buttons]{Input: b, Status: rollbox.Confirmed}
	}
	g.Step(in)
}

// serving returns a game whose ball moves now, from (x, y) at (vx, vy)
// pixels per frame.
func serving(x, y, vx, vy int32) *Game {
	g := NewGame()
	g.Serve = 0
	g.BallX, g.BallY, g.VX, g.VY = x*One, y*One, vx*One, vy*One
	return g
}

func TestPaddleSendsTheBallBack(t *testing.T) {
	// Towards the left paddle's centre: straight back, faster.
	g := serving(PaddleInset+PaddleWidth+2, Height/2-BallSize/2, -4, 0)
	step(g, 0, 0)
	if g.VX != 4*One+SpeedUp || g.VY != 0 || g.BallX < (PaddleInset+PaddleWidth)*One {
		t.Errorf("after the hit: ball at %d moving (%d, %d), want it back in front moving (%d, 0)", g.BallX, g.VX, g.VY, 4*One+SpeedUp)
	}
	// Towards the right paddle's lower half: back, and downwards.
	g = serving(Width-PaddleInset-PaddleWidth-BallSize-2, Height/2+16, 4, 0)
	step(g, 0, 0)
	if g.VX >= 0 || g.VY <= 0 {
		t.Errorf("after a hit low on the right paddle: moving (%d, %d), want left and down", g.VX, g.VY)
	}
}

func TestMissScoresForTheOthers(t *testing.T) {
	// Past the left paddle, which is at the top.
	g := serving(PaddleInset+PaddleWidth+2, Height-40, -6, 0)
	for range 20 {
		step(g, Minus, 0)
	}
	if g.Score != [MaxPlayers]int32{0, 1, 0, 0} || g.Serve == 0 {
		t.Errorf("scores %v, serve in %d frames: want a point for player 1 and a new serve", g.Score, g.Serve)
	}
	// With four players, a goal on the top side scores for the three others.
	g = serving(40, PaddleInset+PaddleWidth+2, 0, -6)
	for range 20 {
		step(g, 0, 0, 0, 0)
	}
	if g.Score != [MaxPlayers]int32{1, 1, 0, 1} {
		t.Errorf("scores %v, want a point for players 0, 1 and 3", g.Score)
	}
}

func TestSidesWithoutPlayersAreWalls(t *testing.T) {
	g := serving(Width/2, 2, 0, -3)
	step(g, 0, 0)
	if g.VY != 3*One || g.BallY < 0 {
		t.Errorf("two players: the ball at y %d moving %d, want it bounced off the top wall", g.BallY, g.VY)
	}
}

func TestGameMovesDisconnectedPlayers(t *testing.T) {
	g := serving(Width/2, 40, -4, 0)
	in := []rollbox.PlayerInput[Buttons]{{Status: rollbox.Disconnected}, {Status: rollbox.Confirmed}}
	before := g.Paddle
	g.Step(in)
	if g.Paddle[0] >= before[0] || g.Paddle[1] != before[1] {
		t.Errorf("paddles %v -> %v: want the disconnected player's towards the ball, up", before, g.Paddle)
	}
}
