package rollback

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rollbox/rollbox/transport/simnet"
)

// dumpRecorder is a test game's state dump hook: it writes the state and pad
// bytes derived from it, and remembers what it returned for each frame.
type dumpRecorder struct {
	pad      int
	produced map[Frame][]byte
	calls    int
}

func (d *dumpRecorder) hook(dst []byte, f Frame, st stubState) []byte {
	d.calls++
	dst = fmt.Appendf(dst, "frame %d: state frame %d value %#x\n", f, st.Frame, st.Value)
	for i := range d.pad {
		dst = append(dst, byte(st.Value>>(8*(i%8)))^byte(i))
	}
	d.produced[f] = slices.Clone(dst)
	return dst
}

// dumpMesh builds two synchronized peers with desync detection every 100
// frames and, where pad >= 0, a dump hook writing pad extra bytes.
func dumpMesh(t *testing.T, net *testNet, pads [2]int) ([]*testPeer, [2]*dumpRecorder) {
	t.Helper()
	peers := newMesh(t, net, 2, func(i int, cfg *Config[uint32, string]) { cfg.DesyncDetectionInterval = 100 })
	var recs [2]*dumpRecorder
	for i, p := range peers {
		if pads[i] < 0 {
			continue
		}
		recs[i] = &dumpRecorder{pad: pads[i], produced: map[Frame][]byte{}}
		if err := p.sess.SetStateDump(recs[i].hook); err != nil {
			t.Fatal(err)
		}
	}
	syncMesh(t, net, peers)
	for _, p := range peers {
		p.sess.Events()
	}
	return peers, recs
}

// playDesync plays 110 equal frames, then ticks more frames in which peer 0's
// state diverges, calling between after every tick. Detection every 100
// frames finds the desync at frame 200 only: ticks stays below 190, so frame
// 300 is never compared.
func playDesync(t *testing.T, net *testNet, peers []*testPeer, ticks int, between func()) {
	t.Helper()
	for i := range 110 {
		tick(t, peers, func(p *testPeer) uint32 { return uint32(i) })
		net.advance(16 * time.Millisecond)
	}
	for range ticks {
		peers[0].game.gs.Value = 1234
		tick(t, peers, func(p *testPeer) uint32 { return uint32(p.handle) })
		net.advance(16 * time.Millisecond)
		if between != nil {
			between()
		}
	}
}

// desyncEvents returns a peer's desync and dump events.
func desyncEvents(p *testPeer) []Event[string] {
	var evs []Event[string]
	for _, e := range p.events {
		if e.Kind == EventDesyncDetected || e.Kind == EventDesyncDump {
			evs = append(evs, e)
		}
	}
	return evs
}

// checkDumpExchange checks that each peer reported the desync at frame 200
// once, with mirrored checksums, its own dump, and then both dumps: equal to
// what each side's hook produced.
func checkDumpExchange(t *testing.T, peers []*testPeer, recs [2]*dumpRecorder, wantLen int) {
	t.Helper()
	var det [2]Event[string]
	for i, p := range peers {
		evs := desyncEvents(p)
		if len(evs) != 2 || evs[0].Kind != EventDesyncDetected || evs[1].Kind != EventDesyncDump {
			t.Fatalf("%s: events %v, want a desync and then its dumps", p.addr, evs)
		}
		d, dd := evs[0], evs[1]
		det[i] = d
		if d.Frame != 200 || dd.Frame != 200 || d.Addr != peerAddr(1-i) || dd.Addr != peerAddr(1-i) {
			t.Fatalf("%s: %v / %v", p.addr, d, dd)
		}
		if d.LocalChecksum == d.RemoteChecksum || dd.LocalChecksum != d.LocalChecksum ||
			dd.RemoteChecksum != d.RemoteChecksum {
			t.Fatalf("%s: checksums %v / %v", p.addr, d, dd)
		}
		own, theirs := recs[i].produced[200], recs[1-i].produced[200]
		if len(own) < wantLen {
			t.Fatalf("%s: hook produced only %d bytes", p.addr, len(own))
		}
		own, theirs = own[:min(len(own), MaxStateDumpSize)], theirs[:min(len(theirs), MaxStateDumpSize)]
		if !bytes.Equal(d.LocalDump, own) || !bytes.Equal(dd.LocalDump, own) {
			t.Fatalf("%s: local dump %.60q..., hook produced %.60q...", p.addr, d.LocalDump, own)
		}
		if !bytes.Equal(dd.RemoteDump, theirs) {
			t.Fatalf("%s: remote dump of %d bytes %.60q..., peer's hook produced %d bytes %.60q...",
				p.addr, len(dd.RemoteDump), dd.RemoteDump, len(theirs), theirs)
		}
		if bytes.Equal(own, theirs) {
			t.Fatal("the peers' dumps do not differ")
		}
	}
	if det[0].LocalChecksum != det[1].RemoteChecksum || det[1].LocalChecksum != det[0].RemoteChecksum {
		t.Fatalf("checksums not mirrored: %v / %v", det[0], det[1])
	}
}

