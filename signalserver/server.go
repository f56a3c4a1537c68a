package signalserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// closeGrace bounds the WebSocket close handshake and the drain after it.
const closeGrace = time.Second

// Server is a matchbox-compatible signalling server. It is an http.Handler:
// WebSocket upgrades on any path join the room the path names; plain GET
// /health and /metrics answer health checks and Prometheus scrapes. Mount it
// at the root of its own listener, or under a prefix with http.StripPrefix.
type Server struct {
	cfg      Config
	log      *slog.Logger
	reg      Registry
	limits   *ipLimits
	upgrader websocket.Upgrader
	metrics  Metrics

	mu      sync.RWMutex
	clients map[PeerID]*client
	closing bool
	conns   sync.WaitGroup // one per upgraded connection
}

// New returns a server with cfg's settings (zero fields take the defaults).
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		reg:     cfg.Registry,
		limits:  newIPLimits(cfg),
		clients: make(map[PeerID]*client),
	}
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: cfg.WriteTimeout,
		// A small read buffer and pooled write buffers keep an idle peer cheap;
		// a large SDP just takes a few more reads.
		ReadBufferSize:  1024,
		WriteBufferSize: 4096,
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     func(*http.Request) bool { return true }, // checked before upgrading, with a reason
	}
	return s, nil
}

// Metrics returns the server's live counters.
func (s *Server) Metrics() *Metrics { return &s.metrics }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if websocket.IsWebSocketUpgrade(r) {
		s.serveWebSocket(w, r)
		return
	}
	switch r.URL.Path {
	case "/health":
		s.mu.RLock()
		closing := s.closing
		s.mu.RUnlock()
		if closing {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	case "/metrics":
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		s.metrics.writePrometheus(w, s.reg.Groups())
	default:
		http.Error(w, "signalserver: expected a WebSocket upgrade: GET /<room>[?next=N]", http.StatusUpgradeRequired)
	}
}

// Shutdown stops accepting peers and closes every client with status 1001
// (going away). It returns when all connections have ended, or with ctx's
// error after closing the stragglers abruptly.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	clients := make([]*client, 0, len(s.clients))
	for _, c := range s.clients {
		clients = append(clients, c)
	}
	s.mu.Unlock()
	for _, c := range clients {
		c.kick(disconnectShutdown, websocket.CloseGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() {
		s.conns.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.RLock()
		for _, c := range s.clients {
			_ = c.conn.NetConn().Close()
		}
		s.mu.RUnlock()
		<-done
		return ctx.Err()
	}
}

// refuse answers a request that will not be upgraded, with a one-line reason.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, why refusal, status int, reason string) {
	s.metrics.refused[why].Add(1)
	s.log.Debug("refused connection", "reason", refusalNames[why], "detail", reason, "remote", r.RemoteAddr, "path", r.URL.RequestURI())
	http.Error(w, "signalserver: "+reason, status)
}

func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	key, why, reason := s.parseRoomKey(r.URL)
	if why != refusalNone {
		s.refuse(w, r, why, http.StatusBadRequest, reason)
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" && len(s.cfg.AllowedOrigins) > 0 && !slices.Contains(s.cfg.AllowedOrigins, origin) {
		s.refuse(w, r, refusalOrigin, http.StatusForbidden, "origin not allowed: "+origin)
		return
	}
	release, why := s.limits.admit(clientIP(r, s.cfg.RealIPHeader), time.Now())
	switch why {
	case refusalIPConns:
		s.refuse(w, r, why, http.StatusTooManyRequests, "too many connections from your address")
		return
	case refusalIPRate:
		s.refuse(w, r, why, http.StatusTooManyRequests, "too many joins from your address; retry later")
		return
	}
	defer release()
	if key.Next == 0 {
		n, err := s.reg.Size(r.Context(), key)
		if err == nil && n >= s.cfg.MaxPeersPerRoom {
			s.refuse(w, r, refusalRoomFull, http.StatusConflict, fmt.Sprintf("room full (%d peers)", n))
			return
		}
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		s.refuse(w, r, refusalShuttingDown, http.StatusServiceUnavailable, "server shutting down")
		return
	}
	s.conns.Add(1)
	s.mu.Unlock()
	defer s.conns.Done()

	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil { // the upgrader has answered the request
		s.metrics.refused[refusalUpgrade].Add(1)
		s.log.Debug("upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	s.serveClient(newClient(conn, key, s.cfg.SendQueue))
}

// parseRoomKey reads the room id and next from the request URL: one path
// segment, percent-decoded, and an optional whole-number next.
func (s *Server) parseRoomKey(u *url.URL) (RoomKey, refusal, string) {
	seg := strings.TrimPrefix(u.EscapedPath(), "/")
	if strings.Contains(seg, "/") {
		return RoomKey{}, refusalBadRoom, "room id must be a single path segment"
	}
	id, err := url.PathUnescape(seg)
	if err != nil {
		return RoomKey{}, refusalBadRoom, "room id is not valid percent-encoding"
	}
	if len(id) > s.cfg.MaxRoomIDBytes {
		return RoomKey{}, refusalBadRoom, fmt.Sprintf("room id longer than %d bytes", s.cfg.MaxRoomIDBytes)
	}
	if !utf8.ValidString(id) || strings.ContainsFunc(id, unicode.IsControl) {
		return RoomKey{}, refusalBadRoom, "room id must be UTF-8 text without control characters"
	}
	key := RoomKey{ID: id}
	values, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return RoomKey{}, refusalBadNext, "query string is not valid percent-encoding"
	}
	if v := values.Get("next"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		var numErr *strconv.NumError
		switch {
		case errors.As(err, &numErr) && errors.Is(numErr.Err, strconv.ErrRange):
			return RoomKey{}, refusalBadNext, fmt.Sprintf("next must be between 1 and %d", s.cfg.MaxPeersPerRoom)
		case err != nil:
			// Not a whole number: absent, as matchbox_server treats it.
		case n < 1 || n > int64(s.cfg.MaxPeersPerRoom):
			return RoomKey{}, refusalBadNext, fmt.Sprintf("next must be between 1 and %d, got %d", s.cfg.MaxPeersPerRoom, n)
		default:
			key.Next = int(n)
		}
	}
	return key, refusalNone, ""
}

