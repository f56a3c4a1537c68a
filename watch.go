package rollbox

import (
	"context"
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"time"
	"unsafe"

	"github.com/rollbox/rollbox/internal/ratelog"
	"github.com/rollbox/rollbox/packet"
	"github.com/rollbox/rollbox/rollback"
	"github.com/rollbox/rollbox/transport"
)

// Late spectators (Config.Watch). A match forms in <room>?next=<peers>, a
// room that closes once full, so a spectator arriving later cannot reach
// the players there. Once a match plays, its host (the player peer the
// spectators follow) also joins the plain room <room>.watch. A late
// spectator joins that room and sends its hello to every peer there; the
// host answers with its own (Host set, or Refuse saying why not), adds the
// spectator to its session (rollback.P2PSession.AddSpectator) and sends it
// the state at the start frame that returns, on the reliable channel. The
// spectator checks the state's checksum and follows the match from there
// with rollback.NewSpectatorSessionAt, catching up at CatchupSpeed.

// watchRoomSuffix names the room where a match's host meets late
// spectators: <room>.watch.
const watchRoomSuffix = ".watch"

// watchCatchupSpeed is a late spectator's CatchupSpeed when Config has
// none: it starts a second or so behind (joining, WebRTC, the state
// transfer) and at three frames per tick makes that up in half a second.
const watchCatchupSpeed = 3

// unionSocket is the socket a host's session sends through: the match's
// mesh and, once attached, the watch room's, whose peers are late
// spectators. Send goes to the watch room for the addresses added to
// watchers and to the match's mesh for every other; Receive merges both.
// Peer ids are assigned by the signalling server and unique across rooms,
// so an address names one peer in one of them. Before the watch room is
// attached, a packet to a watcher goes to the match's mesh, which does not
// know the address: a lost packet, as packet.Socket allows. Used by one
// goroutine at a time, as sessions use their socket.
type unionSocket struct {
	main     packet.Socket[transport.PeerID]
	watch    packet.Socket[transport.PeerID] // nil until attached
	watchers map[transport.PeerID]rollback.PlayerHandle
	// side is the rejoin room (rejoin_match.go), nil until joined;
	// returning are the players back in the match who play there.
	side      packet.Socket[transport.PeerID]
	returning map[transport.PeerID]bool
	merged    []packet.Packet[transport.PeerID]
}

func newUnionSocket(main packet.Socket[transport.PeerID]) *unionSocket {
	return &unionSocket{main: main, watchers: make(map[transport.PeerID]rollback.PlayerHandle),
		returning: make(map[transport.PeerID]bool)}
}

// Send implements packet.Socket.
func (u *unionSocket) Send(to transport.PeerID, data []byte) error {
	if _, ok := u.watchers[to]; ok && u.watch != nil {
		return u.watch.Send(to, data)
	}
	if u.returning[to] && u.side != nil {
		return u.side.Send(to, data)
	}
	return u.main.Send(to, data)
}

// Receive implements packet.Socket: the packets of both meshes, valid until
// the next call.
func (u *unionSocket) Receive() []packet.Packet[transport.PeerID] {
	in := u.main.Receive()
	if u.watch == nil && u.side == nil {
		return in
	}
	var w, s []packet.Packet[transport.PeerID]
	if u.watch != nil {
		w = u.watch.Receive()
	}
	if u.side != nil {
		s = u.side.Receive()
	}
	if len(w) == 0 && len(s) == 0 {
		return in
	}
	u.merged = append(append(append(u.merged[:0], in...), w...), s...)
	return u.merged
}

// The state message a host sends a late spectator on the reliable channel:
// a header of watchStateHeader bytes, then the state.
//
//	magic    4 bytes  "rbxS"
//	version  1 byte   watchStateVersion
//	encoding 1 byte   stateRaw or stateMarshaled
//	reserved 2 bytes  zero
//	start    8 bytes  the frame of the state, little-endian
//	checksum 8 bytes  the state's checksum (Game's), little-endian
//	length   4 bytes  the state's bytes that follow, little-endian
const (
	watchStateVersion = 1
	watchStateHeader  = 28
)

