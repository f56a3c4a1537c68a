package rollback

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/rollbox/rollbox/transport/simnet"
)

// tickNet is the network of the benchmarks and allocation tests: a testNet
// (transport/simnet, which allocates nothing per packet in steady state)
// whose links all deliver a fixed delay ticks after the send, and whose
// virtual clock moves one tick per meshTick.
type tickNet struct {
	*testNet
	tick  int
	delay int
	// tickTime is the virtual time between ticks: a frame (1/60 s) for a
	// paced game, less for one that ticks as fast as it can.
	tickTime time.Duration
}

func newTickNet(delay int) *tickNet {
	m := &tickNet{testNet: newTestNet(1), delay: delay}
	m.setTickTime(time.Second / 60)
	return m
}

// setTickTime changes the time between ticks, and with it the links'
// latency, so that packets still arrive delay ticks after they were sent.
func (m *tickNet) setTickTime(d time.Duration) {
	m.tickTime = d
	m.setLink(simnet.Link{Latency: time.Duration(m.delay) * d})
}

func (m *tickNet) step() {
	m.tick++
	m.advance(m.tickTime)
}

type benchState struct {
	frame int32
	value uint64
}

// benchPeer runs a trivial game so the benchmark measures the session.
type benchPeer struct {
	sess     *P2PSession[benchState, uint32, string]
	state    benchState
	handle   PlayerHandle
	rollback int
	advances int
	saves    int
}

func (p *benchPeer) run(in uint32) {
	_ = p.sess.AddLocalInput(p.handle, in)
	reqs, err := p.sess.AdvanceFrame()
	if err != nil {
		panic(err)
	}
	for i := range reqs {
		r := &reqs[i]
		switch r.Kind {
		case SaveState:
			r.Cell.Save(p.state, p.state.value)
			p.saves++
		case LoadState:
			p.state, _ = r.Cell.Load()
			p.rollback++
		case AdvanceFrame:
			for _, in := range r.Inputs {
				p.state.value = p.state.value*31 + uint64(in.Input)
			}
			p.state.frame++
			p.advances++
		}
	}
}

func newBenchMesh(tb testing.TB, n, delay, maxPrediction int) (*tickNet, []*benchPeer) {
	return newBenchMeshWith(tb, n, delay, maxPrediction, nil)
}

// newBenchMeshWith is newBenchMesh with a hook to change each peer's config
// and session before the handshake.
func newBenchMeshWith(tb testing.TB, n, delay, maxPrediction int,
	edit func(cfg *Config[uint32, string], sess *P2PSession[benchState, uint32, string])) (*tickNet, []*benchPeer) {
	net := newTickNet(delay)
	peers := make([]*benchPeer, n)
	for i := range n {
		cfg := DefaultConfig[uint32, string](UintCodec[uint32]{})
		cfg.NumPlayers = n
		cfg.MaxPrediction = maxPrediction
		cfg.Clock = net.clock
		cfg.Seed = uint64(i + 1)
		for j := range n {
			if j == i {
				cfg.AddLocalPlayer(PlayerHandle(j))
			} else {
				cfg.AddRemotePlayer(PlayerHandle(j), peerAddr(j))
			}
		}
		if edit != nil {
			edit(&cfg, nil)
		}
		sess, err := NewP2PSession[benchState](cfg, net.socket(peerAddr(i)))
		if err != nil {
			tb.Fatal(err)
		}
		if edit != nil {
			edit(&cfg, sess)
		}
		peers[i] = &benchPeer{sess: sess, handle: PlayerHandle(i)}
	}
	// The handshake polls every 10 ms, packets still taking delay ticks.
	net.setTickTime(10 * time.Millisecond)
	for range 2000 {
		running := true
		for _, p := range peers {
			p.sess.PollRemoteClients()
			running = running && p.sess.State() == Running
		}
		if running {
			net.setTickTime(time.Second / 60)
			return net, peers
		}
		net.step()
	}
	tb.Fatal("bench mesh did not synchronize")
	return nil, nil
}

// meshTick runs one frame on every peer. changing inputs with a delayed
// network force a rollback of delay frames every frame.
func meshTick(net *tickNet, peers []*benchPeer, changing bool) {
	for _, p := range peers {
		in := uint32(7)
		if changing {
			in = uint32(net.tick)
		}
		p.run(in)
		p.sess.Events()
	}
	net.step()
}

