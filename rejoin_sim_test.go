package rollbox

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rollbox/rollbox/packet"
	"github.com/rollbox/rollbox/rollback"
	"github.com/rollbox/rollbox/transport/simnet"
)

// rejoinArena is a game that remembers who was gone when: a peer that got a
// player's status wrong for one frame disagrees from then on.
type rejoinArena struct {
	Frame int32
	X     [4]int32
	Gone  [4]int32
}

func (a *rejoinArena) Step(in []PlayerInput[uint8]) {
	a.Frame++
	for i, p := range in {
		if p.Status == Disconnected {
			a.Gone[i]++
			continue
		}
		a.X[i] = a.X[i]*31 + int32(p.Input) + int32(i)
	}
}

// rejoinSim is a three-player match in virtual time whose players can drop
// and come back through the rejoin protocol (rejoin.go), as Match does it
// minus the signalling: every part but the rooms is the real one.
type rejoinSim struct {
	t       *testing.T
	cfg     Config
	ops     stateOps[rejoinArena, uint8]
	codec   *valueCodec[uint8]
	net     *simnet.Network
	ctl     *simCtl
	runners []*runner[rejoinArena, uint8, int]
	hosts   []*rejoinHost[rejoinArena, uint8, int]
	sums    []map[Frame]uint64
	stall   []int // ticks in a row without an advance
}

func newRejoinSim(t *testing.T, seed uint64, link simnet.Link) *rejoinSim {
	t.Helper()
	c, err := Config{Players: 3, Peers: 3, LocalPlayers: 1, Frames: 3000}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	s := &rejoinSim{t: t, cfg: c, net: simnet.New(seed, 8, link)}
	s.ops, s.codec, err = newGame[rejoinArena, uint8]()
	if err != nil {
		t.Fatal(err)
	}
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.cfg.clock = func() time.Time { return epoch.Add(s.net.Now()) }
	s.cfg.Logger = slog.New(slog.DiscardHandler)
	s.ctl = newSimCtl(s.net.Now, link.Latency)
	pm := playerMap[int]{byHandle: []int{0, 1, 2}, host: 0}
	for p := range 3 {
		pc := s.cfg
		pc.sessionSeed = seed*1000003 + uint64(p) + 1
		r, err := newSessionRunner(pc, s.ops, s.codec, new(rejoinArena), newBot[uint8](s.codec, seed+uint64(p)).input, p, pm, rollback.Socket[int](s.net.Endpoint(p)))
		if err != nil {
			t.Fatal(err)
		}
		s.watch(r)
		s.runners = append(s.runners, r)
		s.hosts = append(s.hosts, s.host(p, []int{0, 1, 2}))
		s.stall = append(s.stall, 0)
	}
	return s
}

func (s *rejoinSim) host(self int, addrs []int) *rejoinHost[rejoinArena, uint8, int] {
	return newRejoinHost[rejoinArena, uint8, int](s.ctl.socket(self), addrs, "match", []string{rejoinKeyHash("k0"), rejoinKeyHash("k1"), rejoinKeyHash("k2")},
		1<<20, s.cfg.clock, s.cfg.Logger, nil)
}

// watch records the checksum of every frame r confirms.
func (s *rejoinSim) watch(r *runner[rejoinArena, uint8, int]) {
	sums := map[Frame]uint64{}
	s.sums = append(s.sums, sums)
	r.onConfirmed = func(f Frame, sum uint64) { sums[f] = sum }
}

// tick ticks the players in live once and polls their rejoin hosts.
func (s *rejoinSim) tick(live ...int) {
	s.t.Helper()
	for _, p := range live {
		r := s.runners[p]
		before := r.frame
		if err := r.tick(); err != nil {
			s.t.Fatalf("player %d: %v", p+1, err)
		}
		if r.frame > before {
			s.stall[p] = 0
		} else {
			s.stall[p]++
		}
		s.hosts[p].poll(r)
	}
}

// TestRejoinSimulated is issue 14's acceptance over simnet: a three-player
// match, the third player's network goes for ten seconds at frame 600; it
// finds itself alone and asks to come back (at a new address, as a new
// program would); the two who stayed admit it with the real protocol and
// state transfer; all three confirm the same state for every frame to 3000,
// and the two who stayed never stall while it comes back.
func TestRejoinSimulated(t *testing.T) {
	t.Run("asks both at once", func(t *testing.T) { testRejoinSimulated(t, 0) })
	// The coordinator's admit reaches the other player before the
	// returning player's request: it waits for the request.
	t.Run("reaches the coordinator first", func(t *testing.T) { testRejoinSimulated(t, 30) })
}

