package rollbox

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rollbox/rollbox/packet"
	"github.com/rollbox/rollbox/rollback"
	"github.com/rollbox/rollbox/transport/simnet"
)

// Hostile scenarios of the rejoin protocol (rejoin.go) over the simnet
// harness of rejoin_sim_test.go: strangers and players sending what they
// should not, and players dropping and coming back in awkward orders.

const simTick = time.Second / 60

// attackSim is a rejoinSim whose players can each drop and come back at a
// new address, any number of times.
type attackSim struct {
	*rejoinSim
	addr  []int   // by player: its current address (net and control)
	since []Frame // by player: its runner's first frame (0, or its resume's From)
	live  []bool  // by player: its program runs and is ticked
	next  int     // the next free address
	// drops holds, per drop of a player, the frames whose confirmed
	// checksums agree() does not compare: see dropAndWait.
	drops [][2]Frame
	lines atomic.Int64 // log lines the hosts wrote
}

// countingHandler counts the records logged through it.
type countingHandler struct{ n *atomic.Int64 }

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(context.Context, slog.Record) error {
	h.n.Add(1)
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

func newAttackSim(t *testing.T, seed uint64) *attackSim {
	link := simnet.Link{Latency: 20 * time.Millisecond, Jitter: 5 * time.Millisecond, Loss: 0.01}
	a := &attackSim{rejoinSim: newRejoinSim(t, seed, link), addr: []int{0, 1, 2}, since: make([]Frame, 3),
		live: []bool{true, true, true}, next: 3}
	for _, h := range a.hosts {
		h.log = slog.New(countingHandler{&a.lines})
	}
	return a
}

// step ticks every live player once and advances the clock a tick.
func (a *attackSim) step() {
	a.t.Helper()
	for p, ok := range a.live {
		if ok {
			a.tick(p)
		}
	}
	a.net.Advance(simTick)
}

// runUntil steps until cond holds, failing after limit of virtual time.
func (a *attackSim) runUntil(limit time.Duration, what string, cond func() bool) {
	a.t.Helper()
	start := a.net.Now()
	for !cond() {
		if a.net.Now()-start > limit {
			a.t.Fatalf("not %s after %v (frames %d %d %d)", what, limit, a.runners[0].frame, a.runners[1].frame, a.runners[2].frame)
		}
		a.step()
	}
}

// runFor steps for d of virtual time.
func (a *attackSim) runFor(d time.Duration) {
	a.t.Helper()
	start := a.net.Now()
	for a.net.Now()-start < d {
		a.step()
	}
}

// drop kills player p's program: it stops, and its address is cut off.
func (a *attackSim) drop(p int) {
	cut := simnet.Link{Loss: 1}
	for q := range 8 {
		if q != a.addr[p] {
			a.net.SetLink(a.addr[p], q, cut)
			a.net.SetLink(q, a.addr[p], cut)
		}
	}
	a.ctl.down[a.addr[p]] = true
	a.live[p] = false
}

// sees reports whether every live player but p sees p as disconnected
// (gone) or connected.
func (a *attackSim) sees(p int, gone bool) bool {
	for q, ok := range a.live {
		if ok && q != p && a.runners[q].players[p].disconnected != gone {
			return false
		}
	}
	return true
}

// peersOf lists the addresses of the live players but p.
func (a *attackSim) peersOf(p int) []int {
	var out []int
	for q, ok := range a.live {
		if ok && q != p {
			out = append(out, a.addr[q])
		}
	}
	return out
}

// guestFor starts player p's program again at a new address, asking to
// come back with key.
func (a *attackSim) guestFor(p int, key string) (*rejoinGuest[int], int) {
	addr := a.next
	a.next++
	if addr >= 8 {
		a.t.Fatal("out of simnet addresses")
	}
	return newRejoinGuest[int](a.ctl.socket(addr), "match", PlayerHandle(p), 1, key, 1<<20), addr
}

// comeBack brings player p back at a new address through the protocol,
// ticking the others meanwhile, and returns its resume.
func (a *attackSim) comeBack(p int) rollback.Resume {
	a.t.Helper()
	g, addr := a.guestFor(p, a.keyOf(p))
	start := a.net.Now()
	for {
		done, err := g.poll(a.peersOf(p), a.cfg.clock())
		if err != nil {
			a.t.Fatal(err)
		}
		if done {
			break
		}
		a.step()
		if a.net.Now()-start > 40*time.Second {
			a.t.Fatalf("player %d not readmitted after 40 s; last refusal %q", p+1, g.refused)
		}
	}
	a.resumeAt(g, p, addr)
	return g.resume()
}

func (a *attackSim) keyOf(p int) string { return []string{"k0", "k1", "k2"}[p] }

// resumeAt builds player p's runner from g's welcome at addr, as Match does.
func (a *attackSim) resumeAt(g *rejoinGuest[int], p, addr int) {
	a.t.Helper()
	st, pm, err := welcomed(g, a.ops, 3, addr, func(h int) int { return 100 + h })
	if err != nil {
		a.t.Fatal(err)
	}
	pc := a.cfg
	pc.sessionSeed = uint64(1000 + addr)
	r, err := newResumedRunner(pc, a.ops, a.codec, &st, newBot[uint8](a.codec, uint64(addr)).input, addr, pm,
		rollback.Socket[int](a.net.Endpoint(addr)), g.resume())
	if err != nil {
		a.t.Fatal(err)
	}
	sums := map[Frame]uint64{}
	r.onConfirmed = func(f Frame, sum uint64) { sums[f] = sum }
	a.sums[p] = sums
	a.runners[p] = r
	a.hosts[p] = newRejoinHost[rejoinArena, uint8, int](a.ctl.socket(addr), pm.byHandle, "match",
		g.welcome.Keys, 1<<20, a.cfg.clock, slog.New(countingHandler{&a.lines}), nil)
	a.addr[p], a.since[p], a.live[p] = addr, g.welcome.From, true
}

// agree plays until every live player confirmed frame to, then checks that
// they computed the same state for every frame each of them played, and
// that no one saw a desync.
func (a *attackSim) agree(to Frame) {
	a.t.Helper()
	a.runUntil(2*time.Minute, "confirmed alike", func() bool {
		for p, ok := range a.live {
			if ok && a.runners[p].confirmed() < to {
				return false
			}
		}
		return true
	})
	for f := Frame(1); f <= to; f++ {
		var want uint64
		for p, ok := range a.live {
			if !ok || f <= a.since[p] || a.unsettled(f) {
				continue
			}
			got := a.sums[p][f]
			if got == 0 {
				a.t.Fatalf("frame %d: player %d has no checksum", f, p+1)
			}
			if want == 0 {
				want = got
			} else if got != want {
				a.t.Fatalf("frame %d: player %d disagrees", f, p+1)
			}
		}
	}
	for p, ok := range a.live {
		if ok && a.runners[p].desyncs != 0 {
			a.t.Fatalf("player %d saw %d desyncs", p+1, a.runners[p].desyncs)
		}
	}
}

// sendAs sends m on the control channel from address from to address to.
func (a *attackSim) sendAs(from, to int, m rejoinMsg) {
	_ = a.ctl.socket(from).Send(to, m.encode())
}

// received drains what address addr was sent on the control channel and
// parses it.
func (a *attackSim) received(addr int) []rejoinMsg {
	var out []rejoinMsg
	for _, pk := range a.ctl.socket(addr).Receive() {
		if m, err := parseRejoinMsg(pk.Data, 1<<20); err == nil {
			out = append(out, m)
		}
	}
	return out
}

// tapSocket records the rejoin messages a host receives.
type tapSocket struct {
	packet.Socket[int]
	got *[]rejoinMsg
}

func (s tapSocket) Receive() []packet.Packet[int] {
	in := s.Socket.Receive()
	for _, pk := range in {
		if m, err := parseRejoinMsg(pk.Data, 1<<20); err == nil {
			*s.got = append(*s.got, m)
		}
	}
	return in
}

// tap records what player p's host receives from now on.
func (a *attackSim) tap(p int) *[]rejoinMsg {
	got := new([]rejoinMsg)
	a.hosts[p].ctl = tapSocket{a.hosts[p].ctl, got}
	return got
}

// startTo plays until every player reached frame f.
func (a *attackSim) startTo(f Frame) {
	a.t.Helper()
	a.runUntil(time.Minute, "started", func() bool {
		for _, r := range a.runners {
			if r.frame < f {
				return false
			}
		}
		return true
	})
}

// dropAndWait drops player p and plays until the others see it gone.
//
// Frames just before the others saw it gone are not compared by agree: the
// session's confirmed frame is not final across a drop (a pre-existing
// issue of every drop, not of rejoins): a player that received one more
// input of the dying peer than another confirms that frame, learns from
// the other that the peer's last frame is one earlier, and plays the frame
// again with the player disconnected; the runner reported the first
// checksum already. The states agree again from the next frame on.
func (a *attackSim) dropAndWait(p int) {
	a.t.Helper()
	a.drop(p)
	a.runUntil(30*time.Second, "seen gone", func() bool { return a.sees(p, true) })
	hi := Frame(1<<31 - 1)
	for q, ok := range a.live {
		if ok {
			hi = min(hi, a.runners[q].frame)
		}
	}
	a.drops = append(a.drops, [2]Frame{hi - Frame(a.cfg.MaxPrediction) - 2, hi})
}

// unsettled reports whether frame f is one agree does not compare.
func (a *attackSim) unsettled(f Frame) bool {
	for _, d := range a.drops {
		if f >= d[0] && f <= d[1] {
			return true
		}
	}
	return false
}

// TestRejoinStrangerFlood: a stranger (no player of the match) sends
// requests with wrong keys, fifty a tick, to every player for ten seconds,
// while a real player drops and comes back: the stranger is refused at a
// bounded rate, never readmitted, the hosts' log lines stay rate limited,
// and the match goes on and agrees.
func TestRejoinStrangerFlood(t *testing.T) {
	a := newAttackSim(t, 21)
	a.startTo(300)
	a.dropAndWait(2)
	const stranger = 7
	a.lines.Store(0)
	start := a.net.Now()
	refusals := 0
	flood := func() {
		for _, to := range []int{0, 1} {
			for i := range 50 {
				// Answers to challenges it never got, with guessed proofs.
				a.sendAs(stranger, to, rejoinMsg{T: msgRejoin, Match: "match", Handle: i % 3, Nonce: "n", Challenge: "c", Proof: "guess"})
			}
		}
		for _, m := range a.received(stranger) {
			if m.T != msgRefuse {
				t.Fatalf("the stranger got %+v", m)
			}
			refusals++
		}
	}
	for a.net.Now()-start < 10*time.Second {
		flood()
		a.step()
	}
	elapsed := a.net.Now() - start
	if a.runners[0].rejoins != 0 || a.runners[1].rejoins != 0 || !a.sees(2, true) {
		t.Fatal("a stranger was readmitted")
	}
	// Two hosts, each a burst of 10 lines and one a second.
	if n, most := a.lines.Load(), 2*(10+int64(elapsed/time.Second)+1); n > most {
		t.Fatalf("the hosts logged %d lines in %v of a stranger's requests, more than %d", n, elapsed, most)
	}
	if most := 2 * (rejoinRefuseBurst + int(elapsed/rejoinRefuseInterval) + 1); refusals > most {
		t.Fatalf("the stranger got %d refusals in %v, more than %d", refusals, elapsed, most)
	}
	if refusals == 0 {
		t.Fatal("the stranger was never refused")
	}
	// The real player comes back through the flood.
	g, addr := a.guestFor(2, "k2")
	a.runUntil(40*time.Second, "readmitted through a flood", func() bool {
		flood()
		done, err := g.poll(a.peersOf(2), a.cfg.clock())
		if err != nil {
			t.Fatal(err)
		}
		return done
	})
	a.resumeAt(g, 2, addr)
	a.agree(2000)
}

// TestRejoinEmptyKey: a player that announced no key (an old or hostile
// program, hello's Key is optional) cannot be taken over by anyone
// presenting the empty key once it dropped.
func TestRejoinEmptyKey(t *testing.T) {
	a := newAttackSim(t, 22)
	for p, h := range a.hosts {
		h.keys = []string{"k0", "", "k2"}
		_ = p
	}
	a.startTo(300)
	a.dropAndWait(1)
	g, _ := a.guestFor(1, "")
	a.runFor(5 * time.Second)
	for range 5 * 60 {
		if done, err := g.poll(a.peersOf(1), a.cfg.clock()); err != nil || done || g.welcome != nil {
			t.Fatalf("a peer presenting an empty key was welcomed (done %v, err %v)", done, err)
		}
		a.step()
	}
	if a.runners[0].rejoins != 0 || a.runners[2].rejoins != 0 || !a.sees(1, true) {
		t.Fatal("a peer presenting an empty key was readmitted")
	}
	if g.refused == "" {
		t.Fatal("the peer was never refused")
	}
	a.agree(1500)
}

// TestRejoinStrangerAdmitAbort: admit and abort from a stranger's address
// are ignored, even naming a player being admitted and its admission's id.
func TestRejoinStrangerAdmitAbort(t *testing.T) {
	a := newAttackSim(t, 23)
	a.startTo(300)
	a.dropAndWait(2)
	const stranger = 7
	// Player 3 asks player 2 only: player 2 knows where it is, not
	// coordinating, it admits it only when asked to by player 1.
	g, _ := a.guestFor(2, "k2")
	if _, err := g.poll([]int{a.addr[1]}, a.cfg.clock()); err != nil {
		t.Fatal(err)
	}
	a.runFor(time.Second)
	f := a.runners[1].frame
	for id := range uint64(3) {
		a.sendAs(stranger, a.addr[1], rejoinMsg{T: msgAdmit, Handle: 2, ID: id, From: a.runners[1].confirmed(), At: f + 120})
		a.sendAs(stranger, a.addr[1], rejoinMsg{T: msgAbort, Handle: 0, ID: id})
		a.sendAs(stranger, a.addr[0], rejoinMsg{T: msgAbort, Handle: 1, ID: id})
		a.sendAs(stranger, a.addr[0], rejoinMsg{T: msgAdmitted, Handle: 2, ID: id})
	}
	a.runFor(time.Second)
	if got := a.received(stranger); len(got) != 0 {
		t.Fatalf("a stranger's admit or abort was answered: %+v", got)
	}
	if a.runners[1].rejoins != 0 || !a.sees(2, true) || !a.sees(0, false) || !a.sees(1, false) {
		t.Fatal("a stranger's admit or abort changed who plays")
	}
	a.agree(1200)
}

// TestRejoinForgedAbort: a player cannot disconnect another one at a host
// with an abort of an admission that host never made (id 0, the zero
// value of a missing admission), be it the coordinator or not.
func TestRejoinForgedAbort(t *testing.T) {
	a := newAttackSim(t, 24)
	a.startTo(300)
	// Player 2 tells player 3 to take back the admission of player 1, and
	// player 1 (the coordinator) that of player 2.
	a.sendAs(a.addr[1], a.addr[2], rejoinMsg{T: msgAbort, Handle: 0})
	a.sendAs(a.addr[0], a.addr[2], rejoinMsg{T: msgAbort, Handle: 1})
	a.runFor(3 * time.Second)
	if !a.sees(0, false) || !a.sees(1, false) || !a.sees(2, false) {
		t.Fatal("a forged abort disconnected a player")
	}
	// Player 3 comes back; then it (no coordinator) sends player 2 the
	// abort of its own admission, with that admission's id.
	a.dropAndWait(2)
	a.comeBack(2)
	id, ok := a.hosts[1].admitted[2]
	if !ok {
		t.Fatal("player 2 holds no admission of player 3")
	}
	a.runFor(time.Second)
	a.sendAs(a.addr[2], a.addr[1], rejoinMsg{T: msgAbort, Handle: 2, ID: id})
	a.runFor(3 * time.Second)
	if !a.sees(0, false) || !a.sees(1, false) || !a.sees(2, false) {
		t.Fatal("an abort from a player not coordinating disconnected a player")
	}
	a.agree(1800)
}

// TestRejoinAdmitFromNonCoordinator: only the coordinator (the lowest
// handle playing) makes a host readmit a player; a player that is not
// sending admit, or admit of a player still connected or with frames that
// break Readmit's rules, is answered admitted{err} and changes nothing.
func TestRejoinAdmitFromNonCoordinator(t *testing.T) {
	a := newAttackSim(t, 25)
	a.startTo(300)

	got0, got1 := a.tap(0), a.tap(1)
	// A player still connected: refused.
	a.hosts[2].asked[1] = a.addr[0] // as if player 1 had answered a challenge for player 2 (it knows the key's hash)
	a.sendAs(a.addr[0], a.addr[2], rejoinMsg{T: msgAdmit, Handle: 1, ID: 9, From: a.runners[0].confirmed(), At: a.runners[0].frame + 60, Peer: fmt.Sprint(a.addr[0])})
	a.runFor(time.Second)
	var errs int
	for _, m := range *got0 {
		if m.T == msgAdmitted {
			if m.Err == "" || m.ID != 9 {
				t.Fatalf("admit of a connected player answered %+v", m)
			}
			errs++
		}
	}
	if errs != 1 || !a.sees(1, false) || a.runners[2].rejoins != 0 {
		t.Fatalf("admit of a connected player: %d refusals, rejoins %d", errs, a.runners[2].rejoins)
	}

	a.dropAndWait(2)
	*got0, *got1 = nil, nil
	// Player 3's request reached player 1 while it was busy (an admission
	// pending): player 1 knows where it is but did not admit it.
	a.hosts[0].asked[2] = 6
	at := a.runners[1].frame + 120
	a.sendAs(a.addr[1], a.addr[0], rejoinMsg{T: msgAdmit, Handle: 2, ID: 1, From: a.runners[1].confirmed(), At: at, Peer: "6"})
	// The coordinator with frames that break the rules: at already
	// confirmed.
	a.hosts[1].asked[2] = 6
	a.sendAs(a.addr[0], a.addr[1], rejoinMsg{T: msgAdmit, Handle: 2, ID: 2, From: 1, At: 2, Peer: "6"})
	a.runFor(time.Second)
	for _, p := range []int{0, 1} {
		if a.runners[p].rejoins != 0 || !a.runners[p].players[2].disconnected {
			t.Fatalf("player %d readmitted player 3 on a bad admit", p+1)
		}
	}
	for _, m := range a.received(6) {
		t.Fatalf("the player not admitted was sent %+v", m)
	}
	if got := admittedIn(*got1); len(got) != 1 || got[0].T != msgAdmitted || got[0].Err == "" || got[0].ID != 1 {
		t.Fatalf("player 2's admit was answered %+v", got)
	}
	if got := admittedIn(*got0); len(got) != 1 || got[0].T != msgAdmitted || got[0].Err == "" || got[0].ID != 2 {
		t.Fatalf("player 1's admit at a confirmed frame was answered %+v", got)
	}
	a.comeBack(2)
	a.agree(2000)
}

// admittedIn returns the admitted messages in ms.
func admittedIn(ms []rejoinMsg) []rejoinMsg {
	var out []rejoinMsg
	for _, m := range ms {
		if m.T == msgAdmitted {
			out = append(out, m)
		}
	}
	return out
}

// TestRejoinTwice: a player comes back, drops again later, and comes back
// a second time: every player agrees on every frame throughout.
func TestRejoinTwice(t *testing.T) {
	a := newAttackSim(t, 31)
	a.startTo(300)
	a.dropAndWait(2)
	a.comeBack(2)
	a.runFor(5 * time.Second)
	a.dropAndWait(2)
	a.comeBack(2)
	a.agree(2400)
	if a.runners[0].rejoins != 2 || a.runners[1].rejoins != 2 {
		t.Fatalf("rejoins counted: %d, %d", a.runners[0].rejoins, a.runners[1].rejoins)
	}
}

// TestRejoinCoordinatorDrops: the player with the lowest handle drops;
// the second coordinates its return.
func TestRejoinCoordinatorDrops(t *testing.T) {
	a := newAttackSim(t, 32)
	a.startTo(300)
	a.dropAndWait(0)
	a.comeBack(0)
	a.agree(1500)
	// And once it is back, it coordinates again: the third drops and
	// comes back.
	a.dropAndWait(2)
	a.comeBack(2)
	a.agree(2400)
}

// TestRejoinTwoDrop: two players drop, one after the other, and come back
// one after the other.
func TestRejoinTwoDrop(t *testing.T) {
	a := newAttackSim(t, 33)
	a.startTo(300)
	a.dropAndWait(1)
	a.runFor(2 * time.Second)
	a.dropAndWait(2)
	// Player 1 is alone now: it stays (the lowest handle) and takes the
	// others back.
	a.comeBack(1)
	a.runFor(2 * time.Second)
	a.comeBack(2)
	a.agree(2400)
}

// TestRejoinGuestDiesDuringAdmission: the returning player receives its
// welcome and dies before its handshake: the others drop it again (after
// the session's 15 s) and play on, and it can come back afterwards.
func TestRejoinGuestDiesDuringAdmission(t *testing.T) {
	a := newAttackSim(t, 34)
	a.startTo(300)
	a.dropAndWait(2)
	g, addr := a.guestFor(2, "k2")
	a.runUntil(30*time.Second, "welcomed", func() bool {
		done, err := g.poll(a.peersOf(2), a.cfg.clock())
		if err != nil {
			t.Fatal(err)
		}
		return done
	})
	if !a.sees(2, false) {
		t.Fatal("the others did not readmit the player")
	}
	a.ctl.down[addr] = true // it dies: never builds its session
	for q := range 8 {
		a.net.SetLink(addr, q, simnet.Link{Loss: 1})
		a.net.SetLink(q, addr, simnet.Link{Loss: 1})
	}
	a.runUntil(40*time.Second, "dropped again", func() bool { return a.sees(2, true) })
	a.comeBack(2)
	a.agree(2700)
}

// backThrough brings player p back with guest g at addr while hostile is
// called every tick (it may send what it likes): the guest must neither
// fail nor hang.
func (a *attackSim) backThrough(p int, g *rejoinGuest[int], addr int, hostile func()) {
	a.t.Helper()
	a.runUntil(60*time.Second, "readmitted", func() bool {
		hostile()
		done, err := g.poll(a.peersOf(p), a.cfg.clock())
		if err != nil {
			a.t.Fatalf("the guest gave up: %v", err)
		}
		return done
	})
	a.resumeAt(g, p, addr)
}

// forgedChunk is a chunk message of transfer id at offset off of a
// transfer of total bytes.
func forgedChunk(id uint64, total, off int, payload []byte) []byte {
	var out []byte
	_ = sendChunks(func(b []byte) error { out = append([]byte(nil), b...); return nil }, id, make([]byte, total), nil)
	binary.LittleEndian.PutUint32(out[20:], uint32(off))
	return append(out[:chunkHeaderSize], payload...)
}

// TestRejoinGuestForgedWelcome: a stranger sends the returning player a
// welcome before the coordinator does, then a broken chunk: the guest
// forgets it and comes back with the coordinator's.
func TestRejoinGuestForgedWelcome(t *testing.T) {
	a := newAttackSim(t, 41)
	a.startTo(300)
	a.dropAndWait(2)
	const stranger = 7
	g, addr := a.guestFor(2, "k2")
	sent := 0
	a.backThrough(2, g, addr, func() {
		if sent < 2 {
			a.sendAs(stranger, addr, rejoinMsg{T: msgWelcome, Handle: 2, ID: 1, From: 10, At: 20, Size: 100,
				Players: make([]rollback.ResumeStatus, 3)})
			a.sendAs(stranger, addr, rejoinMsg{}) // not a rejoin message
			_ = a.ctl.socket(stranger).Send(addr, forgedChunk(1, 100, 50, []byte("x")))
			sent++
		}
	})
	a.agree(1800)
}

// TestRejoinGuestStalledTransfer: a stranger's welcome whose state never
// comes (one chunk of many): the guest gives up on it after
// rejoinTransferTimeout, the others drop the admission the guest missed
// meanwhile, and the player comes back. A welcome announcing more than the
// guest takes is ignored, and no chunk makes it hold more than that.
func TestRejoinGuestStalledTransfer(t *testing.T) {
	a := newAttackSim(t, 42)
	a.startTo(300)
	a.dropAndWait(2)
	const stranger = 7
	g, addr := a.guestFor(2, "k2")
	g.maxState = 1 << 20
	sent := false
	a.backThrough(2, g, addr, func() {
		if sent {
			return
		}
		sent = true
		a.sendAs(stranger, addr, rejoinMsg{T: msgWelcome, Handle: 2, ID: 1, Size: 1<<20 + 1, Players: make([]rollback.ResumeStatus, 3)})
		a.sendAs(stranger, addr, rejoinMsg{T: msgWelcome, Handle: 2, ID: 1, Size: 1 << 20, Players: make([]rollback.ResumeStatus, 3)})
		_ = a.ctl.socket(stranger).Send(addr, forgedChunk(1, 1<<20, 0, make([]byte, 100)))
	})
	if g.reader != nil && cap(g.reader.buf) > 1<<20 {
		t.Fatalf("the guest held %d bytes for a state of at most %d", cap(g.reader.buf), 1<<20)
	}
	a.agree(3000)
}

// TestRejoinThenEveryoneLeaves: player 1 comes back, then every program
// ends as a real one does, the moment its match is Done (finished); every
// player reports the same checksum at the target.
func TestRejoinThenEveryoneLeaves(t *testing.T) {
	for seed := uint64(40); seed < 60; seed++ {
		a := newAttackSim(t, seed)
		for _, r := range a.runners {
			r.target = 900
		}
		a.startTo(300)
		a.dropAndWait(0)
		a.comeBack(0)
		for _, r := range a.runners {
			r.target = 900
		}
		a.runUntil(2*time.Minute, "everyone finished", func() bool {
			all := true
			for p, ok := range a.live {
				if ok && a.runners[p].finished() {
					a.drop(p) // the program ends
				}
				all = all && !a.live[p]
			}
			return all
		})
		for p, r := range a.runners {
			if !r.reached || r.reachedSum != a.runners[1].reachedSum {
				t.Fatalf("seed %d: player %d reached %v with %016x, player 2 %016x", seed, p+1, r.reached, r.reachedSum, a.runners[1].reachedSum)
			}
		}
	}
}