// serveClient runs one upgraded connection until it ends: it queues
// IdAssigned, joins the room, reads until the connection ends, then leaves.
// The calling goroutine is the connection's reader; one more writes.
func (s *Server) serveClient(c *client) {
	log := s.log.With("peer", c.id, "room", c.key.ID, "next", c.key.Next)
	c.send <- idAssignedFrame(c.id) // the queue is empty: IdAssigned is first
	writerDone := make(chan struct{})
	defer func() { <-writerDone }()
	// The writer starts once the join is done, so a client that has read its
	// IdAssigned is already in its room: clients that join one after another
	// are grouped in that order.
	startWriter := func() {
		go func() {
			defer close(writerDone)
			s.writeLoop(c)
		}()
	}

	s.mu.Lock()
	closing := s.closing
	if !closing {
		s.clients[c.id] = c
	}
	s.mu.Unlock()
	if closing {
		c.kick(disconnectShutdown, websocket.CloseGoingAway, "server shutting down")
		close(c.readDone)
		startWriter()
		return
	}
	s.metrics.Peers.Add(1)
	defer func() {
		s.mu.Lock()
		delete(s.clients, c.id)
		s.mu.Unlock()
		s.metrics.Peers.Add(-1)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
	announce, err := s.reg.Join(ctx, c.key, c.id)
	cancel()
	if err != nil {
		if errors.Is(err, ErrRoomFull) {
			c.kick(disconnectRoomFull, websocket.ClosePolicyViolation, "room full")
		} else {
			log.Warn("join failed", "err", err)
			c.kick(disconnectRegistry, websocket.CloseInternalServerErr, "room registry unavailable")
		}
		close(c.readDone)
		startWriter()
		s.metrics.disconnects[c.reason()].Add(1)
		return
	}
	s.broadcast(announce, newPeerFrame(c.id))
	s.metrics.Joins.Add(1)
	log.Debug("peer joined", "announced_to", len(announce))
	startWriter()

	why := s.readLoop(c, log)
	close(c.readDone)
	c.kick(why, 0, "")

	ctx, cancel = context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
	left, err := s.reg.Leave(ctx, c.id)
	cancel()
	if err != nil {
		log.Warn("leave failed", "err", err)
	}
	s.broadcast(left, peerLeftFrame(c.id))
	s.metrics.disconnects[c.reason()].Add(1)
	log.Debug("peer left", "reason", disconnectNames[c.reason()], "told", len(left))
}

// readLoop handles the client's frames until the connection fails and says why.
func (s *Server) readLoop(c *client, log *slog.Logger) disconnect {
	conn := c.conn
	conn.SetReadLimit(s.cfg.MaxFrameBytes)
	extend := func() { _ = conn.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout)) }
	extend()
	conn.SetPongHandler(func(string) error { extend(); return nil })
	for {
		typ, frame, err := conn.ReadMessage()
		if err != nil {
			var netErr net.Error
			switch {
			case errors.Is(err, websocket.ErrReadLimit):
				// gorilla has sent the 1009 close frame.
				log.Debug("frame too large", "limit", s.cfg.MaxFrameBytes)
				return disconnectFrameTooBig
			case errors.As(err, &netErr) && netErr.Timeout():
				return disconnectTimeout
			default:
				return disconnectClosed
			}
		}
		extend()
		s.metrics.BytesIn.Add(int64(len(frame)))
		if typ != websocket.TextMessage {
			s.dropped(log, dropBinary, nil)
			continue
		}
		msg, err := ParseClientMessage(frame)
		switch {
		case errors.Is(err, ErrUnknownMessage):
			s.dropped(log, dropUnknownMessage, err)
		case err != nil:
			s.dropped(log, dropMalformed, err)
		case msg.Kind == KeepAlive:
			s.metrics.KeepAlives.Add(1)
		case msg.Kind == Signal:
			s.relay(c, msg, log)
		}
	}
}

