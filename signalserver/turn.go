package signalserver

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // the TURN REST API scheme is HMAC-SHA1; coturn expects it
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rollbox/rollbox/internal/ratelog"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"
)

// DefaultTURNTTL is how long minted TURN credentials stay valid: an hour
// outlasts most matches, and a leaked credential stops working soon after.
// Sockets fetch fresh ones before it runs out.
const DefaultTURNTTL = time.Hour

// DefaultTURNRealm is the realm an embedded TURN server names in its
// challenges. Clients take the realm from the challenge, so any value works.
const DefaultTURNRealm = "rollbox"

// Errors of verifyTURNCredential.
var (
	errTURNCredentialExpired = errors.New("signalserver: TURN credential expired")
	errTURNCredentialInvalid = errors.New("signalserver: TURN credential invalid")
)

// mintTURNCredential returns a TURN username and password valid until expiry,
// per the TURN REST API scheme (draft-uberti-behave-turn-rest): the username
// is "<expiry unix seconds>:<id>" and the password is
// base64(HMAC-SHA1(secret, username)). Any TURN server that shares secret
// accepts it: the embedded one, or coturn with use-auth-secret and
// static-auth-secret. The server never stores it: it recomputes the HMAC.
func mintTURNCredential(secret []byte, id string, expiry time.Time) (username, password string) {
	username = strconv.FormatInt(expiry.Unix(), 10)
	if id != "" {
		username += ":" + id
	}
	return username, turnPassword(secret, username)
}

// verifyTURNCredential checks a username and password made by
// mintTURNCredential with secret: errTURNCredentialExpired if its expiry is
// before now, errTURNCredentialInvalid if it is malformed or its HMAC does not
// match.
func verifyTURNCredential(secret []byte, username, password string, now time.Time) error {
	expiry, err := turnExpiry(username)
	if err != nil {
		return err
	}
	if !hmac.Equal([]byte(password), []byte(turnPassword(secret, username))) {
		return fmt.Errorf("%w: wrong password", errTURNCredentialInvalid)
	}
	if now.After(expiry) {
		return errTURNCredentialExpired
	}
	return nil
}

func turnPassword(secret []byte, username string) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// turnExpiry parses the expiry of a "<expiry>[:<id>]" username, as coturn
// does (it also accepts a bare timestamp).
func turnExpiry(username string) (time.Time, error) {
	ts, _, _ := strings.Cut(username, ":")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sec <= 0 {
		return time.Time{}, fmt.Errorf("%w: username %q is not <expiry>:<id>", errTURNCredentialInvalid, username)
	}
	return time.Unix(sec, 0), nil
}

// TURNConfig configures an embedded TURN server.
type TURNConfig struct {
	// Listen is the host:port of the UDP and TCP listeners, such as
	// "0.0.0.0:3478". With port 0 one free port is chosen for both.
	Listen string
	// PublicIP is the address clients reach the server at: relay addresses
	// carry it and URLs name it. Behind 1:1 NAT (a cloud VM) it is the
	// public address, not the interface's. Default: Listen's host, which
	// must then be a specific address.
	PublicIP net.IP
	// RelayBind is the local address relay sockets bind to. Default:
	// Listen's host.
	RelayBind string
	// Realm is the TURN realm. Empty means DefaultTURNRealm.
	Realm string
	// Secret is the shared secret credentials are derived from; required.
	Secret []byte
	// TTL is how long minted credentials stay valid. Default DefaultTURNTTL.
	TTL time.Duration
	// AllowPeers lists peer address ranges the relays may reach although
	// they are refused by default: loopback, unspecified, private (RFC
	// 1918, IPv6 ULA), link-local (the cloud metadata service
	// 169.254.169.254 among them), carrier-grade NAT, multicast and other
	// special-purpose ranges, which lead into the host or its networks
	// rather than to players. A LAN deployment lists its LAN here. Even so,
	// at the host's own addresses (listening, relay, public and interface
	// addresses) relays reach only the server's other relays, never
	// another service of the host.
	AllowPeers []netip.Prefix
	// MaxAllocationsPerUser caps the live allocations of one credential
	// (TURN username); 0 means DefaultTURNAllocationsPerUser, negative no
	// cap.
	MaxAllocationsPerUser int
	// MaxAllocationsPerIP caps the live allocations from one client IP
	// (IPv6: one /64); 0 means DefaultTURNAllocationsPerIP, negative no
	// cap. The IP's TCP connections to the server are capped at twice as
	// many (a control and an RFC 6062 data connection per allocation): they
	// need no credentials to open.
	MaxAllocationsPerIP int
	// RelayPortMin and RelayPortMax bound the ports relay sockets take, so
	// that a firewall can open just them. Zero: any free port.
	RelayPortMin, RelayPortMax int
	// Logger receives the server's logs; nil means slog.Default().
	Logger *slog.Logger
}