func testRejoinSimulated(t *testing.T, lateTicks int) {
	link := simnet.Link{Latency: 20 * time.Millisecond, Jitter: 5 * time.Millisecond, Loss: 0.01}
	s := newRejoinSim(t, 14, link)
	const tick = time.Second / 60
	for s.runners[2].frame < 600 {
		s.tick(0, 1, 2)
		s.net.Advance(tick)
	}
	cut := simnet.Link{Loss: 1}
	for _, p := range []int{0, 1} {
		s.net.SetLink(p, 2, cut)
		s.net.SetLink(2, p, cut)
	}
	s.ctl.down[2] = true
	dropAt := s.net.Now()
	for s.net.Now()-dropAt < 10*time.Second {
		s.tick(0, 1, 2)
		s.net.Advance(tick)
	}
	if !alone(s.runners[2]) || alone(s.runners[0]) || alone(s.runners[1]) {
		t.Fatal("after ten seconds apart the third player should be alone, the others together")
	}
	s.stall[0], s.stall[1] = 0, 0

	// The third player comes back at address 3 (its side room's, in a
	// network match).
	for _, p := range []int{0, 1} {
		s.net.SetLink(p, 2, link)
		s.net.SetLink(2, p, link)
	}
	s.ctl.down[2] = false
	guest := newRejoinGuest[int](s.ctl.socket(3), "match", 2, 1, "k2", 1<<20)
	backAt := s.net.Now()
	var back *runner[rejoinArena, uint8, int]
	maxStall := 0
	for back == nil {
		s.tick(0, 1)
		maxStall = max(maxStall, s.stall[0], s.stall[1])
		reach := []int{0, 1}
		if lateTicks > 0 {
			reach = reach[:1]
			lateTicks--
		}
		done, err := guest.poll(reach, s.cfg.clock())
		if err != nil {
			t.Fatal(err)
		}
		if done {
			back = s.resume(guest)
		}
		s.net.Advance(tick)
		if s.net.Now()-backAt > 30*time.Second {
			t.Fatalf("not readmitted after 30 s; last refusal %q", guest.refused)
		}
	}
	from, at := guest.welcome.From, guest.welcome.At
	for _, p := range []int{0, 1} {
		if pl := s.runners[p].players[2]; pl.disconnected || !pl.returning {
			t.Fatalf("player %d sees the third player disconnected %v, returning %v: want coming back", p+1, pl.disconnected, pl.returning)
		}
	}
	admitted := s.net.Now() - backAt
	var playing time.Duration
	for s.runners[0].confirmed() < 3000 || s.runners[1].confirmed() < 3000 || back.confirmed() < 3000 {
		s.tick(0, 1, 2)
		maxStall = max(maxStall, s.stall[0], s.stall[1])
		if playing == 0 && back.frame >= at {
			playing = s.net.Now() - backAt
		}
		s.net.Advance(tick)
		if s.net.Now()-backAt > 5*time.Minute {
			t.Fatalf("stuck at frames %d %d %d", s.runners[0].frame, s.runners[1].frame, back.frame)
		}
	}
	for f := Frame(1); f <= 3000; f++ {
		if s.sums[0][f] != s.sums[1][f] || s.sums[0][f] == 0 {
			t.Fatalf("frame %d: the two who stayed disagree", f)
		}
		if f > from && (s.sums[3][f] != s.sums[0][f] || s.sums[3][f] == 0) {
			t.Fatalf("frame %d: the player who came back (from %d) disagrees", f, from)
		}
	}
	for p, r := range []*runner[rejoinArena, uint8, int]{s.runners[0], s.runners[1], back} {
		if r.desyncs != 0 {
			t.Fatalf("player %d saw %d desyncs", p+1, r.desyncs)
		}
	}
	for _, p := range []int{0, 1} {
		if pl := s.runners[p].players[2]; pl.disconnected || pl.returning {
			t.Fatalf("player %d sees the third player disconnected %v, returning %v: want playing", p+1, pl.disconnected, pl.returning)
		}
	}
	if s.hosts[0].nextID != 1 {
		t.Fatalf("%d admissions, want one", s.hosts[0].nextID)
	}
	if s.runners[0].rejoins != 1 || s.runners[1].rejoins != 1 {
		t.Fatalf("rejoins counted: %d, %d", s.runners[0].rejoins, s.runners[1].rejoins)
	}
	// While the player came back, the others never waited on it for
	// longer than the prediction window allows: what stall there is comes
	// from time sync evening out the last frames of its catching up.
	if maxStall >= DefaultMaxPrediction {
		t.Fatalf("a player who stayed stalled %d ticks while the third came back", maxStall)
	}
	t.Logf("readmitted %v after asking (from %d, at %d); playing at frame %d %v after asking; longest stall of a stayer %d ticks",
		admitted, from, at, at, playing, maxStall)
}

// resume builds the runner of the player that came back from the guest's
// welcome, as Match does.
func (s *rejoinSim) resume(g *rejoinGuest[int]) *runner[rejoinArena, uint8, int] {
	s.t.Helper()
	st, pm, err := welcomed(g, s.ops, 3, 3, func(h int) int { return 100 + h })
	if err != nil {
		s.t.Fatal(err)
	}
	pc := s.cfg
	pc.sessionSeed = 77
	r, err := newResumedRunner(pc, s.ops, s.codec, &st, newBot[uint8](s.codec, 99).input, 3, pm, rollback.Socket[int](s.net.Endpoint(3)), g.resume())
	if err != nil {
		s.t.Fatal(err)
	}
	s.watch(r)
	s.runners[2] = r
	s.hosts[2] = s.host(3, pm.byHandle)
	return r
}

