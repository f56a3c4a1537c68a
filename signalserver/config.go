package signalserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"
)

// Defaults for the zero fields of Config.
const (
	// DefaultMaxFrameBytes (64 KiB): any SDP with all its candidates fits,
	// with room to spare; larger frames are not signalling.
	DefaultMaxFrameBytes = 64 << 10
	// DefaultSendQueueBytes (1 MiB) holds 16 of the largest frames and
	// thousands of typical signals for one client.
	DefaultSendQueueBytes = 1 << 20
	// DefaultSlowConsumerTimeout (5 s) outlasts a mobile client's stall or
	// a Wi-Fi hiccup, and frees a stuck client's queue well before its
	// read deadline.
	DefaultSlowConsumerTimeout = 5 * time.Second
	// DefaultMaxQueuedBytes (256 MiB) lets hundreds of clients each hold a
	// full queue while bounding the server's memory on a small machine.
	DefaultMaxQueuedBytes = 256 << 20
	// DefaultPingInterval (15 s) keeps idle WebSockets open through
	// proxies with a 60 s idle timeout, at little cost per client.
	DefaultPingInterval = 15 * time.Second
	// DefaultReadTimeout (40 s) exceeds the ping interval plus a round
	// trip, and the 10 s keep-alive of matchbox clients, so that only a
	// dead connection hits it.
	DefaultReadTimeout = 40 * time.Second
	// DefaultWriteTimeout (10 s) lets a write reach a client on a slow
	// link, and cuts off one that stopped reading.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultMaxConnsPerIP (1024) admits hundreds of clients behind one
	// address (a classroom, a LAN party, a carrier-grade NAT, a proxy
	// without RealIPHeader). MaxConns, not the per-IP limits, protects the
	// server.
	DefaultMaxConnsPerIP = 1024
	// DefaultJoinsPerSecondPerIP (100 per second) lets 100 of those
	// clients join in any one second.
	DefaultJoinsPerSecondPerIP = 100
	// DefaultJoinBurstPerIP (200) lets twice that many join at once, as
	// when they all rejoin after a server restart.
	DefaultJoinBurstPerIP = 200
	// DefaultMaxPeersPerRoom (64) is well above the full mesh a WebRTC
	// game holds in practice (each peer connects to every other), and
	// bounds the fan-out of one room's signals.
	DefaultMaxPeersPerRoom = 64
	// DefaultMaxRoomIDBytes (128) fits any readable room name or a UUID,
	// and bounds what one room id costs the server.
	DefaultMaxRoomIDBytes = 128
)

// Defaults of the HTTP timeouts, for the zero fields of Config.
const (
	// DefaultHTTPReadTimeout bounds reading a request: its headers arrive
	// in one round trip from any real client.
	DefaultHTTPReadTimeout = 10 * time.Second
	// DefaultHTTPWriteTimeout bounds writing a plain response; the box
	// game's page (a few MB of WebAssembly) still loads at 300 kbit/s.
	DefaultHTTPWriteTimeout = 2 * time.Minute
	// DefaultHTTPIdleTimeout closes a keep-alive connection idle this long.
	// It outlasts the 60 s idle timeout of common reverse proxies and load
	// balancers, so that they never send a request on a connection this
	// server is closing.
	DefaultHTTPIdleTimeout = 75 * time.Second
)

// DefaultSendQueue is the default of Config.SendQueue: no cap in frames,
// the bound in bytes (DefaultSendQueueBytes) is the queue's bound. It was
// 256 frames, which held up to 16 MiB for one client and disconnected
// clients that were reading but received a burst.
const DefaultSendQueue = 0

