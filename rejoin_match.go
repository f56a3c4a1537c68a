package rollbox

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/rollbox/rollbox/internal/ratelog"
	"github.com/rollbox/rollbox/packet"
	"github.com/rollbox/rollbox/rollback"
	"github.com/rollbox/rollbox/transport"
)

// Rejoin over the network (the protocol is in rejoin.go). A match's room
// <room>?next=<peers> closes once full, so a player coming back meets the
// others in <room>.rejoin-<match id>: the players still playing join it as
// soon as one of them is gone, and the returning player joins it to ask.
// Two ways back:
//
//   - A program that crashed or was killed: while its match plays, a player
//     keeps {match id, handle, key} on disk (Config.RejoinDir), in a slot it
//     holds locked; the same command line started again finds the record
//     of a process that is gone and asks to come back instead of joining a
//     new match. A match that ends, or is closed, deletes its record.
//   - A player that lost every other (its network went): it is the one who
//     left unless it has the lowest handle (then the others come back to
//     it), and asks from the running program; when admitted, its session is
//     replaced and its state jumps to the match's.

// rejoinRoomInfix names the room where a match's players meet those coming
// back: <room>.rejoin-<match id>.
const rejoinRoomInfix = ".rejoin-"

// rejoinFindTimeout bounds how long a restarted program looks for its
// match before it joins as a new player: the others notice it is gone
// within their disconnect timeout (2 s by default) and then join the
// rejoin room.
const rejoinFindTimeout = 20 * time.Second

// rejoinTouchInterval is how often a playing peer refreshes its record (a
// record not refreshed for two minutes is stale).
const rejoinTouchInterval = time.Second

// maxRejoinState bounds the state a returning player accepts: 64 MiB.
const maxRejoinState = 64 << 20

