package transport

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/rollbox/rollbox/signalwire"
)

// ICEServer is a STUN or TURN server: URLs such as
// "stun:stun.example.org:3478" or "turn:turn.example.org:3478?transport=udp",
// and for TURN a Username and Credential. Across NATs STUN alone often
// fails, so real deployments add a TURN server. It is the type the
// signalling server's GET /ice answers with, so its list passes through
// unconverted.
type ICEServer = signalwire.ICEServer

// ChannelConfig describes one negotiated data channel. Every peer in a room
// must use the same list: channel i is negotiated with id i and label
// "matchbox_socket_<i>", as matchbox_socket does.
type ChannelConfig struct {
	// Ordered delivers messages in the order they were sent.
	Ordered bool
	// MaxRetransmits limits retransmissions of a lost message; nil retransmits
	// until delivered (reliable), 0 never retransmits (UDP-like).
	MaxRetransmits *uint16
}

// Unreliable returns the configuration of an unordered channel that never
// retransmits: what rollback wants, and matchbox's ChannelConfig::unreliable.
func Unreliable() ChannelConfig {
	zero := uint16(0)
	return ChannelConfig{Ordered: false, MaxRetransmits: &zero}
}

// Reliable returns the configuration of an ordered channel that retransmits
// until delivered: matchbox's ChannelConfig::reliable.
func Reliable() ChannelConfig { return ChannelConfig{Ordered: true} }

// reliableOrdered reports whether messages on the channel arrive complete and
// in order, which is what chunking large messages needs.
func (c ChannelConfig) reliableOrdered() bool { return c.Ordered && c.MaxRetransmits == nil }

// Defaults of the zero (or negative) fields of Config.
const (
	// DefaultKeepAliveInterval is matchbox_socket's: well inside the
	// signalling server's read timeout (40 s by default) and the idle
	// timeouts of common reverse proxies (60 s).
	DefaultKeepAliveInterval = 10 * time.Second

	// DefaultICEDisconnectedTimeout, DefaultICEFailedTimeout and
	// DefaultICEKeepAliveInterval are pion's own: a peer whose process dies
	// without leaving is reported disconnected after about 30 s, long enough
	// that a Wi-Fi hiccup or a mobile handover does not end a match.
	DefaultICEDisconnectedTimeout = 5 * time.Second
	DefaultICEFailedTimeout       = 25 * time.Second
	DefaultICEKeepAliveInterval   = 2 * time.Second

	// DefaultConnectTimeout leaves ICE time to try its candidate pairs,
	// TURN relays included, over slow and lossy networks.
	DefaultConnectTimeout = 30 * time.Second

	// DefaultReconnectMinDelay and DefaultReconnectMaxDelay bound the
	// backoff between reconnections to the signalling server: quick after a
	// blip, and at most one attempt per 10 s per client against a server
	// that is down, so that a restarted server is not flooded.
	DefaultReconnectMinDelay = 250 * time.Millisecond
	DefaultReconnectMaxDelay = 10 * time.Second

	// DefaultSendBufferLimit (256 KiB) is about a second of sending on a
	// 2 Mbit/s uplink: a game packet queued behind more is stale before it
	// could arrive.
	DefaultSendBufferLimit = 256 << 10
	// DefaultReliableBufferLimit (16 MiB) lets a reliable channel queue a
	// whole message of DefaultMaxMessageSize, such as a state snapshot.
	DefaultReliableBufferLimit = 16 << 20
	// DefaultReceiveBufferSize (4 MiB) is far more than a game's packets
	// between two Receive calls, and a bound on the memory a channel's
	// senders can fill.
	DefaultReceiveBufferSize = 4 << 20
	// DefaultMaxMessageSize (16 MiB) bounds the reassembly of one message
	// on a reliable ordered channel: room for a game's state snapshot, not
	// for a peer to exhaust memory.
	DefaultMaxMessageSize = 16 << 20
)

