package main

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"io"
	"os"
	"sync"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/inpututil"
	"github.com/hajimehoshi/ebiten/v2/vector"
	"github.com/rollbox/rollbox/examples/boxgame/sim"
	"github.com/rollbox/rollbox/rollback"
)

// errFinished ends the game loop after -frames; it is not a failure.
var errFinished = errors.New("finished")

// game is the Ebiten side: Update drives the match once per tick, Draw
// shows it. Everything that must agree across peers lives in sim and
// rollback; nothing here feeds back into the simulation but the input.
type game struct {
	ctx     context.Context // ends the loop on SIGINT/SIGTERM
	o       options
	connect chan connectResult // the match, once the room is full
	nm      *netMatch
	err     error
	// input reads the local player's buttons: the keyboard, or a bot.
	input func() sim.Input
	// progress, when not nil, hears each phase once, from Update (the web
	// page shows it outside the canvas too).
	progress progressFunc
	// drawn, when not nil, is called after each Draw with whether the match
	// is on screen (the web page times its start-up with it).
	drawn func(playing bool)

	mu     sync.Mutex // guards status, written by the connecting goroutine
	status string     // what connect is doing, until the match starts
	phase  phase      // the last phase passed to progress

	overlay bool
	// rollbacks per second, sampled once a second
	rps        int
	lastSample int
}

type connectResult struct {
	nm  *netMatch
	err error
}

// runWindow opens the game window and plays until it closes, the context
// ends, or -frames is confirmed.
func runWindow(ctx context.Context, o options, stderr io.Writer) (result, error) {
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return result{}, errors.New("no display (DISPLAY is unset): use -headless, or run under a desktop or Xvfb")
	}
	ebiten.SetWindowTitle(fmt.Sprintf("rollbox boxes: %s (%d players)", o.room, o.players))
	ebiten.SetWindowSize(sim.Width/sim.One, sim.Height/sim.One)
	if o.windowPos != "" {
		x, y, _ := o.windowPosition() // checked by parseFlags
		ebiten.SetWindowPosition(x, y)
	}
	return playGame(ctx, &game{o: o, input: keyboardInput}, stderr)
}

// playGame connects and runs g (o, input and the hooks set) until the game
// ends, the context ends, or -frames is confirmed. The desktop window and
// the web page share it.
func playGame(ctx context.Context, g *game, stderr io.Writer) (result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g.ctx, g.connect, g.overlay = ctx, make(chan connectResult, 1), true
	g.status = fmt.Sprintf("joining %s on %s", g.o.room, g.o.server)
	go func() {
		nm, err := connect(ctx, g.o, stderr, g.setStatus)
		g.connect <- connectResult{nm, err}
	}()
	ebiten.SetTPS(fps)
	err := ebiten.RunGameWithOptions(g, &ebiten.RunGameOptions{InitUnfocused: false})
	cancel()
	if g.nm == nil { // still connecting: collect the socket so it closes
		if r := <-g.connect; r.nm != nil {
			r.nm.close()
		}
	} else {
		defer g.nm.close()
	}
	var res result
	if g.nm != nil {
		res = g.nm.result()
	}
	if errors.Is(err, errFinished) || errors.Is(err, ebiten.Termination) {
		err = nil
	}
	return res, errors.Join(err, g.err)
}

// setStatus is connect's progressFunc: it keeps the text for Draw and the
// phase for Update to report.
func (g *game) setStatus(p phase, text string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.status = text
	if p != phaseSynchronizing { // Update reports that one from the session
		g.report(p, text)
	}
}

// report passes a phase to the progress hook once. Callers hold g.mu or run
// on Update's goroutine after connecting has ended.
func (g *game) report(p phase, text string) {
	if g.progress != nil && p != g.phase {
		g.phase = p
		g.progress(p, text)
	}
}

// Update implements ebiten.Game.
func (g *game) Update() error {
	if g.ctx.Err() != nil {
		return errFinished
	}
	if inpututil.IsKeyJustPressed(ebiten.KeyF1) || inpututil.IsKeyJustPressed(ebiten.KeyTab) {
		g.overlay = !g.overlay
	}
	if g.nm == nil {
		select {
		case r := <-g.connect:
			if r.err != nil {
				g.err = r.err
				return errFinished
			}
			g.nm = r.nm
			ebiten.SetWindowTitle(windowTitle(g.o.room, g.nm.local))
		default:
			return nil
		}
	}
	if err := g.nm.tick(g.input); err != nil {
		g.err = err
		return errFinished
	}
	g.mu.Lock()
	if g.nm.synchronized {
		g.report(phasePlaying, fmt.Sprintf("playing as player %d", g.nm.local+1))
	} else {
		g.report(phaseSynchronizing, "synchronizing with the other players")
	}
	g.mu.Unlock()
	if g.nm.ticks%fps == 0 {
		g.rps = g.nm.rollbacks - g.lastSample
		g.lastSample = g.nm.rollbacks
	}
	if g.nm.finished() {
		return errFinished
	}
	return nil
}

