package signalserver

import (
	"errors"
	"maps"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/turn/v5"
)

// errPeerRefused is what a relay socket answers pion when it refuses to send
// to a peer; pion turns it into an error response (TCP Connect) or drops the
// packet (UDP).
var errPeerRefused = errors.New("signalserver: TURN peer address refused")

// Ranges no relay may reach unless TURNConfig.AllowPeers lists them, besides
// what netip.Addr's predicates catch (loopback, unspecified, RFC 1918 and
// ULA private, link-local, multicast). They lead into the host itself or
// the networks around it, never to a player on the internet.
var refusedPeerRanges = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this_network"}, // Linux routes 0.x to the host itself
	{netip.MustParsePrefix("100.64.0.0/10"), "shared"},   // carrier-grade NAT (RFC 6598), a provider's inside
	{netip.MustParsePrefix("192.0.0.0/24"), "special"},   // IETF protocol assignments (DS-Lite, NAT64 discovery)
	{netip.MustParsePrefix("198.18.0.0/15"), "special"},  // benchmarking, used for lab and internal networks
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},   // class E and the limited broadcast 255.255.255.255
	{netip.MustParsePrefix("::/96"), "ipv4_compatible"},  // deprecated IPv4-compatible addresses
	{netip.MustParsePrefix("fec0::/10"), "site_local"},   // deprecated site-local, still private where used
	{netip.MustParsePrefix("64:ff9b:1::/48"), "nat64"},   // local-use NAT64 (RFC 8215): a private network's translator
	{netip.MustParsePrefix("100::/64"), "discard"},       // discard-only (RFC 6666)
}

// refusedPeer says why a relay must not reach ip ("" if it may): it names
// the first range ip falls in. IPv4 addresses written as IPv6 (mapped, or
// embedded in NAT64 and 6to4 prefixes) are judged as the IPv4 address they
// lead to.
func refusedPeer(ip netip.Addr) string {
	ip = ip.Unmap()
	if v4, ok := embeddedIPv4(ip); ok {
		if why := refusedPeer(v4); why != "" {
			return why
		}
	}
	switch {
	case !ip.IsValid():
		return "invalid"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private"
	case ip.IsLinkLocalUnicast():
		return "link_local"
	case ip.IsMulticast():
		return "multicast"
	}
	for _, r := range refusedPeerRanges {
		if r.prefix.Contains(ip) {
			return r.why
		}
	}
	return ""
}

var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052 well-known prefix
	sixToFour   = netip.MustParsePrefix("2002::/16")    // RFC 3056
)

