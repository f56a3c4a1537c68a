package signalserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rollbox/rollbox/internal/ratelog"
	"github.com/rollbox/rollbox/signalwire"

	"github.com/gorilla/websocket"
)

// closeGrace bounds the WebSocket close handshake and the drain after it.
const closeGrace = time.Second

// Server is a matchbox-compatible signalling server. It is an http.Handler:
// WebSocket upgrades on any path join the room the path names; plain GET
// /health and /metrics answer health checks and Prometheus scrapes, and GET
// /ice hands clients the ICE servers of Config.ICE. Mount it
// at the root of its own listener, or under a prefix with http.StripPrefix;
// serve it with the http.Server from HTTPServer, which applies the
// connection caps and HTTP timeouts of its Config.
type Server struct {
	cfg      Config
	log      *slog.Logger
	reg      registry
	limits   *ipLimits
	realIP   realIP
	tracker  *connTracker // connections of HTTPServer's http.Servers
	upgrader websocket.Upgrader
	metrics  Metrics
	epoch    time.Time // the clock clients' last-heard times count from

	redis   *redisRegistry     // from Config.Redis; nil: rooms in memory
	bus     instanceBus        // the Redis registry, or nil: local delivery only
	bc      busCounters        // see bus.go
	busStop context.CancelFunc // stops the bus goroutine
	busDone chan struct{}

	// clientLog limits the lines any client can cause (refusals, bad
	// frames, and joins and leaves failing while Redis stalls): a burst,
	// then one a second, with a count of the lines held back.
	clientLog ratelog.Limiter
	slowLog   ratelog.Limiter // "disconnecting slow client"
	shedLog   ratelog.Limiter // stalled clients shed over the global cap
	lastShed  atomic.Int64    // when stalled clients were last looked for, as time since epoch

	mu      sync.RWMutex
	clients map[signalwire.PeerID]*client
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
		cfg:       cfg,
		log:       cfg.Logger,
		reg:       newMemoryRegistry(cfg.MaxPeersPerRoom),
		limits:    newIPLimits(cfg),
		realIP:    realIP{header: cfg.RealIPHeader, trusted: cfg.TrustedProxies},
		clients:   make(map[signalwire.PeerID]*client),
		epoch:     time.Now(),
		clientLog: ratelog.Limiter{Interval: time.Second, Burst: 10},
		slowLog:   ratelog.Limiter{Interval: time.Second},
		shedLog:   ratelog.Limiter{Interval: time.Second},
	}
	s.tracker = newConnTracker(cfg, s.realIP, &s.metrics)
	if cfg.Redis.URL != "" {
		r, err := newRedis(cfg.Redis, cfg.MaxPeersPerRoom, cfg.Logger)
		if err != nil {
			return nil, fmt.Errorf("signalserver: invalid config: %w", err)
		}
		s.redis, s.reg, s.bus = r, r, r
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
	s.startBus()
	return s, nil
}

// Metrics returns the server's live counters.
func (s *Server) Metrics() *Metrics { return &s.metrics }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if slot := connSlotOf(r.Context()); slot != nil && slot.refusal != refusalNone {
		refuseConn(w, slot.refusal) // counted when the connection came
		return
	}
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
		if err := s.registryHealth(); err != nil {
			serveUnhealthy(w, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	case "/metrics":
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		s.metrics.writePrometheus(w, s.reg.Groups())
		s.writeBusMetrics(w)
		s.writeTURNMetrics(w)
		s.writeConnMetrics(w)
	case "/ice":
		s.serveICE(w, r) // the ICE servers, with fresh TURN credentials
	default:
		if s.cfg.Web != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			s.cfg.Web.ServeHTTP(w, r) // a browser opening /<room>: the game's page
			return
		}
		http.Error(w, "signalserver: expected a WebSocket upgrade: GET /<room>[?next=N]", http.StatusUpgradeRequired)
	}
}

