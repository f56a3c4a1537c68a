package signalserver

import (
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ipLimits enforces the per-IP caps on concurrent connections and join rate.
// Its map is swept of idle addresses as it grows, so a scan from many
// addresses cannot grow it without bound.
type ipLimits struct {
	maxConns int        // < 0: no cap
	joins    rate.Limit // < 0: no limit
	burst    int

	mu        sync.Mutex
	perIP     map[string]*ipState
	lastSweep time.Time
}

type ipState struct {
	conns  int
	joins  *rate.Limiter
	active time.Time // last admission
}

// sweepAbove is the map size above which admissions look for idle entries.
const sweepAbove = 4096

func newIPLimits(c Config) *ipLimits {
	return &ipLimits{
		maxConns: c.MaxConnsPerIP,
		joins:    rate.Limit(c.JoinsPerSecondPerIP),
		burst:    c.JoinBurstPerIP,
		perIP:    make(map[string]*ipState),
	}
}

// admit takes a connection slot and a join token for ip. It returns the
// refusal reason, or "" and a release func to call when the connection ends.
func (l *ipLimits) admit(ip string, now time.Time) (release func(), reason refusal) {
	if l.maxConns < 0 && l.joins < 0 {
		return func() {}, refusalNone
	}
	ip = clientKey(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	st := l.perIP[ip]
	if st == nil {
		st = &ipState{}
		if l.joins >= 0 {
			st.joins = rate.NewLimiter(l.joins, l.burst)
		}
		l.perIP[ip] = st
	}
	st.active = now
	if l.maxConns >= 0 && st.conns >= l.maxConns {
		return nil, refusalIPConns
	}
	if st.joins != nil && !st.joins.AllowN(now, 1) {
		return nil, refusalIPRate
	}
	st.conns++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			st.conns--
			l.mu.Unlock()
		})
	}, refusalNone
}

// sweep drops entries with no connections whose join bucket has refilled, so
// forgetting them changes nothing. It runs at most once a second.
func (l *ipLimits) sweep(now time.Time) {
	if len(l.perIP) < sweepAbove || now.Sub(l.lastSweep) < time.Second {
		return
	}
	l.lastSweep = now
	refill := time.Second
	if l.joins > 0 {
		refill = time.Duration(float64(l.burst) / float64(l.joins) * float64(time.Second))
	}
	for ip, st := range l.perIP {
		if st.conns == 0 && now.Sub(st.active) > refill {
			delete(l.perIP, ip)
		}
	}
}

// realIP finds the client address behind trusted reverse proxies.
type realIP struct {
	header  string         // "": the TCP peer is the client
	trusted []netip.Prefix // the proxies whose header is believed
}

// trusts reports whether a is a trusted proxy whose header names the client.
func (ri realIP) trusts(a netip.Addr) bool {
	if ri.header == "" || !a.IsValid() {
		return false
	}
	for _, p := range ri.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientIP returns the address limits apply to: the TCP peer, or, when the
// peer is a trusted proxy, the right-most address of its header that is not
// a trusted proxy itself. Every proxy appends the address it saw, so
// anything left of that is the client's own claim, which it could forge.
func (ri realIP) clientIP(r *http.Request) string {
	peer, ok := parseHop(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr
	}
	if !ri.trusts(peer) {
		return peer.String()
	}
	client := peer
	values := r.Header.Values(ri.header)
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for v != "" {
			hop := v
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				hop, v = v[j+1:], v[:j]
			} else {
				v = ""
			}
			hop = strings.TrimSpace(hop)
			if hop == "" {
				continue
			}
			a, ok := parseHop(hop)
			if !ok {
				// Not an address: believe nothing further left, and hold the
				// nearest trusted hop responsible.
				return client.String()
			}
			client = a
			if !ri.trusts(a) {
				return a.String()
			}
		}
	}
	// No header, or every hop is a trusted proxy: the left-most is the client.
	return client.String()
}

// clientKey returns the key the per-IP limits count ip under: an IPv6
// address by its /64, which one host holds whole (SLAAC privacy addresses
// rotate within it), so that a host cannot dodge the limits by picking
// fresh addresses; an IPv4 address by itself.
func clientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	return clientAddrKey(a).String()
}

// clientAddrKey is clientKey for a parsed address.
func clientAddrKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if !a.Is6() {
		return a
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return a
	}
	return p.Addr()
}

// parseHop parses an address as proxies write it: bare, or with a port; an
// IPv6 one in brackets with or without a port.
func parseHop(s string) (netip.Addr, bool) {
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}
