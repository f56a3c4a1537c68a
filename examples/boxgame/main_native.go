//go:build !js && !template

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/ebitenrb"
)

// The test bed on the command line (see testbed.go).

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitDesync  = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run plays one match as the command line says and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "boxgame:", err)
		return exitFailure
	}
	// Info, not just warnings: a player coming back to its match after a
	// restart (and the others readmitting it) is said at Info, and that is
	// what a user who restarted the game wants to see.
	o.cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if o.cfg.Headless && o.cfg.Frames > 0 {
		// A headless peer gives up rather than hang: joining, then a
		// fifteenth of a second per frame, four times real time.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, rollbox.DefaultJoinTimeout+time.Duration(o.cfg.Frames)*time.Second/15+3*time.Second)
		defer cancel()
	}
	if o.windowPos.set {
		ebiten.SetWindowPosition(o.windowPos.x, o.windowPos.y)
	}
	var res rollbox.Result
	switch {
	case o.replay != "":
		res, err = replayFile(o)
	case o.record != "":
		res, err = recordFile(ctx, o)
	default:
		res, err = play(ctx, o, ebitenrb.Options{OnUpdate: titleWindow(o.cfg.Room)}, readKeys)
	}
	rep, reason := report(res, err)
	if rep != "" {
		fmt.Fprintln(stdout, rep)
	}
	if reason != "" {
		fmt.Fprintln(stderr, "boxgame:", reason)
	}
	switch {
	case err != nil:
		return exitFailure
	case res.Desyncs > 0:
		return exitDesync
	}
	return exitOK
}

// replayFile plays back the replay file of -replay.
func replayFile(o options) (rollbox.Result, error) {
	f, err := os.Open(o.replay)
	if err != nil {
		return rollbox.Result{}, err
	}
	defer f.Close()
	return replay(f, o)
}

// recordFile plays the match, recording it to the file of -record.
func recordFile(ctx context.Context, o options) (rollbox.Result, error) {
	f, err := os.Create(o.record)
	if err != nil {
		return rollbox.Result{}, err
	}
	o.cfg.Record = f
	res, err := play(ctx, o, ebitenrb.Options{OnUpdate: titleWindow(o.cfg.Room)}, readKeys)
	return res, errors.Join(err, f.Close())
}

// titleWindow returns the OnUpdate hook that names the window after the
// room and the local player once the match plays, so that several windows
// on one desktop (or one Xvfb in the tests) tell apart.
func titleWindow(room string) func(rollbox.View) {
	titled := false
	return func(v rollbox.View) {
		if !titled && v.Phase == rollbox.PhasePlaying && len(v.Local) == 1 {
			ebiten.SetWindowTitle(windowTitle(room, v.Local[0]))
			titled = true
		}
	}
}

func windowTitle(room string, local rollbox.PlayerHandle) string {
	return fmt.Sprintf("rollbox boxes: %s, player %d", room, local+1)
}