// Two peers diverging from frame 110 with interval 100: each reports the
// desync at frame 200 and ends up with both peers' dumps of that frame,
// whether a dump fits one packet or not, under loss, and when the hook's dump
// is cut to MaxStateDumpSize.
func TestP2PDesyncDumps(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pad     int
		loss    int
		latency time.Duration
		// seed picks a loss pattern that hits both chunks and acks but
		// spares a checksum report of frame 200 (one is sent once each way:
		// losing both hides the desync until the next interval).
		seed uint64
	}{
		{"one chunk", 0, 0, 0, 21},
		{"5 chunks", 4500, 0, 30 * time.Millisecond, 21},
		{"one chunk 20% loss", 0, 20, 20 * time.Millisecond, 4},
		{"30 chunks 20% loss", 30000, 20, 20 * time.Millisecond, 4},
		{"cut to 64 chunks", 70000, 0, 10 * time.Millisecond, 21},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net := newTestNet(tc.seed)
			net.setLink(simnet.Link{Latency: tc.latency, Loss: float64(tc.loss) / 100})
			peers, recs := dumpMesh(t, net, [2]int{tc.pad, tc.pad})
			playDesync(t, net, peers, 180, nil)
			checkDumpExchange(t, peers, recs, tc.pad)
			if tc.pad > MaxStateDumpSize && len(desyncEvents(peers[0])[1].RemoteDump) != MaxStateDumpSize {
				t.Fatal("oversized dump not cut to MaxStateDumpSize")
			}
			if n := net.sentTypes[msgStateDump]; n < 2*dumpChunks(min(tc.pad, MaxStateDumpSize)) {
				t.Fatalf("only %d dump chunks sent", n)
			}
			lost := net.lostTypes()
			if tc.loss > 0 && (lost[msgStateDump] == 0 || lost[msgStateDumpAck] == 0) {
				t.Fatalf("loss spared the transfer: %d chunks and %d acks lost",
					lost[msgStateDump], lost[msgStateDumpAck])
			}
			t.Logf("%d chunks sent, %d lost; %d acks sent, %d lost", net.sentTypes[msgStateDump],
				lost[msgStateDump], net.sentTypes[msgStateDumpAck], lost[msgStateDumpAck])
			checkRunning(t, peers, 280)
		})
	}
}

// checkRunning checks every peer kept confirming frames.
func checkRunning(t *testing.T, peers []*testPeer, min Frame) {
	t.Helper()
	for _, p := range peers {
		if c := p.sess.ConfirmedFrame(); c < min {
			t.Fatalf("%s confirmed only up to frame %d", p.addr, c)
		}
	}
}

