package rollback

import (
	"fmt"
	"testing"
	"time"

	"github.com/rollbox/rollbox/transport/simnet"
)

// statusOffset is where player h's status byte sits in an input packet.
func statusOffset(h int) int { return headerSize + 4 + 4 + 1 + 1 + 5*h + 4 }

// forgeDisconnect makes the input packets that from sends to to report
// player h disconnected, as a lying (or buggy) peer would, from now on. It
// returns the count of packets forged so far.
func forgeDisconnect(net *testNet, from, to string, h int) *int {
	forged := new(int)
	net.socket(from).tamper = func(dst string, p []byte) [][]byte {
		if dst == to && len(p) > statusOffset(h) && p[1] == byte(msgInput) {
			p[statusOffset(h)] = wireDisconnected
			*forged++
		}
		return [][]byte{p}
	}
	return forged
}

func disconnectEvents(p *testPeer) []Event[string] {
	var evs []Event[string]
	for _, e := range p.events {
		if e.Kind == EventDisconnected || e.Kind == EventDisconnectDisputed {
			evs = append(evs, e)
		}
	}
	return evs
}

// trustSeeds run each trust scenario over several networks: odd seeds
// lose 5 % of the packets (notices too) and jitter them.
var trustSeeds = []uint64{31, 32, 33, 34}

func trustMesh(t *testing.T, seed uint64) (*testNet, []*testPeer, func(int)) {
	t.Helper()
	net := newTestNet(seed)
	net.setLink(simnet.Link{Latency: 20 * time.Millisecond})
	if seed%2 == 1 {
		// 20 +- 10 ms, as Latency + [0, Jitter).
		net.setLink(simnet.Link{Latency: 10 * time.Millisecond, Jitter: 20 * time.Millisecond, Loss: 0.05})
	}
	peers := newMesh(t, net, 3, func(i int, cfg *Config[uint32, string]) { cfg.DesyncDetectionInterval = 10 })
	syncMesh(t, net, peers)
	for _, p := range peers {
		p.sess.Events()
	}
	in := func(p *testPeer) uint32 { return uint32(p.sess.CurrentFrame()/4) + 3*uint32(p.handle) }
	run := func(ticks int) {
		for range ticks {
			tick(t, peers, in)
			net.advance(time.Second / 60)
		}
	}
	run(60)
	return net, peers, run
}

// The attack: p2's input packets to p0 claim that p1 disconnected
// while p0 hears p1 fine (and p2 keeps playing with p1). p0 must not drop
// p1: it reports the dispute once, naming p2, and the match stays whole.
func TestForgedDisconnectReportIsDisputed(t *testing.T) {
	for _, seed := range trustSeeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			net, peers, run := trustMesh(t, seed)
			forged := forgeDisconnect(net, peerAddr(2), peerAddr(0), 1)
			run(600)
			if *forged < 500 {
				t.Fatalf("only %d packets forged", *forged)
			}
			if peers[0].sess.localStatus[1].disconnected {
				t.Fatal("p0 dropped p1 on p2's word while hearing p1")
			}
			evs := disconnectEvents(peers[0])
			if len(evs) != 1 || evs[0].Kind != EventDisconnectDisputed || evs[0].Addr != peerAddr(1) ||
				evs[0].Reporter != peerAddr(2) {
				t.Fatalf("p0: events %v, want one dispute of p1's disconnect reported by p2", evs)
			}
			for _, p := range peers[1:] {
				if evs := disconnectEvents(p); len(evs) != 0 {
					t.Fatalf("%s: events %v", p.addr, evs)
				}
			}
			for _, p := range peers {
				if n := countEvents(p.events, EventDesyncDetected); n != 0 {
					t.Fatalf("%s: %d desyncs", p.addr, n)
				}
			}
			if n := agree(t, peers); n < 600 {
				t.Fatalf("only %d frames agreed", n)
			}
		})
	}
}