// TURNMetrics counts what the TURN server does. Safe for concurrent use.
type TURNMetrics struct {
	Allocations      atomic.Int64 // live allocations (gauge)
	AllocationsTotal atomic.Int64 // allocations ever created
	AuthExpired      atomic.Int64 // requests with an expired username
	AuthInvalid      atomic.Int64 // malformed usernames and wrong passwords (bad MESSAGE-INTEGRITY)
	refused          [turnRefusalCount]atomic.Int64
}

// turnRefusal is why the TURN server refused a request or a relayed packet
// of an authenticated client.
type turnRefusal uint8

const (
	turnRefusedPeer      turnRefusal = iota // a peer address its relays may not reach
	turnRefusedUserQuota                    // MaxAllocationsPerUser reached
	turnRefusedIPQuota                      // MaxAllocationsPerIP reached
	turnRefusalCount
)

var turnRefusalNames = [turnRefusalCount]string{"peer_address", "user_quota", "ip_quota"}

// Refused returns how many requests (and, for "peer_address", relayed
// packets and connections) were refused for reason, a label of
// signalserver_turn_refused_total: "peer_address", "user_quota" or
// "ip_quota".
func (m *TURNMetrics) Refused(reason string) int64 {
	return lookup(m.refused[:], turnRefusalNames[:], reason)
}

// TURNServer is a running embedded TURN server (pion/turn) with UDP and TCP
// listeners on one port. It accepts the short-lived credentials the
// signalling server's GET /ice hands out (see ICEConfig), minted with
// TURNConfig.Secret, and no others.
type TURNServer struct {
	cfg     TURNConfig
	srv     *turn.Server
	udp     net.PacketConn
	tcp     *trackingListener
	metrics TURNMetrics
	peers   *turnPeers
	quota   *allocQuota
	log     *slog.Logger
	// refusalLog limits the refusal logs, which clients trigger at will;
	// requestLog the debug lines about requests and allocations.
	refusalLog, requestLog ratelog.Limiter
}

// Refusal logs: a burst, then one a second.
const (
	turnRefusalLogBurst = 5
	turnRefusalLogEvery = time.Second
)

// StartTURN starts a TURN server with cfg. ctx bounds only the start; stop
// the server with Shutdown.
func StartTURN(ctx context.Context, cfg TURNConfig) (*TURNServer, error) {
	if len(cfg.Secret) == 0 {
		return nil, errors.New("signalserver: TURN needs a secret")
	}
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("signalserver: TURN listen address: %w", err)
	}
	if cfg.PublicIP == nil {
		cfg.PublicIP = net.ParseIP(host)
		if cfg.PublicIP == nil || cfg.PublicIP.IsUnspecified() {
			return nil, fmt.Errorf("signalserver: TURN listens on %q: give its public IP", cfg.Listen)
		}
	}
	if cfg.RelayBind == "" {
		cfg.RelayBind = host
		if cfg.RelayBind == "" {
			cfg.RelayBind = "0.0.0.0"
		}
	}
	if cfg.Realm == "" {
		cfg.Realm = DefaultTURNRealm
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTURNTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxAllocationsPerUser == 0 {
		cfg.MaxAllocationsPerUser = DefaultTURNAllocationsPerUser
	}
	if cfg.MaxAllocationsPerIP == 0 {
		cfg.MaxAllocationsPerIP = DefaultTURNAllocationsPerIP
	}
	if cfg.RelayPortMin != 0 || cfg.RelayPortMax != 0 {
		if cfg.RelayPortMin < 1 || cfg.RelayPortMax > 65535 || cfg.RelayPortMin > cfg.RelayPortMax {
			return nil, fmt.Errorf("signalserver: TURN relay ports %d-%d: want 1 <= min <= max <= 65535", cfg.RelayPortMin, cfg.RelayPortMax)
		}
	}
	log := cfg.Logger.With("component", "turn")
	own, natPublic, err := ownAddresses(cfg.PublicIP, net.ParseIP(host), net.ParseIP(cfg.RelayBind))
	if err != nil {
		// Relays are still kept off the listening, relay and public
		// addresses' other ports.
		log.Warn("TURN cannot list the host's interface addresses to keep relays off them", "err", err)
	}
	udp, tcp, err := listenUDPAndTCP(ctx, host, port)
	if err != nil {
		return nil, fmt.Errorf("signalserver: TURN: %w", err)
	}
	t := &TURNServer{
		cfg:        cfg,
		udp:        udp,
		tcp:        &trackingListener{Listener: tcp, perIP: -1, conns: map[net.Conn]struct{}{}, ips: map[netip.Addr]int{}},
		quota:      newAllocQuota(cfg.MaxAllocationsPerUser, cfg.MaxAllocationsPerIP),
		log:        log,
		refusalLog: ratelog.Limiter{Interval: turnRefusalLogEvery, Burst: turnRefusalLogBurst},
		requestLog: ratelog.Limiter{Interval: turnRefusalLogEvery, Burst: turnRefusalLogBurst},
	}
	if cfg.MaxAllocationsPerIP > 0 {
		t.tcp.perIP = turnConnsPerAllocation * cfg.MaxAllocationsPerIP
	}
	t.tcp.refused = func(client net.Addr) { t.refuse(turnRefusedIPQuota, client, "", netip.AddrPort{}, "") }
	t.peers = &turnPeers{allow: slices.Clone(cfg.AllowPeers), own: own, natPublic: natPublic, refused: t.peerRefused}
	if natPublic.IsValid() {
		// Behind 1:1 NAT the public address leads to the relay bind
		// address (the wildcard: any of the public address's family).
		t.peers.natTarget = natPublic
		if bind, err := netip.ParseAddr(cfg.RelayBind); err == nil && !bind.Unmap().IsUnspecified() {
			t.peers.natTarget = bind.Unmap()
		}
	}
	relayBind, err := netip.ParseAddr(cfg.RelayBind)
	if err != nil {
		_ = udp.Close()
		_ = tcp.Close()
		return nil, fmt.Errorf("signalserver: TURN relay bind address %q: %w", cfg.RelayBind, err)
	}
	relayBind = relayBind.Unmap()
	relay := func() turn.RelayAddressGenerator {
		var g turn.RelayAddressGenerator = &turn.RelayAddressGeneratorStatic{RelayAddress: cfg.PublicIP, Address: cfg.RelayBind}
		if cfg.RelayPortMin != 0 {
			g = &turn.RelayAddressGeneratorPortRange{
				RelayAddress: cfg.PublicIP, Address: cfg.RelayBind,
				MinPort: uint16(cfg.RelayPortMin), MaxPort: uint16(cfg.RelayPortMax),
				// pion tries random ports in the range: enough tries that
				// a range nine-tenths full still serves 99.9 % of requests.
				MaxRetries: 64,
			}
		}
		return guardedRelays{RelayAddressGenerator: g, peers: t.peers, bind: relayBind}
	}
	t.srv, err = turn.NewServer(turn.ServerConfig{
		Realm:         cfg.Realm,
		AuthHandler:   t.authenticate,
		QuotaHandler:  t.reserve,
		EventHandler:  t.events(log),
		LoggerFactory: slogFactory{log},
		PacketConnConfigs: []turn.PacketConnConfig{
			{PacketConn: udp, RelayAddressGenerator: relay(), PermissionHandler: t.peers.permit},
		},
		ListenerConfigs: []turn.ListenerConfig{
			{Listener: t.tcp, RelayAddressGenerator: relay(), PermissionHandler: t.peers.permit},
		},
	})
	if err != nil {
		_ = udp.Close()
		_ = tcp.Close()
		return nil, fmt.Errorf("signalserver: TURN: %w", err)
	}
	log.Info("TURN server listening", "udp", udp.LocalAddr().String(), "tcp", tcp.Addr().String(), "public_ip", cfg.PublicIP.String(), "realm", cfg.Realm)
	return t, nil
}

