package transport

import (
	"context"
	"log/slog"
	"maps"
	"time"

	"github.com/rollbox/rollbox/internal/ratelog"
)

// remoteLogInterval is the least time between two log lines about one
// remote party (a peer, or the signalling server): a party that sends
// garbage in a loop gets one line per interval, and the next line carries
// the number held back.
const remoteLogInterval = 10 * time.Second

// newRemoteLimiter returns the log limiter of one remote party.
func newRemoteLimiter(now func() time.Time) ratelog.Limiter {
	return ratelog.Limiter{Interval: remoteLogInterval, Now: now}
}

// Stats counts what remote parties sent that the socket refused, and the log
// lines about them that rate limiting held back.
type Stats struct {
	// Malformed counts the messages that peers and the signalling server
	// sent since the socket joined and that the socket dropped because they
	// broke the protocol: chunk frames that cannot make a message (cut
	// short, inconsistent, or over MaxMessageSize), and signalling frames,
	// signals and ICE candidates that cannot be parsed or come out of
	// place.
	Malformed uint64
	// LogsSuppressed counts the log lines held back since the socket
	// joined. Each remote party gets one line about what it sent every 10
	// seconds; the next line carries the number held back ("suppressed").
	LogsSuppressed uint64
	// Peers holds the counters of the peers the socket has now, connected
	// or connecting. The totals above include those of peers since gone.
	Peers map[PeerID]PeerStats
}

// PeerStats counts what one peer sent that the socket refused.
type PeerStats struct {
	// Malformed counts its messages dropped as in Stats.Malformed.
	Malformed uint64
	// LogsSuppressed counts the log lines about it held back since it
	// connected; before, lines about a peer count as the signalling
	// server's, which could otherwise mint peer ids to log without limit.
	LogsSuppressed uint64
}

// Stats returns the socket's counters of refused messages and held-back log
// lines: a peer that sends garbage shows here even though the log says so
// only once every few seconds.
func (s *Socket) Stats() Stats {
	st := Stats{Malformed: s.malformed.Load(), LogsSuppressed: s.suppressed.Load()}
	s.mu.Lock()
	peers := maps.Clone(s.peers)
	s.mu.Unlock()
	st.Peers = make(map[PeerID]PeerStats, len(peers))
	for id, p := range peers {
		st.Peers[id] = PeerStats{Malformed: p.malformed.Load(), LogsSuppressed: p.logs.Suppressed()}
	}
	return st
}

// logRemote writes a line that a remote party made happen, rate limited per
// party: p once it has connected, else the signalling server (p nil, or a
// peer still negotiating through it).
func (s *Socket) logRemote(p *peer, level slog.Level, msg string, args ...any) {
	logs := &s.serverLogs
	if p != nil && p.ownLogs.Load() {
		logs = &p.logs
	}
	if logs.Log(context.Background(), s.log, level, msg, args...) {
		s.suppressed.Add(1)
	}
}

// refuse counts n malformed messages from p (the signalling server for p
// nil) and logs why they were dropped, rate limited.
func (s *Socket) refuse(p *peer, n uint64, msg string, args ...any) {
	s.countMalformed(p, n)
	s.logRemote(p, slog.LevelWarn, msg, args...)
}

// countMalformed counts n malformed messages from p without a log line.
func (s *Socket) countMalformed(p *peer, n uint64) {
	if p != nil {
		p.malformed.Add(n)
	}
	s.malformed.Add(n)
}
