package rollbox

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/rollbox/rollbox/internal/ratelog"
	"github.com/rollbox/rollbox/packet"
	"github.com/rollbox/rollbox/rollback"
)

// Rejoin. A player whose connection dropped (past the disconnect timeout)
// or whose program restarted comes back to its match as the same player,
// while the others play on. Each player keeps a secret key and, once the
// match started, tells the other players (not the spectators) its hash H
// (key message); the match has an identity every player derives from the
// same hellos (matchID). The returning player (the guest) reaches the
// players still playing (the hosts) on a control channel (in a network
// match, the room <room>.rejoin-<match id>, which the hosts join once a
// player has dropped) and asks each of them. Each side proves it knows H
// without sending it (an HMAC under H over both nonces, rejoinProof), so
// the key never leaves the guest, a peer that is not a player of the match
// cannot pass for the returning one, and the guest takes answers only from
// hosts that proved themselves:
//
//	guest -> every host     rejoin {match, handle, nonce}
//	host -> guest           challenge {nonce', proof("host", nonce, nonce')}
//	guest -> host           rejoin {match, handle, nonce, challenge: nonce', proof("guest", nonce', nonce)}
//	host -> guest           here {its handles}  (where to reach it)
//
// The host with the lowest handle (the coordinator) admits it: it readmits
// the player in its session (rollback.P2PSession.Readmit) from its
// confirmed frame (from) with inputs counting again a second or so ahead
// (at), and asks the other hosts to do the same:
//
//	coordinator -> hosts    admit {handle, id, from, at}
//	host -> coordinator     admitted {handle, id, err}
//
// Once every host readmitted it, the coordinator sends the guest the
// session's Resume and the state of frame from, in chunks on the reliable
// channel; the guest builds its session with rollback.NewP2PSessionAt and
// catches up. If a host cannot readmit it (or does not answer within
// admitTimeout), the coordinator takes the admission back from the hosts
// that made it (abort) and refuses the guest, which asks again a second
// later:
//
//	coordinator -> guest    welcome {id, from, at, players, size, sum, enc}, then the state's chunks
//	coordinator -> hosts    abort {handle, id}
//	coordinator -> guest    refuse {err}

// rejoinKeyHash is what a player announces of its key: the hash, so that
// the spectators, which hear every hello too, cannot present the key.
func rejoinKeyHash(key string) string {
	sum := sha256.Sum256([]byte("rollbox rejoin key\x00" + key))
	return hex.EncodeToString(sum[:16])
}

// rejoinNonceSeconds is how long a host's challenge stays good: a guest
// answers within a round trip, and may answer one from the last period.
const rejoinNonceSeconds = 10

// rejoinProof is an HMAC-SHA256 under the hash of a player's key (which
// only the players know) of what a proof is about: the side ("host" or
// "guest"), the match, the player and both nonces, in the order the side
// sees them. Either side proves it knows the hash without sending it.
func rejoinProof(keyHash, side, match string, handle int, first, second string) string {
	mac := hmac.New(sha256.New, []byte(keyHash))
	fmt.Fprintf(mac, "rollbox rejoin %s\x00%s\x00%d\x00%s\x00%s", side, match, handle, first, second)
	return hex.EncodeToString(mac.Sum(nil))
}

// rejoinMsgMax bounds a rejoin control message: a peer that sends more is
// ignored. The largest the protocol sends, the welcome of a match of
// MaxPlayers players with every status and key, is about 5.3 KiB
// (TestRejoinMsgFits).
const rejoinMsgMax = 8 << 10

// rejoinRefuseBurst and rejoinRefuseInterval bound the refusals a host
// sends to peers that present a wrong key: a peer flooding requests gets a
// burst of answers, then one per interval, not one per request.
const (
	rejoinRefuseBurst    = 10
	rejoinRefuseInterval = 100 * time.Millisecond
)

// rejoinAskInterval is how often a guest repeats its request to a host
// that has not welcomed it.
const rejoinAskInterval = time.Second

// rejoinTransferTimeout bounds how long a returning player waits for the
// state once welcomed: the hosts drop a readmitted player whose handshake
// does not come within 15 s (rollback's readmitSyncTimeout), so a state
// later than that is useless; the player forgets the welcome and asks
// again.
const rejoinTransferTimeout = 15 * time.Second

// admitTimeout bounds how long a coordinator waits for the other hosts to
// readmit a player before it takes the admission back.
const admitTimeout = 3 * time.Second

// rejoinLeadSeconds is how far ahead of the coordinator's frame a returning
// player's inputs count again, at the least: the state transfer, the
// guest's handshake (five round trips) and its catching up happen in it.
const rejoinLeadSeconds = 1

