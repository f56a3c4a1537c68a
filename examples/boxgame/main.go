// Command boxgame is rollbox's example game: coloured boxes on a plane, one
// per player, moved with WASD or the arrow keys, played peer to peer over
// WebRTC with rollback netcode. It is also the template to copy into a game
// of your own, and rollbox's end-to-end test bed.
//
//	go run ./cmd/signalserver &                  # once, somewhere both players reach
//	go run ./examples/boxgame -server ws://HOST:3536 -players 2
//
// With -headless a seeded bot plays without a window and, with -frames N,
// the game prints one JSON line with the checksum of confirmed frame N and
// exits: 0 when healthy, 3 when a desync was detected, 1 on any other
// failure (with a one-line reason on stderr).
//
// Built with GOOS=js GOARCH=wasm (make web), the game runs in a web page
// that the signalling server serves: see web.go.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/rollbox/rollbox/examples/boxgame/sim"
	"github.com/rollbox/rollbox/transport"
	"github.com/rollbox/rollbox/transport/simnet"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitDesync  = 3
)

// options are the command line settings.
type options struct {
	server        string
	room          string
	players       int
	inputDelay    int
	maxPrediction int
	headless      bool
	seed          uint64
	frames        int
	loopback      bool
	synctest      bool
	checkDistance int
	desyncAt      int
	netsim        *simnet.Link // parsed -netsim; nil: the real network as it is
	ice           string
	turnUser      string
	turnPass      string
	windowPos     string
	token         string
}

// run plays one match as the flags say and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "boxgame:", err)
		return exitFailure
	}
	var res result
	switch {
	case o.synctest:
		res, err = runSyncTest(o)
	case o.headless:
		res, err = runHeadless(ctx, o, stderr)
	default:
		res, err = runWindow(ctx, o, stderr)
	}
	if res.Frame > 0 || res.Desyncs > 0 {
		fmt.Fprintln(stdout, res.JSON())
	}
	switch {
	case err != nil:
		fmt.Fprintln(stderr, "boxgame:", oneLine(err))
		return exitFailure
	case res.Desyncs > 0:
		fmt.Fprintf(stderr, "boxgame: desync detected (%d)\n", res.Desyncs)
		return exitDesync
	}
	return exitOK
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("boxgame", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.server, "server", "ws://127.0.0.1:3536", "signalling server URL")
	fs.StringVar(&o.room, "room", "boxgame", "room name; players meet in <room>?next=<players>")
	fs.IntVar(&o.players, "players", 2, "number of players, 2 to 8")
	fs.IntVar(&o.inputDelay, "input-delay", 2, "frames of input delay (fewer rollbacks, slower response)")
	fs.IntVar(&o.maxPrediction, "max-prediction", 8, "frames the game may run ahead of confirmed input (0: lockstep)")
	fs.BoolVar(&o.headless, "headless", false, "no window: a bot seeded by -seed plays")
	fs.Uint64Var(&o.seed, "seed", 1, "bot seed (headless and -synctest)")
	fs.IntVar(&o.frames, "frames", 0, "stop once this frame is confirmed and print the result (headless default 600)")
	fs.BoolVar(&o.loopback, "loopback", false, "WebRTC on loopback only (tests, several players on one machine)")
	fs.BoolVar(&o.synctest, "synctest", false, "local determinism check: no network, every frame rolled back and compared")
	fs.IntVar(&o.checkDistance, "check-distance", 7, "frames each -synctest frame is rolled back")
	fs.IntVar(&o.desyncAt, "desync-at", -1, "debug: corrupt this peer's state at this frame to prove desync detection")
	netsim := fs.String("netsim", "", "simulated network conditions on top of the real one, e.g. 'latency=100ms,jitter=50ms,loss=0.1'")
	fs.StringVar(&o.ice, "ice", "", "comma-separated STUN/TURN URLs, e.g. stun:stun.example.org:3478,turn:turn.example.org:3478")
	fs.StringVar(&o.turnUser, "turn-user", "", "TURN username")
	fs.StringVar(&o.turnPass, "turn-pass", "", "TURN password")
	fs.StringVar(&o.token, "token", "", "room token, for a signalling server started with -auth-secret (see signalserver token)")
	fs.StringVar(&o.windowPos, "window-pos", "", "where to open the window, as X,Y in screen pixels (default: where the desktop puts it)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.players < 2 || o.players > sim.MaxPlayers {
		if !o.synctest || o.players < 1 {
			return o, fmt.Errorf("-players must be 2 to %d, got %d", sim.MaxPlayers, o.players)
		}
	}
	if o.frames < 0 {
		return o, fmt.Errorf("-frames must not be negative")
	}
	if (o.headless || o.synctest) && o.frames == 0 {
		o.frames = 600
	}
	if o.windowPos != "" {
		if _, _, err := o.windowPosition(); err != nil {
			return o, err
		}
	}
	if *netsim != "" {
		link, err := simnet.ParseLink(*netsim)
		if err != nil {
			return o, fmt.Errorf("-netsim: %w", err)
		}
		o.netsim = &link
	}
	return o, nil
}

// iceServers turns -ice, -turn-user and -turn-pass into the socket's list.
func (o options) iceServers() []transport.ICEServer {
	var out []transport.ICEServer
	for _, u := range strings.Split(o.ice, ",") {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		s := transport.ICEServer{URLs: []string{u}}
		if strings.HasPrefix(u, "turn:") || strings.HasPrefix(u, "turns:") {
			s.Username, s.Credential = o.turnUser, o.turnPass
		}
		out = append(out, s)
	}
	return out
}

// windowPosition parses -window-pos.
func (o options) windowPosition() (x, y int, err error) {
	if _, err := fmt.Sscanf(o.windowPos, "%d,%d", &x, &y); err != nil {
		return 0, 0, fmt.Errorf("-window-pos must be X,Y, got %q", o.windowPos)
	}
	return x, y, nil
}

// oneLine keeps an error message on one line for the exit reason.
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }
