package transport

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rollbox/rollbox/signalwire"
)

// maxICEBody bounds the /ice answer read: a list of a few servers.
const maxICEBody = 64 << 10

// iceURL returns the URL of the ICE server list next to a room URL:
// ws://host:3536/room?next=2 gives http://host:3536/ice, and a server
// mounted under a prefix (wss://host/signal/room) gives https://host/signal/ice.
// The room's token, if any, goes along: a server with room tokens on hands
// TURN credentials only to token holders.
func iceURL(room *url.URL) *url.URL {
	u := *room
	u.Scheme = map[string]string{"ws": "http", "wss": "https"}[room.Scheme]
	u.Path = path.Join(path.Dir(room.Path), "ice")
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	if token := room.Query().Get("token"); token != "" {
		u.RawQuery = url.Values{"token": {token}}.Encode()
	}
	return &u
}

// fetchICEServers asks the signalling server for its ICE servers (GET /ice,
// as served by package signalserver): TURN credentials minted for this join.
// A server that does not offer them (matchbox_server answers 426) gives
// none, so the option is safe against any matchbox server.
func fetchICEServers(ctx context.Context, room *url.URL) ([]ICEServer, error) {
	u := iceURL(room)
	status, body, err := httpGet(ctx, u.String(), maxICEBody)
	if err != nil {
		return nil, fmt.Errorf("transport: ICE servers: %w", err)
	}
	if status != 200 {
		return nil, nil
	}
	servers, err := signalwire.ParseICEServers(body)
	if err != nil {
		return nil, fmt.Errorf("transport: ICE servers from %s: %w", u, err)
	}
	return servers, nil
}

// serverICE is the ICE server list the signalling server handed out, and
// when the first of its TURN credentials expires (zero: none do).
type serverICE struct {
	servers []ICEServer
	fetched time.Time
	expires time.Time
}

// fetchServerICE fetches the signalling server's ICE servers for
// Config.ICEFromServer.
func fetchServerICE(ctx context.Context, room *url.URL) (*serverICE, error) {
	servers, err := fetchICEServers(ctx, room)
	if err != nil {
		return nil, err
	}
	ice := &serverICE{servers: servers, fetched: time.Now()}
	for _, s := range servers {
		if exp, ok := turnExpiry(s.Username); ok && (ice.expires.IsZero() || exp.Before(ice.expires)) {
			ice.expires = exp
		}
	}
	return ice, nil
}

// turnExpiry reads the expiry of a TURN REST API username, "<unix
// expiry>:<id>" (what signalserver and coturn's use-auth-secret use).
func turnExpiry(username string) (time.Time, bool) {
	secs, _, ok := strings.Cut(username, ":")
	if !ok {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// refreshAt is when to fetch new credentials: with a quarter of their
// lifetime left, so that a peer met after that still gets valid ones.
func (ice *serverICE) refreshAt() time.Time {
	return ice.fetched.Add(ice.expires.Sub(ice.fetched) * 3 / 4)
}

// keepICEFresh fetches the signalling server's ICE servers again before
// their credentials expire, for as long as the socket lives: a socket may
// meet new peers hours after it joined. Peer connections made earlier keep
// the allocations they have.
func (s *Socket) keepICEFresh(room *url.URL) {
	defer s.wg.Done()
	retry, failed := time.Second, false
	for {
		cur := s.ice.Load()
		if cur == nil || cur.expires.IsZero() {
			return
		}
		if !cur.expires.After(cur.fetched) {
			s.log.Warn("TURN credentials from the signalling server expired on arrival; is a clock wrong?", "expire", cur.expires)
			return
		}
		wait := max(time.Until(cur.refreshAt()), time.Second)
		if failed { // try again soon
			wait = retry
			retry = min(2*retry, time.Minute)
		}
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(wait):
		}
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		fresh, err := fetchServerICE(ctx, room)
		cancel()
		switch {
		case s.ctx.Err() != nil:
			return
		case err != nil:
			s.log.Warn("refreshing ICE servers failed; keeping the old ones", "err", err, "expire", cur.expires)
			failed = true
		default:
			s.log.Debug("ICE servers refreshed", "count", len(fresh.servers), "expire", fresh.expires)
			s.ice.Store(fresh)
			retry, failed = time.Second, false
		}
	}
}

// iceServers returns the ICE servers for a new peer connection: the
// signalling server's, if fetched, before Config.ICEServers.
func (s *Socket) iceServers() []ICEServer {
	ice := s.ice.Load()
	if ice == nil {
		return s.cfg.ICEServers
	}
	return append(slices.Clip(ice.servers), s.cfg.ICEServers...)
}
