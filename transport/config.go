package transport

import (
	"fmt"
	"log/slog"
	"time"
)

// ICEServer is a STUN or TURN server. Across NATs STUN alone often fails, so
// real deployments add a TURN server with its username and credential.
type ICEServer struct {
	URLs       []string // e.g. "stun:stun.example.org:3478", "turn:turn.example.org:3478?transport=udp"
	Username   string   // TURN only
	Credential string   // TURN only
}

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

// Config configures a Socket. The zero Config is valid: one unreliable
// channel, no ICE servers, the defaults below.
type Config struct {
	// ICEServers are the STUN and TURN servers used to find a path between
	// peers. Without any, only direct (host) paths are tried.
	ICEServers []ICEServer
	// Channels lists the data channels, channel 0 first. Default: one
	// unreliable channel. Use []ChannelConfig{Unreliable(), Reliable()} for
	// matchbox's common two-channel setup.
	Channels []ChannelConfig
	// KeepAliveInterval is how often "KeepAlive" goes to the signalling
	// server so that idle proxies keep the WebSocket open. Default 10 s.
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
	// ICEDisconnectedTimeout+ICEFailedTimeout. Defaults: pion's (5 s, 25 s, 2 s).
	ICEDisconnectedTimeout time.Duration
	ICEFailedTimeout       time.Duration
	ICEKeepAliveInterval   time.Duration
	// ConnectTimeout gives up on a peer whose channels have not all opened in
	// this time after it was introduced. Default 30 s.
	ConnectTimeout time.Duration

	// ReconnectMinDelay and ReconnectMaxDelay bound the exponential backoff
	// between attempts to reconnect a dropped signalling WebSocket.
	// Defaults 250 ms and 10 s.
	ReconnectMinDelay time.Duration
	ReconnectMaxDelay time.Duration

	// SendBufferLimit is how many bytes may wait in one unreliable channel to
	// one peer before Send drops new packets (and counts them): a stale game
	// packet is worth less than a fresh one. Default 256 KiB.
	SendBufferLimit int
	// ReliableBufferLimit is the same bound for reliable channels, where
	// Send returns ErrBufferFull instead of dropping. Default 16 MiB.
	ReliableBufferLimit int
	// ReceiveBufferSize bounds the bytes one channel holds between two calls
	// of Receive. Unreliable packets beyond it are dropped (and counted);
	// reliable ones wait, which pushes back on the sender. Default 4 MiB.
	ReceiveBufferSize int
	// MaxMessageSize is the largest message a reliable ordered channel
	// reassembles from chunks; larger incoming messages are dropped.
	// Default 16 MiB.
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
	setDuration(&c.KeepAliveInterval, 10*time.Second)
	setDuration(&c.ICEDisconnectedTimeout, 5*time.Second)
	setDuration(&c.ICEFailedTimeout, 25*time.Second)
	setDuration(&c.ICEKeepAliveInterval, 2*time.Second)
	setDuration(&c.ConnectTimeout, 30*time.Second)
	setDuration(&c.ReconnectMinDelay, 250*time.Millisecond)
	setDuration(&c.ReconnectMaxDelay, 10*time.Second)
	c.ReconnectMaxDelay = max(c.ReconnectMaxDelay, c.ReconnectMinDelay)
	setInt(&c.SendBufferLimit, 256<<10)
	setInt(&c.ReliableBufferLimit, 16<<20)
	setInt(&c.ReceiveBufferSize, 4<<20)
	setInt(&c.MaxMessageSize, 16<<20)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}