var watchStateMagic = [4]byte{'r', 'b', 'x', 'S'}

// How a state travels.
const (
	// stateRaw: a flat state's memory, as is. Peers must share the byte
	// order and the size of int (every 64-bit little-endian platform Go
	// runs on: amd64, arm64, wasm, riscv64...).
	stateRaw = 0
	// stateMarshaled: the state's MarshalBinary.
	stateMarshaled = 1
)

// watchState is a decoded state message.
type watchState struct {
	start    rollback.Frame
	checksum uint64
	encoding byte
	state    []byte
}

func appendWatchState(dst []byte, s watchState) []byte {
	dst = append(dst, watchStateMagic[:]...)
	dst = append(dst, watchStateVersion, s.encoding, 0, 0)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(s.start))
	dst = binary.LittleEndian.AppendUint64(dst, s.checksum)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(s.state)))
	return append(dst, s.state...)
}

// parseWatchState decodes a state message; it never panics on any input.
// The state aliases b.
func parseWatchState(b []byte) (watchState, error) {
	var s watchState
	if len(b) < watchStateHeader || [4]byte(b[:4]) != watchStateMagic {
		return s, errors.New("rollbox: the host sent something other than a state")
	}
	if b[4] != watchStateVersion {
		return s, fmt.Errorf("rollbox: state message version %d, this build reads %d (another rollbox version)", b[4], watchStateVersion)
	}
	s.encoding = b[5]
	if s.encoding != stateRaw && s.encoding != stateMarshaled {
		return s, fmt.Errorf("rollbox: state encoding %d unknown", s.encoding)
	}
	start := binary.LittleEndian.Uint64(b[8:])
	if start > math.MaxInt32 { // a Frame is an int32
		return s, fmt.Errorf("rollbox: state of frame %d", start)
	}
	s.start = rollback.Frame(start)
	s.checksum = binary.LittleEndian.Uint64(b[16:])
	n := binary.LittleEndian.Uint32(b[24:])
	if uint64(n) != uint64(len(b)-watchStateHeader) {
		return s, fmt.Errorf("rollbox: state message announces %d bytes of state, carries %d", n, len(b)-watchStateHeader)
	}
	s.state = b[watchStateHeader:]
	return s, nil
}

// stateWire sends states of type S to late spectators and reads them back.
type stateWire[S any] struct {
	encoding byte
	append   func(dst []byte, s *S) ([]byte, error)
	load     func(b []byte, s *S) error
}