// The kinds of rejoin message.
const (
	msgRejoin   = "rejoin"
	msgHere     = "here"
	msgAdmit    = "admit"
	msgAdmitted = "admitted"
	msgAbort    = "abort"
	msgWelcome  = "welcome"
	msgRefuse   = "refuse"
	// msgChallenge: a host's answer to a guest's first request: a nonce
	// to prove itself on, and the host's own proof.
	msgChallenge = "challenge"
	// msgKey: a player tells the other players the hash of its key, once
	// its match started (never the spectators, which hear hellos).
	msgKey = "key"
)

// rejoinMsg is one rejoin control message; T says which, and which fields
// it uses (see the protocol above).
type rejoinMsg struct {
	T       string                  `json:"t"`
	Match   string                  `json:"match,omitempty"`
	Handle  int                     `json:"handle"`
	Key     string                  `json:"key,omitempty"`
	Handles []int                   `json:"handles,omitempty"`
	ID      uint64                  `json:"id,omitempty"`
	From    rollback.Frame          `json:"from,omitempty"`
	At      rollback.Frame          `json:"at,omitempty"`
	Players []rollback.ResumeStatus `json:"players,omitempty"`
	Size    int                     `json:"size,omitempty"`
	Sum     uint64                  `json:"sum,omitempty"`
	Enc     byte                    `json:"enc,omitempty"`
	Err     string                  `json:"err,omitempty"`
	// Keys (welcome) are the hashes of every player's key, by handle: the
	// returning player checks the others' when they come back in turn.
	Keys []string `json:"keys,omitempty"`
	// Nonce (rejoin) is the guest's nonce; Challenge (rejoin) the host's
	// nonce it answers, or Nonce (challenge) that nonce; Proof, from
	// either side, an HMAC under the player's key hash (rejoinProof).
	Nonce     string `json:"nonce,omitempty"`
	Challenge string `json:"challenge,omitempty"`
	Proof     string `json:"proof,omitempty"`
	// Peer (admit) is where the coordinator admits the player from, as
	// text: every host admits it at that address, not at another that
	// presented the same key.
	Peer string `json:"peer,omitempty"`
}

func (m rejoinMsg) encode() []byte {
	b, err := json.Marshal(m)
	if err != nil { // strings, numbers, bools: always marshals
		panic(err)
	}
	return b
}

// errNotRejoin: a message on the control channel that is no rejoin
// message (a hello repeated, say): ignored without a word.
var errNotRejoin = errors.New("rollbox: not a rejoin message")

// parseRejoinMsg decodes a rejoin message and checks its ranges; it never
// panics on any input.
func parseRejoinMsg(b []byte, maxState int) (rejoinMsg, error) {
	var m rejoinMsg
	if len(b) > rejoinMsgMax {
		return m, fmt.Errorf("rollbox: rejoin message of %d bytes, more than %d", len(b), rejoinMsgMax)
	}
	if len(b) == 0 || b[0] != '{' {
		return m, errNotRejoin
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("rollbox: malformed rejoin message: %w", err)
	}
	switch m.T {
	case "":
		return m, errNotRejoin
	case msgRejoin, msgHere, msgAdmit, msgAdmitted, msgAbort, msgWelcome, msgRefuse, msgChallenge, msgKey:
	default:
		return m, fmt.Errorf("rollbox: rejoin message of unknown type %q", m.T)
	}
	switch {
	case m.Handle < 0 || m.Handle >= rollback.MaxPlayers:
		return m, fmt.Errorf("rollbox: rejoin message for player %d", m.Handle)
	case len(m.Handles) > rollback.MaxPlayers || len(m.Players) > rollback.MaxPlayers || len(m.Keys) > rollback.MaxPlayers:
		return m, errors.New("rollbox: rejoin message with too many players")
	case m.From < 0 || m.At < m.From:
		return m, fmt.Errorf("rollbox: rejoin message from frame %d at frame %d", m.From, m.At)
	case m.Size < 0 || m.Size > maxState:
		return m, fmt.Errorf("rollbox: rejoin state of %d bytes (at most %d)", m.Size, maxState)
	case len(m.Match) > 64 || len(m.Key) > 64 || len(m.Err) > 512 || len(m.Nonce) > 64 || len(m.Challenge) > 64 || len(m.Proof) > 64:
		return m, errors.New("rollbox: rejoin message with an overlong field")
	}
	for _, k := range m.Keys {
		if len(k) > 64 {
			return m, errors.New("rollbox: rejoin message with an overlong key")
		}
	}
	for _, h := range m.Handles {
		if h < 0 || h >= rollback.MaxPlayers {
			return m, fmt.Errorf("rollbox: rejoin message names player %d", h)
		}
	}
	return m, nil
}