// matchID derives the match's identity from its room and its peers' ids:
// every player computes the same.
func matchID(room string, peers []transport.PeerID) string {
	ids := slices.Clone(peers)
	slices.Sort(ids)
	h := sha256.New()
	h.Write([]byte(room))
	for _, id := range slices.Compact(ids) {
		h.Write([]byte{0})
		h.Write([]byte(id))
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// newRejoinKey is a player's secret for coming back: 128 random bits.
func newRejoinKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// rejoinScope identifies a command line among the records on disk.
func rejoinScope(c Config, game string) string {
	return fmt.Sprintf("%s\x00%s\x00%d\x00%d\x00%s", c.Server, c.Room, c.Players, c.LocalPlayers, game)
}

// rejoinDir is Config.RejoinDir with its default.
func (c Config) rejoinDir() string {
	switch c.RejoinDir {
	case "":
		return defaultRejoinDir()
	case "-":
		return ""
	}
	return c.RejoinDir
}

// ctlUnion is a player's control channel for rejoins: the match's reliable
// channel and, once joined, the rejoin room's. Send goes to the rejoin room
// for its peers and to the match's mesh for every other.
type ctlUnion struct {
	main     packet.Socket[transport.PeerID]
	side     packet.Socket[transport.PeerID] // nil until joined
	sideMesh transport.Mesh
	merged   []packet.Packet[transport.PeerID]
}

// Send implements packet.Socket.
func (u *ctlUnion) Send(to transport.PeerID, data []byte) error {
	if u.side != nil && slices.Contains(u.sideMesh.Peers(), to) {
		return u.side.Send(to, data)
	}
	return u.main.Send(to, data)
}

// Receive implements packet.Socket.
func (u *ctlUnion) Receive() []packet.Packet[transport.PeerID] {
	in := u.main.Receive()
	if u.side == nil {
		return in
	}
	s := u.side.Receive()
	if len(s) == 0 {
		return in
	}
	u.merged = append(append(u.merged[:0], in...), s...)
	return u.merged
}

// rejoinState is a Match's part in rejoins.
type rejoinState[S any, I comparable] struct {
	key   string // this player's secret
	match string // the match's identity
	tc    transport.Config
	store *rejoinStore

	host *rejoinHost[S, I, transport.PeerID]
	ctl  *ctlUnion
	// side is the rejoin room, once joined; joining is the join under way.
	side    *transport.Socket
	joining chan sideJoin
	// guest is this player asking to come back (it lost everyone), with
	// the room it asks in.
	guest     *rejoinGuest[transport.PeerID]
	guestSock *transport.Socket
	guestLeft time.Time // when to give up asking

	touched time.Time
	warn    ratelog.Limiter
	// closers closes the sockets a rejoin retired, in the background;
	// Close waits for it.
	closers sync.WaitGroup
}

type sideJoin struct {
	sock *transport.Socket
	err  error
}

// initRejoin prepares a player's rejoin state once its match started: the
// host that answers others, and its own record on disk.
func (m *Match[S, I]) initRejoin(r *runner[S, I, transport.PeerID], ctl packet.Socket[transport.PeerID], addrs []transport.PeerID, keys []string, match string) {
	rj := m.rj
	rj.match = match
	rj.ctl = &ctlUnion{main: ctl}
	rj.host = newRejoinHost[S, I, transport.PeerID](rj.ctl, addrs, match, keys, maxRejoinState, time.Now, m.cfg.Logger,
		func(addr transport.PeerID) { m.union.returning[addr] = true })
	// The other players learn the hash of this player's key, the
	// spectators never (they hear the hellos): a returning peer proves it
	// is a player with it (rejoin.go).
	told := map[transport.PeerID]bool{}
	for h, id := range addrs {
		if !r.players[h].local && !told[id] {
			told[id] = true
			_ = ctl.Send(id, rejoinMsg{T: msgKey, Key: rejoinKeyHash(rj.key)}.encode())
		}
	}
	rec := rejoinRecord{Match: match, Handle: int(r.local[0]), Key: rj.key}
	if err := rj.store.hold(rec); err != nil {
		m.cfg.Logger.Warn("rollbox: cannot keep this player's place for a restart", "dir", m.cfg.rejoinDir(), "err", err)
	}
	rj.touched = time.Now()
}

// room is the match's rejoin room (made when needed: Update runs every
// frame and allocates nothing).
func (rj *rejoinState[S, I]) room(c Config) string { return c.Room + rejoinRoomInfix + rj.match }

// joinSide joins room in the background; the result arrives on the
// returned channel.
func (m *Match[S, I]) joinSide(room string) chan sideJoin {
	ch := make(chan sideJoin, 1)
	c := m.cfg
	ctx, cancel := context.WithTimeout(context.Background(), c.JoinTimeout)
	m.rj.closers.Add(1)
	go func() {
		defer m.rj.closers.Done()
		defer cancel()
		sock, err := transport.Join(ctx, transport.RoomURL(c.Server, room, 0, c.Token), m.rj.tc)
		ch <- sideJoin{sock, err}
	}()
	return ch
}

// pollRejoin runs between two ticks: it joins the rejoin room once a
// player is gone, answers and admits returning players, asks to come back
// if this player is the one who left, and keeps the record fresh.
func (m *Match[S, I]) pollRejoin() {
	rj := m.rj
	if rj == nil || rj.host == nil || m.r.p2p == nil {
		return
	}
	now := time.Now()
	if now.Sub(rj.touched) >= rejoinTouchInterval {
		rj.touched = now
		_ = rj.store.touch(int(m.r.frame))
	}
	if rj.side == nil && rj.joining == nil && anyGone(m.r) {
		rj.joining = m.joinSide(rj.room(m.cfg))
	}
	if rj.joining != nil {
		select {
		case res := <-rj.joining:
			rj.joining = nil
			if res.err != nil {
				rj.warn.Log(context.Background(), m.cfg.Logger, slog.LevelWarn, "rollbox: joining the rejoin room failed; retrying", "room", rj.room(m.cfg), "err", res.err)
				break
			}
			rj.side = res.sock
			rj.ctl.side, rj.ctl.sideMesh = res.sock.Channel(1), res.sock
			m.union.side = res.sock
		default:
		}
	}
	if rj.guest == nil {
		// A player asking to come back admits no one: its match is the
		// one it left.
		rj.host.poll(m.r)
	}
	if rj.guest == nil && shouldRejoin(m.r) && rj.side != nil {
		// This player left: ask from the rejoin room it is in already.
		rj.guest = newRejoinGuest[transport.PeerID](rj.side.Channel(1), rj.match, m.r.local[0], len(m.r.local), rj.key, maxRejoinState)
		rj.guestSock = rj.side
		rj.guestLeft = now.Add(rejoinFindTimeout)
		m.cfg.Logger.Info("rollbox: lost every other player; asking to come back", "room", rj.room(m.cfg))
	}
	if rj.guest != nil {
		m.pollGuest(now)
	}
}

// shouldRejoin reports whether r's player, alone in its match, is the one
// that left and should ask to come back. With three players or more, the
// others are most likely still together (one link broke, or one network):
// it asks. With two, each side sees the other gone; the player with the
// lowest handle stays, and the other comes back to it. (Should every link
// of a larger match break at once, every player asks and none admits: the
// match is over.)
func shouldRejoin[S any, I comparable, A comparable](r *runner[S, I, A]) bool {
	return alone(r) && !r.reached && (len(r.players) > 2 || !r.players[0].local)
}

// anyGone reports whether a player of r's match is disconnected.
func anyGone[S any, I comparable, A comparable](r *runner[S, I, A]) bool {
	for _, p := range r.players {
		if !p.local && p.disconnected {
			return true
		}
	}
	return false
}

// pollGuest asks to come back; once admitted, the match goes on in a new
// session from the state the others sent.
func (m *Match[S, I]) pollGuest(now time.Time) {
	rj := m.rj
	done, err := rj.guest.poll(rj.guestSock.Peers(), now)
	if err == nil && !done && now.After(rj.guestLeft) && rj.guest.welcome == nil {
		// (A transfer under way has its own deadline: rejoinTransferTimeout.)
		err = fmt.Errorf("rollbox: no one took this player back (last answer: %q)", rj.guest.refused)
	}
	if err != nil {
		rj.warn.Log(context.Background(), m.cfg.Logger, slog.LevelWarn, "rollbox: coming back failed; asking again", "err", err)
		rj.guest = nil
		return
	}
	if !done {
		return
	}
	g := rj.guest
	rj.guest = nil
	r, err := m.resumeRunner(g, rj.guestSock.ID(), rj.guestSock)
	if err != nil {
		m.cfg.Logger.Warn("rollbox: coming back failed", "err", err)
		return
	}
	m.adoptRejoin(r, g, rj.guestSock)
}

// adoptRejoin makes r, built from g's welcome, the match's runner, on the
// rejoin room's socket sock: the match's old room and sockets are retired.
func (m *Match[S, I]) adoptRejoin(r *runner[S, I, transport.PeerID], g *rejoinGuest[transport.PeerID], sock *transport.Socket) {
	rj := m.rj
	old := []*transport.Socket{}
	if s, ok := m.sock.(*transport.Socket); ok && s != sock {
		old = append(old, s)
	}
	if m.watch != nil {
		old = append(old, m.watch.sock)
		m.watch = nil
	}
	for _, s := range old {
		rj.closeSocket(s)
	}
	m.r, m.sock, rj.side = r, sock, sock
	m.playFromRejoinRoom(r, g, sock)
	m.cfg.Logger.Info("rollbox: back in the match", "from", g.welcome.From, "at", g.welcome.At,
		"state_bytes", len(g.state), "transfer", g.received.Sub(g.welcomed))
}

// playFromRejoinRoom sets up a player that came back (r, built from g's
// welcome) to play through the rejoin room's socket alone: its session and
// its part in later rejoins of others.
func (m *Match[S, I]) playFromRejoinRoom(r *runner[S, I, transport.PeerID], g *rejoinGuest[transport.PeerID], sock *transport.Socket) {
	rj := m.rj
	m.union = newUnionSocket(sock)
	rj.side = sock
	rj.ctl = &ctlUnion{main: sock.Channel(1)}
	addrs := make([]transport.PeerID, len(r.players))
	for h := range r.players {
		addrs[h] = r.players[h].addr
	}
	rj.host = newRejoinHost[S, I, transport.PeerID](rj.ctl, addrs, rj.match, g.welcome.Keys, maxRejoinState, time.Now, m.cfg.Logger, nil)
}

// resumeRunner loads the state a guest received into the game's state and
// builds the runner that plays on from there, as self on sock.
func (m *Match[S, I]) resumeRunner(g *rejoinGuest[transport.PeerID], self transport.PeerID, sock rollback.Socket[transport.PeerID]) (*runner[S, I, transport.PeerID], error) {
	st, pm, err := welcomed(g, m.ops, m.cfg.Players, self, func(h int) transport.PeerID {
		return transport.PeerID(fmt.Sprintf("gone-%d", h))
	})
	if err != nil {
		return nil, err
	}
	*m.state = st
	return newResumedRunner(m.cfg, m.ops, m.codec, m.state, m.input, self, pm, sock, g.resume())
}

// connectRejoin is connect for a program started again: it asks in the
// rejoin room of the match in rec to come back, and builds the runner.
func (m *Match[S, I]) connectRejoin(ctx context.Context, rec rejoinRecord) (*runner[S, I, transport.PeerID], *transport.Socket, error) {
	c := m.cfg
	// Finding the others takes up to rejoinFindTimeout; a transfer that
	// started by then gets its own time on top.
	ctx, cancel := context.WithTimeout(ctx, rejoinFindTimeout+rejoinTransferTimeout)
	defer cancel()
	findBy := time.Now().Add(rejoinFindTimeout)
	room := c.Room + rejoinRoomInfix + rec.Match
	m.rj.key, m.rj.match = rec.Key, rec.Match
	var g *rejoinGuest[transport.PeerID]
	start := func(ctx context.Context, mesh transport.Mesh, ctl packet.Socket[transport.PeerID]) (*runner[S, I, transport.PeerID], error) {
		m.progress(PhaseRejoining, "asking the other players to take this player back")
		g = newRejoinGuest[transport.PeerID](ctl, rec.Match, PlayerHandle(rec.Handle), c.LocalPlayers, rec.Key, maxRejoinState)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			done, err := g.poll(mesh.Peers(), time.Now())
			if err != nil {
				return nil, err
			}
			if done {
				m.progress(PhaseSynchronizing, "synchronizing with the other players")
				return m.resumeRunner(g, mesh.ID(), mesh)
			}
			if g.welcome == nil && time.Now().After(findBy) {
				if g.refused != "" {
					return nil, fmt.Errorf("rollbox: the match refused this player back: %q", g.refused)
				}
				return nil, fmt.Errorf("rollbox: no one of the match answered in room %q within %v", room, rejoinFindTimeout)
			}
			select {
			case <-ctx.Done():
				if g.refused != "" {
					return nil, fmt.Errorf("rollbox: the match refused this player back: %q", g.refused)
				}
				return nil, fmt.Errorf("rollbox: no one of the match answered in room %q: %w", room, ctx.Err())
			case <-tick.C:
			}
		}
	}
	r, sock, err := m.joinAndStart(ctx, transport.RoomURL(c.Server, room, 0, c.Token), m.rj.tc, start)
	if err != nil {
		return nil, nil, err
	}
	m.playFromRejoinRoom(r, g, sock)
	m.cfg.Logger.Info("rollbox: back in the match after a restart", "player", rec.Handle+1, "from", g.welcome.From, "at", g.welcome.At,
		"state_bytes", len(g.state), "transfer", g.received.Sub(g.welcomed))
	return r, sock, nil
}

// close leaves the rejoin room (unless it is the match's socket, main,
// which Close closes), waits for the sockets retired in the background, and
// deletes this player's record: a match closed on purpose is not come back
// to.
func (rj *rejoinState[S, I]) close(main transport.Mesh) error {
	if rj.joining != nil {
		if res := <-rj.joining; res.err == nil {
			rj.closeSocket(res.sock)
		}
		rj.joining = nil
	}
	if rj.side != nil && transport.Mesh(rj.side) != main {
		rj.closeSocket(rj.side)
	}
	rj.closers.Wait()
	return rj.store.release()
}

// closeSocket closes s in the background (Close waits for it).
func (rj *rejoinState[S, I]) closeSocket(s *transport.Socket) {
	rj.closers.Add(1)
	go func() {
		defer rj.closers.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	}()
}
