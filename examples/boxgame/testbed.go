//go:build !template

// Command boxgame is rollbox's example game: coloured boxes on a plane, one
// per player, moved with WASD or the arrow keys, played peer to peer over
// WebRTC with rollback netcode.
//
//	go run ./cmd/signalserver &                  # once, somewhere both players reach
//	go run ./examples/boxgame -server ws://HOST:3536 -players 2
//
// The game is also a template to copy: sim/ (the rules), board.go (drawing
// them and reading the keyboard) and main.go (putting them online with
// rollbox; built with -tags template). Built as it is, without that tag,
// the same game is rollbox's end-to-end test bed, and the files below are
// its own: this one (the command line and the report), main_native.go, and
// main_js.go and web.go (the web page). To the flags of rollbox.Config
// (-server, -room, -players, -input-delay, -max-prediction, -headless,
// -seed, -frames, -loopback, -netsim, -synctest, -check-distance, -token,
// -ice, -turn-user, -turn-pass and the rest) the test bed adds -desync-at,
// which corrupts this peer's world at a frame to prove that the peers
// detect it, -window-pos, -record FILE (write a replay of the match) and
// -replay FILE (play one back without a window, checking its checksums,
// and print the result line at -frames or its end; with -desync-at, the
// first frame that differs from the recording is the failure).
//
// With -headless a seeded bot plays without a window and, with -frames N
// (default 600), the game prints one JSON line with the checksum of
// confirmed frame N and exits: 0 when healthy, 3 when a desync was
// detected, 1 on any other failure (with a one-line reason on stderr).
//
// Built with GOOS=js GOARCH=wasm (make web), the game runs in a web page
// that the signalling server serves: see web.go.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/ebitenrb"
	"github.com/rollbox/rollbox/examples/boxgame/sim"
)

// options are the test bed's command line: the match's settings and the
// test bed's own.
type options struct {
	cfg rollbox.Config
	// desyncAt, when not -1, is the frame after which this peer's world is
	// corrupted.
	desyncAt int
	// windowPos is -window-pos; set reports whether it was given.
	windowPos struct {
		x, y int
		set  bool
	}
	// record and replay are -record and -replay: files to write the
	// match's replay to, or to play one back from.
	record, replay string
}

// parseFlags reads the command line: rollbox's flags, with the box game's
// room and a bot seed of 1 as defaults, and the test bed's.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{cfg: rollbox.Config{Room: "boxgame", Seed: 1}}
	fs := flag.NewFlagSet("boxgame", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.cfg.RegisterFlags(fs)
	fs.IntVar(&o.desyncAt, "desync-at", -1, "debug: corrupt this peer's state at this frame to prove desync detection")
	fs.Func("window-pos", "where to open the window, as X,Y in screen pixels (default: where the desktop puts it)", func(s string) error {
		if _, err := fmt.Sscanf(s, "%d,%d", &o.windowPos.x, &o.windowPos.y); err != nil {
			return fmt.Errorf("want X,Y, got %q", s)
		}
		o.windowPos.set = true
		return nil
	})
	fs.StringVar(&o.record, "record", "", "write a replay of the match to this file")
	fs.StringVar(&o.replay, "replay", "", "play back a replay (see -record) without a window, check its checksums, and print the result line (at -frames, if set)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	// The world has sim.MaxPlayers boxes; a match has two players at least,
	// but a sync test may check one.
	if p := o.cfg.Players; p < 2 || p > sim.MaxPlayers {
		if !o.cfg.SyncTest || p < 1 {
			return o, fmt.Errorf("-players must be 2 to %d, got %d", sim.MaxPlayers, p)
		}
	}
	if o.cfg.Frames < 0 {
		return o, errors.New("-frames must not be negative")
	}
	return o, nil
}

// newBoard returns the test bed's board at frame 0 for players, corrupted
// at -desync-at.
func newBoard(o options, players int) *testBoard {
	b := &testBoard{Board: Board{World: sim.New(players)}, corruptAt: -1}
	if o.desyncAt >= 0 {
		b.corruptAt = int32(o.desyncAt)
	}
	return b
}

// play plays the test bed's board as o says, in a window or not, with
// input reading the local player's buttons.
func play(ctx context.Context, o options, opts ebitenrb.Options, input func(rollbox.PlayerHandle) sim.Input) (rollbox.Result, error) {
	b := newBoard(o, o.cfg.Players)
	if opts.Title == "" {
		opts.Title = fmt.Sprintf("rollbox boxes: %s (%d players)", o.cfg.Room, o.cfg.Players)
	}
	return ebitenrb.RunWithOptions(ctx, b, input, o.cfg, opts)
}

// testBoard is the board every test bed peer plays (peers of one match must
// play the same state type): the box game's, corrupted after frame
// corruptAt when it is not -1. corruptAt differs between peers, so it is
// part of neither the checksum nor the dump (the world's AppendText).
type testBoard struct {
	Board
	corruptAt int32
}

// Checksum hashes the world alone (FNV-1a over its fields).
func (b *testBoard) Checksum() uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	mix := func(v int32) {
		for i := range 4 {
			h ^= uint64(uint8(v >> (8 * i)))
			h *= prime
		}
	}
	mix(b.Frame)
	mix(b.Players)
	for _, box := range b.Boxes {
		mix(box.X)
		mix(box.Y)
		mix(box.VX)
		mix(box.VY)
	}
	return h
}

// Step steps the world and, at corruptAt, nudges box 0 one pixel: every
// time the frame is stepped, so that a rollback cannot undo it.
func (b *testBoard) Step(in []rollbox.PlayerInput[sim.Input]) {
	b.World.Step(in)
	if b.Frame == b.corruptAt {
		b.Boxes[0].X += sim.One
	}
}

// replay plays back the replay in r as fast as it goes, up to frame
// -frames when set, and reports the frame it reached with the checksum of
// its state, as a live match's result does.
func replay(r io.Reader, o options) (rollbox.Result, error) {
	p, err := rollbox.NewReplayer(r, func(players int) *testBoard { return newBoard(o, players) })
	if err != nil {
		return rollbox.Result{}, err
	}
	for o.cfg.Frames == 0 || int(p.Frame()) < o.cfg.Frames {
		if err = p.Step(); err != nil {
			break
		}
	}
	res := rollbox.Result{Frame: p.Frame(), Checksum: p.Checksum(), Players: p.Players()}
	if err == io.EOF {
		if o.cfg.Frames > 0 {
			return res, fmt.Errorf("the replay ends at frame %d, before -frames %d", p.Frame(), o.cfg.Frames)
		}
		err = nil
	}
	return res, err
}

// report returns the JSON line of the match's result, the last line of
// stdout that the end-to-end tests compare across peers (empty when there
// is nothing to report: no frame reached and no desync), and the one-line
// reason it failed (empty when healthy).
func report(res rollbox.Result, err error) (resultJSON, reason string) {
	if res.Frame > 0 || res.Desyncs > 0 {
		b, jerr := json.Marshal(res)
		if jerr != nil { // strings and integers always marshal
			panic(jerr)
		}
		resultJSON = string(b)
	}
	switch {
	case err != nil:
		reason = strings.ReplaceAll(err.Error(), "\n", "; ")
	case res.Desyncs > 0:
		reason = fmt.Sprintf("desync detected (%d)", res.Desyncs)
	}
	return resultJSON, reason
}
