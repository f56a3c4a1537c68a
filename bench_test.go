package rollbox

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rollbox/rollbox/packet"
	"github.com/rollbox/rollbox/rollback"
	"github.com/rollbox/rollbox/transport"
	"github.com/rollbox/rollbox/transport/simnet"
)

// The benchmarks of this file measure what the match layer costs per frame
// on top of the bare rollback session it drives, in the same run over the
// same simulated network (transport/simnet, virtual time, which allocates
// nothing per packet): one op is one tick on every peer of a match and one
// frame (1/60 s) of virtual time.

// benchWorld is the benchmarks' game: a plain state (copied to save,
// hashed by layout) that a few players move about.
type benchWorld struct {
	Pos   [8][2]int32
	Vel   [8][2]int32
	Ticks int32
}

// benchInput is a pad: four directions and a button.
type benchInput struct {
	Buttons uint8
	Aim     int8
}

func (w *benchWorld) Step(in []PlayerInput[benchInput]) {
	w.Ticks++
	for i, p := range in {
		b := p.Input.Buttons
		if b&1 != 0 {
			w.Vel[i][0]++
		}
		if b&2 != 0 {
			w.Vel[i][0]--
		}
		if b&4 != 0 {
			w.Vel[i][1]++
		}
		if b&8 != 0 {
			w.Vel[i][1]--
		}
		w.Pos[i][0] += w.Vel[i][0] + int32(p.Input.Aim)
		w.Pos[i][1] += w.Vel[i][1]
	}
}

// benchMode is a network for the benchmarks.
type benchMode struct {
	name string
	link simnet.Link
}

var benchModes = []benchMode{
	// steady: packets arrive within the frame, so nothing rolls back.
	{"steady", simnet.Link{}},
	// latency: 50 ms each way and bots changing their input every 10 to 60
	// frames: a rollback of a few frames every time an input changes.
	{"latency50ms", simnet.Link{Latency: 50 * time.Millisecond}},
}