// embeddedIPv4 returns the IPv4 address an IPv6 address relays to through
// a NAT64 translator (64:ff9b::a.b.c.d) or a 6to4 router (2002:AABB:CCDD::).
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	b := ip.As16()
	switch {
	case nat64Prefix.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

// turnPeers is the TURN server's peer policy: which peer addresses its
// relays may reach.
//
// The host's own addresses are special: the relays of two players behind
// the same TURN server talk to each other at the server's address, so a
// permission for it is granted, but a relay then reaches only the ports of
// this server's live relays there, never another service of the host. No
// allowed range opens them further.
type turnPeers struct {
	allow []netip.Prefix
	own   map[netip.Addr]struct{} // unmapped; never written after start
	// natPublic is the public IP when no interface of the host has it (1:1
	// NAT): what reaches it there reaches natTarget, the address the relays
	// bind. Invalid otherwise.
	natPublic, natTarget netip.Addr
	ports                relayPorts
	refused              func(client net.Addr, user string, peer netip.AddrPort, why string)
	// learned holds the host's addresses permit found that own lacks:
	// those it got after the start. Replaced, never changed, so that the
	// per-datagram check reads it without a lock; only ever grows, by the
	// host's own addresses.
	learned   atomic.Pointer[map[netip.Addr]struct{}]
	learnedMu sync.Mutex // serialises replacing learned
	local     hostAddrs
}

// permit is pion's PermissionHandler, asked for CreatePermission,
// ChannelBind and Connect (RFC 6062).
func (p *turnPeers) permit(client net.Addr, peerIP net.IP) bool {
	ip, ok := netip.AddrFromSlice(peerIP)
	ip = ip.Unmap()
	if !ok {
		p.refused(client, "", netip.AddrPortFrom(ip, 0), "invalid")
		return false
	}
	if p.isOwn(ip) {
		return true // ports are checked per packet and connection
	}
	for _, allowed := range p.allow {
		if allowed.Contains(ip) {
			return true
		}
	}
	if why := refusedPeer(ip); why != "" {
		p.refused(client, "", netip.AddrPortFrom(ip, 0), why)
		return false
	}
	// A public address the host got after the start: from now on its
	// ports are checked as the others'. (One it gets after this
	// permission was granted goes unchecked until the next.)
	if p.local.has(ip) {
		p.learn(ip)
	}
	return true
}

func (p *turnPeers) isOwn(ip netip.Addr) bool {
	if _, own := p.own[ip]; own {
		return true
	}
	if learned := p.learned.Load(); learned != nil {
		_, own := (*learned)[ip]
		return own
	}
	return false
}

// learn adds ip to the host's own addresses.
func (p *turnPeers) learn(ip netip.Addr) {
	p.learnedMu.Lock()
	defer p.learnedMu.Unlock()
	next := map[netip.Addr]struct{}{ip: {}}
	if old := p.learned.Load(); old != nil {
		maps.Copy(next, *old)
	}
	p.learned.Store(&next)
}

// hostAddrs is the host's interface addresses, listed again when asked
// about an address once the list is older than hostAddrsMaxAge: clients
// ask at will (every permission for a public address), and listing them
// is a netlink dump. Asking the kernel to bind the address instead would
// be cheaper but wrong where ip_nonlocal_bind lets any address bind.
type hostAddrs struct {
	mu     sync.Mutex
	listed time.Time
	addrs  map[netip.Addr]struct{}
}

const hostAddrsMaxAge = time.Second

// has reports whether the host had ip at most hostAddrsMaxAge ago.
func (h *hostAddrs) has(ip netip.Addr) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if now := time.Now(); h.listed.IsZero() || now.Sub(h.listed) >= hostAddrsMaxAge {
		h.listed = now
		// Should listing fail, the last list stays.
		if addrs, err := net.InterfaceAddrs(); err == nil {
			h.addrs = map[netip.Addr]struct{}{}
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok {
					if a, ok := netip.AddrFromSlice(n.IP); ok {
						h.addrs[a.Unmap()] = struct{}{}
					}
				}
			}
		}
	}
	_, ok := h.addrs[ip]
	return ok
}

// reachable says whether a relay may send to ip:port once its permission
// is granted: anywhere but the host's own addresses, where only the live
// relays of this server are. A relay socket holds its port at its own
// address only, or at every address of its family when bound to the
// wildcard: an IPv6 relay on [::]:P leaves P free on IPv4, and one bound to
// 10.0.0.5:P leaves 127.0.0.1:P free, for another service of the host to
// take.
func (p *turnPeers) reachable(network relayNetwork, ip netip.Addr, port int) bool {
	ip = ip.Unmap()
	if !p.isOwn(ip) {
		return true
	}
	if ip == p.natPublic {
		ip = p.natTarget
	}
	wildcard := netip.IPv6Unspecified()
	if ip.Is4() {
		wildcard = netip.IPv4Unspecified()
	}
	return p.ports.has(network, ip, wildcard, port)
}

// ownAddresses returns the addresses that lead to this host: the given
// ones (listening, relay and public addresses; unspecified ones skipped)
// and those of its interfaces; and whether the first given one (the public
// address) is only given, on no interface: the address of a 1:1 NAT.
func ownAddresses(public net.IP, ips ...net.IP) (own map[netip.Addr]struct{}, natPublic netip.Addr, err error) {
	own = map[netip.Addr]struct{}{}
	add := func(ip net.IP) {
		if a, ok := netip.AddrFromSlice(ip); ok && !a.Unmap().IsUnspecified() {
			own[a.Unmap()] = struct{}{}
		}
	}
	for _, ip := range ips {
		add(ip)
	}
	addrs, err := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			add(n.IP)
		}
	}
	if a, ok := netip.AddrFromSlice(public); ok && !a.Unmap().IsUnspecified() {
		if _, local := own[a.Unmap()]; !local && err == nil {
			natPublic = a.Unmap()
		}
	}
	add(public)
	return own, natPublic, err
}

// relayNetwork is the transport of a relay socket.
type relayNetwork uint8

const (
	relayUDP relayNetwork = iota
	relayTCP
)

// relayPorts counts this server's live relay sockets per local address
// (unmapped; unspecified for the wildcard) and port. Counts rather than a
// set, though a port has one relay (UDP relays bind it alone; TCP relay
// listeners, which SO_REUSEPORT lets share one, claim it): a count cannot
// be forgotten by the wrong socket's Close.
type relayPorts struct {
	mu    sync.RWMutex
	count [2]map[netip.AddrPort]int
}

func (r *relayPorts) add(network relayNetwork, local netip.Addr, port int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.count[network] == nil {
		r.count[network] = map[netip.AddrPort]int{}
	}
	r.count[network][netip.AddrPortFrom(local.Unmap(), uint16(port))]++
}

// claim adds a relay socket at local and port if none is there yet, and
// says whether it did.
func (r *relayPorts) claim(network relayNetwork, local netip.Addr, port int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := netip.AddrPortFrom(local.Unmap(), uint16(port))
	if r.count[network][key] > 0 {
		return false
	}
	if r.count[network] == nil {
		r.count[network] = map[netip.AddrPort]int{}
	}
	r.count[network][key] = 1
	return true
}

func (r *relayPorts) remove(network relayNetwork, local netip.Addr, port int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := netip.AddrPortFrom(local.Unmap(), uint16(port))
	switch n := r.count[network][key]; {
	case n > 1:
		r.count[network][key] = n - 1
	case n == 1:
		delete(r.count[network], key)
	}
}

// has says whether a relay socket holds port at the address local or
// wildcard (the wildcard of local's family): one lock for both.
func (r *relayPorts) has(network relayNetwork, local, wildcard netip.Addr, port int) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	count := r.count[network]
	return count[netip.AddrPortFrom(local, uint16(port))] > 0 || count[netip.AddrPortFrom(wildcard, uint16(port))] > 0
}

// guardedRelays wraps pion's relay address generator: it records the port
// of every relay socket and holds the sockets to the peer policy's port
// rule.
type guardedRelays struct {
	turn.RelayAddressGenerator
	peers *turnPeers
	bind  netip.Addr // the address relay sockets bind, unmapped
}