// windowTitle names the window after the room and the local player, so
// several windows on one desktop (or one Xvfb in the tests) tell apart.
func windowTitle(room string, local rollback.PlayerHandle) string {
	return fmt.Sprintf("rollbox boxes: %s, player %d", room, local+1)
}

// keyboardInput reads WASD and the arrow keys.
func keyboardInput() sim.Input {
	var in sim.Input
	if ebiten.IsKeyPressed(ebiten.KeyW) || ebiten.IsKeyPressed(ebiten.KeyArrowUp) {
		in |= sim.Up
	}
	if ebiten.IsKeyPressed(ebiten.KeyS) || ebiten.IsKeyPressed(ebiten.KeyArrowDown) {
		in |= sim.Down
	}
	if ebiten.IsKeyPressed(ebiten.KeyA) || ebiten.IsKeyPressed(ebiten.KeyArrowLeft) {
		in |= sim.Left
	}
	if ebiten.IsKeyPressed(ebiten.KeyD) || ebiten.IsKeyPressed(ebiten.KeyArrowRight) {
		in |= sim.Right
	}
	return in
}

// playerColors tells the boxes apart; a disconnected player turns grey.
var playerColors = [sim.MaxPlayers]color.RGBA{
	{0xe6, 0x39, 0x46, 0xff}, {0x2a, 0x9d, 0x8f, 0xff}, {0xf4, 0xa2, 0x61, 0xff}, {0x45, 0x7b, 0x9d, 0xff},
	{0x9b, 0x5d, 0xe5, 0xff}, {0x80, 0xb9, 0x18, 0xff}, {0xf1, 0x5b, 0xb5, 0xff}, {0xfe, 0xe4, 0x40, 0xff},
}

var (
	background = color.RGBA{0x1d, 0x23, 0x2a, 0xff}
	grey       = color.RGBA{0x6c, 0x75, 0x7d, 0xff}
	white      = color.RGBA{0xff, 0xff, 0xff, 0xff}
)

// Draw implements ebiten.Game.
func (g *game) Draw(screen *ebiten.Image) {
	screen.Fill(background)
	if g.drawn != nil {
		defer func() { g.drawn(g.nm != nil) }()
	}
	if g.nm == nil {
		g.mu.Lock()
		status := g.status
		g.mu.Unlock()
		drawText(screen, fmt.Sprintf("room %s, %d players\n%s...", g.o.room, g.o.players, status), 16, 16)
		return
	}
	w := &g.nm.world
	for i := range int(w.Players) {
		b := w.Boxes[i]
		x, y, s := float32(b.X)/sim.One, float32(b.Y)/sim.One, float32(sim.BoxSize)/sim.One
		c := playerColors[i]
		if g.nm.status[i] == rollback.Disconnected {
			c = grey
		}
		if rollback.PlayerHandle(i) == g.nm.local {
			vector.FillRect(screen, x-3, y-3, s+6, s+6, white, false)
		}
		vector.FillRect(screen, x, y, s, s, c, false)
	}
	if g.nm.desyncs > 0 {
		vector.FillRect(screen, 0, 0, float32(sim.Width/sim.One), 24, color.RGBA{0xb0, 0x00, 0x20, 0xff}, false)
		drawText(screen, "DESYNC: "+g.nm.lastDesync.String(), 8, 4)
	}
	if g.overlay {
		drawText(screen, g.overlayText(), 8, 28)
	}
}

// overlayText is the per-peer network overlay (toggle with F1 or Tab).
func (g *game) overlayText() string {
	nm := g.nm
	s := fmt.Sprintf("FPS %.0f  TPS %.0f  frame %d  confirmed %d\nrollbacks/s %d  longest %d frames  ahead %d\n",
		ebiten.ActualFPS(), ebiten.ActualTPS(), nm.session.CurrentFrame(), nm.session.ConfirmedFrame(),
		g.rps, nm.longestRollback, nm.session.FramesAhead())
	if !nm.synchronized {
		s += "synchronizing...\n"
	}
	for _, r := range nm.remotes {
		state := "connected"
		if r.disconnected {
			state = "disconnected"
		}
		s += fmt.Sprintf("P%d %.8s  ping %3dms  behind %+d  %s\n", r.handle+1, r.id, r.stats.Ping.Milliseconds(), r.stats.LocalFramesBehind, state)
	}
	return s
}

// Layout implements ebiten.Game: the arena at one pixel per unit.
func (g *game) Layout(int, int) (int, int) { return sim.Width / sim.One, sim.Height / sim.One }