// rejoinHost is a player's side of the others' rejoins: it answers
// returning players, admits them if it coordinates, and readmits them when
// the coordinator asks. Polled between two ticks, where every state up to
// the confirmed frame is final. Not safe for concurrent use.
type rejoinHost[S any, I comparable, A comparable] struct {
	// ctl reaches the other players (their match addresses, addrs) and
	// the returning ones (where their requests came from).
	ctl   packet.Socket[A]
	addrs []A // by handle: the control address of the player's peer
	match string
	keys  []string // by handle: the hash of each player's key (rejoinKeyHash), as announced
	wire  stateWire[S]
	// wireErr says why the state cannot travel (nil: it can).
	wireErr  error
	maxState int
	now      func() time.Time
	log      *slog.Logger
	// remoteLog limits the lines other peers can cause; refuseLimit the
	// refusals sent to peers that are no player of this match.
	remoteLog   ratelog.Limiter
	refuseLimit ratelog.Limiter
	// onReadmit tells the match that a player now plays at addr (a
	// network match routes the session's packets there).
	onReadmit func(addr A)

	// asked holds, by the first handle of a returning peer, where its
	// last request came from (its key checked).
	asked map[rollback.PlayerHandle]A
	// admitted holds the admission a coordinator asked this host to make,
	// by handle, so an abort undoes only that one.
	admitted map[rollback.PlayerHandle]uint64
	// held holds, by handle, a coordinator's admit that came before the
	// player's own request reached this host (it asks every host at once,
	// and reaches some first): answered when the request comes, or
	// refused at admitTimeout.
	held map[rollback.PlayerHandle]heldAdmit[A]
	// welcomed holds when the coordinator welcomed each player back, until
	// it plays; one that drops again before is refused for a while
	// (backoff), so that a program that dies as it comes back, or a copy
	// that has its key and never answers, cannot hold the match again and
	// again for the handshake's timeout.
	welcomed map[rollback.PlayerHandle]time.Time
	backoff  map[rollback.PlayerHandle]rejoinBackoff
	// secret makes this host's challenges (nonceFor); challenged holds
	// when each peer was last challenged (mayChallenge).
	secret     [32]byte
	challenged map[A]time.Time
	pending    *admission[A]
	nextID     uint64
	buf        []byte
}

// rejoinBackoff is how long a player that came back and dropped again is
// refused: rejoinBackoffMin, doubling each time up to rejoinBackoffMax.
type rejoinBackoff struct {
	until time.Time
	wait  time.Duration
}

const (
	rejoinBackoffMin = 10 * time.Second
	rejoinBackoffMax = 2 * time.Minute
)

// heldAdmit is an admit waiting for the player's request.
type heldAdmit[A comparable] struct {
	from  A
	msg   rejoinMsg
	until time.Time
}

// admission is a coordinator's admission in progress.
type admission[A comparable] struct {
	id       uint64
	handle   rollback.PlayerHandle
	addr     A
	resume   rollback.Resume
	state    []byte
	sum      uint64
	waiting  map[rollback.PlayerHandle]bool // hosts (by first handle) yet to answer
	asked    []rollback.PlayerHandle        // hosts asked
	deadline time.Time
}

func newRejoinHost[S any, I comparable, A comparable](ctl packet.Socket[A], addrs []A, match string, keys []string,
	maxState int, now func() time.Time, log *slog.Logger, onReadmit func(A)) *rejoinHost[S, I, A] {
	h := &rejoinHost[S, I, A]{ctl: ctl, addrs: addrs, match: match, keys: keys, maxState: maxState, now: now, log: log,
		remoteLog:   ratelog.Limiter{Interval: time.Second, Burst: 10, Now: now},
		refuseLimit: ratelog.Limiter{Interval: rejoinRefuseInterval, Burst: rejoinRefuseBurst, Now: now}, onReadmit: onReadmit,
		asked: make(map[rollback.PlayerHandle]A), admitted: make(map[rollback.PlayerHandle]uint64),
		held: make(map[rollback.PlayerHandle]heldAdmit[A]), welcomed: make(map[rollback.PlayerHandle]time.Time),
		backoff: make(map[rollback.PlayerHandle]rejoinBackoff)}
	h.wire, h.wireErr = newStateWire[S]()
	_, _ = rand.Read(h.secret[:]) // never fails (crypto/rand)
	h.challenged = make(map[A]time.Time)
	return h
}

// warn logs a line a remote peer caused, rate limited.
func (h *rejoinHost[S, I, A]) warn(msg string, args ...any) {
	h.remoteLog.Log(context.Background(), h.log, slog.LevelWarn, msg, args...)
}

func (h *rejoinHost[S, I, A]) send(to A, m rejoinMsg) { _ = h.ctl.Send(to, m.encode()) }