// Shutdown stops accepting peers and closes every client with status 1001
// (going away). It returns when all connections have ended, or with ctx's
// error after closing the stragglers abruptly.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true // no client is added from now on
	s.mu.Unlock()
	for _, c := range s.clientList() {
		s.kick(c, disconnectShutdown, websocket.CloseGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() {
		s.conns.Wait()
		close(done)
	}()
	select {
	case <-done:
		return s.stopBus()
	case <-ctx.Done():
		for _, c := range s.clientList() {
			_ = c.conn.NetConn().Close()
		}
		<-done
		return errors.Join(ctx.Err(), s.stopBus())
	}
}

// originAllowed applies Config.AllowedOrigins (empty: any origin).
func (s *Server) originAllowed(origin string) bool {
	return len(s.cfg.AllowedOrigins) == 0 || slices.Contains(s.cfg.AllowedOrigins, origin)
}

// clientList returns the connected clients, for acting on each without
// holding s.mu.
func (s *Server) clientList() []*client {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Collect(maps.Values(s.clients))
}

// refuse answers a request that will not be upgraded, with a one-line reason.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, why refusal, status int, reason string) {
	s.metrics.refused[why].Add(1)
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.clientLog.Log(r.Context(), s.log, slog.LevelDebug, "refused connection",
			"reason", refusalNames[why], "detail", reason, "remote", r.RemoteAddr, "path", redactedURI(r.URL))
	}
	http.Error(w, "signalserver: "+reason, status)
}