// A lost checksum report does not hide the desync: the peer's dump carries
// its checksum.
func TestP2PDesyncDumpStandsInForLostChecksumReport(t *testing.T) {
	net := newTestNet(22)
	net.setLink(simnet.Link{Latency: 20 * time.Millisecond})
	peers, recs := dumpMesh(t, net, [2]int{0, 0})
	dropped := 0
	net.socket(peerAddr(0)).tamper = func(to string, packet []byte) [][]byte {
		if to == peerAddr(1) && packet[1] == byte(msgChecksumReport) {
			dropped++
			return nil
		}
		return [][]byte{packet}
	}
	playDesync(t, net, peers, 180, nil)
	if dropped == 0 {
		t.Fatal("no checksum report dropped")
	}
	checkDumpExchange(t, peers, recs, 0)
}

// Malformed, inconsistent, stale and hostile dump chunks are dropped; the
// real dump still arrives intact and the game goes on.
func TestP2PDesyncDumpRejectsHostileChunks(t *testing.T) {
	net := newTestNet(23)
	net.setLink(simnet.Link{Latency: 20 * time.Millisecond})
	peers, recs := dumpMesh(t, net, [2]int{3000, 3000})
	injected := 0
	for _, p := range peers {
		net.socket(p.addr).tamper = func(_ string, packet []byte) [][]byte {
			if packet[1] != byte(msgStateDump) {
				return [][]byte{packet}
			}
			// Over a link without jitter, they arrive right after the
			// real chunk.
			bad := hostileChunks(packet)
			injected += len(bad)
			return append([][]byte{packet}, bad...)
		}
	}
	playDesync(t, net, peers, 180, nil)
	if injected == 0 {
		t.Fatal("no chunk intercepted")
	}
	checkDumpExchange(t, peers, recs, 3000)
	checkRunning(t, peers, 280)
}

// hostileChunks derives bad packets from a real stateDump packet: cut,
// padded, out-of-range chunk, length and checksum that disagree with the
// dump, a stale and an absurdly new frame, and a corrupted duplicate.
func hostileChunks(real []byte) [][]byte {
	const frameAt, sumAt, totalAt, chunkAt = headerSize, headerSize + 4, headerSize + 12, headerSize + 16
	edit := func(f func(b []byte) []byte) []byte { return f(slices.Clone(real)) }
	frame := binary.LittleEndian.Uint32(real[frameAt:])
	return [][]byte{
		real[:len(real)-1],
		append(slices.Clone(real), 0),
		real[:chunkAt],
		edit(func(b []byte) []byte { b[chunkAt] = 200; return b }),
		edit(func(b []byte) []byte { b[chunkAt] = maxDumpChunks - 1; return b }),
		edit(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[totalAt:], MaxStateDumpSize+1); return b }),
		edit(func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[totalAt:], binary.LittleEndian.Uint32(b[totalAt:])+dumpChunkSize)
			return b
		}),
		edit(func(b []byte) []byte { b[sumAt] ^= 1; b[len(b)-1] ^= 0xff; return b }),
		edit(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[frameAt:], frame-100); return b }),
		edit(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[frameAt:], 1<<31-1); return b }),
		edit(func(b []byte) []byte { b[len(b)-1] ^= 0xff; return b }),
	}
}