// poll handles the control messages that arrived and the admission's
// timeout.
func (h *rejoinHost[S, I, A]) poll(r *runner[S, I, A]) {
	for _, pk := range h.ctl.Receive() {
		m, err := parseRejoinMsg(pk.Data, h.maxState)
		if err != nil {
			if err != errNotRejoin {
				h.warn("rollbox: rejoin: bad message", "peer", pk.From, "err", err)
			}
			continue
		}
		switch m.T {
		case msgKey:
			h.onKey(r, pk.From, m)
		case msgRejoin:
			h.onRequest(r, pk.From, m)
		case msgAdmit:
			h.onAdmit(r, pk.From, m)
		case msgAdmitted:
			h.onAdmitted(r, pk.From, m)
		case msgAbort:
			h.onAbort(r, pk.From, m)
		}
	}
	for hd, ha := range h.held {
		if h.now().After(ha.until) {
			delete(h.held, hd)
			h.send(ha.from, rejoinMsg{T: msgAdmitted, Handle: ha.msg.Handle, ID: ha.msg.ID, Err: "the player has not asked this peer"})
		}
	}
	for hd := range h.welcomed {
		switch pl := r.players[hd]; {
		case pl.disconnected:
			// Back, and gone again before it played.
			b := h.backoff[hd]
			b.wait = min(max(2*b.wait, rejoinBackoffMin), rejoinBackoffMax)
			b.until = h.now().Add(b.wait)
			h.backoff[hd] = b
			delete(h.welcomed, hd)
			h.warn("rollbox: rejoin: a player came back and left before it played; refusing it for a while", "player", hd+1, "wait", b.wait)
		case !pl.returning:
			delete(h.welcomed, hd) // playing
		}
	}
	if p := h.pending; p != nil && h.now().After(p.deadline) {
		h.abort(r, "the other players did not answer in time")
	}
}

// playerAt returns the first handle of the connected player peer whose
// control address is addr.
func (h *rejoinHost[S, I, A]) playerAt(r *runner[S, I, A], addr A) (rollback.PlayerHandle, bool) {
	for p, a := range h.addrs {
		if a == addr && !r.players[p].local && !r.players[p].disconnected {
			return rollback.PlayerHandle(p), true
		}
	}
	return 0, false
}

// coordinator reports whether this peer admits returning players: it has
// the lowest handle of the players still playing.
func (h *rejoinHost[S, I, A]) coordinator(r *runner[S, I, A]) bool {
	for _, p := range r.players {
		if !p.disconnected {
			return p.local
		}
	}
	return false
}

// fromCoordinator reports whether addr is the control address of the
// remote peer that coordinates rejoins, as this host sees the match: only
// it may ask this host to readmit a player or take an admission back (any
// other player doing so could make the hosts disagree on the frames).
func (h *rejoinHost[S, I, A]) fromCoordinator(r *runner[S, I, A], addr A) bool {
	for i, p := range r.players {
		if !p.disconnected {
			return !p.local && h.addrs[i] == addr
		}
	}
	return false
}

func (h *rejoinHost[S, I, A]) onRequest(r *runner[S, I, A], from A, m rejoinMsg) {
	hd := rollback.PlayerHandle(m.Handle)
	switch {
	case m.Match != h.match:
		if ok, _ := h.refuseLimit.Allow(); ok {
			h.send(from, rejoinMsg{T: msgRefuse, Err: "this is another match"})
		}
		return
	case m.Handle >= len(r.players) || r.players[m.Handle].local || m.Handle >= len(h.keys) ||
		// A player that announced no key cannot come back: the empty key
		// would let anyone take its place.
		h.keys[m.Handle] == "":
		h.warn("rollbox: rejoin: refused a peer asking for a player without a key", "peer", from, "player", m.Handle)
		if ok, _ := h.refuseLimit.Allow(); ok {
			h.send(from, rejoinMsg{T: msgRefuse, Err: fmt.Sprintf("not player %d of this match", m.Handle+1)})
		}
		return
	case m.Proof == "":
		// A first request: challenge it, proving this host is a player
		// (it knows the key's hash, which only the players were told).
		if h.mayChallenge(from) {
			nonce := h.nonceFor(from, m.Nonce, h.now().Unix()/rejoinNonceSeconds)
			h.send(from, rejoinMsg{T: msgChallenge, Handle: m.Handle, Nonce: nonce,
				Proof: rejoinProof(h.keys[m.Handle], "host", h.match, m.Handle, m.Nonce, nonce)})
		}
		return
	case !h.answered(from, m):
		h.warn("rollbox: rejoin: refused a peer with a wrong proof", "peer", from, "player", m.Handle)
		if ok, _ := h.refuseLimit.Allow(); ok {
			h.send(from, rejoinMsg{T: msgRefuse, Err: fmt.Sprintf("not player %d of this match", m.Handle+1)})
		}
		return
	}
	h.asked[hd] = from
	if ha, ok := h.held[hd]; ok {
		delete(h.held, hd)
		h.onAdmit(r, ha.from, ha.msg)
	}
	here := rejoinMsg{T: msgHere}
	for _, l := range r.local {
		here.Handles = append(here.Handles, int(l))
	}
	h.send(from, here)
	if !h.coordinator(r) || h.pending != nil {
		return
	}
	if reason := h.admit(r, hd, from); reason != "" {
		h.send(from, rejoinMsg{T: msgRefuse, Err: reason})
	}
}