// listenUDPAndTCP listens on the same port with both protocols. With port 0
// the UDP port is chosen first and TCP takes the same number, retried a few
// times in case another program holds that TCP port.
func listenUDPAndTCP(ctx context.Context, host, port string) (net.PacketConn, net.Listener, error) {
	var lc net.ListenConfig
	for attempt := 0; ; attempt++ {
		udp, err := lc.ListenPacket(ctx, "udp", net.JoinHostPort(host, port))
		if err != nil {
			return nil, nil, err
		}
		udpPort := strconv.Itoa(udp.LocalAddr().(*net.UDPAddr).Port)
		tcp, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, udpPort))
		if err == nil {
			return udp, tcp, nil
		}
		_ = udp.Close()
		if port != "0" || attempt == 10 {
			return nil, nil, err
		}
	}
}

// Addr returns the UDP address the server listens on; TCP uses the same port.
func (t *TURNServer) Addr() *net.UDPAddr { return t.udp.LocalAddr().(*net.UDPAddr) }

// URLs returns the server's turn: URLs for UDP and TCP, at its public IP.
func (t *TURNServer) URLs() []string {
	hostPort := net.JoinHostPort(t.cfg.PublicIP.String(), strconv.Itoa(t.Addr().Port))
	return []string{"turn:" + hostPort + "?transport=udp", "turn:" + hostPort + "?transport=tcp"}
}

// mint returns credentials for this server valid for its TTL, under a random
// id (which the server logs as the user).
func (t *TURNServer) mint() (username, password string, expiry time.Time) {
	return mintTURN(t.cfg.Secret, t.cfg.TTL)
}

// mintTURN mints credentials valid for ttl from now (DefaultTURNTTL if not
// positive) under a random id.
func mintTURN(secret []byte, ttl time.Duration) (username, password string, expiry time.Time) {
	if ttl <= 0 {
		ttl = DefaultTURNTTL
	}
	expiry = time.Now().Add(ttl).Truncate(time.Second)
	username, password = mintTURNCredential(secret, randomID(), expiry)
	return username, password, expiry
}

// randomID is 16 random hex digits: the id of a minted TURN credential (which
// names it in TURN logs without saying who got it) or of a server instance.
func randomID() string {
	var id [8]byte
	_, _ = rand.Read(id[:])
	return hex.EncodeToString(id[:])
}

// Metrics returns the server's live counters.
func (t *TURNServer) Metrics() *TURNMetrics { return &t.metrics }

// Shutdown closes the listeners, every allocation and every TCP
// connection, and waits for the TCP connections to end or ctx to end.
func (t *TURNServer) Shutdown(ctx context.Context) error {
	err := t.srv.Close() // closes the UDP conn and the TCP listener
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	// pion/turn leaves accepted TCP connections open until their client
	// closes them; a shutdown must not wait for clients.
	return errors.Join(err, t.tcp.closeAll(ctx))
}

// authenticate is pion's AuthHandler: it returns the long-term key of a
// username that has not expired. pion then checks the request's
// MESSAGE-INTEGRITY against that key, which fails for a forged password.
func (t *TURNServer) authenticate(ra *turn.RequestAttributes) (string, []byte, bool) {
	expiry, err := turnExpiry(ra.Username)
	if err != nil {
		t.metrics.AuthInvalid.Add(1)
		return "", nil, false
	}
	if time.Now().After(expiry) {
		t.metrics.AuthExpired.Add(1)
		return "", nil, false
	}
	_, id, _ := strings.Cut(ra.Username, ":")
	return id, turn.GenerateAuthKey(ra.Username, ra.Realm, turnPassword(t.cfg.Secret, ra.Username)), true
}

