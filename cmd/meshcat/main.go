// Command meshcat is a netcat for WebRTC meshes. It joins a room on a
// matchbox-compatible signalling server, prints every packet it receives as
// "<peer-id> <channel> <text>", sends each line of standard input to all
// peers on channel 0, and with -echo sends every packet back to its sender on
// the channel it came from. Peer events go to standard error.
//
//	meshcat -server ws://host:3536 -room NAME [-next N] [-echo] [-channels unreliable,reliable] [-loopback]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rollbox/rollbox/packet"
	"github.com/rollbox/rollbox/transport"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "meshcat:", err)
		}
		os.Exit(2)
	}
}

// options are meshcat's flags.
type options struct {
	server, room string
	next         int
	token        string // room token for a server run with -auth-secret
	echo         bool
	channels     []transport.ChannelConfig
	loopback     bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("meshcat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.server, "server", "ws://127.0.0.1:3536", "signalling server URL")
	fs.StringVar(&o.room, "room", "", "room to join (required)")
	fs.IntVar(&o.next, "next", 0, "join the next group of N peers (0: the open room)")
	fs.StringVar(&o.token, "token", os.Getenv("MESHCAT_TOKEN"), "room token, for a server run with -auth-secret (default $MESHCAT_TOKEN)")
	fs.BoolVar(&o.echo, "echo", false, "send every packet back to its sender on the same channel")
	channels := fs.String("channels", "unreliable", "comma-separated channel list: unreliable, reliable")
	fs.BoolVar(&o.loopback, "loopback", false, "WebRTC over 127.0.0.1 only (tests, one machine)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.room == "" {
		return o, errors.New("-room is required")
	}
	if o.next < 0 {
		return o, errors.New("-next must not be negative")
	}
	for name := range strings.SplitSeq(*channels, ",") {
		switch strings.TrimSpace(name) {
		case "unreliable":
			o.channels = append(o.channels, transport.Unreliable())
		case "reliable":
			o.channels = append(o.channels, transport.Reliable())
		default:
			return o, fmt.Errorf("-channels: unknown channel kind %q", name)
		}
	}
	return o, nil
}

// roomURL is the room to join, with next and the token if set.
func (o options) roomURL() string { return transport.RoomURL(o.server, o.room, o.next, o.token) }

// stdinQueue bounds lines read ahead of the mesh.
const stdinQueue = 64

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	joinCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	sock, err := transport.Join(joinCtx, o.roomURL(), transport.Config{Channels: o.channels, LoopbackOnly: o.loopback, Logger: log})
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = sock.Close(closeCtx)
	}()
	fmt.Fprintf(stderr, "joined %s as %s\n", o.roomURL(), sock.ID())

	lines := make(chan string, stdinQueue)
	go readLines(ctx, stdin, lines)

	out := bufio.NewWriter(stdout)
	// Ready wakes us for packets; the ticker is a safety net for wake-ups
	// that coalesced while we were busy.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case line, ok := <-lines:
			if !ok {
				lines = nil // stdin ended; keep printing (and echoing)
				continue
			}
			for _, p := range sock.Peers() {
				if err := sock.Send(p, []byte(line)); err != nil {
					fmt.Fprintf(stderr, "send to %s: %v\n", p, err)
				}
			}
		case <-sock.Ready():
		case <-tick.C:
		}
		for _, ev := range sock.PeerEvents() {
			fmt.Fprintf(stderr, "%s %s\n", ev.Peer, ev.State)
		}
		for i := range o.channels {
			if err := relay(sock.Channel(i), i, out, o.echo); err != nil {
				fmt.Fprintln(stderr, err)
			}
		}
		if err := out.Flush(); err != nil {
			return err
		}
	}
}

// relay prints every packet waiting on ch and, with echo, sends it back to
// its sender on the same channel.
func relay(ch packet.Socket[transport.PeerID], index int, out io.Writer, echo bool) error {
	var errs []error
	for _, p := range ch.Receive() {
		fmt.Fprintf(out, "%s %d %s\n", p.From, index, p.Data)
		if echo {
			if err := ch.Send(p.From, p.Data); err != nil {
				errs = append(errs, fmt.Errorf("echo to %s: %w", p.From, err))
			}
		}
	}
	return errors.Join(errs...)
}

// readLines sends each line of r to lines until r ends or ctx is done, then
// closes lines.
func readLines(ctx context.Context, r io.Reader, lines chan<- string) {
	defer close(lines)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		select {
		case lines <- sc.Text():
		case <-ctx.Done():
			return
		}
	}
}