// admit starts the admission of player hd at addr, as the coordinator; it
// returns why not, if not.
func (h *rejoinHost[S, I, A]) admit(r *runner[S, I, A], hd rollback.PlayerHandle, addr A) string {
	if r.reached {
		return "the match is over"
	}
	if b := h.backoff[hd]; h.now().Before(b.until) {
		return fmt.Sprintf("this player came back and left again before it played; ask again in %v", b.until.Sub(h.now()).Round(time.Second))
	}
	if h.wireErr != nil {
		return h.wireErr.Error()
	}
	from := r.confirmed()
	st := r.state
	if from != r.frame {
		saved, ok := r.p2p.SavedState(from)
		if !ok {
			return fmt.Sprintf("the state of frame %d is no longer held", from)
		}
		st = &saved
	}
	at := r.frame + rejoinLead(r)
	resume, err := r.p2p.Readmit(hd, addr, from, at)
	if err != nil {
		return err.Error()
	}
	b, err := h.wire.append(nil, st)
	if err == nil && len(b) > h.maxState {
		err = fmt.Errorf("rollbox: the state is %d bytes, more than the %d a returning player takes", len(b), h.maxState)
	}
	if err != nil {
		_ = r.p2p.DisconnectPlayer(hd)
		return fmt.Sprintf("encoding the state: %v", err)
	}
	h.nextID++
	p := &admission[A]{id: h.nextID, handle: hd, addr: addr, resume: resume, state: b, sum: r.ops.checksum(st),
		waiting: make(map[rollback.PlayerHandle]bool), deadline: h.now().Add(admitTimeout)}
	h.readmitted(r, hd, addr)
	for i, pl := range r.players {
		first := i == 0 || h.addrs[i-1] != h.addrs[i]
		if first && !pl.local && !pl.disconnected && !r.samePeer(rollback.PlayerHandle(i), hd) {
			p.waiting[rollback.PlayerHandle(i)] = true
			p.asked = append(p.asked, rollback.PlayerHandle(i))
			h.send(h.addrs[i], rejoinMsg{T: msgAdmit, Handle: int(hd), ID: p.id, From: from, At: at, Peer: fmt.Sprint(addr)})
		}
	}
	h.pending = p
	h.log.Info("rollbox: a player is coming back", "player", hd+1, "peer", addr, "from", from, "at", at, "frame", r.frame,
		"state_bytes", len(b))
	if len(p.waiting) == 0 {
		h.welcome(r)
	}
	return ""
}

// rejoinLead is how many frames ahead of the current one a returning
// player's inputs count again: rejoinLeadSeconds, plus ten round trips to
// the slowest player for the transfer and the handshake, plus the input
// delay.
func rejoinLead[S any, I comparable, A comparable](r *runner[S, I, A]) rollback.Frame {
	var rtt time.Duration
	for _, p := range r.players {
		if !p.local && !p.disconnected {
			rtt = max(rtt, p.stats.Ping)
		}
	}
	fps := r.fps
	return rollback.Frame(rejoinLeadSeconds*fps + int(10*rtt*time.Duration(fps)/time.Second) + r.inputDelay)
}

// nonceFor is the challenge this host gives the guest at from for its nonce
// in period bucket: derived, not stored, so that strangers' requests cost
// this host no memory.
func (h *rejoinHost[S, I, A]) nonceFor(from A, guest string, bucket int64) string {
	mac := hmac.New(sha256.New, h.secret[:])
	fmt.Fprintf(mac, "%v\x00%s\x00%d", from, guest, bucket)
	return hex.EncodeToString(mac.Sum(nil)[:16])
}

// Challenges: each peer gets at most one per rejoinChallengeGap (a guest
// asks once per rejoinAskInterval), and this host remembers at most
// rejoinChallengeMemory peers: a flood of requests from one address earns
// it two answers a second, and one from many addresses cannot crowd out a
// returning player for long.
const (
	rejoinChallengeGap    = rejoinAskInterval / 2
	rejoinChallengeMemory = 64
)