// relay forwards a signal to its receiver if both share a group.
func (s *Server) relay(c *client, msg ClientMessage, log *slog.Logger) {
	s.mu.RLock()
	to := s.clients[msg.Receiver]
	s.mu.RUnlock()
	if to == nil {
		s.dropped(log, dropUnknownReceiver, nil)
		return
	}
	ok, err := s.reg.CanSignal(context.Background(), c.id, msg.Receiver)
	if err != nil || !ok {
		s.dropped(log, dropForeignReceiver, err)
		return
	}
	if s.enqueue(to, signalFrame(c.id, msg.Data)) {
		s.metrics.SignalsRelayed.Add(1)
	}
}

func (s *Server) dropped(log *slog.Logger, why drop, err error) {
	s.metrics.dropped[why].Add(1)
	if log.Enabled(context.Background(), slog.LevelDebug) {
		log.Debug("dropped frame", "reason", dropNames[why], "err", err)
	}
}

// broadcast queues frame to every listed peer connected here.
func (s *Server) broadcast(to []PeerID, frame []byte) {
	for _, id := range to {
		s.mu.RLock()
		c := s.clients[id]
		s.mu.RUnlock()
		if c != nil {
			s.enqueue(c, frame)
		}
	}
}

// enqueue queues frame for c without blocking. A client whose queue is full
// cannot keep up: it is disconnected rather than allowed to slow the sender.
func (s *Server) enqueue(c *client, frame []byte) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	select {
	case c.send <- frame:
		s.metrics.BytesOut.Add(int64(len(frame)))
		return true
	default:
		s.log.Info("disconnecting slow client", "peer", c.id, "queued", cap(c.send))
		c.kick(disconnectSlowConsumer, 0, "")
		return false
	}
}

// writeLoop is the connection's only writer: queued frames, pings, and the
// close handshake once the client is kicked.
func (s *Server) writeLoop(c *client) {
	ping := time.NewTicker(s.cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case frame := <-c.send:
			_ = c.conn.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
			if err := c.conn.WriteMessage(websocket.TextMessage, frame); err != nil {
				c.kick(disconnectWriteError, 0, "")
			}
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.cfg.WriteTimeout)); err != nil {
				c.kick(disconnectWriteError, 0, "")
			}
		case <-c.done:
			c.close()
			return
		}
	}
}

// client is one connected peer.
type client struct {
	id       PeerID
	key      RoomKey
	conn     *websocket.Conn
	send     chan []byte   // bounded; only the writer receives
	done     chan struct{} // closed by kick
	readDone chan struct{} // closed when the reader has stopped

	once sync.Once
	why  disconnect // set once, before done closes
	code int        // close status to send; 0 to drop the connection at once
	text string
}

func newClient(conn *websocket.Conn, key RoomKey, queue int) *client {
	return &client{
		id:       NewPeerID(),
		key:      key,
		conn:     conn,
		send:     make(chan []byte, queue),
		done:     make(chan struct{}),
		readDone: make(chan struct{}),
	}
}

// kick ends the connection; the first call decides the reason. With a close
// code the writer performs the close handshake; without one the connection
// is dropped at once, which also unblocks a writer stuck on a full socket.
func (c *client) kick(why disconnect, code int, text string) {
	c.once.Do(func() {
		c.why, c.code, c.text = why, code, text
		close(c.done)
		if code == 0 && why != disconnectFrameTooBig {
			_ = c.conn.NetConn().Close()
		}
	})
}

// reason returns why the client was kicked; call it after done is closed.
func (c *client) reason() disconnect {
	<-c.done
	return c.why
}

// close sends the close frame, waits for the reader to see the client's
// answer, then closes the TCP connection without discarding unread bytes: a
// close with unread input sends RST, which can destroy the close frame before
// the client reads it.
func (c *client) close() {
	netConn := c.conn.NetConn()
	defer netConn.Close()
	if c.code == 0 && c.why != disconnectFrameTooBig {
		return // already dropped by kick
	}
	if c.code != 0 {
		_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(c.code, c.text), time.Now().Add(closeGrace))
	}
	select {
	case <-c.readDone:
	case <-time.After(closeGrace):
		return // the client does not answer; drop it
	}
	if tcp, ok := netConn.(interface{ CloseWrite() error }); ok {
		_ = tcp.CloseWrite()
		_ = netConn.SetReadDeadline(time.Now().Add(closeGrace))
		_, _ = io.Copy(io.Discard, io.LimitReader(netConn, 1<<20))
	}
}