func BenchmarkP2PFrame(b *testing.B) {
	for _, mode := range []struct {
		name          string
		delay         int
		maxPrediction int
		changing      bool
		step          time.Duration
	}{
		{"steady", 0, 8, false, time.Second / 60},
		{"rollback8", 8, 12, true, time.Second / 60},
		// freerun: a game loop that ticks every millisecond instead of
		// every frame, over a 28 ms one-way link: it advances 8 frames, then
		// waits for the remote inputs (3.5 ticks per frame).
		{"freerun", 28, 8, false, time.Millisecond},
	} {
		for _, n := range []int{2, 4, 8} {
			b.Run(fmt.Sprintf("%s/players=%d", mode.name, n), func(b *testing.B) {
				net, peers := newBenchMesh(b, n, mode.delay, mode.maxPrediction)
				net.setTickTime(mode.step)
				for range 1200 {
					meshTick(net, peers, mode.changing)
				}
				start := peers[0].rollback
				sent, bytes, frames, saves := net.sentPackets, net.sentBytes, 0, 0
				for _, p := range peers {
					frames -= int(p.sess.CurrentFrame())
					saves -= p.saves
				}
				b.ReportAllocs()
				b.ResetTimer()
				cpu0, cpuOK := processCPUTime()
				for range b.N {
					meshTick(net, peers, mode.changing)
				}
				cpu1, _ := processCPUTime()
				b.StopTimer()
				if cpuOK {
					b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N*n), "cpu-ns/session-frame")
				}
				for _, p := range peers {
					frames += int(p.sess.CurrentFrame())
					saves += p.saves
				}
				// One op is a tick on every peer; report the cost of one
				// session's tick, the figure a game pays per tick.
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/session-frame")
				if frames > 0 {
					b.ReportMetric(float64(net.sentPackets-sent)/float64(frames)/float64(n-1), "datagrams/frame/peer")
					b.ReportMetric(float64(net.sentBytes-bytes)/float64(frames)/float64(n-1), "bytes/frame/peer")
					if !mode.changing {
						b.ReportMetric(float64(saves)/float64(frames), "saves/frame")
					}
				}
				if mode.changing && peers[0].rollback-start < b.N/2 {
					b.Fatalf("only %d rollbacks in %d frames", peers[0].rollback-start, b.N)
				}
			})
		}
	}
}

func BenchmarkInputPacket(b *testing.B) {
	const players, frames = 4, 8
	net := newTickNet(0)
	ep := newEndpoint(endpointConfig[string]{addr: "b", handles: []PlayerHandle{1}, numPlayers: players,
		sendFrameBytes: 4, recvFrameBytes: 4, fps: 60, disconnectTimeout: time.Second, notifyStart: time.Second, seed: 1})
	ep.state = stateRunning
	net.socket("b")
	sock := net.socket("a")
	status := make([]connectionStatus, players)
	data := make([]byte, 4)
	for f := range Frame(frames) {
		data[0] = byte(f)
		ep.sendInput(f, data, status, sock, 0)
	}
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			ep.sendPending(status, sock, 0)
			net.socket("b").Receive()
		}
	})
	ep.sendPending(status, sock, 0)
	pkt := append([]byte(nil), net.socket("b").Receive()[0].Data...)
	b.Run("decode", func(b *testing.B) {
		var m message
		prev, out := make([]byte, 4), make([]byte, 4)
		b.ReportAllocs()
		for range b.N {
			if err := decodeMessage(pkt, &m); err != nil {
				b.Fatal(err)
			}
			src := m.payload
			for range m.count {
				src, _ = decodeDelta(src, prev, out)
				prev, out = out, prev
			}
		}
	})
}

func TestSteadyStateDoesNotAllocate(t *testing.T) {
	for _, mode := range []struct {
		name                 string
		delay, maxPrediction int
		changing             bool
	}{{"steady", 0, 8, false}, {"rollback8", 8, 12, true}} {
		net, peers := newBenchMesh(t, 4, mode.delay, mode.maxPrediction)
		for range 300 { // past the first second: every timer has fired
			meshTick(net, peers, mode.changing)
		}
		before, advBefore := peers[0].rollback, peers[0].advances
		allocs := testing.AllocsPerRun(200, func() { meshTick(net, peers, mode.changing) })
		// AllocsPerRun runs the function once more to warm up.
		if mode.changing {
			if perTick := (peers[0].advances - advBefore) / 201; perTick != 9 {
				t.Errorf("%s: %d advances per tick, want 9 (8 resimulated + 1)", mode.name, perTick)
			}
		}
		if allocs != 0 {
			t.Errorf("%s: %v allocations per frame", mode.name, allocs)
		}
		if mode.changing && peers[0].rollback-before < 150 {
			t.Errorf("%s: only %d rollbacks", mode.name, peers[0].rollback-before)
		}
		if peers[0].state.frame < 400 {
			t.Errorf("%s: stalled at frame %d", mode.name, peers[0].state.frame)
		}
	}
}

