// Command signalbench is a load tool for the rollbox signalling server
// (package signalserver). It measures the server next to a bare
// gorilla/websocket relay in the same run and prints a markdown table.
//
// Usage:
//
//	go run ./cmd/signalbench [flags]
//	go run ./cmd/signalbench -peers 1000,10000
//	go run ./cmd/signalbench -peers 1000 -servers rollbox
//
// For every peer count in -peers and every server kind in -servers it starts
// the server under test in a child process: this binary re-executed with the
// hidden flags -serve rollbox|bare -addr 127.0.0.1:0, which print the bound
// address on stdout and then answer "gc" lines on stdin with runtime
// statistics. Running the server apart lets its resident memory be read from
// /proc/<pid>/status without the load generator's. Then, for that server:
//
//  1. it reads the server's baseline RSS, after a forced GC;
//  2. it opens the peers as loopback WebSocket clients in rooms of
//     -room-size (/bench-<k>?next=<room-size>), paced at -join-rate, and
//     measures join latency: dial start to IdAssigned and, for rollbox, to
//     "group complete", when the peer knows every room-mate (from NewPeer, or
//     from the Offer-like signal each earlier member sends a newcomer, as
//     matchbox clients do); the bare relay has no rooms, so only the first;
//  3. after -settle, reads RSS with every peer idle, before and after a
//     forced GC, and reports the growth over the baseline per peer;
//  4. has every peer send -rate signals per second (jittered start) to its
//     room-mates for -duration and measures the one-way relay latency, send
//     to receive, on this process's clock; every signal must arrive;
//  5. runs closed-loop ping-pong between pairs of room-mates for -saturate
//     and reports relayed signals per second.
//
// The table on stdout has one row per server and peer count, plus
// rollbox ÷ bare ratio rows, and a details table; progress goes to stderr.
//
// The rollbox server runs with the per-IP limits off (all load comes from
// 127.0.0.1) and otherwise default settings. The bare relay has no rooms and
// no checks: it assigns ids, decodes each frame just enough to find the
// receiver, and writes the relayed frame to the receiver's connection from
// the sender's reader goroutine under a per-connection mutex (one goroutine
// per connection, gorilla's default buffers).
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
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "signalbench:", err)
		os.Exit(1)
	}
}

// Server kinds.
const (
	kindRollbox = "rollbox"
	kindBare    = "bare"
)

// settings are the command line.
type settings struct {
	peers   []int
	servers []string
	rounds  int
	bench   options // peers is set per run
	verbose bool

	serve string // hidden: run a server of this kind instead
	addr  string // hidden: its listen address
}

// run parses args and either benchmarks (writing the report to stdout) or,
// with the hidden -serve flag, runs a server under test controlled through
// stdin and stdout.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	s, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if s.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if s.serve != "" {
		return serve(ctx, s.serve, s.addr, stdin, stdout, log.With("server", s.serve))
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this binary to run the servers: %w", err)
	}
	var results []result
	for round := 1; round <= s.rounds; round++ {
		for _, n := range s.peers {
			for _, kind := range s.servers {
				res, err := measure(ctx, exe, kind, n, s.bench, stderr, log.With("round", round, "server", kind, "peers", n))
				if err != nil {
					return fmt.Errorf("%s with %d peers: %w", kind, n, err)
				}
				results = append(results, res)
			}
		}
	}
	writeReport(stdout, results, s.bench, s.rounds, machine())
	return nil
}

// measure runs one benchmark of a fresh child server of the given kind.
func measure(ctx context.Context, exe, kind string, n int, o options, stderr io.Writer, log *slog.Logger) (result, error) {
	o.peers = n
	log.Info("starting")
	srv, err := startChild(ctx, exe, kind, stderr)
	if err != nil {
		return result{}, err
	}
	res, err := bench(ctx, srv, o, log)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err = errors.Join(err, srv.stop(sctx)); err != nil {
		return res, err
	}
	log.Info("done", "relay_p99", res.relay.p99, "rss_per_peer_kib", res.rssPerPeerKiB())
	return res, nil
}

