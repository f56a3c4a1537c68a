package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rollbox/rollbox/signalserver"
	"github.com/rollbox/rollbox/signalwire"
)

// runtimeStats is what a server under test reports after a forced GC.
type runtimeStats struct {
	Goroutines int    `json:"goroutines"`  // runtime.NumGoroutine
	HeapInuse  uint64 `json:"heap_inuse"`  // runtime.MemStats.HeapInuse, bytes
	StackInuse uint64 `json:"stack_inuse"` // runtime.MemStats.StackInuse, bytes
	Sys        uint64 `json:"sys"`         // runtime.MemStats.Sys, bytes
}

// serve runs a server of the given kind on addr (loopback only), writes
// "ADDR host:port" to out, then answers each "gc" line read from in with
// runtimeStats as a JSON line after runtime.GC and debug.FreeOSMemory. It
// shuts down at EOF on in (the parent is gone or done), on "quit", or when
// ctx ends.
func serve(ctx context.Context, kind, addr string, in io.Reader, out io.Writer, log *slog.Logger) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		// No limits and no checks: a server under test must not be reachable.
		return fmt.Errorf("-addr %s: only loopback addresses may be served", addr)
	}
	var (
		handler  http.Handler
		shutdown func(context.Context) error
	)
	switch kind {
	case kindRollbox:
		srv, err := signalserver.New(signalserver.Config{
			MaxConnsPerIP:       -1, // all load comes from 127.0.0.1
			JoinsPerSecondPerIP: -1,
			MaxPeersPerRoom:     64,
			Logger:              log,
		})
		if err != nil {
			return err
		}
		handler, shutdown = srv, srv.Shutdown
	case kindBare:
		b := newBareRelay()
		handler, shutdown = b, b.Shutdown
	default:
		return fmt.Errorf("unknown server kind %q", kind)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	stopped := make(chan struct{})
	defer close(stopped)
	cmds := make(chan string)
	go func() {
		defer close(cmds)
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case cmds <- sc.Text():
			case <-stopped:
				return
			}
		}
	}()

	_, err = fmt.Fprintf(out, "ADDR %s\n", ln.Addr())
	enc := json.NewEncoder(out)
	var serveErr error
	serving := true
loop:
	for err == nil {
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case serveErr = <-served:
			serving = false
			err = fmt.Errorf("serving: %w", serveErr)
		case cmd, ok := <-cmds:
			switch {
			case !ok || cmd == "quit":
				break loop
			case cmd == "gc":
				err = enc.Encode(collect())
			default:
				log.Warn("unknown control command", "cmd", cmd)
			}
		}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err = errors.Join(err, hs.Shutdown(sctx), shutdown(sctx))
	if serving {
		if serveErr = <-served; !errors.Is(serveErr, http.ErrServerClosed) {
			err = errors.Join(err, serveErr)
		}
	}
	return err
}

// collect forces a full GC, returns freed memory to the OS and reports.
func collect() runtimeStats {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return runtimeStats{
		Goroutines: runtime.NumGoroutine(),
		HeapInuse:  ms.HeapInuse,
		StackInuse: ms.StackInuse,
		Sys:        ms.Sys,
	}
}

// bareRelay is the baseline: a WebSocket relay with no rooms and no checks.
// It assigns each connection an id (the same UUID form as rollbox, so frames
// are the same size), then relays every {"Signal":{"receiver":R,"data":D}}
// to R as {"Signal":{"sender":S,"data":D}}. The sender's reader goroutine
// writes to the receiver's connection directly, under the receiver's mutex:
// one goroutine per connection, no queue, no deadlines, no pings. It reads
// and writes frames with package signalwire, as rollbox does, so that the
// comparison measures the server rather than its parser.
type bareRelay struct {
	upgrader websocket.Upgrader // gorilla's defaults: reuses the HTTP server's 4 KiB buffers

	mu      sync.RWMutex
	peers   map[signalwire.PeerID]*barePeer
	closing bool
	conns   sync.WaitGroup
}

type barePeer struct {
	mu   sync.Mutex // one writer at a time
	conn *websocket.Conn
}

func newBareRelay() *bareRelay {
	return &bareRelay{
		upgrader: websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }},
		peers:    make(map[signalwire.PeerID]*barePeer),
	}
}

// ServeHTTP upgrades the request and relays its frames until it closes.
func (b *bareRelay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, err := b.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	id := signalwire.NewPeerID()
	p := &barePeer{conn: conn}
	b.mu.Lock()
	if b.closing {
		b.mu.Unlock()
		_ = conn.Close()
		return
	}
	b.peers[id] = p // before IdAssigned: whoever learns the id can reach it
	b.conns.Add(1)
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.peers, id)
		b.mu.Unlock()
		_ = conn.Close()
		b.conns.Done()
	}()
	if p.write(signalwire.ServerMessage{Kind: signalwire.IDAssigned, Peer: id}.Encode()) != nil {
		return
	}
	for {
		_, frame, err := conn.ReadMessage()
		if err != nil {
			return
		}
		msg, err := signalwire.ParseClientMessage(frame)
		if err != nil || msg.Kind != signalwire.Signal {
			continue
		}
		b.mu.RLock()
		to := b.peers[msg.Receiver]
		b.mu.RUnlock()
		if to == nil {
			continue
		}
		out := signalwire.ServerMessage{Kind: signalwire.Signal, Peer: id, Data: msg.Data}.Encode()
		_ = to.write(out) // a broken receiver is its own reader's problem
	}
}

func (p *barePeer) write(frame []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conn.WriteMessage(websocket.TextMessage, frame)
}

// Shutdown closes every connection and waits for their handlers to return.
func (b *bareRelay) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	b.closing = true
	for _, p := range b.peers {
		_ = p.conn.NetConn().Close()
	}
	b.mu.Unlock()
	done := make(chan struct{})
	go func() {
		b.conns.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