// mayChallenge reports whether from may be challenged now, and notes it.
func (h *rejoinHost[S, I, A]) mayChallenge(from A) bool {
	now := h.now()
	if last, ok := h.challenged[from]; ok && now.Sub(last) < rejoinChallengeGap {
		return false
	}
	if len(h.challenged) >= rejoinChallengeMemory {
		for a, t := range h.challenged {
			if now.Sub(t) >= rejoinChallengeGap {
				delete(h.challenged, a)
			}
		}
		if len(h.challenged) >= rejoinChallengeMemory {
			return false
		}
	}
	h.challenged[from] = now
	return true
}

// answered reports whether m answers a challenge this host gave the guest
// at from, in this period or the last, with the player's proof.
func (h *rejoinHost[S, I, A]) answered(from A, m rejoinMsg) bool {
	bucket := h.now().Unix() / rejoinNonceSeconds
	fresh := false
	for _, b := range []int64{bucket, bucket - 1} {
		fresh = fresh || subtle.ConstantTimeCompare([]byte(h.nonceFor(from, m.Nonce, b)), []byte(m.Challenge)) == 1
	}
	want := rejoinProof(h.keys[m.Handle], "guest", h.match, m.Handle, m.Challenge, m.Nonce)
	return fresh && subtle.ConstantTimeCompare([]byte(want), []byte(m.Proof)) == 1
}

// onKey takes the hash of a player's key from that player.
func (h *rejoinHost[S, I, A]) onKey(r *runner[S, I, A], from A, m rejoinMsg) {
	p, ok := h.playerAt(r, from)
	if !ok || m.Key == "" {
		return
	}
	for i := range h.keys {
		if h.addrs[i] == h.addrs[p] {
			h.keys[i] = m.Key
		}
	}
}

// readmitted records that the players of hd's peer play at addr again.
func (h *rejoinHost[S, I, A]) readmitted(r *runner[S, I, A], hd rollback.PlayerHandle, addr A) {
	delete(h.asked, hd) // used: a later return asks anew, maybe from elsewhere
	old := h.addrs[hd]
	for i := range h.addrs {
		if h.addrs[i] == old {
			h.addrs[i] = addr
		}
	}
	r.readmitted(hd, addr)
	if h.onReadmit != nil {
		h.onReadmit(addr)
	}
}

func (h *rejoinHost[S, I, A]) onAdmitted(r *runner[S, I, A], from A, m rejoinMsg) {
	p := h.pending
	host, ok := h.playerAt(r, from)
	if p == nil || !ok || m.ID != p.id || !p.waiting[host] {
		return // late news of an admission over
	}
	if m.Err != "" {
		h.abort(r, fmt.Sprintf("player %d could not take the player back: %s", host+1, m.Err))
		return
	}
	delete(p.waiting, host)
	if len(p.waiting) == 0 {
		h.welcome(r)
	}
}

// welcome sends the returning player its Resume and state: the admission
// is complete.
func (h *rejoinHost[S, I, A]) welcome(r *runner[S, I, A]) {
	p := h.pending
	h.pending = nil
	w := rejoinMsg{T: msgWelcome, Handle: int(p.handle), ID: p.id, From: p.resume.From, At: p.resume.At,
		Players: p.resume.Players, Size: len(p.state), Sum: p.sum, Enc: h.wire.encoding, Keys: h.keys}
	h.send(p.addr, w)
	err := sendChunks(func(b []byte) error { return h.ctl.Send(p.addr, b) }, p.id, p.state, h.buf)
	if err != nil {
		h.warn("rollbox: rejoin: sending the state failed", "peer", p.addr, "err", err)
		return // the player's handshake does not come: the session drops it again
	}
	h.welcomed[p.handle] = h.now()
	h.log.Info("rollbox: player readmitted", "player", p.handle+1, "peer", p.addr, "from", p.resume.From, "at", p.resume.At,
		"frame", r.frame)
}

// abort takes the admission in progress back everywhere and refuses the
// player, which asks again.
func (h *rejoinHost[S, I, A]) abort(r *runner[S, I, A], reason string) {
	p := h.pending
	h.pending = nil
	for _, host := range p.asked {
		h.send(h.addrs[host], rejoinMsg{T: msgAbort, Handle: int(p.handle), ID: p.id})
	}
	_ = r.p2p.DisconnectPlayer(p.handle)
	h.send(p.addr, rejoinMsg{T: msgRefuse, Err: reason})
	h.warn("rollbox: rejoin: admission taken back", "player", p.handle+1, "reason", reason)
}