// benchConfig is the match settings of every benchmark peer: the defaults
// (desync detection every 10 frames with dumps), players peers of one
// local player each.
func benchConfig(tb testing.TB, players int) Config {
	c := Config{Players: players, Frames: 0, DisconnectTimeout: time.Minute, DisconnectNotifyStart: 30 * time.Second}
	c, err := c.withDefaults()
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

var benchEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// barePeer is one peer of a match on the bare session, driven as the
// layer drives its own: poll, honour wait recommendations, add the local
// input, advance, carry out the requests (saving by copy). It hashes and
// dumps with the layer's own functions for a plain state, so that the
// comparison measures the layer's glue, not two hash functions.
type barePeer struct {
	sess   *rollback.P2PSession[benchWorld, benchInput, transport.PeerID]
	state  benchWorld
	handle PlayerHandle
	input  func(PlayerHandle) benchInput
	ops    stateOps[benchWorld, benchInput]
	// scratch holds the state being dumped: a pointer to it allocates
	// nothing.
	scratch benchWorld
	skip    int
	frames  int // frames advanced, resimulations included
}

func (p *barePeer) tick() {
	p.sess.PollRemoteClients()
	for _, e := range p.sess.Events() {
		if e.Kind == rollback.EventWaitRecommendation {
			p.skip = max(p.skip, e.SkipFrames)
		}
	}
	if p.sess.State() != rollback.Running {
		return
	}
	if p.skip > 0 {
		p.skip--
		return
	}
	if err := p.sess.AddLocalInput(p.handle, p.input(p.handle)); err != nil {
		panic(err)
	}
	reqs, err := p.sess.AdvanceFrame()
	switch {
	case errors.Is(err, rollback.ErrPredictionThreshold), errors.Is(err, rollback.ErrNotSynchronized):
		return
	case err != nil:
		panic(err)
	}
	for _, q := range reqs {
		switch q.Kind {
		case rollback.SaveState:
			q.Cell.Save(p.state, p.ops.checksum(&p.state))
		case rollback.LoadState:
			p.state, _ = q.Cell.Load()
		case rollback.AdvanceFrame:
			p.state.Step(q.Inputs)
			p.frames++
		}
	}
}

// namedEndpoint is a simnet endpoint addressed by peer id, as a real
// match's mesh is: both the bare sessions and the layer's go through it, so
// the comparison is of the same socket.
type namedEndpoint struct {
	ep  *simnet.Endpoint
	ids []transport.PeerID // by endpoint number
	out []packet.Packet[transport.PeerID]
}

func (e *namedEndpoint) Send(to transport.PeerID, b []byte) error {
	for i, id := range e.ids {
		if id == to {
			return e.ep.Send(i, b)
		}
	}
	return simnet.ErrUnknownAddr
}

func (e *namedEndpoint) Receive() []packet.Packet[transport.PeerID] {
	e.out = e.out[:0]
	for _, pk := range e.ep.Receive() {
		e.out = append(e.out, packet.Packet[transport.PeerID]{From: e.ids[pk.From], Data: pk.Data})
	}
	return e.out
}

// benchNet is n named endpoints on a simnet network with link.
func benchNet(n int, link simnet.Link) (*simnet.Network, []*namedEndpoint) {
	net := simnet.New(1, n, link)
	ids := make([]transport.PeerID, n)
	for p := range n {
		ids[p] = transport.PeerID(fmt.Sprintf("00000000-0000-4000-8000-%012d", p))
	}
	eps := make([]*namedEndpoint, n)
	for p := range n {
		eps[p] = &namedEndpoint{ep: net.Endpoint(p), ids: ids}
	}
	return net, eps
}

func (p *barePeer) dump(dst []byte, _ rollback.Frame, st benchWorld) []byte {
	p.scratch = st
	return p.ops.dump(dst, &p.scratch)
}

// newBareMatch builds and synchronizes n bare sessions over a simnet
// network with link.
func newBareMatch(tb testing.TB, n int, link simnet.Link) (*simnet.Network, []*barePeer) {
	c := benchConfig(tb, n)
	codec, err := newValueCodec[benchInput]()
	if err != nil {
		tb.Fatal(err)
	}
	ops, err := newStateOps[benchWorld, benchInput]()
	if err != nil {
		tb.Fatal(err)
	}
	net, eps := benchNet(n, link)
	peers := make([]*barePeer, n)
	for p := range n {
		rc := sessionConfig[benchInput, transport.PeerID](c, codec)
		rc.Clock = func() time.Time { return benchEpoch.Add(net.Now()) }
		rc.Seed = uint64(p) + 1
		for h := range n {
			if h == p {
				rc.AddLocalPlayer(PlayerHandle(h))
			} else {
				rc.AddRemotePlayer(PlayerHandle(h), eps[p].ids[h])
			}
		}
		sess, err := rollback.NewP2PSession[benchWorld](rc, rollback.Socket[transport.PeerID](eps[p]))
		if err != nil {
			tb.Fatal(err)
		}
		bp := &barePeer{sess: sess, handle: PlayerHandle(p), input: newBot[benchInput](codec, uint64(p)).input, ops: ops}
		if err := sess.SetStateDump(bp.dump); err != nil {
			tb.Fatal(err)
		}
		peers[p] = bp
	}
	for range 600 {
		running := true
		for _, p := range peers {
			p.tick()
			running = running && p.sess.State() == rollback.Running
		}
		net.Advance(time.Second / 60)
		if running {
			return net, peers
		}
	}
	tb.Fatal("bare sessions did not synchronize in 10 s of virtual time")
	return nil, nil
}

// newLayerMatch builds n Matches over a simnet network with link, each
// with the runner a real match builds (newSessionRunner, handed to Update
// as the connecting goroutine hands it), and updates them until every one
// plays.
func newLayerMatch(tb testing.TB, n int, link simnet.Link) (*simnet.Network, []*Match[benchWorld, benchInput]) {
	c := benchConfig(tb, n)
	net, eps := benchNet(n, link)
	c.clock = func() time.Time { return benchEpoch.Add(net.Now()) }
	pm := playerMap[transport.PeerID]{host: eps[0].ids[0], byHandle: eps[0].ids}
	matches := make([]*Match[benchWorld, benchInput], n)
	for p := range n {
		pc := c
		pc.Bot, pc.Seed, pc.sessionSeed = true, uint64(p), uint64(p)+1
		pc.RejoinDir = "-"
		m, err := newMatch[benchWorld, benchInput](&benchWorld{}, nil, pc)
		if err != nil {
			tb.Fatal(err)
		}
		m.phase = PhaseSynchronizing
		r, err := newSessionRunner(m.cfg, m.ops, m.codec, m.state, m.input, eps[p].ids[p], pm, rollback.Socket[transport.PeerID](eps[p]))
		if err != nil {
			tb.Fatal(err)
		}
		// The part a real match plays in others' rejoins, polled every
		// tick (its control channel idle here).
		m.initRejoin(r, idleSocket{}, slices.Clone(pm.byHandle), make([]string, n), "bench")
		m.connected <- connectResult[benchWorld, benchInput]{r: r}
		matches[p] = m
	}
	for range 600 {
		running := true
		for _, m := range matches {
			if err := m.Update(); err != nil {
				tb.Fatal(err)
			}
			running = running && m.View().Phase == PhasePlaying
		}
		net.Advance(time.Second / 60)
		if running {
			return net, matches
		}
	}
	tb.Fatal("layer sessions did not synchronize in 10 s of virtual time")
	return nil, nil
}

// BenchmarkMatchFrame compares, in the same run over the same network, a
// frame of the bare session driven by hand (impl=bare) with the same frame
// through the match layer's Update (impl=layer) and with View read after
// every Update as the Ebiten adapter does (impl=layer+view). One op is one
// tick on every peer; ns/session-frame is one peer's share, what a game
// pays per tick.
func BenchmarkMatchFrame(b *testing.B) {
	for _, mode := range benchModes {
		for _, n := range []int{2, 4} {
			for _, impl := range []string{"bare", "layer", "layer+view"} {
				b.Run(fmt.Sprintf("net=%s/players=%d/impl=%s", mode.name, n, impl), func(b *testing.B) {
					var tick func()
					var frames func() int
					switch impl {
					case "bare":
						net, peers := newBareMatch(b, n, mode.link)
						tick = func() {
							for _, p := range peers {
								p.tick()
							}
							net.Advance(time.Second / 60)
						}
						frames = func() (f int) {
							for _, p := range peers {
								f += int(p.sess.CurrentFrame())
							}
							return f
						}
					default:
						view := impl == "layer+view"
						net, matches := newLayerMatch(b, n, mode.link)
						tick = func() {
							for _, m := range matches {
								if err := m.Update(); err != nil {
									b.Fatal(err)
								}
								if view {
									_ = m.View()
								}
							}
							net.Advance(time.Second / 60)
						}
						frames = func() (f int) {
							for _, m := range matches {
								f += int(m.r.frame)
							}
							return f
						}
					}
					for range 600 { // past the first seconds: every timer has fired, every buffer grown
						tick()
					}
					f0 := frames()
					b.ReportAllocs()
					b.ResetTimer()
					for range b.N {
						tick()
					}
					b.StopTimer()
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/session-frame")
					if adv := float64(frames()-f0) / float64(b.N*n); b.N >= 100 && adv < 0.9 {
						b.Fatalf("%.2f frames per tick: the match stalled", adv)
					}
				})
			}
		}
	}
}

// BenchmarkMatchView is View alone on a playing 4-player match.
func BenchmarkMatchView(b *testing.B) {
	net, matches := newLayerMatch(b, 4, simnet.Link{})
	for range 120 {
		for _, m := range matches {
			_ = m.Update()
		}
		net.Advance(time.Second / 60)
	}
	m := matches[0]
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		_ = m.View()
	}
}