// Without a hook nothing about dumps reaches the wire, and desync events
// carry no dump. With a hook on one side only, that side reports its own dump,
// sends its dump a bounded number of times, and the other side ignores it.
func TestP2PDesyncWithoutHookSendsNoDumps(t *testing.T) {
	t.Run("no hooks", func(t *testing.T) {
		net := newTestNet(24)
		peers, _ := dumpMesh(t, net, [2]int{-1, -1})
		playDesync(t, net, peers, 180, nil)
		for _, p := range peers {
			evs := desyncEvents(p)
			if len(evs) != 1 || evs[0].Kind != EventDesyncDetected || evs[0].LocalDump != nil {
				t.Fatalf("%s: events %v", p.addr, evs)
			}
		}
		if n, a := net.sentTypes[msgStateDump], net.sentTypes[msgStateDumpAck]; n != 0 || a != 0 {
			t.Fatalf("%d dump and %d ack packets sent without a hook", n, a)
		}
	})
	t.Run("one hook", func(t *testing.T) {
		net := newTestNet(25)
		peers, recs := dumpMesh(t, net, [2]int{0, -1})
		playDesync(t, net, peers, 180, nil)
		// Let the transfer run out without comparing more frames.
		for range 200 {
			for _, p := range peers {
				p.sess.PollRemoteClients()
			}
			net.advance(16 * time.Millisecond)
		}
		if ep := peers[0].sess.players.remotes[0].ep; ep.dumpOut.active || ep.dumpSentFrame != 200 {
			t.Fatalf("transfer of frame %d still active: %v", ep.dumpSentFrame, ep.dumpOut.active)
		}
		evs := desyncEvents(peers[0])
		if len(evs) != 1 || evs[0].Kind != EventDesyncDetected || !bytes.Equal(evs[0].LocalDump, recs[0].produced[200]) {
			t.Fatalf("hooked peer: events %v", evs)
		}
		if evs := desyncEvents(peers[1]); len(evs) != 1 || evs[0].LocalDump != nil {
			t.Fatalf("peer without hook: events %v", evs)
		}
		if n, a := net.sentTypes[msgStateDump], net.sentTypes[msgStateDumpAck]; n != maxDumpPasses || a != 0 {
			t.Fatalf("%d dump packets (want %d: one chunk, every pass) and %d acks", n, maxDumpPasses, a)
		}
	})
}

// A duplicated checksum report or dump never reports a desync twice.
func TestP2PDesyncReportedOnceDespiteDuplicates(t *testing.T) {
	for _, hook := range []bool{false, true} {
		t.Run(fmt.Sprintf("hook=%v", hook), func(t *testing.T) {
			net := newTestNet(26)
			net.setLink(simnet.Link{Latency: 10 * time.Millisecond, Jitter: 40 * time.Millisecond, Duplicate: 1})
			pad := -1
			if hook {
				pad = 2000
			}
			peers, recs := dumpMesh(t, net, [2]int{pad, pad})
			playDesync(t, net, peers, 180, nil)
			if hook {
				checkDumpExchange(t, peers, recs, pad)
				return
			}
			for _, p := range peers {
				if n := countEvents(p.events, EventDesyncDetected); n != 1 {
					t.Fatalf("%s: %d desync events, want 1", p.addr, n)
				}
			}
		})
	}
}

func TestSetStateDumpValidation(t *testing.T) {
	net := newTestNet(27)
	peers := newMesh(t, net, 2, nil)
	rec := &dumpRecorder{produced: map[Frame][]byte{}}
	if err := peers[0].sess.SetStateDump(rec.hook); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("SetStateDump without desync detection: %v", err)
	}
	if err := peers[0].sess.SetStateDump(nil); err != nil {
		t.Fatalf("removing the hook: %v", err)
	}
}

// Removing the hook mid-game stops dumps: later desyncs carry none.
func TestSetStateDumpRemoved(t *testing.T) {
	net := newTestNet(28)
	peers, recs := dumpMesh(t, net, [2]int{0, 0})
	for _, p := range peers {
		_ = p.sess.SetStateDump(nil)
	}
	playDesync(t, net, peers, 180, nil)
	for i, p := range peers {
		evs := desyncEvents(p)
		if len(evs) != 1 || evs[0].LocalDump != nil || recs[i].calls != 0 {
			t.Fatalf("%s: events %v, %d hook calls", p.addr, evs, recs[i].calls)
		}
	}
	if net.sentTypes[msgStateDump] != 0 {
		t.Fatal("dumps sent after the hook was removed")
	}
}