// A genuine one-sided loss: p2 stops hearing p1 (p1 still hears p2, p0
// hears both). p2 times p1 out and tells it; p1 learns at once that it was
// dropped; p0 adopts p2's report because p1 confirms it, naming p2. p0 and
// p2 agree on p1's disconnect frame and play on in agreement.
func TestOneSidedLossDropsThePlayerEverywhere(t *testing.T) {
	heldTicks := 0
	for _, seed := range trustSeeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			net, peers, run := trustMesh(t, seed)
			net.cut(peerAddr(1), peerAddr(2))
			droppedAt := -1
			learnedAt := -1
			// While p2's report awaits p1's confirmation at p0, p0 confirms
			// no frame after the reported one: adopting the report would
			// change it (and spectators would have been sent it).
			held := 0 // ticks p0 held the report, summed over seeds below
			for i := range 400 {
				run(1)
				if droppedAt < 0 && peers[2].sess.localStatus[1].disconnected {
					droppedAt = i
				}
				if learnedAt < 0 && countEvents(peers[1].events, EventDisconnected) > 0 {
					learnedAt = i
				}
				if report := peers[0].sess.players.byAddr[peerAddr(2)].ep.peerStatus[1]; report.disconnected &&
					!peers[0].sess.localStatus[1].disconnected {
					held++
					if c := peers[0].sess.ConfirmedFrame(); c > report.lastFrame {
						t.Fatalf("tick %d: p0 confirmed frame %d while p2's report of p1 gone after %d waits",
							i, c, report.lastFrame)
					}
				}
			}
			heldTicks += held
			if droppedAt < 0 || learnedAt < 0 {
				t.Fatalf("p2 dropped p1 at tick %d, p1 learned at tick %d", droppedAt, learnedAt)
			}
			// At once: a notice's trip (20 ms, or a resend 100 ms later if
			// it was lost), not a disconnect timeout (2 s = 120 ticks).
			if learnedAt-droppedAt > 20 {
				t.Fatalf("p1 learned %d ticks after p2 dropped it", learnedAt-droppedAt)
			}
			want := map[string][]Event[string]{
				peerAddr(0): {{Kind: EventDisconnected, Addr: peerAddr(1), Reason: DisconnectReported, Reporter: peerAddr(2)}},
				peerAddr(1): {
					{Kind: EventDisconnected, Addr: peerAddr(2), Reason: DisconnectDroppedUs, Reporter: peerAddr(2)},
					{Kind: EventDisconnected, Addr: peerAddr(0), Reason: DisconnectDroppedUs, Reporter: peerAddr(0)},
				},
				peerAddr(2): {{Kind: EventDisconnected, Addr: peerAddr(1), Reason: DisconnectTimeout}},
			}
			for _, p := range peers {
				got := disconnectEvents(p)
				if len(got) != len(want[p.addr]) {
					t.Fatalf("%s: events %v, want %v", p.addr, got, want[p.addr])
				}
				for i, e := range got {
					w := want[p.addr][i]
					if e.Kind != w.Kind || e.Addr != w.Addr || e.Reason != w.Reason || e.Reporter != w.Reporter {
						t.Fatalf("%s: event %d is %v, want %v", p.addr, i, e, want[p.addr][i])
					}
				}
			}
			if f0, f2 := peers[0].sess.localStatus[1].lastFrame, peers[2].sess.localStatus[1].lastFrame; f0 != f2 {
				t.Fatalf("p1 dropped after frame %d on p0, %d on p2", f0, f2)
			}
			survivors := []*testPeer{peers[0], peers[2]}
			for _, p := range survivors {
				for _, e := range p.events {
					if e.Kind == EventDesyncDetected {
						t.Errorf("%s: %v (p1 dropped after frame %d)", p.addr, e, peers[0].sess.localStatus[1].lastFrame)
					}
				}
			}
			if n := agree(t, survivors); n < 300 {
				t.Fatalf("only %d frames agreed", n)
			}
		})
	}
	// Usually the report reaches p0 before p1's confirmation does; a lost
	// packet may turn that around in one network or another.
	if heldTicks == 0 {
		t.Fatal("p0 never held a report: every one was confirmed in the tick it arrived")
	}
}

// A link broken both ways: p1 and p2 each time the other out. p0 hears
// both and keeps the lower handle (p1), like every other peer would; p2
// learns at once that p0 dropped it.
func TestBrokenLinkKeepsTheLowerHandle(t *testing.T) {
	for _, seed := range trustSeeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			net, peers, run := trustMesh(t, seed)
			net.cut(peerAddr(1), peerAddr(2))
			net.cut(peerAddr(2), peerAddr(1))
			run(400)
			if !peers[0].sess.localStatus[2].disconnected || peers[0].sess.localStatus[1].disconnected {
				t.Fatalf("p0: p1 disconnected %v, p2 disconnected %v; want only p2",
					peers[0].sess.localStatus[1].disconnected, peers[0].sess.localStatus[2].disconnected)
			}
			evs := disconnectEvents(peers[0])
			if len(evs) != 1 || evs[0].Addr != peerAddr(2) || evs[0].Reason != DisconnectReported ||
				evs[0].Reporter != peerAddr(1) {
				t.Fatalf("p0: events %v", evs)
			}
			evs = disconnectEvents(peers[2])
			if len(evs) != 2 || evs[0].Reason != DisconnectTimeout || evs[0].Addr != peerAddr(1) ||
				evs[1].Reason != DisconnectDroppedUs || evs[1].Addr != peerAddr(0) {
				t.Fatalf("p2: events %v", evs)
			}
			if f0, f1 := peers[0].sess.localStatus[2].lastFrame, peers[1].sess.localStatus[2].lastFrame; f0 != f1 {
				t.Fatalf("p2 dropped after frame %d on p0, %d on p1", f0, f1)
			}
			if n := agree(t, peers[:2]); n < 200 {
				t.Fatalf("only %d frames agreed", n)
			}
		})
	}
}