// View allocates nothing once the match plays (after the first call, which
// may size its slices): the Ebiten adapter reads it every frame.
func TestMatchViewDoesNotAllocate(t *testing.T) {
	net, matches := newLayerMatch(t, 4, simnet.Link{})
	for range 60 {
		for _, m := range matches {
			if err := m.Update(); err != nil {
				t.Fatal(err)
			}
		}
		net.Advance(time.Second / 60)
	}
	m := matches[0]
	if v := m.View(); v.Phase != PhasePlaying || len(v.Players) != 4 || v.Status == "" {
		t.Fatalf("view %+v, want a playing 4-player match", v)
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = m.View() }); allocs != 0 {
		t.Errorf("View while playing: %v allocations per call", allocs)
	}
	// A finished match's view too.
	m.r.target, m.r.reached = m.r.frame, true
	m.r.reachedTick = m.r.ticks - m.r.lingerTicks - 1
	if v := m.View(); v.Phase != PhaseFinished || v.Status == "" {
		t.Fatalf("view %+v, want finished", v)
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = m.View() }); allocs != 0 {
		t.Errorf("View once finished: %v allocations per call", allocs)
	}
}

// Once playing, a tick of the layer (Update) allocates nothing, with a
// rollback every frame and desync detection (with dumps) on: the layer adds
// no allocation per frame to the session's none.
func TestMatchUpdateDoesNotAllocate(t *testing.T) {
	for _, mode := range benchModes {
		net, matches := newLayerMatch(t, 4, mode.link)
		for _, m := range matches {
			// An input that changes every frame: over a slow link every
			// tick rolls back.
			n := uint8(0)
			m.r.input = func(PlayerHandle) benchInput { n++; return benchInput{Buttons: n} }
		}
		tick := func() {
			for _, m := range matches {
				if err := m.Update(); err != nil {
					t.Fatal(err)
				}
			}
			net.Advance(time.Second / 60)
		}
		for range 600 {
			tick()
		}
		r := matches[0].r
		frame, rollbacks := r.frame, r.rollbacks
		const runs = 300
		if allocs := testing.AllocsPerRun(runs, tick); allocs != 0 {
			t.Errorf("%s: %v allocations per tick of a 4-player match", mode.name, allocs)
		}
		if r.frame-frame < runs*9/10 {
			t.Errorf("%s: only %d frames in %d ticks", mode.name, r.frame-frame, runs)
		}
		if mode.link.Latency > 0 && r.rollbacks-rollbacks < runs*9/10 {
			t.Errorf("%s: %d rollbacks in %d ticks: the test does not exercise loading", mode.name, r.rollbacks-rollbacks, runs)
		}
	}
}

// idleSocket is a control channel on which nothing ever arrives.
type idleSocket struct{}

func (idleSocket) Send(transport.PeerID, []byte) error        { return nil }
func (idleSocket) Receive() []packet.Packet[transport.PeerID] { return nil }