// With a hook, local dumps are freed once compared: in a healthy game at most
// one is held, whatever the length of the game.
func TestStateDumpsFreedWhenCompared(t *testing.T) {
	net := newTestNet(29)
	net.setLink(simnet.Link{Latency: 40 * time.Millisecond})
	peers := newMesh(t, net, 3, func(i int, cfg *Config[uint32, string]) { cfg.DesyncDetectionInterval = 5 })
	recs := make([]*dumpRecorder, len(peers))
	for i, p := range peers {
		recs[i] = &dumpRecorder{produced: map[Frame][]byte{}}
		if err := p.sess.SetStateDump(recs[i].hook); err != nil {
			t.Fatal(err)
		}
	}
	syncMesh(t, net, peers)
	held := 0
	for range 300 {
		tick(t, peers, func(p *testPeer) uint32 { return uint32(p.sess.CurrentFrame() / 4) })
		net.advance(16 * time.Millisecond)
		for _, p := range peers {
			n := 0
			for _, d := range p.sess.dumps {
				if d.used {
					n++
				}
			}
			held = max(held, n)
		}
	}
	if recs[0].calls < 50 {
		t.Fatalf("hook called %d times", recs[0].calls)
	}
	// 40 ms one way: a report arrives ~3 frames after it is sent, so a
	// frame checked every 5 frames waits for at most two reports.
	if held > 2 {
		t.Fatalf("%d dumps held at once", held)
	}
	for _, p := range peers {
		if evs := desyncEvents(p); len(evs) != 0 {
			t.Fatalf("%s: %v", p.addr, evs)
		}
	}
}

// FuzzDumpReassembly feeds a running endpoint arbitrary stateDump and ack
// packets (cut from the input by a length byte): it must not panic, and a dump
// it completes must be as long as announced.
func FuzzDumpReassembly(f *testing.F) {
	seed := func(pkts ...[]byte) []byte {
		var b []byte
		for _, p := range pkts {
			b = append(b, byte(len(p)))
			b = append(b, p...)
		}
		return b
	}
	small := testDump(300)
	f.Add(seed(appendDumpChunk(nil, 9, 5, 1, small, 0)))
	f.Add(seed(appendDumpChunk(nil, 9, 5, 1, nil, 0), appendDumpChunk(nil, 9, 6, 2, small, 0),
		appendU64(appendFrame(appendHeader(nil, msgStateDumpAck, 9), 5), 1)))
	f.Add(seed(appendDumpChunk(nil, 9, 5, 1, small, 0)[:30], appendDumpChunk(nil, 9, 4, 1, small, 0)))
	f.Fuzz(func(t *testing.T, in []byte) {
		net := newTestNet(1)
		sock := net.socket("a")
		net.socket("b")
		ep := newEndpoint(endpointConfig[string]{addr: "b", handles: []PlayerHandle{1}, numPlayers: 2,
			sendFrameBytes: 4, recvFrameBytes: 4, fps: 60, disconnectTimeout: time.Second, notifyStart: time.Second, seed: 1})
		ep.state, ep.acceptDumps, ep.lastRecvFrame = stateRunning, true, 10
		ep.startDumpSend(3, 7, testDump(5000), sock, 0)
		var m message
		for len(in) > 0 {
			n := min(int(in[0]), len(in)-1)
			pkt := in[1 : 1+n]
			in = in[1+n:]
			if decodeMessage(pkt, &m) != nil {
				continue
			}
			ep.handle(&m, sock, 0, func(Frame, []byte) bool { return true })
			ep.poll(nil, sock, time.Duration(len(in))*time.Millisecond)
			for _, ev := range ep.events {
				if ev.kind != epDumpReceived {
					continue
				}
				want := ep.dumpIn.total
				if _, _, data, ok := ep.takeDump(); !ok || len(data) != want {
					t.Fatalf("completed dump of %d bytes, announced %d", len(data), want)
				}
			}
			ep.events = ep.events[:0]
		}
	})
}