func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	key, why, reason := s.parseRoomKey(r.URL)
	if why != refusalNone {
		s.refuse(w, r, why, http.StatusBadRequest, reason)
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" && !s.originAllowed(origin) {
		s.refuse(w, r, refusalOrigin, http.StatusForbidden, "origin not allowed: "+origin)
		return
	}
	release, why := s.limits.admit(s.realIP.clientIP(r), time.Now())
	switch why {
	case refusalIPConns:
		s.refuse(w, r, why, http.StatusTooManyRequests, "too many connections from your address")
		return
	case refusalIPRate:
		s.refuse(w, r, why, http.StatusTooManyRequests, "too many joins from your address; retry later")
		return
	}
	// The connection's goroutine releases the slot once it is handed over.
	handedOver := false
	defer func() {
		if !handedOver {
			release()
		}
	}()
	if reason := s.checkToken(r, key); reason != "" {
		s.refuse(w, r, refusalAuth, http.StatusUnauthorized, reason)
		return
	}
	if err := s.registryHealth(); err != nil {
		s.refuse(w, r, refusalRegistry, http.StatusServiceUnavailable, "room registry unavailable: "+err.Error())
		return
	}
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

	slot := connSlotOf(r.Context())
	slot.claim() // the WebSocket keeps the connection's slot until it ends
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil { // the upgrader has answered the request
		slot.upgradeFailed()
		s.conns.Done()
		s.metrics.refused[refusalUpgrade].Add(1)
		s.clientLog.Log(r.Context(), s.log, slog.LevelDebug, "upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	// Serve on a goroutine of our own and return: while ServeHTTP runs,
	// net/http keeps the connection's buffers, request state and a deep
	// stack alive, about 10 KiB per idle peer for nothing.
	handedOver = true
	go func() {
		defer s.conns.Done()
		defer release()
		defer slot.release()
		s.serveClient(newClient(conn, key))
	}()
}

// parseRoomKey reads the room id and next from the request URL: one path
// segment, percent-decoded, and an optional whole-number next.
func (s *Server) parseRoomKey(u *url.URL) (roomKey, refusal, string) {
	seg := strings.TrimPrefix(u.EscapedPath(), "/")
	if strings.Contains(seg, "/") {
		return roomKey{}, refusalBadRoom, "room id must be a single path segment"
	}
	id, err := url.PathUnescape(seg)
	if err != nil {
		return roomKey{}, refusalBadRoom, "room id is not valid percent-encoding"
	}
	if len(id) > s.cfg.MaxRoomIDBytes {
		return roomKey{}, refusalBadRoom, fmt.Sprintf("room id longer than %d bytes", s.cfg.MaxRoomIDBytes)
	}
	if !utf8.ValidString(id) || strings.ContainsFunc(id, unicode.IsControl) {
		return roomKey{}, refusalBadRoom, "room id must be UTF-8 text without control characters"
	}
	key := roomKey{ID: id}
	values, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return roomKey{}, refusalBadNext, "query string is not valid percent-encoding"
	}
	if v := values.Get("next"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		var numErr *strconv.NumError
		switch {
		case errors.As(err, &numErr) && errors.Is(numErr.Err, strconv.ErrRange):
			return roomKey{}, refusalBadNext, fmt.Sprintf("next must be between 1 and %d", s.cfg.MaxPeersPerRoom)
		case err != nil:
			// Not a whole number: absent, as matchbox_server treats it.
		case n < 1 || n > int64(s.cfg.MaxPeersPerRoom):
			return roomKey{}, refusalBadNext, fmt.Sprintf("next must be between 1 and %d, got %d", s.cfg.MaxPeersPerRoom, n)
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
	// IdAssigned is queued first. Writing waits until the join is done
	// (see release below), so a client that has read its IdAssigned is
	// already in its room: clients that join one after another are grouped
	// in that order.
	s.enqueue(c, idAssignedFrame(c.id))
	defer func() { <-c.closed }()
	c.heard.Store(int64(time.Since(s.epoch))) // the timer below may fire before the join is done
	c.mu.Lock()
	c.ping = time.AfterFunc(s.cfg.PingInterval, func() { s.pingDue(c) })
	c.mu.Unlock()
	defer c.ping.Stop()

	s.mu.Lock()
	closing := s.closing
	if !closing {
		s.clients[c.id] = c
	}
	s.mu.Unlock()
	if closing {
		close(c.readDone)
		s.kick(c, disconnectShutdown, websocket.CloseGoingAway, "server shutting down")
		return
	}
	s.metrics.Peers.Add(1)
	// gone does the bookkeeping of a departure before the room hears of it,
	// so anyone told PeerLeft already sees the metrics that explain it.
	gone := func() {
		s.mu.Lock()
		delete(s.clients, c.id)
		s.mu.Unlock()
		s.metrics.Peers.Add(-1)
		s.metrics.disconnects[c.reason()].Add(1)
	}

	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
	announce, err := s.reg.Join(ctx, c.key, c.id)
	cancel()
	if err != nil {
		close(c.readDone)
		if errors.Is(err, errRoomFull) {
			s.kick(c, disconnectRoomFull, websocket.ClosePolicyViolation, "room full")
		} else {
			s.clientLog.Log(context.Background(), log, slog.LevelWarn, "join failed", "err", err)
			s.kick(c, disconnectRegistry, websocket.CloseInternalServerErr, "room registry unavailable")
		}
		gone()
		return
	}
	c.joined.Store(true)
	s.broadcast(announce, newPeerFrame(c.id))
	s.metrics.Joins.Add(1)
	log.Debug("peer joined", "announced_to", len(announce))
	s.release(c)

	why := s.readLoop(c, log)
	close(c.readDone)
	s.kick(c, why, 0, "")

	// Gone before leaving: a registry may tell the room itself, and a
	// shared one reconciles a peer that is no longer connected (a leave
	// that fails is retried that way).
	gone()
	ctx, cancel = context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
	left, err := s.reg.Leave(ctx, c.id)
	cancel()
	if err != nil {
		s.clientLog.Log(context.Background(), log, slog.LevelWarn, "leave failed", "err", err)
	}
	s.broadcast(left, peerLeftFrame(c.id))
	log.Debug("peer left", "reason", disconnectNames[c.reason()], "told", len(left))
}

// readLoop handles the client's frames until the connection fails and says why.
func (s *Server) readLoop(c *client, log *slog.Logger) disconnect {
	conn := c.conn
	conn.SetReadLimit(s.cfg.MaxFrameBytes)
	// The read deadline is not pushed on every frame (that costs a timer
	// update per signal): the ping timer moves it to ReadTimeout after the
	// last frame heard, and it fires at least every PingInterval, which is
	// shorter.
	heard := func() { c.heard.Store(int64(time.Since(s.epoch))) }
	heard()
	_ = conn.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout))
	conn.SetPongHandler(func(string) error { heard(); return nil })
	for {
		typ, frame, err := conn.ReadMessage()
		if err != nil {
			var netErr net.Error
			switch {
			case errors.Is(err, websocket.ErrReadLimit):
				// gorilla has sent the 1009 close frame.
				s.clientLog.Log(context.Background(), log, slog.LevelDebug, "frame too large", "limit", s.cfg.MaxFrameBytes)
				return disconnectFrameTooBig
			case errors.As(err, &netErr) && netErr.Timeout():
				return disconnectTimeout
			default:
				return disconnectClosed
			}
		}
		heard()
		s.metrics.BytesIn.Add(int64(len(frame)))
		if typ != websocket.TextMessage {
			s.dropped(log, dropBinary, nil)
			continue
		}
		msg, err := signalwire.ParseClientMessage(frame)
		switch {
		case errors.Is(err, signalwire.ErrInvalidUTF8): // before ErrMalformed, which it wraps
			// Relaying it would make a browser receiving it close its
			// WebSocket; a sender of such frames is broken or hostile.
			s.kick(c, disconnectInvalidUTF8, websocket.CloseInvalidFramePayloadData, "text frame is not UTF-8")
			return disconnectInvalidUTF8
		case errors.Is(err, signalwire.ErrUnknownMessage):
			s.dropped(log, dropUnknownMessage, err)
		case err != nil:
			s.dropped(log, dropMalformed, err)
		case msg.Kind == signalwire.KeepAlive:
			s.metrics.KeepAlives.Add(1)
		case msg.Kind == signalwire.Signal:
			s.relay(c, msg, log)
		}
	}
}

