package rollbox

import (
	"fmt"
	"time"

	"github.com/rollbox/rollbox/packet"
	"github.com/rollbox/rollbox/rollback"
	"github.com/rollbox/rollbox/transport/simnet"
)

// simDrops carries out a simulation's Drops: it cuts a player off the
// network, and once it is back and alone brings it back to the match
// through the rejoin protocol (rejoin.go), over a control channel of the
// simulation's own (simCtl) in place of the rejoin room.
type simDrops[S any, I comparable] struct {
	sim     *Simulation[I]
	cfg     Config
	ops     stateOps[S, I]
	codec   *valueCodec[I]
	net     *simnet.Network
	ctl     *simCtl
	runners []*runner[S, I, int]
	peers   []SimulatedPeer[S]
	hosts   []*rejoinHost[S, I, int]
	addr    []int // each player's current address
	keys    []string
	drops   []simDrop
}

// simDrop is one Drop under way.
type simDrop struct {
	Drop
	phase    dropPhase
	cutAt    time.Duration
	recorded rollback.Frame // the player's last recorded frame at the cut: its later ones may be its own
	guest    *rejoinGuest[int]
}

type dropPhase uint8

const (
	dropPending dropPhase = iota
	dropCut               // off the network
	dropBack              // on the network again; comes back once alone
	dropAsking            // asking the others to take it back
	dropDone
)

// simRejoinGrace bounds how long a player back on the network may take to
// find itself alone (the others' and its own disconnect timeouts): a drop
// it does not notice was only a stall.
const simRejoinGrace = 10 * time.Second

func newSimDrops[S any, I comparable](sim *Simulation[I], c Config, ops stateOps[S, I], codec *valueCodec[I], net *simnet.Network,
	runners []*runner[S, I, int], peers []SimulatedPeer[S]) *simDrops[S, I] {
	d := &simDrops[S, I]{sim: sim, cfg: c, ops: ops, codec: codec, net: net, runners: runners, peers: peers}
	if len(sim.Drops) == 0 {
		return d
	}
	d.ctl = newSimCtl(net.Now, sim.Link.Latency)
	for p := range runners {
		d.addr = append(d.addr, p)
		d.keys = append(d.keys, fmt.Sprintf("player-%d", p))
	}
	for p := range runners {
		d.hosts = append(d.hosts, d.host(p))
	}
	for _, dr := range sim.Drops {
		d.drops = append(d.drops, simDrop{Drop: dr})
	}
	return d
}

func (d *simDrops[S, I]) host(p int) *rejoinHost[S, I, int] {
	addrs := make([]int, len(d.addr))
	copy(addrs, d.addr)
	hashes := make([]string, len(d.keys))
	for i, k := range d.keys {
		hashes[i] = rejoinKeyHash(k)
	}
	return newRejoinHost[S, I, int](d.ctl.socket(d.addr[p]), addrs, "simulation", hashes, maxRejoinState, d.cfg.clock, d.cfg.Logger, nil)
}

// away reports whether player p is off the match: cut, or asking to come
// back.
func (d *simDrops[S, I]) away(p int) bool {
	for _, dr := range d.drops {
		if int(dr.Player) == p && (dr.phase == dropCut || dr.phase == dropBack || dr.phase == dropAsking) {
			return true
		}
	}
	return false
}

// poll runs after every tick: the players' rejoin hosts, then the drops.
func (d *simDrops[S, I]) poll() error {
	if d.ctl == nil {
		return nil
	}
	for p, r := range d.runners {
		if !d.asking(p) {
			d.hosts[p].poll(r)
		}
	}
	now := d.net.Now()
	for i := range d.drops {
		dr := &d.drops[i]
		p := int(dr.Player)
		r := d.runners[p]
		switch dr.phase {
		case dropPending:
			if r.frame >= dr.Frame && !d.away(p) {
				dr.phase, dr.cutAt, dr.recorded = dropCut, now, r.recorded
				d.setLinks(p, simnet.Link{Loss: 1})
			}
		case dropCut:
			if now-dr.cutAt >= dr.For {
				dr.phase = dropBack
				d.setLinks(p, d.sim.Link)
			}
		case dropBack:
			switch {
			case shouldRejoin(r):
				a := len(d.runners) + i // a new address, as a restarted program has
				dr.guest = newRejoinGuest[int](d.ctl.socket(a), "simulation", rollback.PlayerHandle(p), 1, d.keys[p], maxRejoinState)
				dr.phase = dropAsking
			case now-dr.cutAt-dr.For > simRejoinGrace && !alone(r):
				dr.phase = dropDone // only a stall: it never left
			}
		case dropAsking:
			if err := d.ask(dr); err != nil {
				return err
			}
		}
	}
	return nil
}

