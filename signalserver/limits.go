package signalserver

import (
	"net"
	"net/http"
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

// clientIP returns the address limits apply to.
func clientIP(r *http.Request, realIPHeader string) string {
	if realIPHeader != "" {
		if v := strings.TrimSpace(r.Header.Get(realIPHeader)); v != "" {
			// X-Forwarded-For style lists: the proxy appends the address it saw.
			if i := strings.LastIndexByte(v, ','); i >= 0 {
				v = strings.TrimSpace(v[i+1:])
			}
			return v
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