// Transfers pace themselves, resend only what was not acknowledged and give
// up after maxDumpPasses passes.
func TestDumpTransferPacingAndGiveUp(t *testing.T) {
	net := newTestNet(30)
	sock := net.socket("a")
	peerSock := net.socket("b")
	ep := newEndpoint(endpointConfig[string]{addr: "b", handles: []PlayerHandle{1}, numPlayers: 2,
		sendFrameBytes: 4, recvFrameBytes: 4, fps: 60, disconnectTimeout: time.Hour, notifyStart: time.Hour, seed: 1})
	ep.state, ep.acceptDumps = stateRunning, true
	data := testDump(10*dumpChunkSize + 5) // 11 chunks
	if !ep.startDumpSend(100, 42, data, sock, 0) {
		t.Fatal("transfer not started")
	}
	if ep.startDumpSend(101, 42, data, sock, 0) {
		t.Fatal("second transfer started while one runs")
	}
	chunksSent := func() []int {
		var idx []int
		for _, p := range peerSock.Receive() {
			var m message
			if err := decodeMessage(p.Data, &m); err != nil || m.typ != msgStateDump {
				t.Fatalf("bad packet %v %v", err, m.typ)
			}
			idx = append(idx, m.dumpChunk)
		}
		return idx
	}
	if got := chunksSent(); !slices.Equal(got, []int{0, 1, 2, 3}) {
		t.Fatalf("first poll sent chunks %v", got)
	}
	// Acknowledge chunks 0-7 (as if 4-7 arrived out of order later).
	var m message
	ack := appendU64(appendFrame(appendHeader(nil, msgStateDumpAck, 1), 100), 0xff)
	if err := decodeMessage(ack, &m); err != nil {
		t.Fatal(err)
	}
	ep.handleDumpAck(&m)
	now := time.Millisecond
	ep.pollDumps(sock, now)
	if got := chunksSent(); !slices.Equal(got, []int{8, 9, 10}) {
		t.Fatalf("second poll sent chunks %v", got)
	}
	ep.pollDumps(sock, now) // ends the pass
	ep.pollDumps(sock, now+dumpResendInterval/2)
	if got := chunksSent(); len(got) != 0 {
		t.Fatalf("resent %v before the resend interval", got)
	}
	for pass := 2; pass <= maxDumpPasses; pass++ {
		now += dumpResendInterval
		ep.pollDumps(sock, now)
		if got := chunksSent(); !slices.Equal(got, []int{8, 9, 10}) {
			t.Fatalf("pass %d sent %v", pass, got)
		}
		ep.pollDumps(sock, now)
	}
	if ep.dumpOut.active || ep.dumpOut.data != nil {
		t.Fatal("transfer not given up")
	}
	if !ep.startDumpSend(101, 42, data, sock, now) {
		t.Fatal("next transfer not started after giving up")
	}
	// Full acknowledgement ends it; a stale frame's ack does not.
	ack = appendU64(appendFrame(appendHeader(nil, msgStateDumpAck, 1), 100), ^uint64(0))
	_ = decodeMessage(ack, &m)
	ep.handleDumpAck(&m)
	if !ep.dumpOut.active {
		t.Fatal("stale ack ended the transfer")
	}
	ack = appendU64(appendFrame(appendHeader(nil, msgStateDumpAck, 1), 101), chunkMask(11))
	_ = decodeMessage(ack, &m)
	ep.handleDumpAck(&m)
	if ep.dumpOut.active {
		t.Fatal("complete ack did not end the transfer")
	}
}

func TestChunkMask(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want uint64
	}{{1, 1}, {3, 7}, {63, 1<<63 - 1}, {64, ^uint64(0)}} {
		if got := chunkMask(tc.n); got != tc.want {
			t.Errorf("chunkMask(%d) = %#x", tc.n, got)
		}
	}
	for _, tc := range []struct{ total, chunks, last int }{
		{0, 1, 0}, {1, 1, 1}, {dumpChunkSize, 1, dumpChunkSize}, {dumpChunkSize + 1, 2, 1},
		{MaxStateDumpSize, maxDumpChunks, dumpChunkSize},
	} {
		if n := dumpChunks(tc.total); n != tc.chunks || dumpChunkLen(tc.total, n-1) != tc.last ||
			dumpChunkLen(tc.total, n) != -1 {
			t.Errorf("dump of %d bytes: %d chunks, last %d", tc.total, n, dumpChunkLen(tc.total, n-1))
		}
	}
}
