package signalserver

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/rollbox/rollbox/signalwire"
)

// ICEConfig lists the ICE servers GET /ice offers to clients.
type ICEConfig struct {
	// STUN lists STUN server URLs ("stun:stun.example.org:3478").
	STUN []string
	// TURN, when not nil, is the embedded TURN server: each GET /ice gets
	// its URLs with freshly minted credentials, and /metrics its counters.
	TURN *TURNServer
	// TURNURLs lists the turn: URLs of an external TURN server, such as
	// coturn with use-auth-secret and static-auth-secret=TURNSecret: each
	// GET /ice gets them with credentials minted for TURNTTL (default
	// DefaultTURNTTL). This is how to swap the embedded server for coturn.
	TURNURLs   []string
	TURNSecret []byte
	TURNTTL    time.Duration
}

// iceServers returns the ICE servers to hand a client now: the STUN servers
// and, with an embedded TURN server, its URLs with credentials valid for its
// TTL. Clients thus never ship a long-lived TURN password.
func (c ICEConfig) iceServers() []signalwire.ICEServer {
	servers := []signalwire.ICEServer{}
	if len(c.STUN) > 0 {
		servers = append(servers, signalwire.ICEServer{URLs: slices.Clone(c.STUN)})
	}
	if c.TURN != nil {
		user, pass, _ := c.TURN.mint()
		servers = append(servers, signalwire.ICEServer{URLs: c.TURN.URLs(), Username: user, Credential: pass})
	}
	if len(c.TURNURLs) > 0 {
		user, pass, _ := mintTURN(c.TURNSecret, c.TURNTTL)
		servers = append(servers, signalwire.ICEServer{URLs: slices.Clone(c.TURNURLs), Username: user, Credential: pass})
	}
	return servers
}

// serveICE answers GET /ice with the JSON list of ICE servers, [] when none
// is configured, so that a client asking for them never has to guess.
func (s *Server) serveICE(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "signalserver: /ice answers GET", http.StatusMethodNotAllowed)
		return
	}
	// A browser game served from another origin may fetch it as long as it
	// may join rooms: the credentials are no more than a join gives.
	if origin := r.Header.Get("Origin"); origin != "" {
		if !s.originAllowed(origin) {
			http.Error(w, "signalserver: origin not allowed: "+origin, http.StatusForbidden)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Add("Vary", "Origin")
	}
	// TURN credentials let their holder relay traffic through this host:
	// with room tokens on, they go only to holders of a valid token (for
	// any room), which the transport passes on from its room URL.
	if len(s.cfg.AuthSecret) > 0 {
		if _, reason := s.parseToken(r); reason != "" {
			http.Error(w, "signalserver: "+reason, http.StatusUnauthorized)
			return
		}
	}
	body, err := json.Marshal(s.cfg.ICE.iceServers())
	if err != nil { // cannot happen: strings only
		http.Error(w, "signalserver: "+err.Error(), http.StatusInternalServerError)
		return
	}
	body = append(body, '\n')
	// Each answer carries fresh credentials: no cache may hand them to
	// someone else or keep them past their expiry.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// writeTURNMetrics adds the embedded TURN server's counters to /metrics.
func (s *Server) writeTURNMetrics(w io.Writer) {
	if s.cfg.ICE.TURN != nil {
		s.cfg.ICE.TURN.metrics.writePrometheus(w)
	}
}