// Config holds the server's settings. The zero value of a field means its
// Default constant, which each field's comment names; the per-IP limits
// (MaxConnsPerIP, JoinsPerSecondPerIP) and the global MaxConns are switched
// off with a negative value.
type Config struct {
	// MaxFrameBytes is the largest frame a client may send; a client that
	// sends a larger one is closed with status 1009 (message too big).
	// Zero means DefaultMaxFrameBytes (64 KiB).
	MaxFrameBytes int64
	// SendQueueBytes bounds the frames waiting for one client, in bytes
	// (each frame's payload plus 64 bytes of bookkeeping). A peer relaying
	// a signal to a client whose queue is full waits for room: its reads
	// pause, which pushes back on that peer. Frames the server makes itself
	// (NewPeer, PeerLeft) and frames from other instances cannot wait; they
	// may overrun the bound up to twice its size. Past that, a signal from
	// another instance is dropped (signalserver_dropped_total, reason
	// receiver_full) while the client keeps reading: nothing pushes back on
	// a sender elsewhere, which could otherwise disconnect a room-mate that
	// reads slower than it sends. Zero means DefaultSendQueueBytes (1 MiB).
	SendQueueBytes int64
	// SlowConsumerTimeout is how long a client's full queue may go without
	// draining to half (while a peer waits for room in it) or without a
	// completed write (while frames from elsewhere arrive), before the
	// client is disconnected as too slow. A client that reads
	// keeps making progress and is never disconnected for a burst, however
	// large; a peer waiting for room waits at most this long. It must be
	// shorter than ReadTimeout: a waiting peer's reads pause. Zero means
	// DefaultSlowConsumerTimeout (5 s), or half of ReadTimeout if that is
	// shorter.
	SlowConsumerTimeout time.Duration
	// MaxQueuedBytes bounds the frames waiting for all clients together,
	// in the same bytes as SendQueueBytes. When it is exceeded, every client
	// whose writes have stalled for a second (or SlowConsumerTimeout, if
	// shorter) is disconnected at once instead of after
	// SlowConsumerTimeout; clients whose writes progress are never
	// disconnected for it. Zero means DefaultMaxQueuedBytes (256 MiB).
	MaxQueuedBytes int64
	// SendQueue, when positive, also caps the frames waiting for one
	// client, with the same rule as SendQueueBytes; zero (the default) sets
	// no cap in frames (DefaultSendQueue). SendQueueBytes is what bounds
	// memory: a count of frames does so only at the largest frame size.
	SendQueue int
	// PingInterval is how long a client may stay quiet before the server
	// pings it (and how often it pings while the client stays quiet).
	// Zero means DefaultPingInterval (15 s).
	PingInterval time.Duration
	// ReadTimeout closes a client from which nothing (not even a pong) has
	// arrived for this long: it reaps half-open TCP connections. Zero
	// means DefaultReadTimeout (40 s).
	ReadTimeout time.Duration
	// WriteTimeout bounds each write to a client. Zero means
	// DefaultWriteTimeout (10 s).
	WriteTimeout time.Duration

	// MaxConns caps the connections the server holds at once, WebSockets
	// and plain HTTP (idle keep-alive ones too) alike, so that it never runs
	// out of file descriptors or memory: past it a connection is answered
	// 503 and closed. Zero means DefaultMaxConns(), sized from this
	// process's limits; negative: no cap. It applies to connections served
	// by the http.Server from Server.HTTPServer.
	MaxConns int
	// MaxConnsPerIP caps concurrent connections from one IP. Zero means
	// DefaultMaxConnsPerIP (1024); negative: no cap. This and the join rate count an IPv6 client by its /64, which
	// one host holds whole. Through Server.HTTPServer it counts every TCP connection, plain
	// HTTP ones too; from a trusted proxy (see TrustedProxies), which carries
	// many clients, it counts WebSockets by the client's forwarded address.
	MaxConnsPerIP int
	// JoinsPerSecondPerIP and JoinBurstPerIP rate-limit joins from one IP.
	// Zero means DefaultJoinsPerSecondPerIP (100) and
	// DefaultJoinBurstPerIP (200); a negative rate: no limit.
	JoinsPerSecondPerIP float64
	JoinBurstPerIP      int
	// RealIPHeader, when set, names a header (such as X-Real-IP or
	// X-Forwarded-For) that a reverse proxy fills with the client's address.
	// It is believed only from peers within TrustedProxies, which it
	// requires: anyone else could forge it. In a comma-separated list (one
	// proxy behind another), the client is the right-most address not
	// within TrustedProxies.
	RealIPHeader string
	// TrustedProxies lists the addresses of the reverse proxies whose
	// RealIPHeader is believed, such as 10.0.0.0/8 or 127.0.0.1/32. It
	// needs RealIPHeader.
	TrustedProxies []netip.Prefix

	// HTTPReadTimeout bounds reading each plain HTTP request and each
	// WebSocket upgrade request, headers and body (http.Server's
	// ReadHeaderTimeout and ReadTimeout): a client that trickles its
	// headers (slowloris) is cut off. Zero means DefaultHTTPReadTimeout
	// (10 s).
	HTTPReadTimeout time.Duration
	// HTTPWriteTimeout bounds writing each plain HTTP response. Zero means
	// DefaultHTTPWriteTimeout (2 min).
	HTTPWriteTimeout time.Duration
	// HTTPIdleTimeout closes a keep-alive HTTP connection that sends no
	// next request for this long. Upgraded WebSockets are not subject to
	// the HTTP timeouts: ReadTimeout and WriteTimeout govern them. Zero
	// means DefaultHTTPIdleTimeout (75 s).
	HTTPIdleTimeout time.Duration

	// MaxPeersPerRoom caps a room without next, and the largest next
	// allowed. Zero means DefaultMaxPeersPerRoom (64).
	MaxPeersPerRoom int
	// MaxRoomIDBytes caps the length of a room id. Zero means
	// DefaultMaxRoomIDBytes (128).
	MaxRoomIDBytes int
	// AllowedOrigins, when not empty, lists the Origin header values allowed
	// to connect (browsers send it; native clients usually do not, and a
	// request without Origin is always allowed). Empty allows any origin, as
	// matchbox_server does.
	AllowedOrigins []string

	// AuthSecret, when not empty, turns on room tokens: a join needs
	// ?token= carrying a JWT signed with this HS256 secret whose room claim
	// names the room (see MintToken). Others get HTTP 401
	// with a one-line reason before the upgrade.
	AuthSecret []byte

	// Redis, when its URL is set, makes the server keep rooms, groups and
	// routing in Redis (shared by every instance using it) instead of in
	// memory, so that several instances serve one room.
	Redis RedisConfig
	// Web, when not nil, answers plain (non-WebSocket) GET and HEAD requests
	// other than /health, /metrics and /ice: a browser opening /<room> gets a
	// game's page that joins that room (see package signalserver/web).
	// Nil answers them 426 Upgrade Required.
	Web http.Handler
	// ICE lists the STUN and TURN servers that GET /ice hands to clients
	// (with fresh credentials for an embedded TURN server); empty: [].
	ICE ICEConfig

	// Logger receives the server's logs; nil means slog.Default().
	Logger *slog.Logger
}