// relay forwards a signal to its receiver if both share a group.
func (s *Server) relay(c *client, msg signalwire.ClientMessage, log *slog.Logger) {
	s.mu.RLock()
	to := s.clients[msg.Receiver]
	s.mu.RUnlock()
	if to == nil && s.redis != nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
		why, err := s.relayRemote(ctx, c, msg)
		cancel()
		if why != dropCount {
			s.dropped(log, why, err)
			return
		}
		s.metrics.SignalsRelayed.Add(1)
		return
	}
	if to == nil {
		s.dropped(log, dropUnknownReceiver, nil)
		return
	}
	ok, err := s.reg.CanSignal(context.Background(), c.id, msg.Receiver)
	if err != nil || !ok {
		s.dropped(log, dropForeignReceiver, err)
		return
	}
	if s.send(to, signalFrame(c.id, msg.Data)) {
		s.metrics.SignalsRelayed.Add(1)
	}
}

func (s *Server) dropped(log *slog.Logger, why drop, err error) {
	s.metrics.dropped[why].Add(1)
	if log.Enabled(context.Background(), slog.LevelDebug) {
		s.clientLog.Log(context.Background(), log, slog.LevelDebug, "dropped frame", "reason", dropNames[why], "err", err)
	}
}

// broadcast queues frame to every listed peer, through the bus to those
// connected elsewhere.
func (s *Server) broadcast(to []signalwire.PeerID, frame []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
	defer cancel()
	s.deliver(ctx, to, frame)
}

// inlineMax bounds the frames send may write on the caller's goroutine.
const inlineMax = 2048

// send hands a relayed frame to c. When c's writer is idle, nothing waits
// for it and its kernel send queue is empty, a small frame fits in the
// socket buffer at once, so the caller (the sender's reader) writes it
// itself: that saves a goroutine hand-off per signal, a fifth of the
// one-signal relay latency at p50 and half at p99 (docs/benchmarks.md). Everything else
// is queued for the writer goroutine; when the receiver's queue is full,
// the sender waits for room (see queue.go).
func (s *Server) send(c *client, frame []byte) bool {
	c.mu.Lock()
	if len(frame) > inlineMax || c.running || c.held || c.kicked || c.pingDue || len(c.queue) > 0 {
		c.mu.Unlock()
		return s.enqueueOrWait(c, frame)
	}
	if !c.probed {
		c.probe, c.probed = newSendQueueProbe(c.conn.NetConn()), true
	}
	if !c.probe.sendQueueEmpty() {
		c.mu.Unlock()
		return s.enqueueOrWait(c, frame)
	}
	c.running = true // the writer, for this one frame
	c.mu.Unlock()
	s.metrics.BytesOut.Add(int64(len(frame)))
	_ = c.conn.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	if err := c.conn.WriteMessage(websocket.TextMessage, frame); err != nil {
		s.kick(c, disconnectWriteError, 0, "")
	}
	c.mu.Lock()
	c.running = false
	s.startWriter(c) // for what was queued meanwhile, a ping, or the close
	c.mu.Unlock()
	return true
}

// pingDue runs on the ping timer. It moves the read deadline to ReadTimeout
// after the client was last heard, and asks the writer for a ping only if
// the client has been quiet for PingInterval: a client that sends (matchbox
// clients send KeepAlive every 10 s) has shown it is alive, and pinging it
// anyway would cost a write and a read per connection per interval.
func (s *Server) pingDue(c *client) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kicked {
		return // and the timer stays stopped
	}
	heard := s.epoch.Add(time.Duration(c.heard.Load()))
	_ = c.conn.SetReadDeadline(heard.Add(s.cfg.ReadTimeout))
	if quiet := time.Since(heard); quiet < s.cfg.PingInterval {
		c.ping.Reset(s.cfg.PingInterval - quiet)
		return
	}
	c.ping.Reset(s.cfg.PingInterval)
	c.pingDue = true
	s.startWriter(c)
}

// release lets the writer start once the client has joined.
func (s *Server) release(c *client) {
	c.mu.Lock()
	c.held = false
	s.startWriter(c)
	c.mu.Unlock()
}