func (t *TURNServer) events(log *slog.Logger) turn.EventHandler {
	return turn.EventHandler{
		OnAuth: func(src, _ net.Addr, _, username, _, method string, verdict bool) {
			if !verdict {
				t.metrics.AuthInvalid.Add(1)
				t.debug(log, "TURN request with a wrong password", "remote", src, "username", username, "method", method)
			}
		},
		OnAllocationCreated: func(src, _ net.Addr, protocol, userID, _ string, relay net.Addr, _ int) {
			t.quota.created(userID, src)
			t.metrics.Allocations.Add(1)
			t.metrics.AllocationsTotal.Add(1)
			t.debug(log, "TURN allocation created", "remote", src, "protocol", protocol, "user", userID, "relay", relay)
		},
		OnAllocationDeleted: func(src, _ net.Addr, protocol, userID, _ string) {
			t.quota.deleted(src)
			t.metrics.Allocations.Add(-1)
			t.debug(log, "TURN allocation deleted", "remote", src, "protocol", protocol, "user", userID)
		},
		// pion reports every request that failed, an Allocate among them
		// when no relay socket could be made after the quota reserved its
		// place.
		OnAllocationError: func(src, _ net.Addr, _, _ string) { t.quota.failed(src) },
	}
}

// reserve is pion's QuotaHandler: it reserves a place for an allocation of
// user from src, or refuses it (486 Allocation Quota Reached).
func (t *TURNServer) reserve(user, _ string, src net.Addr) bool {
	reason, ok := t.quota.reserve(user, src)
	if !ok {
		t.refuse(reason, src, user, netip.AddrPort{}, "")
	}
	return ok
}

// peerRefused counts and logs a peer address refused by the peer policy.
func (t *TURNServer) peerRefused(client net.Addr, user string, peer netip.AddrPort, why string) {
	t.refuse(turnRefusedPeer, client, user, peer, why)
}

// debug writes a debug line about a client's request, within the request
// log's rate: clients send requests at will.
func (t *TURNServer) debug(log *slog.Logger, msg string, args ...any) {
	t.requestLog.Log(context.Background(), log, slog.LevelDebug, msg, args...)
}

// refuse counts a refusal and logs it, within the refusal log's rate.
func (t *TURNServer) refuse(reason turnRefusal, client net.Addr, user string, peer netip.AddrPort, why string) {
	t.metrics.refused[reason].Add(1)
	if !t.log.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	ok, held := t.refusalLog.Allow()
	if !ok {
		return
	}
	attrs := []any{"reason", turnRefusalNames[reason]}
	if client != nil {
		attrs = append(attrs, "remote", client.String())
	}
	if user != "" {
		attrs = append(attrs, "user", user)
	}
	switch {
	case peer.Port() != 0:
		attrs = append(attrs, "peer", peer.String(), "peer_range", why)
	case peer.Addr().IsValid(): // a permission: for an IP, any port
		attrs = append(attrs, "peer", peer.Addr().String(), "peer_range", why)
	}
	if held > 0 {
		attrs = append(attrs, "suppressed", held)
	}
	t.log.Info("TURN request refused", attrs...)
}

// writePrometheus writes the TURN metrics in the Prometheus text format.
func (m *TURNMetrics) writePrometheus(w io.Writer) {
	promMetric(w, "gauge", "signalserver_turn_allocations", "Live TURN allocations.", m.Allocations.Load())
	promMetric(w, "counter", "signalserver_turn_allocations_total", "TURN allocations created.", m.AllocationsTotal.Load())
	failures := [...]*atomic.Int64{&m.AuthExpired, &m.AuthInvalid}
	promLabelled(w, "signalserver_turn_auth_failures_total", "TURN requests refused for their credentials, by reason.",
		[]string{"expired", "invalid"}, func(i int) int64 { return failures[i].Load() })
	promLabelled(w, "signalserver_turn_refused_total", "TURN requests, relayed packets and connections of authenticated clients refused, by reason.",
		turnRefusalNames[:], func(i int) int64 { return m.refused[i].Load() })
}

