// Package ebitenrb plays an Ebiten game online with rollbox: the game
// gives its state three methods, Step, Draw and Layout (Ebiten's Update is
// Step, run by the rollback session), and Run does the rest: joining the
// room, waiting for the players, the rollback netcode, a connection screen
// and a network overlay (F1 or Tab), and the modes of rollbox.Config that
// need no game code (headless bots, sync test).
//
//	type Game struct{ ... }                                      // plain values
//	func (g *Game) Step(in []rollbox.PlayerInput[Buttons])       { ... }
//	func (g *Game) Draw(screen *ebiten.Image, v rollbox.View)    { ... }
//	func (g *Game) Layout(w, h int) (int, int)                   { return 320, 240 }
//
//	cfg := rollbox.Config{Players: 2}
//	cfg.RegisterFlags(flag.CommandLine)
//	flag.Parse()
//	res, err := ebitenrb.Run(ctx, &Game{}, readButtons, cfg)
package ebitenrb

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"strings"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/inpututil"
	"github.com/hajimehoshi/ebiten/v2/vector"
	"github.com/rollbox/rollbox"
)

// Game is what Run asks of a game's state type S: rollbox.Game's Step, and
// Ebiten's Draw and Layout. Draw gets the match's View besides the screen
// (which players are local, who disconnected, the phase); it must not
// change the state, which belongs to the rollback session.
type Game[S any, I comparable] interface {
	*S
	Step(inputs []rollbox.PlayerInput[I])
	Draw(screen *ebiten.Image, v rollbox.View)
	Layout(outsideWidth, outsideHeight int) (screenWidth, screenHeight int)
}

// Options are the adapter's own settings; the zero Options are the
// defaults.
type Options struct {
	// Title is the window title. Default: "rollbox: <room>".
	Title string
	// HideOverlay starts with the network overlay hidden; F1 or Tab toggle
	// it either way.
	HideOverlay bool
	// OnUpdate, when set, is called after every Update of a windowed match
	// with the match's view: for a web page that shows progress outside the
	// canvas, or a test harness. The view's slices are valid only during the
	// call. Headless and sync test runs have no window and never call it.
	OnUpdate func(v rollbox.View)
}

// Run plays the game as cfg says, in a window (or the browser's canvas),
// until the window closes, ctx ends, cfg.Frames is confirmed, or the match
// fails. With cfg.Headless or cfg.SyncTest it opens no window and runs the
// match as rollbox.Match.Run does. It returns the match's Result and the
// error that ended it (nil when it finished or the player closed it).
func Run[S any, I comparable, G Game[S, I]](ctx context.Context, state G, input func(rollbox.PlayerHandle) I, cfg rollbox.Config) (rollbox.Result, error) {
	return RunWithOptions(ctx, state, input, cfg, Options{})
}

// RunWithOptions is Run with the adapter's options.
func RunWithOptions[S any, I comparable, G Game[S, I]](ctx context.Context, state G, input func(rollbox.PlayerHandle) I, cfg rollbox.Config, o Options) (_ rollbox.Result, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !cfg.Headless && !cfg.SyncTest {
		if err := checkDisplay(); err != nil {
			return rollbox.Result{}, err
		}
	}
	m, err := rollbox.NewMatch(ctx, state, input, cfg)
	if err != nil {
		return rollbox.Result{}, err
	}
	if cfg.Headless || cfg.SyncTest {
		return m.Run(ctx)
	}
	defer func() {
		// Close writes out the buffered replay: a recording cut short must
		// not end as a success. (The connections' errors concern no one
		// once the match is over.)
		if cerr := m.Close(); errors.Is(cerr, rollbox.ErrRecording) {
			err = errors.Join(err, cerr)
		}
	}()
	g := &game[S, I, G]{ctx: ctx, m: m, state: state, opts: o, overlay: !o.HideOverlay}
	title := o.Title
	if title == "" {
		room := cfg.Room
		if room == "" {
			room = rollbox.DefaultRoom
		}
		title = "rollbox: " + room
	}
	ebiten.SetWindowTitle(title)
	fps := cfg.FPS
	if fps == 0 {
		fps = rollbox.DefaultFPS
	}
	ebiten.SetTPS(fps)
	err = ebiten.RunGame(g)
	if errors.Is(err, ebiten.Termination) {
		err = nil
	}
	return m.Result(), err
}