// A returning player and the hosts prove to each other that they know the
// hash of the player's key (which only the players were told) without
// sending it: a peer without it is refused, whatever it answers, and its
// answers to the returning player (a forged here) are ignored; the key
// itself never crosses the network.
func TestRejoinChallengeResponse(t *testing.T) {
	s := newRejoinSim(t, 3, simnet.Link{Latency: 10 * time.Millisecond})
	step := func() {
		for range 3 {
			s.tick(0, 1, 2)
			s.net.Advance(time.Second / 60)
		}
	}
	step()
	spy := s.ctl.socket(5)
	var sent [][]byte
	spy2 := &recordingSocket{Socket: s.ctl.socket(6), sent: &sent}
	_ = spy.Send(0, rejoinMsg{T: msgRejoin, Match: "match", Handle: 2, Nonce: "mine"}.encode())
	step()
	var ch rejoinMsg
	for _, pk := range spy.Receive() {
		if m, err := parseRejoinMsg(pk.Data, 1<<20); err == nil && m.T == msgChallenge {
			ch = m
		}
	}
	if ch.Nonce == "" || ch.Proof != rejoinProof(rejoinKeyHash("k2"), "host", "match", 2, "mine", ch.Nonce) {
		t.Fatalf("challenge %+v: not proving the host knows the key's hash", ch)
	}
	for _, guess := range []string{"", "k2", rejoinKeyHash("k1"), "guess"} {
		_ = spy.Send(0, rejoinMsg{T: msgRejoin, Match: "match", Handle: 2, Nonce: "mine", Challenge: ch.Nonce,
			Proof: rejoinProof(guess, "guest", "match", 2, ch.Nonce, "mine")}.encode())
		step()
		if _, ok := s.hosts[0].asked[2]; ok {
			t.Fatalf("a proof made with %q was taken", guess)
		}
	}
	// The right proof, but for another host's challenge (replayed): no.
	_ = spy.Send(1, rejoinMsg{T: msgRejoin, Match: "match", Handle: 2, Nonce: "mine", Challenge: ch.Nonce,
		Proof: rejoinProof(rejoinKeyHash("k2"), "guest", "match", 2, ch.Nonce, "mine")}.encode())
	step()
	if _, ok := s.hosts[1].asked[2]; ok {
		t.Fatal("a proof answering another host's challenge was taken")
	}
	// A real guest: it gets through, and never sends its key.
	g := newRejoinGuest[int](spy2, "match", 2, 1, "k2", 1<<20)
	_ = s.ctl.socket(7).Send(6, rejoinMsg{T: msgHere, Handles: []int{1}}.encode()) // a stranger's forged here
	for range 10 {
		if _, err := g.poll([]int{0}, s.cfg.clock()); err != nil {
			t.Fatal(err)
		}
		step()
	}
	if a, ok := s.hosts[0].asked[2]; !ok || a != 6 {
		t.Fatalf("the real guest was not recognised (asked %v)", s.hosts[0].asked)
	}
	if !g.verified[0] || g.verified[7] {
		t.Fatalf("verified %v: want the player only", g.verified)
	}
	if _, ok := g.here[1]; ok {
		t.Fatal("the guest took a stranger's here")
	}
	for _, b := range sent {
		if strings.Contains(string(b), "k2") || strings.Contains(string(b), rejoinKeyHash("k2")) {
			t.Fatalf("the guest sent its key or its hash: %s", b)
		}
	}
}

// recordingSocket is a socket that keeps a copy of what it sends.
type recordingSocket struct {
	packet.Socket[int]
	sent *[][]byte
}

func (r *recordingSocket) Send(to int, b []byte) error {
	*r.sent = append(*r.sent, append([]byte(nil), b...))
	return r.Socket.Send(to, b)
}

// A peer that reaches its target frame has just sent inputs the others
// need to confirm it too: it is not finished until they acknowledged them,
// however fast the network. (It used to read the acknowledgements from the
// stats of the tick's start, and a peer on loopback left at once, before
// its last inputs arrived.)
func TestFinishedWaitsForTheLastInputs(t *testing.T) {
	s := newRejoinSim(t, 5, simnet.Link{})
	for _, r := range s.runners {
		r.target = 120
	}
	for range 600 {
		s.tick(0, 1, 2)
		for p, r := range s.runners {
			if r.reached && r.ticks == r.reachedTick && r.finished() {
				t.Fatalf("player %d finished on the tick it reached the target, its last inputs unacknowledged", p+1)
			}
		}
		s.net.Advance(time.Second / 60)
	}
	for p, r := range s.runners {
		if !r.finished() {
			t.Fatalf("player %d never finished", p+1)
		}
	}
}