type binaryState interface {
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// newStateWire says how a state of type S travels: by its own
// MarshalBinary and UnmarshalBinary (methods on *S) if it has them, by its
// memory if it is flat (numbers, booleans and arrays and structs of them:
// no pointer, slice, map or string), else not at all.
func newStateWire[S any]() (stateWire[S], error) {
	var zero S
	if _, ok := any(&zero).(binaryState); ok {
		return stateWire[S]{
			encoding: stateMarshaled,
			append: func(dst []byte, s *S) ([]byte, error) {
				b, err := any(s).(binaryState).MarshalBinary()
				return append(dst, b...), err
			},
			load: func(b []byte, s *S) error { return any(s).(binaryState).UnmarshalBinary(b) },
		}, nil
	}
	t := reflect.TypeFor[S]()
	if !flat(t) {
		return stateWire[S]{}, fmt.Errorf("rollbox: state %v holds pointers, slices, maps or strings, which cannot be sent by their memory: "+
			"give *%v MarshalBinary and UnmarshalBinary methods (encoding.BinaryMarshaler, BinaryUnmarshaler) to let spectators join late", t, t.Name())
	}
	size := int(unsafe.Sizeof(zero))
	return stateWire[S]{
		encoding: stateRaw,
		append: func(dst []byte, s *S) ([]byte, error) {
			return append(dst, unsafe.Slice((*byte)(unsafe.Pointer(s)), size)...), nil
		},
		load: func(b []byte, s *S) error {
			if len(b) != size {
				return fmt.Errorf("rollbox: state of %d bytes, %v has %d (another build or architecture)", len(b), t, size)
			}
			copy(unsafe.Slice((*byte)(unsafe.Pointer(s)), size), b)
			return nil
		},
	}, nil
}

// flat reports whether a value of type t is all in its own memory, with no
// pointer: its bytes are the value.
func flat(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true
	case reflect.Array:
		return flat(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !flat(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}

// maxMessageSize is the largest message the reliable channel carries with
// transport config tc: a state must fit in it with its header.
func maxMessageSize(tc transport.Config) int {
	if tc.MaxMessageSize > 0 {
		return tc.MaxMessageSize
	}
	return transport.DefaultMaxMessageSize
}

// watchHost is a host's side of the watch room: it admits late spectators
// between two ticks.
type watchHost[S any, I comparable] struct {
	sock    *transport.Socket
	ctl     packet.Socket[transport.PeerID] // the watch room's reliable channel
	union   *unionSocket
	wire    stateWire[S]
	wireErr error // why states cannot be sent (wire unusable)
	mine    hello
	next    rollback.PlayerHandle // the handle of the next late spectator
	maxSize int
	log     *slog.Logger
	// remoteLog limits the lines watchers can cause.
	remoteLog ratelog.Limiter
	buf       []byte
}

// openWatchRoom joins the watch room of the match this peer hosts. A
// failure costs only late spectators, so it is logged, not returned.
func (m *Match[S, I]) openWatchRoom(ctx context.Context, tc transport.Config, u *unionSocket, mine hello, next rollback.PlayerHandle) *watchHost[S, I] {
	c := m.cfg
	url := transport.RoomURL(c.Server, c.Room+watchRoomSuffix, 0, c.Token)
	sock, err := transport.Join(ctx, url, tc)
	if err != nil {
		c.Logger.Warn("rollbox: late spectators cannot join: joining the watch room failed", "room", c.Room+watchRoomSuffix, "err", err)
		return nil
	}
	w := &watchHost[S, I]{sock: sock, ctl: sock.Channel(1), union: u, mine: mine, next: next,
		maxSize: maxMessageSize(tc), log: c.Logger, remoteLog: ratelog.Limiter{Interval: time.Second, Burst: 10}}
	w.mine.Host = true
	w.wire, w.wireErr = newStateWire[S]()
	if w.wireErr != nil {
		c.Logger.Warn("rollbox: late spectators will be refused", "err", w.wireErr)
	}
	u.watch = sock
	return w
}

// poll admits the late spectators whose hellos arrived: one call between
// two ticks, so that the state at each one's start is final.
func (w *watchHost[S, I]) poll(r *runner[S, I, transport.PeerID]) {
	for _, ev := range w.sock.PeerEvents() {
		if ev.State == transport.PeerDisconnected {
			if h, ok := w.union.watchers[ev.Peer]; ok {
				delete(w.union.watchers, ev.Peer)
				_ = r.p2p.DisconnectPlayer(h) // gone: stop queueing its frames
			}
		}
	}
	for _, pk := range w.ctl.Receive() {
		h, err := parseHello(pk.From, pk.Data)
		if err != nil || !h.Watch {
			w.remoteLog.Log(context.Background(), w.log, slog.LevelWarn, "rollbox: watch room: not a spectator's hello", "peer", pk.From, "err", err)
			continue
		}
		if _, ok := w.union.watchers[pk.From]; ok {
			continue // a repeat
		}
		if diff := w.mine.agree(h); diff != "" {
			// It learns of the mismatch from this hello, as players do.
			w.remoteLog.Log(context.Background(), w.log, slog.LevelWarn, "rollbox: late spectator disagrees", "peer", pk.From, "diff", diff)
			_ = w.ctl.Send(pk.From, w.mine.encode())
			continue
		}
		if reason := w.admit(r, pk.From); reason != "" {
			w.remoteLog.Log(context.Background(), w.log, slog.LevelWarn, "rollbox: late spectator refused", "peer", pk.From, "reason", reason)
			refuse := w.mine
			refuse.Refuse = reason
			_ = w.ctl.Send(pk.From, refuse.encode())
		}
	}
}

// admit adds the spectator at id to the session and sends it the hello and
// the state; it returns why not, if not.
func (w *watchHost[S, I]) admit(r *runner[S, I, transport.PeerID], id transport.PeerID) string {
	if w.wireErr != nil {
		return w.wireErr.Error()
	}
	handle := w.next
	start, err := r.p2p.AddSpectator(handle, id)
	if err != nil {
		return err.Error()
	}
	w.next++
	w.union.watchers[id] = handle
	drop := func(reason string) string {
		delete(w.union.watchers, id)
		_ = r.p2p.DisconnectPlayer(handle)
		return reason
	}
	// The runner's state is at the session's current frame; an earlier
	// start's state is the one saved for it.
	st := r.state
	if start != r.frame {
		saved, ok := r.p2p.SavedState(start)
		if !ok {
			return drop(fmt.Sprintf("the state of frame %d is no longer held", start))
		}
		st = &saved
	}
	msg := appendWatchState(w.buf[:0], watchState{start: start, checksum: r.ops.checksum(st), encoding: w.wire.encoding})
	msg, err = w.wire.append(msg, st)
	if err != nil {
		return drop(fmt.Sprintf("encoding the state: %v", err))
	}
	if len(msg) > w.maxSize {
		return drop(fmt.Sprintf("the state is %d bytes, more than the %d bytes of a message (transport MaxMessageSize)", len(msg)-watchStateHeader, w.maxSize-watchStateHeader))
	}
	binary.LittleEndian.PutUint32(msg[24:], uint32(len(msg)-watchStateHeader))
	w.buf = msg[:0]
	if err := w.ctl.Send(id, w.mine.encode()); err != nil {
		return drop(err.Error())
	}
	if err := w.ctl.Send(id, msg); err != nil {
		return drop(err.Error())
	}
	w.remoteLog.Log(context.Background(), w.log, slog.LevelInfo, "rollbox: late spectator joined", "peer", id, "handle", handle,
		"start", start, "frame", r.frame, "state_bytes", len(msg)-watchStateHeader)
	return ""
}

// drained reports that every late spectator still here has acknowledged
// every frame, or that the runner lingered long enough: a host that left
// earlier would leave them short of the target frame.
func (w *watchHost[S, I]) drained(r *runner[S, I, transport.PeerID]) bool {
	if r.ticks-r.reachedTick > r.lingerTicks {
		return true
	}
	for _, h := range w.union.watchers {
		if st, err := r.p2p.NetworkStats(h); err == nil && st.SendQueueLen > 0 {
			return false
		}
	}
	return true
}

func (w *watchHost[S, I]) close(ctx context.Context) error { return w.sock.Close(ctx) }

// connectWatch joins the watch room of the match in Config.Room, receives
// its state from the host and builds a spectator's runner from there.
func (m *Match[S, I]) connectWatch(ctx context.Context, tc transport.Config) (*runner[S, I, transport.PeerID], transport.Mesh, error) {
	c := m.cfg
	room := c.Room + watchRoomSuffix
	r, sock, err := m.joinAndStart(ctx, transport.RoomURL(c.Server, room, 0, c.Token), tc, m.watchStart)
	if err != nil {
		return nil, nil, err
	}
	return r, sock, nil
}

// watchStart introduces this late spectator to every peer of the watch
// room on ctl, waits for the host's hello and state, and builds the
// runner. Apart from connectWatch so that tests can give it a mock mesh.
func (m *Match[S, I]) watchStart(ctx context.Context, mesh transport.Mesh, ctl packet.Socket[transport.PeerID]) (*runner[S, I, transport.PeerID], error) {
	c := m.cfg
	m.progress(PhaseWaiting, fmt.Sprintf("waiting for the match in room %q", c.Room))
	mine := hello{Version: helloVersion, Game: gameName[S, I](), Players: c.Players, Spectator: true, Watch: true,
		FPS: c.FPS, Lockstep: c.MaxPrediction == 0, Desync: c.desyncInterval()}
	msg := mine.encode()
	sent := make(map[transport.PeerID]bool)
	var host transport.PeerID
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, p := range mesh.Peers() {
			if !sent[p] && ctl.Send(p, msg) == nil {
				sent[p] = true
			}
		}
		for _, pk := range ctl.Receive() {
			if host == "" {
				h, err := parseHello(pk.From, pk.Data)
				if err != nil || !h.Host {
					continue // another spectator, or not a rollbox peer
				}
				if diff := mine.agree(h); diff != "" {
					return nil, fmt.Errorf("rollbox: the match in room %q (host %s) is not this one: %s", c.Room, pk.From, diff)
				}
				if h.Refuse != "" {
					return nil, fmt.Errorf("rollbox: the host of the match in room %q refuses this spectator: %q", c.Room, h.Refuse)
				}
				host = pk.From
				m.progress(PhaseConnecting, "receiving the match's state")
				continue
			}
			if pk.From != host {
				continue
			}
			return m.watchRunner(mesh, host, pk.Data)
		}
		select {
		case <-ctx.Done():
			if host == "" {
				return nil, fmt.Errorf("rollbox: no match is playing in room %q (no host in room %q): %w", c.Room, c.Room+watchRoomSuffix, ctx.Err())
			}
			return nil, fmt.Errorf("rollbox: waiting for the state of the match in room %q: %w", c.Room, ctx.Err())
		case <-tick.C:
		}
	}
}

// watchRunner loads the state message b from host into the game's state
// and builds the late spectator's runner from its frame.
func (m *Match[S, I]) watchRunner(sock rollback.Socket[transport.PeerID], host transport.PeerID, b []byte) (*runner[S, I, transport.PeerID], error) {
	c := m.cfg
	ws, err := parseWatchState(b)
	if err != nil {
		return nil, err
	}
	wire, err := newStateWire[S]()
	if err != nil {
		return nil, err
	}
	if ws.encoding != wire.encoding {
		return nil, fmt.Errorf("rollbox: the host sent its state encoded as %d, this build's state type reads %d", ws.encoding, wire.encoding)
	}
	var st S
	if err := wire.load(ws.state, &st); err != nil {
		return nil, fmt.Errorf("rollbox: loading the match's state: %w", err)
	}
	if sum := m.ops.checksum(&st); sum != ws.checksum {
		return nil, fmt.Errorf("rollbox: the match's state of frame %d arrived with checksum %016x, the host's is %016x", ws.start, sum, ws.checksum)
	}
	if c.Frames > 0 && ws.start > rollback.Frame(c.Frames) {
		return nil, fmt.Errorf("rollbox: the match is at frame %d, past Frames (%d)", ws.start, c.Frames)
	}
	*m.state = st
	rc := sessionConfig[I, transport.PeerID](c, m.codec)
	rc.Clock, rc.Seed = c.clock, c.sessionSeed
	if c.CatchupSpeed == 0 {
		rc.CatchupSpeed = watchCatchupSpeed
	}
	r := &runner[S, I, transport.PeerID]{ops: m.ops, codec: m.codec, state: m.state, log: c.Logger, onDesync: c.OnDesync,
		target: rollback.Frame(c.Frames), lingerTicks: lingerSeconds * c.FPS}
	r.players = make([]player[transport.PeerID], c.Players)
	for h := range r.players {
		// What a spectator hears of the players comes from the host.
		r.players[h].addr, r.players[h].peer = host, string(host)
		rc.AddRemotePlayer(rollback.PlayerHandle(h), host)
	}
	s, err := rollback.NewSpectatorSessionAt[S](rc, host, sock, ws.start)
	if err != nil {
		return nil, err
	}
	r.spectator = s
	r.init(c.clock)
	r.frame, r.recorded = ws.start, ws.start-1
	r.remember(ws.start, ws.checksum)
	m.progress(PhaseSynchronizing, "synchronizing with the host")
	return r, nil
}