// game is the ebiten.Game that drives a match.
type game[S any, I comparable, G Game[S, I]] struct {
	ctx     context.Context
	m       *rollbox.Match[S, I]
	state   G
	opts    Options
	overlay bool
	// rollbacks per second, sampled once a second
	rps, lastRollbacks, ticks int
	text                      strings.Builder
}

// Update implements ebiten.Game: one tick of the match.
func (g *game[S, I, G]) Update() error {
	if g.ctx.Err() != nil {
		return ebiten.Termination
	}
	if inpututil.IsKeyJustPressed(ebiten.KeyF1) || inpututil.IsKeyJustPressed(ebiten.KeyTab) {
		g.overlay = !g.overlay
	}
	if err := g.m.Update(); err != nil {
		if g.opts.OnUpdate != nil {
			g.opts.OnUpdate(g.m.View())
		}
		return err
	}
	v := g.m.View()
	g.ticks++
	if g.ticks%ebiten.TPS() == 0 {
		g.rps, g.lastRollbacks = v.Rollbacks-g.lastRollbacks, v.Rollbacks
	}
	if g.opts.OnUpdate != nil {
		g.opts.OnUpdate(v)
	}
	if g.m.Done() {
		return ebiten.Termination
	}
	return nil
}

var (
	background = color.RGBA{0x1d, 0x23, 0x2a, 0xff}
	alarm      = color.RGBA{0xb0, 0x00, 0x20, 0xff}
)

// Draw implements ebiten.Game: the game's view once it plays, the
// connection's progress before, the overlay on top.
func (g *game[S, I, G]) Draw(screen *ebiten.Image) {
	v := g.m.View()
	// A program started again asks to come back (PhaseRejoining) before it
	// has a match to show: no players yet, and a state at frame 0 that the
	// game's Draw, which may index View.Players by the state's players,
	// must not see.
	if v.Phase < rollbox.PhasePlaying || len(v.Players) == 0 {
		screen.Fill(background)
		drawText(screen, v.Status+"...", 16, 16)
		return
	}
	g.state.Draw(screen, v)
	y := 8
	if v.Desyncs > 0 {
		w := screen.Bounds().Dx()
		vector.FillRect(screen, 0, 0, float32(w), 24, alarm, false)
		drawText(screen, "DESYNC: "+v.LastDesync.String(), 8, 4)
		y = 28
	}
	if v.Phase == rollbox.PhaseFailed {
		drawText(screen, "failed: "+v.Status, 8, y)
		y += textLineHeight
	}
	if g.overlay {
		drawText(screen, g.overlayText(v), 8, y)
	}
}

// overlayText is the network overlay: frame counters, rollbacks, and one
// line per remote player.
func (g *game[S, I, G]) overlayText(v rollbox.View) string {
	b := &g.text
	b.Reset()
	fmt.Fprintf(b, "FPS %.0f  TPS %.0f  frame %d  confirmed %d\nrollbacks/s %d  longest %d frames  ahead %d\n",
		ebiten.ActualFPS(), ebiten.ActualTPS(), v.Frame, v.Confirmed, g.rps, v.LongestRollback, v.FramesAhead)
	if v.Phase != rollbox.PhasePlaying {
		fmt.Fprintf(b, "%s\n", v.Status)
	}
	for h, p := range v.Players {
		if p.Local {
			continue
		}
		state := "connected"
		switch {
		case p.Disconnected:
			state = "disconnected"
		case p.Returning:
			state = "coming back"
		}
		fmt.Fprintf(b, "P%d %.8s  ping %3dms  behind %+d  %s\n", h+1, p.Peer, p.Ping.Milliseconds(), p.FramesBehind, state)
	}
	return b.String()
}

// Layout implements ebiten.Game: the game's.
func (g *game[S, I, G]) Layout(w, h int) (int, int) { return g.state.Layout(w, h) }