// Config configures a Socket. The zero Config is valid: one unreliable
// channel, no ICE servers, and the Default constants above for the fields
// left zero.
type Config struct {
	// ICEServers are the STUN and TURN servers used to find a path between
	// peers. Without any, only direct (host) paths are tried.
	ICEServers []ICEServer
	// Channels lists the data channels, channel 0 first. Default: one
	// unreliable channel. Use []ChannelConfig{Unreliable(), Reliable()} for
	// matchbox's common two-channel setup.
	Channels []ChannelConfig
	// KeepAliveInterval is how often "KeepAlive" goes to the signalling
	// server so that idle proxies keep the WebSocket open. Zero means
	// DefaultKeepAliveInterval.
	KeepAliveInterval time.Duration
	// LoopbackOnly restricts WebRTC to 127.0.0.1 over UDP, without mDNS: for
	// tests and for several peers on one machine without a network. Real
	// peers on different machines must leave it false.
	LoopbackOnly bool
	// ICEFromServer makes Join fetch ICE servers (STUN, and TURN with
	// short-lived credentials) from the signalling server's GET /ice, next
	// to the room URL (ws://host/room gives http://host/ice), within Join's
	// context, and use them before ICEServers. A server that does not offer
	// /ice adds none. The TURN credentials last as long as the server says
	// (an hour by default); the socket fetches new ones with a quarter of
	// that left, so that peers it meets later still get a relay.
	ICEFromServer bool
	// RelayOnly restricts ICE to relayed (TURN) candidates, the
	// ICETransportPolicy "relay": peers never learn each other's addresses,
	// and tests can prove a TURN path works.
	RelayOnly bool

	// ICEDisconnectedTimeout, ICEFailedTimeout and ICEKeepAliveInterval tune
	// how fast a silent peer is noticed. A peer whose process dies without
	// leaving is reported disconnected after about
	// ICEDisconnectedTimeout+ICEFailedTimeout. Zero means
	// DefaultICEDisconnectedTimeout, DefaultICEFailedTimeout and
	// DefaultICEKeepAliveInterval (pion's).
	ICEDisconnectedTimeout time.Duration
	ICEFailedTimeout       time.Duration
	ICEKeepAliveInterval   time.Duration
	// ConnectTimeout gives up on a peer whose channels have not all opened in
	// this time after it was introduced. Zero means DefaultConnectTimeout.
	ConnectTimeout time.Duration

	// ReconnectMinDelay and ReconnectMaxDelay bound the exponential backoff
	// between attempts to reconnect a dropped signalling WebSocket. Zero
	// means DefaultReconnectMinDelay and DefaultReconnectMaxDelay; a
	// ReconnectMaxDelay below ReconnectMinDelay is raised to it.
	ReconnectMinDelay time.Duration
	ReconnectMaxDelay time.Duration

	// SendBufferLimit is how many bytes may wait in one unreliable channel to
	// one peer before Send drops new packets (and counts them): a stale game
	// packet is worth less than a fresh one. Zero means
	// DefaultSendBufferLimit.
	SendBufferLimit int
	// ReliableBufferLimit is the same bound for reliable channels, where
	// Send returns ErrBufferFull instead of dropping. Zero means
	// DefaultReliableBufferLimit.
	ReliableBufferLimit int
	// ReceiveBufferSize bounds the bytes one channel holds between two calls
	// of Receive. Unreliable packets beyond it are dropped (and counted);
	// reliable ones wait, which pushes back on the sender. Zero means
	// DefaultReceiveBufferSize.
	ReceiveBufferSize int
	// MaxMessageSize is the largest message a reliable ordered channel
	// reassembles from chunks; larger incoming messages are dropped. Zero
	// means DefaultMaxMessageSize.
	MaxMessageSize int

	// Logger receives what the socket drops and why. Default slog.Default().
	// Lines about what a remote party sent are rate limited per party (see
	// Stats).
	Logger *slog.Logger

	// now is the clock of log rate limiting; nil means time.Now. Tests
	// freeze it.
	now func() time.Time
}

// withDefaults fills unset fields and validates the rest.
func (c Config) withDefaults() (Config, error) {
	if len(c.Channels) == 0 {
		c.Channels = []ChannelConfig{Unreliable()}
	}
	if len(c.Channels) > 1024 {
		return c, fmt.Errorf("transport: %d channels, at most 1024", len(c.Channels))
	}
	setDuration := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	setInt := func(n *int, def int) {
		if *n <= 0 {
			*n = def
		}
	}
	setDuration(&c.KeepAliveInterval, DefaultKeepAliveInterval)
	setDuration(&c.ICEDisconnectedTimeout, DefaultICEDisconnectedTimeout)
	setDuration(&c.ICEFailedTimeout, DefaultICEFailedTimeout)
	setDuration(&c.ICEKeepAliveInterval, DefaultICEKeepAliveInterval)
	setDuration(&c.ConnectTimeout, DefaultConnectTimeout)
	setDuration(&c.ReconnectMinDelay, DefaultReconnectMinDelay)
	setDuration(&c.ReconnectMaxDelay, DefaultReconnectMaxDelay)
	c.ReconnectMaxDelay = max(c.ReconnectMaxDelay, c.ReconnectMinDelay)
	setInt(&c.SendBufferLimit, DefaultSendBufferLimit)
	setInt(&c.ReliableBufferLimit, DefaultReliableBufferLimit)
	setInt(&c.ReceiveBufferSize, DefaultReceiveBufferSize)
	setInt(&c.MaxMessageSize, DefaultMaxMessageSize)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}