// asking reports whether player p is asking to come back: its host, like
// Match's, admits no one meanwhile.
func (d *simDrops[S, I]) asking(p int) bool {
	for _, dr := range d.drops {
		if int(dr.Player) == p && dr.phase == dropAsking {
			return true
		}
	}
	return false
}

// setLinks sets the links between player p and every other player, both
// ways.
func (d *simDrops[S, I]) setLinks(p int, l simnet.Link) {
	for q := range d.runners {
		if q != p {
			d.net.SetLink(d.addr[p], d.addr[q], l)
			d.net.SetLink(d.addr[q], d.addr[p], l)
		}
	}
	d.ctl.down[d.addr[p]] = l.Loss >= 1
}

// ask polls a dropped player's guest and, once the others took it back,
// replaces its runner with one playing on from the state they sent.
func (d *simDrops[S, I]) ask(dr *simDrop) error {
	p := int(dr.Player)
	var others []int
	for q, a := range d.addr {
		if q != p {
			others = append(others, a)
		}
	}
	done, err := dr.guest.poll(others, d.cfg.clock())
	if err != nil || !done {
		return err
	}
	self := len(d.runners) + d.index(dr) // where it asked from
	st, pm, err := welcomed(dr.guest, d.ops, len(d.runners), self, func(h int) int { return -1 - h })
	if err != nil {
		return fmt.Errorf("rollbox: player %d coming back: %w", p, err)
	}
	old := d.runners[p]
	pc := d.cfg
	pc.sessionSeed = d.sim.Seed*1000003 + uint64(p) + 1 + uint64(d.index(dr)+1)*7919
	r, err := newResumedRunner(pc, d.ops, d.codec, &st, old.input, self, pm, rollback.Socket[int](d.net.Endpoint(self)), dr.guest.resume())
	if err != nil {
		return err
	}
	r.keepAt, r.onConfirmed = old.keepAt, old.onConfirmed
	sums := d.peers[p].Checksums
	for f := dr.recorded + 1; f < dr.guest.welcome.From && int(f) < len(sums); f++ {
		if f >= 0 {
			sums[f] = 0 // confirmed alone: not the match's
		}
	}
	d.peers[p].Returns = append(d.peers[p].Returns, dr.guest.welcome.From)
	d.runners[p], d.addr[p] = r, self
	d.hosts[p] = d.host(p)
	dr.phase, dr.guest = dropDone, nil
	return nil
}

// index is dr's place in d.drops.
func (d *simDrops[S, I]) index(dr *simDrop) int {
	for i := range d.drops {
		if &d.drops[i] == dr {
			return i
		}
	}
	return 0
}

// simCtl is a simulation's control channel: reliable and ordered, each
// message delivered one link latency after it was sent, in virtual time;
// an address that is down neither sends nor receives.
type simCtl struct {
	now     func() time.Duration
	latency time.Duration
	down    map[int]bool
	queue   map[int][]simCtlPacket
}

func newSimCtl(now func() time.Duration, latency time.Duration) *simCtl {
	return &simCtl{now: now, latency: latency, down: map[int]bool{}, queue: map[int][]simCtlPacket{}}
}

type simCtlPacket struct {
	at   time.Duration
	from int
	data []byte
}

func (c *simCtl) socket(addr int) *simCtlSocket { return &simCtlSocket{c: c, self: addr} }

// simCtlSocket is one address's end of a simCtl.
type simCtlSocket struct {
	c    *simCtl
	self int
	out  []packet.Packet[int]
}

// Send implements packet.Socket.
func (s *simCtlSocket) Send(to int, data []byte) error {
	if s.c.down[s.self] || s.c.down[to] {
		return nil
	}
	s.c.queue[to] = append(s.c.queue[to], simCtlPacket{s.c.now() + s.c.latency, s.self, append([]byte(nil), data...)})
	return nil
}

// Receive implements packet.Socket.
func (s *simCtlSocket) Receive() []packet.Packet[int] {
	s.out = s.out[:0]
	q := s.c.queue[s.self]
	i := 0
	for ; i < len(q) && q[i].at <= s.c.now(); i++ {
		s.out = append(s.out, packet.Packet[int]{From: q[i].from, Data: q[i].data})
	}
	s.c.queue[s.self] = q[i:]
	return s.out
}
