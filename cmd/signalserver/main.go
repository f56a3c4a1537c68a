// Command signalserver is a matchbox-compatible signalling server: a drop-in
// replacement for matchbox_server with limits, metrics and room isolation.
//
//	signalserver [flags] [listen-address]
//
// The listen address is the positional argument, or the HOST environment
// variable, or 0.0.0.0:3536, as with matchbox_server. Every flag also reads
// an environment variable: -max-peers-per-room is SIGNALSERVER_MAX_PEERS_PER_ROOM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rollbox/rollbox/cmd/signalserver/internal/boxgameweb"
	"github.com/rollbox/rollbox/signalserver"
)

func main() {
	var err error
	if len(os.Args) > 1 && os.Args[1] == "token" { // signalserver token -room NAME -ttl 1h
		err = tokenCommand(os.Args[2:], os.Getenv, os.Stdout, os.Stderr)
	} else {
		err = run(context.Background(), os.Args[1:], os.Getenv, os.Stderr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "signalserver:", err)
		os.Exit(1)
	}
}

// options are the command line settings beyond signalserver.Config.
type options struct {
	listen          string
	tlsCert, tlsKey string
	logLevel        string
	logFormat       string
	origins         string
	trustedProxies  string
	shutdownTimeout time.Duration
	web, noWeb      bool // serve the box game's page (-no-web wins)
	authSecret      string
	authSecretFile  string
	turn            turnOptions // -turn, -stun and GET /ice (turn.go)
}

// run parses args (with environment twins read through getenv), serves until
// ctx ends or SIGINT/SIGTERM arrives, and shuts down gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, opts, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	logger, err := newLogger(opts.logLevel, opts.logFormat, stderr)
	if err != nil {
		return err
	}
	cfg.Logger = logger
	if cfg.Redis.URL != "" {
		redis.SetLogger(signalserver.RedisLogger(logger)) // the client's own messages, such as failed dials
	}
	cfg.Web = webPage(opts, logger)
	turnSrv, err := opts.turn.start(ctx, &cfg, logger)
	if err != nil {
		return err
	}
	defer stopTURN(turnSrv, opts.shutdownTimeout, logger)
	srv, err := signalserver.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.listen)
	if err != nil {
		return err
	}
	maxConns := cfg.MaxConns
	if maxConns == 0 {
		maxConns = signalserver.DefaultMaxConns()
	}
	logger.Info("connection limits", "max_conns", maxConns, "max_conns_per_ip", cfg.MaxConnsPerIP,
		"joins_per_second_per_ip", cfg.JoinsPerSecondPerIP, "join_burst_per_ip", cfg.JoinBurstPerIP)
	return serve(ctx, srv, ln, opts, logger)
}