// onAdmit readmits a player because the coordinator asks.
func (h *rejoinHost[S, I, A]) onAdmit(r *runner[S, I, A], from A, m rejoinMsg) {
	if _, ok := h.playerAt(r, from); !ok {
		return // not from a player of this match
	}
	hd := rollback.PlayerHandle(m.Handle)
	reply := rejoinMsg{T: msgAdmitted, Handle: m.Handle, ID: m.ID}
	addr, ok := h.asked[hd]
	ok = ok && fmt.Sprint(addr) == m.Peer
	switch {
	case m.Handle >= len(r.players):
		reply.Err = "no such player"
	case !h.fromCoordinator(r, from):
		reply.Err = "only the player with the lowest handle playing admits"
	case !ok:
		// Its request is on the way: answer when it comes.
		h.held[hd] = heldAdmit[A]{from: from, msg: m, until: h.now().Add(admitTimeout)}
		return
	default:
		if _, err := r.p2p.Readmit(hd, addr, m.From, m.At); err != nil {
			reply.Err = err.Error()
		} else {
			h.admitted[hd] = m.ID
			h.readmitted(r, hd, addr)
			h.log.Info("rollbox: player readmitted", "player", hd+1, "peer", addr, "from", m.From, "at", m.At, "frame", r.frame)
		}
	}
	h.send(from, reply)
}

func (h *rejoinHost[S, I, A]) onAbort(r *runner[S, I, A], from A, m rejoinMsg) {
	hd := rollback.PlayerHandle(m.Handle)
	// Only an admission this host made, at the coordinator's request: a
	// missing one's zero id must not match an abort without an id.
	if id, ok := h.admitted[hd]; !ok || id != m.ID || !h.fromCoordinator(r, from) {
		return
	}
	delete(h.admitted, hd)
	_ = r.p2p.DisconnectPlayer(hd)
}

// rejoinGuest is a returning player's side: it asks the players still
// playing to take it back and collects what it needs to build its session.
type rejoinGuest[A comparable] struct {
	ctl      packet.Socket[A]
	match    string
	handle   rollback.PlayerHandle // the first local player
	local    int                   // the number of local players
	key      string
	maxState int
	asked    map[A]time.Time
	// here holds where each player still playing is, from the hosts'
	// answers.
	here    map[rollback.PlayerHandle]A
	welcome *rejoinMsg
	coord   A
	// welcomeBy is when the state must have arrived, once welcomed.
	welcomeBy time.Time
	reader    *chunkReader
	state     []byte
	// refused is the last refusal, for the status line; heard is set once
	// any host answered.
	refused string
	heard   bool
	// welcomed and received are when the welcome and the last chunk of
	// the state arrived: the transfer's time, for the log.
	welcomed, received time.Time
	// keyHash is rejoinKeyHash(key), nonce this guest's nonce, and
	// verified the peers that proved they are players of the match.
	keyHash, nonce string
	verified       map[A]bool
}

func newRejoinGuest[A comparable](ctl packet.Socket[A], match string, handle rollback.PlayerHandle, local int, key string, maxState int) *rejoinGuest[A] {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce) // never fails (crypto/rand)
	return &rejoinGuest[A]{ctl: ctl, match: match, handle: handle, local: local, key: key, maxState: maxState,
		keyHash: rejoinKeyHash(key), nonce: hex.EncodeToString(nonce),
		asked: make(map[A]time.Time), here: make(map[rollback.PlayerHandle]A), verified: make(map[A]bool)}
}

// poll asks the peers reachable now (again, every rejoinAskInterval) and
// reads their answers. It returns true once the state arrived and every
// player still playing is located.
func (g *rejoinGuest[A]) poll(peers []A, now time.Time) (bool, error) {
	// The key itself never leaves this peer: each host challenges the
	// request, and each side proves it knows the key's hash.
	req := rejoinMsg{T: msgRejoin, Match: g.match, Handle: int(g.handle), Nonce: g.nonce}
	for _, p := range peers {
		if last, ok := g.asked[p]; (!ok || now.Sub(last) >= rejoinAskInterval) && (g.welcome == nil || p != g.coord) {
			if g.ctl.Send(p, req.encode()) == nil {
				g.asked[p] = now
			}
		}
	}
	if g.welcome != nil && g.state == nil && now.After(g.welcomeBy) {
		// The state never came whole (a sender that died, or a peer that
		// sent a welcome it had no business sending): ask again.
		g.drop("the match's state did not arrive in time")
	}
	for _, pk := range g.ctl.Receive() {
		if g.welcome != nil && pk.From == g.coord && isChunk(pk.Data) {
			if g.state != nil {
				continue // the state arrived already
			}
			msg, done, err := g.reader.feed(pk.Data)
			if err != nil {
				// Not the coordinator's state, or a broken one: start over
				// rather than give up, as a stranger could make it.
				g.drop(fmt.Sprintf("receiving the match's state: %v", err))
				continue
			}
			if done {
				g.state, g.received = msg, now
			}
			continue
		}
		m, err := parseRejoinMsg(pk.Data, g.maxState)
		if err != nil {
			continue
		}
		switch m.T {
		case msgChallenge:
			g.onChallenge(pk.From, m)
			continue
		case msgRefuse:
			// Said for the status line only (a stranger can say
			// anything): a refusal changes nothing else.
			g.heard = true
			g.refused = m.Err
			continue
		}
		if !g.verified[pk.From] {
			continue // only a player of the match proved itself
		}
		switch m.T {
		case msgHere:
			g.heard = true
			for _, h := range m.Handles {
				g.here[rollback.PlayerHandle(h)] = pk.From
			}
		case msgWelcome:
			if g.welcome != nil || len(m.Players) == 0 || m.Handle != int(g.handle) {
				continue
			}
			g.welcome, g.coord, g.welcomed, g.welcomeBy = &m, pk.From, now, now.Add(rejoinTransferTimeout)
			g.reader = newChunkReader(m.Size)
		}
	}
	if g.welcome == nil || g.state == nil {
		return false, nil
	}
	if len(g.state) != g.welcome.Size {
		g.drop(fmt.Sprintf("the match's state arrived with %d bytes, announced %d", len(g.state), g.welcome.Size))
		return false, nil
	}
	for h, st := range g.welcome.Players {
		if _, ok := g.here[rollback.PlayerHandle(h)]; !ok && !st.Disconnected && !g.mine(rollback.PlayerHandle(h)) {
			return false, nil // that player's host has not answered yet: ask again
		}
	}
	return true, nil
}