// withDefaults returns c with every zero field set to its default, or an
// error naming the first invalid field.
func (c Config) withDefaults() (Config, error) {
	setDefault(&c.MaxFrameBytes, DefaultMaxFrameBytes)
	setDefault(&c.SendQueueBytes, DefaultSendQueueBytes)
	setDefault(&c.MaxQueuedBytes, DefaultMaxQueuedBytes)
	setDefault(&c.PingInterval, DefaultPingInterval)
	setDefault(&c.ReadTimeout, DefaultReadTimeout)
	setDefault(&c.WriteTimeout, DefaultWriteTimeout)
	setDefault(&c.SlowConsumerTimeout, min(DefaultSlowConsumerTimeout, c.ReadTimeout/2))
	setDefault(&c.MaxConnsPerIP, DefaultMaxConnsPerIP)
	setDefault(&c.JoinsPerSecondPerIP, DefaultJoinsPerSecondPerIP)
	setDefault(&c.JoinBurstPerIP, DefaultJoinBurstPerIP)
	setDefault(&c.MaxPeersPerRoom, DefaultMaxPeersPerRoom)
	setDefault(&c.MaxRoomIDBytes, DefaultMaxRoomIDBytes)
	setDefault(&c.HTTPReadTimeout, DefaultHTTPReadTimeout)
	setDefault(&c.HTTPWriteTimeout, DefaultHTTPWriteTimeout)
	setDefault(&c.HTTPIdleTimeout, DefaultHTTPIdleTimeout)
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns()
	}
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	// Credentials signed with an empty secret look valid to a client and
	// fail at the TURN server: refuse them here, not at the first call.
	check(len(c.ICE.TURNURLs) == 0 || len(c.ICE.TURNSecret) > 0, "ICE.TURNURLs needs ICE.TURNSecret")
	check(c.MaxFrameBytes > 0, "MaxFrameBytes must be positive, got %d", c.MaxFrameBytes)
	check(c.SendQueueBytes > 0, "SendQueueBytes must be positive, got %d", c.SendQueueBytes)
	// A sender paused for a full queue reads nothing meanwhile, not even
	// its pongs: its read deadline must outlast the pause.
	check(c.SlowConsumerTimeout > 0 && c.SlowConsumerTimeout < c.ReadTimeout, "SlowConsumerTimeout (%v) must be positive and below ReadTimeout (%v)", c.SlowConsumerTimeout, c.ReadTimeout)
	check(c.MaxQueuedBytes > 0, "MaxQueuedBytes must be positive, got %d", c.MaxQueuedBytes)
	check(c.SendQueue >= 0, "SendQueue must not be negative, got %d", c.SendQueue)
	check(c.PingInterval > 0, "PingInterval must be positive, got %v", c.PingInterval)
	check(c.ReadTimeout > c.PingInterval, "ReadTimeout (%v) must exceed PingInterval (%v)", c.ReadTimeout, c.PingInterval)
	check(c.WriteTimeout > 0, "WriteTimeout must be positive, got %v", c.WriteTimeout)
	check(c.JoinBurstPerIP > 0, "JoinBurstPerIP must be positive, got %d", c.JoinBurstPerIP)
	check(c.MaxPeersPerRoom > 0, "MaxPeersPerRoom must be positive, got %d", c.MaxPeersPerRoom)
	check(c.MaxRoomIDBytes > 0, "MaxRoomIDBytes must be positive, got %d", c.MaxRoomIDBytes)
	check(c.HTTPReadTimeout > 0, "HTTPReadTimeout must be positive, got %v", c.HTTPReadTimeout)
	check(c.HTTPWriteTimeout > 0, "HTTPWriteTimeout must be positive, got %v", c.HTTPWriteTimeout)
	check(c.HTTPIdleTimeout > 0, "HTTPIdleTimeout must be positive, got %v", c.HTTPIdleTimeout)
	// A header believed from anyone would let every client pick the
	// address its limits apply to. Refusing to start, rather than ignoring
	// the header, keeps a deployment from running with all its clients
	// sharing the proxy's limits, or with limits anyone can dodge.
	check(c.RealIPHeader == "" || len(c.TrustedProxies) > 0,
		"RealIPHeader %q needs TrustedProxies: the addresses of the proxies that set it (such as 127.0.0.1/32 for one on this host)", c.RealIPHeader)
	check(c.RealIPHeader != "" || len(c.TrustedProxies) == 0, "TrustedProxies needs RealIPHeader, the header they set")
	for _, p := range c.TrustedProxies {
		check(p.IsValid(), "TrustedProxies: invalid prefix %v", p)
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("signalserver: invalid config: %w", err)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