// machine describes where the benchmark ran.
func machine() string {
	return fmt.Sprintf("%s %s/%s, %d CPUs (GOMAXPROCS %d)", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0))
}

func parseFlags(args []string, stderr io.Writer) (settings, error) {
	var s settings
	fs := flag.NewFlagSet("signalbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var peers, servers string
	fs.StringVar(&peers, "peers", "1000,10000", "comma-separated peer counts; each must be a multiple of -room-size")
	fs.StringVar(&servers, "servers", kindRollbox+","+kindBare, "comma-separated servers to measure: rollbox, bare")
	fs.IntVar(&s.rounds, "rounds", 1, "measure every server and peer count this many times, alternating servers; the tables show medians")
	fs.IntVar(&s.bench.roomSize, "room-size", 4, "peers per room (next=N); even, so that ping-pong pairs share a room")
	fs.Float64Var(&s.bench.joinRate, "join-rate", 2000, "peers dialled per second (open loop)")
	fs.IntVar(&s.bench.joinConcurrency, "join-concurrency", 256, "most joins in flight at once")
	fs.Float64Var(&s.bench.rate, "rate", 2, "signals per second each peer sends in the latency phase")
	fs.DurationVar(&s.bench.duration, "duration", 10*time.Second, "length of the latency phase")
	fs.DurationVar(&s.bench.saturate, "saturate", 3*time.Second, "length of the closed-loop ping-pong (throughput) phase")
	fs.DurationVar(&s.bench.settle, "settle", 2*time.Second, "wait before each RSS reading")
	fs.DurationVar(&s.bench.quietWait, "quiet-wait", time.Minute, "before each timed phase, wait up to this long for other processes to use <10% CPU (0: do not wait)")
	fs.IntVar(&s.bench.attempts, "attempts", 3, "run a timed phase up to this many times while other processes take >15% CPU during it; the quietest run counts")
	fs.BoolVar(&s.verbose, "v", false, "debug logging")
	fs.StringVar(&s.serve, "serve", "", "internal: run a server under test (rollbox or bare)")
	fs.StringVar(&s.addr, "addr", "127.0.0.1:0", "internal: listen address of -serve (loopback only)")
	hidden := map[string]bool{"serve": true, "addr": true}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: signalbench [flags]\n\n"+
			"Benchmarks the rollbox signalling server next to a bare gorilla/websocket relay\n"+
			"and prints a markdown table on stdout.\n\n")
		fs.VisitAll(func(f *flag.Flag) {
			if hidden[f.Name] {
				return
			}
			name, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(stderr, "  -%s %s\n    \t%s (default %q)\n", f.Name, name, usage, f.DefValue)
		})
	}
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if s.serve != "" {
		if s.serve != kindRollbox && s.serve != kindBare {
			return s, fmt.Errorf("-serve must be %s or %s, got %q", kindRollbox, kindBare, s.serve)
		}
		return s, nil
	}
	var errs []error
	for _, f := range strings.Split(peers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("-peers: %w", err))
		case n <= 0 || s.bench.roomSize <= 0 || n%s.bench.roomSize != 0:
			errs = append(errs, fmt.Errorf("-peers: %d is not a positive multiple of -room-size %d", n, s.bench.roomSize))
		default:
			s.peers = append(s.peers, n)
		}
	}
	for _, k := range strings.Split(servers, ",") {
		k = strings.TrimSpace(k)
		if k != kindRollbox && k != kindBare {
			errs = append(errs, fmt.Errorf("-servers: unknown server %q", k))
		} else if !slices.Contains(s.servers, k) {
			s.servers = append(s.servers, k)
		}
	}
	if s.rounds < 1 {
		errs = append(errs, fmt.Errorf("-rounds must be at least 1, got %d", s.rounds))
	}
	if err := s.bench.validate(); err != nil {
		errs = append(errs, err)
	}
	return s, errors.Join(errs...)
}