// benchDump is an allocation-free state dump hook: 1 KiB derived from the
// state, appended to the session's buffer.
func benchDump(dst []byte, f Frame, st benchState) []byte {
	for i := range 128 {
		dst = binary.LittleEndian.AppendUint64(dst, st.value+uint64(i)*uint64(f))
	}
	return dst
}

// withStateDumps turns on desync detection every 10 frames with benchDump.
func withStateDumps(tb testing.TB) func(*Config[uint32, string], *P2PSession[benchState, uint32, string]) {
	return func(cfg *Config[uint32, string], sess *P2PSession[benchState, uint32, string]) {
		if sess == nil {
			cfg.DesyncDetectionInterval = 10
			return
		}
		if err := sess.SetStateDump(benchDump); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkP2PFrameStateDump is the steady 4-player frame with desync
// detection every 10 frames and a 1 KiB state dump hook: the session's cost
// of keeping dumps while nothing desyncs.
func BenchmarkP2PFrameStateDump(b *testing.B) {
	net, peers := newBenchMeshWith(b, 4, 0, 8, withStateDumps(b))
	for range 120 {
		meshTick(net, peers, false)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		meshTick(net, peers, false)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*4), "ns/session-frame")
}

// With a state dump hook and no desync, frames still allocate nothing once
// the dump buffers have grown.
func TestStateDumpHookDoesNotAllocate(t *testing.T) {
	net, peers := newBenchMeshWith(t, 4, 2, 8, withStateDumps(t))
	for range 300 {
		meshTick(net, peers, false)
	}
	calls := peers[0].sess.lastSentChecksumFrame
	if allocs := testing.AllocsPerRun(200, func() { meshTick(net, peers, false) }); allocs != 0 {
		t.Errorf("%v allocations per frame with a state dump hook", allocs)
	}
	if peers[0].sess.lastSentChecksumFrame-calls < 190 {
		t.Fatalf("checksums sent only up to frame %d", peers[0].sess.lastSentChecksumFrame)
	}
	// Dumps are freed as soon as all three peers compared the frame: the
	// hook ran (its buffers hold 1 KiB) but at most one dump is held.
	held, buffers := 0, 0
	for _, d := range peers[0].sess.dumps {
		if d.used {
			held++
		}
		if cap(d.data) >= 1024 {
			buffers++
		}
	}
	if buffers == 0 || held > 1 {
		t.Fatalf("%d dumps held, %d buffers used", held, buffers)
	}
}

// freeRunMesh is the freerun benchmark's mesh: a game loop ticking every
// millisecond over a 28 ms one-way link, so every session waits on the
// network for most of its ticks.
func freeRunMesh(tb testing.TB, n int) (*tickNet, []*benchPeer) {
	net, peers := newBenchMesh(tb, n, 28, 8)
	net.setTickTime(time.Millisecond)
	for range 1200 {
		meshTick(net, peers, false)
	}
	return net, peers
}

// Every remote peer gets one datagram per frame in steady state, paced or
// free-running: the input packet carries the acknowledgement and the
// quality reports.
func TestOneDatagramPerPeerPerFrame(t *testing.T) {
	for _, n := range []int{2, 4} {
		for _, freeRun := range []bool{false, true} {
			var net *tickNet
			var peers []*benchPeer
			if freeRun {
				net, peers = freeRunMesh(t, n)
			} else {
				net, peers = newBenchMesh(t, n, 0, 8)
				for range 300 {
					meshTick(net, peers, false)
				}
			}
			sent, frames := net.sentPackets, 0
			for _, p := range peers {
				frames -= int(p.sess.CurrentFrame())
			}
			for range 3000 {
				meshTick(net, peers, false)
			}
			for _, p := range peers {
				frames += int(p.sess.CurrentFrame())
			}
			if frames < 600*n {
				t.Fatalf("%d players, free-running %v: only %d frames", n, freeRun, frames)
			}
			if got := float64(net.sentPackets-sent) / float64(frames*(n-1)); got != 1 {
				t.Errorf("%d players, free-running %v: %.3f datagrams per frame per remote peer, want 1",
					n, freeRun, got)
			}
		}
	}
}

// A tick that cannot advance saves nothing: free-running, every save is of
// a frame that then advances.
func TestSavesOnlyWhenAdvancing(t *testing.T) {
	net, peers := freeRunMesh(t, 2)
	frames, saves, ticks := -int(peers[0].sess.CurrentFrame()), -peers[0].saves, 0
	for range 2000 {
		meshTick(net, peers, false)
		ticks++
	}
	frames += int(peers[0].sess.CurrentFrame())
	saves += peers[0].saves
	if frames == 0 || frames > ticks/2 {
		t.Fatalf("%d frames in %d ticks: the mesh does not wait on the network", frames, ticks)
	}
	if saves != frames {
		t.Fatalf("%d saves for %d frames advanced in %d ticks", saves, frames, ticks)
	}
}