func serve(ctx context.Context, srv *signalserver.Server, ln net.Listener, opts options, logger *slog.Logger) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	httpSrv := srv.HTTPServer() // connection caps and HTTP timeouts
	errc := make(chan error, 1)
	go func() {
		if opts.tlsCert != "" {
			errc <- httpSrv.ServeTLS(ln, opts.tlsCert, opts.tlsKey)
		} else {
			errc <- httpSrv.Serve(ln)
		}
	}()
	scheme := "ws"
	if opts.tlsCert != "" {
		scheme = "wss"
	}
	logger.Info("signalserver listening", "addr", ln.Addr().String(), "url", scheme+"://"+ln.Addr().String()+"/<room>")
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), opts.shutdownTimeout)
	defer cancel()
	err := httpSrv.Shutdown(sctx) // stops accepting; hijacked WebSockets are ours to close
	err = errors.Join(err, srv.Shutdown(sctx))
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// webPage is the handler of plain GETs: the box game's page embedded at
// build time, unless -no-web (or -web=false) turned it off.
func webPage(opts options, logger *slog.Logger) http.Handler {
	if !opts.web || opts.noWeb {
		return nil
	}
	h, err := boxgameweb.Handler()
	if err != nil {
		logger.Warn("no box game web page; GET / says so", "err", err)
	}
	return h
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (signalserver.Config, options, error) {
	var cfg signalserver.Config
	var opts options
	fs := flag.NewFlagSet("signalserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: signalserver [flags] [listen-address]\n\n"+
			"The listen address defaults to $HOST, then 0.0.0.0:3536. Each flag -x-y also reads\n"+
			"the environment variable SIGNALSERVER_X_Y.\n\n")
		fs.PrintDefaults()
	}
	fs.Int64Var(&cfg.MaxFrameBytes, "max-frame-bytes", signalserver.DefaultMaxFrameBytes, "largest client frame; larger ones close the client with status 1009")
	fs.Int64Var(&cfg.SendQueueBytes, "send-queue-bytes", signalserver.DefaultSendQueueBytes, "bytes queued for one client (payload + 64 per frame); a peer signalling a client whose queue is full waits for room")
	fs.DurationVar(&cfg.SlowConsumerTimeout, "slow-consumer-timeout", 0, "disconnect a client whose full send queue goes this long without draining to half or completing a write (0: 5s, or half -read-timeout if shorter; must be below it)")
	fs.Int64Var(&cfg.MaxQueuedBytes, "max-queued-bytes", signalserver.DefaultMaxQueuedBytes, "bytes queued for all clients together; over it, clients whose writes stalled for a second are disconnected at once")
	fs.IntVar(&cfg.SendQueue, "send-queue", signalserver.DefaultSendQueue, "also cap the frames queued per client, with the rule of -send-queue-bytes (0: no cap in frames)")
	fs.DurationVar(&cfg.PingInterval, "ping-interval", signalserver.DefaultPingInterval, "a client quiet this long is pinged (matchbox clients send KeepAlive every 10 s, so busy ones never are)")
	fs.DurationVar(&cfg.ReadTimeout, "read-timeout", signalserver.DefaultReadTimeout, "close a client silent (no frame, no pong) for this long")
	fs.DurationVar(&cfg.WriteTimeout, "write-timeout", signalserver.DefaultWriteTimeout, "deadline of each write to a client")
	fs.IntVar(&cfg.MaxConns, "max-conns", 0, fmt.Sprintf("concurrent connections, plain HTTP and WebSocket; past it new ones get 503 (0: sized from the file-descriptor limit and memory, here %d; -1: no cap)", signalserver.DefaultMaxConns()))
	fs.IntVar(&cfg.MaxConnsPerIP, "max-conns-per-ip", signalserver.DefaultMaxConnsPerIP, "concurrent connections per client IP, plain HTTP and WebSocket (-1: no cap)")
	fs.Float64Var(&cfg.JoinsPerSecondPerIP, "joins-per-second-per-ip", signalserver.DefaultJoinsPerSecondPerIP, "sustained joins per second per client IP (-1: no limit)")
	fs.IntVar(&cfg.JoinBurstPerIP, "join-burst-per-ip", signalserver.DefaultJoinBurstPerIP, "joins per client IP allowed in a burst")
	fs.StringVar(&cfg.RealIPHeader, "real-ip-header", "", "header a reverse proxy sets to the client address (e.g. X-Real-IP or X-Forwarded-For), believed only from -trusted-proxies; empty: use the TCP peer")
	fs.StringVar(&opts.trustedProxies, "trusted-proxies", "", "comma-separated CIDRs or IPs of the reverse proxies whose -real-ip-header is believed (required with it)")
	fs.DurationVar(&cfg.HTTPReadTimeout, "http-read-timeout", signalserver.DefaultHTTPReadTimeout, "deadline for reading each HTTP request (and WebSocket upgrade request), headers and body")
	fs.DurationVar(&cfg.HTTPWriteTimeout, "http-write-timeout", signalserver.DefaultHTTPWriteTimeout, "deadline for writing each plain HTTP response, such as the web page")
	fs.DurationVar(&cfg.HTTPIdleTimeout, "http-idle-timeout", signalserver.DefaultHTTPIdleTimeout, "close a keep-alive HTTP connection idle this long (WebSockets: -read-timeout)")
	fs.IntVar(&cfg.MaxPeersPerRoom, "max-peers-per-room", signalserver.DefaultMaxPeersPerRoom, "peers per room without next, and the largest next")
	fs.IntVar(&cfg.MaxRoomIDBytes, "max-room-id-bytes", signalserver.DefaultMaxRoomIDBytes, "longest room id, in bytes")
	fs.StringVar(&cfg.Redis.URL, "redis", "", "redis://host:6379/0: share rooms with every instance using this Redis (several instances behind a load balancer); empty: rooms in memory")
	fs.StringVar(&cfg.Redis.Prefix, "redis-prefix", signalserver.DefaultRedisPrefix, "prefix of every Redis key, so that deployments can share one Redis")
	fs.DurationVar(&cfg.Redis.Heartbeat, "redis-heartbeat", signalserver.DefaultRedisHeartbeat, "how often an instance refreshes its presence in Redis")
	fs.DurationVar(&cfg.Redis.PresenceTTL, "redis-presence-ttl", signalserver.DefaultRedisPresenceTTL, "an instance silent this long is presumed dead: its peers are removed (PeerLeft within this plus -redis-heartbeat)")
	fs.Int64Var(&cfg.Redis.InboxLen, "redis-inbox-len", signalserver.DefaultRedisInboxLen, "frames waiting in Redis for one instance before the oldest are discarded (counted in signalserver_bus_lost_frames_total)")
	fs.Int64Var(&cfg.Redis.InboxBytes, "redis-inbox-bytes", signalserver.DefaultRedisInboxBytes, "bytes (about) of frames waiting in Redis for one instance before the oldest are discarded")
	fs.StringVar(&opts.authSecret, "auth-secret", "", "HS256 secret: joins need ?token= (mint with: signalserver token -room NAME); empty: no authentication")
	fs.StringVar(&opts.authSecretFile, "auth-secret-file", "", "file holding the -auth-secret (trailing newline ignored)")
	fs.StringVar(&opts.origins, "allowed-origins", "", "comma-separated Origin values allowed to connect; empty: any")
	fs.StringVar(&opts.tlsCert, "tls-cert", "", "TLS certificate file (PEM); with -tls-key serves wss://")
	fs.StringVar(&opts.tlsKey, "tls-key", "", "TLS private key file (PEM)")
	fs.StringVar(&opts.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&opts.logFormat, "log-format", "text", "log format: text or json")
	fs.DurationVar(&opts.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long a graceful shutdown may take")
	fs.BoolVar(&opts.web, "web", true, "serve the box game's web page on plain GET / and /<room>")
	fs.BoolVar(&opts.noWeb, "no-web", false, "do not serve the web page: plain GETs answer 426, as matchbox_server's do")
	opts.turn.register(fs)
	if err := fs.Parse(args); err != nil {
		return cfg, opts, err
	}
	// Environment twins: a flag given on the command line wins.
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := "SIGNALSERVER_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" && !given[f.Name] {
			if err := f.Value.Set(v); err != nil {
				envErr = errors.Join(envErr, fmt.Errorf("%s=%q: %w", name, v, err))
			}
		}
	})
	if envErr != nil {
		return cfg, opts, envErr
	}
	switch fs.NArg() {
	case 0:
		opts.listen = getenv("HOST")
		if opts.listen == "" {
			opts.listen = "0.0.0.0:3536"
		}
	case 1:
		opts.listen = fs.Arg(0)
	default:
		return cfg, opts, fmt.Errorf("want at most one listen address, got %q", fs.Args())
	}
	if (opts.tlsCert == "") != (opts.tlsKey == "") {
		return cfg, opts, errors.New("-tls-cert and -tls-key go together")
	}
	secret, err := loadSecret("auth-secret", opts.authSecret, opts.authSecretFile)
	if err != nil {
		return cfg, opts, err
	}
	cfg.AuthSecret = secret
	if err := opts.turn.apply(&cfg); err != nil {
		return cfg, opts, err
	}
	if cfg.TrustedProxies, err = parseTrustedProxies(opts.trustedProxies); err != nil {
		return cfg, opts, err
	}
	switch {
	case cfg.RealIPHeader != "" && len(cfg.TrustedProxies) == 0:
		// Believed from anyone, the header would let every client choose the
		// address its limits apply to; ignored, it would put every client of
		// the proxy under one address's limits. Neither is what was meant.
		return cfg, opts, fmt.Errorf("-real-ip-header %s needs -trusted-proxies: the addresses of the proxies that set it (such as 127.0.0.1 for one on this host)", cfg.RealIPHeader)
	case cfg.RealIPHeader == "" && len(cfg.TrustedProxies) > 0:
		return cfg, opts, errors.New("-trusted-proxies needs -real-ip-header: the header those proxies set")
	}
	if opts.origins != "" {
		for _, o := range strings.Split(opts.origins, ",") {
			if o = strings.TrimSpace(o); o != "" {
				cfg.AllowedOrigins = append(cfg.AllowedOrigins, o)
			}
		}
	}
	return cfg, opts, nil
}

func newLogger(level, format string, w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	hopts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, hopts)), nil
	default:
		return nil, fmt.Errorf("-log-format must be text or json, got %q", format)
	}
}

// parseTrustedProxies parses -trusted-proxies: CIDRs, or IPs meaning one
// address each, separated by commas.
func parseTrustedProxies(list string) ([]netip.Prefix, error) {
	var prefixes []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if a, err := netip.ParseAddr(item); err == nil {
			prefixes = append(prefixes, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			return nil, fmt.Errorf("-trusted-proxies: %q is neither a CIDR nor an IP", item)
		}
		prefixes = append(prefixes, p.Masked())
	}
	return prefixes, nil
}