// boundAddr is the local address a relay socket of network ("udp4",
// "tcp6"...) holds its port at: the bind address, or for the wildcard the
// wildcard of network's family, which holds the port on that family only.
// It cannot be read back from the socket: pion's generators overwrite the
// IP of its LocalAddr with the relay's public address.
func (g guardedRelays) boundAddr(network string) netip.Addr {
	switch {
	case !g.bind.IsUnspecified():
		return g.bind
	case strings.HasSuffix(network, "6"):
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

func (g guardedRelays) AllocatePacketConn(c turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	conn, addr, err := g.RelayAddressGenerator.AllocatePacketConn(c)
	if err != nil {
		return nil, nil, err
	}
	local, ok := conn.LocalAddr().(*net.UDPAddr)
	if !ok { // cannot happen with pion's generators
		_ = conn.Close()
		return nil, nil, errors.New("signalserver: TURN relay socket is not UDP")
	}
	bound := g.boundAddr(c.Network)
	g.peers.ports.add(relayUDP, bound, local.Port)
	return &guardedPacketConn{PacketConn: conn, peers: g.peers, user: c.UserID, local: bound, port: local.Port}, addr, nil
}

// AllocateListener binds a TCP relay listener on a port no other relay
// listener holds. pion binds them with SO_REUSEPORT (a relay dials its RFC
// 6062 peers from its own port), so a port another allocation listens on
// binds again, and the kernel would then share that allocation's incoming
// connections with the newcomer: a client that learned another's relay
// address could take over its connections. A shared port is closed at once
// (a connection that reached it meanwhile is reset, never read) and
// another one tried.
func (g guardedRelays) AllocateListener(c turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	bound := g.boundAddr(c.Network)
	for range relayListenTries {
		ln, addr, err := g.RelayAddressGenerator.AllocateListener(c)
		if err != nil {
			return nil, nil, err
		}
		local, ok := ln.Addr().(*net.TCPAddr)
		if !ok { // cannot happen with pion's generators
			_ = ln.Close()
			return nil, nil, errors.New("signalserver: TURN relay listener is not TCP")
		}
		if g.peers.ports.claim(relayTCP, bound, local.Port) {
			return &guardedListener{Listener: ln, peers: g.peers, local: bound, port: local.Port}, addr, nil
		}
		_ = ln.Close()
		if c.RequestedPort != 0 {
			break // a reservation names one port
		}
	}
	return nil, nil, errRelayPortShared
}

// relayListenTries is how many listeners AllocateListener binds before it
// gives up finding a port of its own: as many as pion's port range tries
// ports (a range nine-tenths full still serves 99.9 % of requests).
const relayListenTries = 64

// errRelayPortShared fails an allocation whose relay listener found only
// ports that other allocations listen on.
var errRelayPortShared = errors.New("signalserver: TURN relay ports all held by other allocations")

// AllocateConn dials a peer for an RFC 6062 Connect, whose IP the
// permission handler has let through.
func (g guardedRelays) AllocateConn(c turn.AllocateConnConfig) (net.Conn, error) {
	peer, ok := c.RemoteAddr.(*net.TCPAddr)
	if !ok {
		return nil, errPeerRefused
	}
	if ip, _ := netip.AddrFromSlice(peer.IP); !g.peers.reachable(relayTCP, ip, peer.Port) {
		g.peers.refused(nil, c.UserID, netip.AddrPortFrom(ip.Unmap(), uint16(peer.Port)), "own_address")
		return nil, errPeerRefused
	}
	return g.RelayAddressGenerator.AllocateConn(c)
}

// guardedPacketConn is a UDP relay socket that sends only where the peer
// policy's port rule lets it.
type guardedPacketConn struct {
	net.PacketConn
	peers *turnPeers
	user  string
	local netip.Addr // unmapped
	port  int
	once  sync.Once
}

func (c *guardedPacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if peer, ok := addr.(*net.UDPAddr); ok {
		if ip, _ := netip.AddrFromSlice(peer.IP); !c.peers.reachable(relayUDP, ip, peer.Port) {
			c.peers.refused(nil, c.user, netip.AddrPortFrom(ip.Unmap(), uint16(peer.Port)), "own_address")
			return 0, errPeerRefused
		}
	}
	return c.PacketConn.WriteTo(b, addr)
}

// Close forgets the port before closing, so that a socket which takes the
// port next is not forgotten in its place.
func (c *guardedPacketConn) Close() error {
	c.once.Do(func() { c.peers.ports.remove(relayUDP, c.local, c.port) })
	return c.PacketConn.Close()
}

type guardedListener struct {
	net.Listener
	peers *turnPeers
	local netip.Addr // unmapped
	port  int
	once  sync.Once
}

func (l *guardedListener) Close() error {
	l.once.Do(func() { l.peers.ports.remove(relayTCP, l.local, l.port) })
	return l.Listener.Close()
}