// trackingListener remembers the connections it accepted so that Shutdown
// can close them, and caps those from one client IP (per /64 for IPv6):
// they need no credentials, and pion reads them without a deadline, so
// each one held costs the process a descriptor and a goroutine for as long
// as the client likes.
type trackingListener struct {
	net.Listener
	perIP   int                   // < 0: no cap
	refused func(client net.Addr) // a connection closed for the cap
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	ips     map[netip.Addr]int
	closed  bool
	wg      sync.WaitGroup
}

// turnConnsPerAllocation is how many TCP connections per allocation of its
// quota a client IP may hold: the allocation's control connection and one
// RFC 6062 data connection.
const turnConnsPerAllocation = 2

func (l *trackingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		tc, err := l.track(c)
		if tc != nil || err != nil {
			return tc, err
		}
		// Over its IP's cap: closed; pion's accept loop must go on.
	}
}

// track takes c on, or closes it: with nil, nil when its IP is over the
// cap.
func (l *trackingListener) track(c net.Conn) (net.Conn, error) {
	var ip netip.Addr
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ip = quotaIP(a.AddrPort().Addr())
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		_ = c.Close()
		return nil, net.ErrClosed
	case l.perIP >= 0 && l.ips[ip] >= l.perIP:
		_ = c.Close()
		if l.refused != nil {
			l.refused(c.RemoteAddr())
		}
		return nil, nil
	}
	l.ips[ip]++
	tc := &trackedConn{Conn: c, l: l, ip: ip}
	l.conns[tc] = struct{}{}
	l.wg.Add(1)
	return tc, nil
}

func (l *trackingListener) closeAll(ctx context.Context) error {
	l.mu.Lock()
	l.closed = true
	conns := make([]net.Conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("signalserver: TURN shutdown: %w", ctx.Err())
	}
}

type trackedConn struct {
	net.Conn
	l    *trackingListener
	ip   netip.Addr // its client's, as counted
	once sync.Once
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		if c.l.ips[c.ip]--; c.l.ips[c.ip] <= 0 {
			delete(c.l.ips, c.ip)
		}
		c.l.mu.Unlock()
		c.l.wg.Done()
	})
	return err
}

// slogFactory routes pion's leveled logs to slog. pion's errors about single
// requests (a client with a stale nonce, say) are debug noise for a server,
// and so are its infos and warnings: each is about one request or packet
// (a permission refused, a datagram from a peer without one), which a
// remote party can repeat at will. The server logs refusals itself, rate
// limited.
type slogFactory struct{ log *slog.Logger }

func (f slogFactory) NewLogger(scope string) logging.LeveledLogger {
	return slogLeveled{f.log.With("scope", scope)}
}

type slogLeveled struct{ log *slog.Logger }

func (l slogLeveled) Trace(msg string)                  {}
func (l slogLeveled) Tracef(format string, args ...any) {}
func (l slogLeveled) Debug(msg string)                  { l.log.Debug(msg) }
func (l slogLeveled) Debugf(format string, args ...any) { l.debugf(format, args...) }
func (l slogLeveled) Info(msg string)                   { l.log.Debug(msg) }
func (l slogLeveled) Infof(format string, args ...any)  { l.debugf(format, args...) }
func (l slogLeveled) Warn(msg string)                   { l.log.Debug(msg) }
func (l slogLeveled) Warnf(format string, args ...any)  { l.debugf(format, args...) }
func (l slogLeveled) Error(msg string)                  { l.log.Debug(msg) }
func (l slogLeveled) Errorf(format string, args ...any) { l.debugf(format, args...) }

// debugf formats only when debug logs are on: pion logs per packet.
func (l slogLeveled) debugf(format string, args ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(fmt.Sprintf(format, args...))
	}
}