// onChallenge checks a host's proof and answers its challenge with the
// guest's.
func (g *rejoinGuest[A]) onChallenge(from A, m rejoinMsg) {
	want := rejoinProof(g.keyHash, "host", g.match, int(g.handle), g.nonce, m.Nonce)
	if m.Handle != int(g.handle) || subtle.ConstantTimeCompare([]byte(want), []byte(m.Proof)) != 1 {
		return // not a player of this match: it does not know the key's hash
	}
	g.verified[from] = true
	_ = g.ctl.Send(from, rejoinMsg{T: msgRejoin, Match: g.match, Handle: int(g.handle), Nonce: g.nonce, Challenge: m.Nonce,
		Proof: rejoinProof(g.keyHash, "guest", g.match, int(g.handle), m.Nonce, g.nonce)}.encode())
}

// drop forgets the welcome and the state under way, for reason: the guest
// asks every player again, and takes the next welcome.
func (g *rejoinGuest[A]) drop(reason string) {
	g.welcome, g.reader, g.state = nil, nil, nil
	g.refused = reason
	clear(g.asked)
}

// mine reports whether h is one of the returning peer's players.
func (g *rejoinGuest[A]) mine(h rollback.PlayerHandle) bool {
	return h >= g.handle && int(h-g.handle) < g.local
}

// resume is the session's Resume from the welcome.
func (g *rejoinGuest[A]) resume() rollback.Resume {
	return rollback.Resume{From: g.welcome.From, At: g.welcome.At, Players: g.welcome.Players}
}

// alone reports whether every other player of r's match is disconnected.
func alone[S any, I comparable, A comparable](r *runner[S, I, A]) bool {
	if r.p2p == nil {
		return false
	}
	for _, p := range r.players {
		if !p.local && !p.disconnected {
			return false
		}
	}
	return true
}

// welcomed is what a returning player needs to build its runner once its
// guest is done: the state it received, checked, and where every player
// plays: self for its own, the hosts' answers for the others, gone(h) (an
// address never contacted) for players gone for good.
func welcomed[S any, I comparable, A comparable](g *rejoinGuest[A], ops stateOps[S, I], players int, self A, gone func(h int) A) (S, playerMap[A], error) {
	var st S
	var pm playerMap[A]
	wire, err := newStateWire[S]()
	if err != nil {
		return st, pm, err
	}
	switch {
	case g.welcome.Enc != wire.encoding:
		return st, pm, fmt.Errorf("rollbox: the state arrived encoded as %d, this build's state type reads %d", g.welcome.Enc, wire.encoding)
	case len(g.welcome.Players) != players || len(g.welcome.Keys) != players:
		return st, pm, fmt.Errorf("rollbox: the match has %d players, this peer expects %d", len(g.welcome.Players), players)
	}
	if err := wire.load(g.state, &st); err != nil {
		return st, pm, fmt.Errorf("rollbox: loading the match's state: %w", err)
	}
	if sum := ops.checksum(&st); sum != g.welcome.Sum {
		return st, pm, fmt.Errorf("rollbox: the match's state of frame %d arrived with checksum %016x, the sender's is %016x", g.welcome.From, sum, g.welcome.Sum)
	}
	for h := range players {
		addr, ok := g.here[PlayerHandle(h)]
		switch {
		case g.mine(PlayerHandle(h)):
			addr = self
		case !ok:
			addr = gone(h)
		}
		pm.byHandle = append(pm.byHandle, addr)
	}
	pm.host = pm.byHandle[0]
	return st, pm, nil
}