// startWriter starts the connection's writer if there is work and none runs;
// the caller holds c.mu. There is never more than one writer per
// connection, and none while the connection is idle: an idle peer costs no
// goroutine stack on the write side.
func (s *Server) startWriter(c *client) {
	if c.running || (c.held && !c.kicked) {
		return
	}
	if len(c.queue) == 0 && !c.pingDue && !c.kicked {
		return
	}
	c.running = true
	go s.writeFrames(c)
}

// writeFrames is the connection's writer: queued frames and pings, and the
// close handshake once the client is kicked. It runs until it has nothing
// left to do.
func (s *Server) writeFrames(c *client) {
	for {
		c.mu.Lock()
		if c.kicked {
			s.discardQueue(c) // running stays set: no writer starts again
			c.mu.Unlock()
			c.close()
			close(c.closed)
			return
		}
		frames, ping := c.queue, c.pingDue
		if len(frames) == 0 && !ping {
			c.running = false
			c.mu.Unlock()
			return
		}
		// Two slices take turns so a busy connection does not allocate; a
		// burst's large array is dropped so an idle one holds none.
		c.queue, c.spare, c.pingDue = c.spare[:0], nil, false
		c.writing.Store(int32(len(frames)))
		c.mu.Unlock()

		for i, frame := range frames {
			// The queue bound counts the frames still waiting, as a channel
			// would: not the one in the writer's hands.
			c.writing.Add(-1)
			_ = c.conn.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
			err := c.conn.WriteMessage(websocket.TextMessage, frame)
			frames[i] = nil
			if err != nil {
				s.kick(c, disconnectWriteError, 0, "")
				break // the rest are discarded with the queue
			}
			s.written(c, frame)
		}
		if ping {
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.cfg.WriteTimeout)); err != nil {
				s.kick(c, disconnectWriteError, 0, "")
			}
		}
		c.writing.Store(0)
		c.mu.Lock()
		if cap(frames) <= 16 {
			c.spare = frames[:0]
		}
		c.mu.Unlock()
	}
}

// client is one connected peer.
type client struct {
	id       signalwire.PeerID
	key      roomKey
	conn     *websocket.Conn
	readDone chan struct{} // closed when the reader has stopped
	closed   chan struct{} // closed when the writer has closed the connection
	ping     *time.Timer
	heard    atomic.Int64 // when a frame or pong last arrived, as time since Server.epoch
	joined   atomic.Bool  // the registry took the join

	mu      sync.Mutex
	queue   [][]byte     // frames to write, in order; grows on demand
	spare   [][]byte     // the previous batch's slice, for reuse
	writing atomic.Int32 // frames of the batch being written, not yet taken
	pingDue bool
	held    bool            // no writing before the join is done
	running bool            // a writer runs, or has closed the connection
	probe   *sendQueueProbe // made on the first relayed frame; nil: cannot tell
	probed  bool
	kicked  bool
	why     disconnect // set once, with kicked
	code    int        // close status to send; 0 to drop the connection at once
	text    string

	// The queue's bound and progress (queue.go).
	queued   atomic.Int64  // cost (see frameCost) of the frames queued or being written; raised under mu, lowered by the writer
	progress atomic.Int64  // when the writer last completed a write, or the queue last became non-empty; time since Server.epoch
	room     chan struct{} // under mu: closed when senders waiting for room may look again; nil when none waits
	awaited  atomic.Bool   // room is not nil: the writer wakes its waiters as the queue drains
	// under mu: set while a signal from another instance was dropped for
	// c's full queue, to find c stalled (watchStall)
	stallTimer *time.Timer
}

func newClient(conn *websocket.Conn, key roomKey) *client {
	return &client{
		id:       signalwire.NewPeerID(),
		key:      key,
		conn:     conn,
		readDone: make(chan struct{}),
		closed:   make(chan struct{}),
		held:     true,
	}
}

// kick ends the connection; the first call decides the reason. With a close
// code the writer performs the close handshake; without one the connection
// is dropped at once, which also unblocks a writer stuck on a full socket.
func (s *Server) kick(c *client, why disconnect, code int, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kicked {
		return
	}
	c.kicked, c.why, c.code, c.text = true, why, code, text
	c.wakeSenders() // they find it kicked and give up
	if c.stallTimer != nil {
		c.stallTimer.Stop()
		c.stallTimer = nil
	}
	if code == 0 && why != disconnectFrameTooBig {
		_ = c.conn.NetConn().Close()
	}
	s.startWriter(c)
}

// reason returns why the client was kicked; call it after kick.
func (c *client) reason() disconnect {
	c.mu.Lock()
	defer c.mu.Unlock()
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
