package rollback

import (
	"cmp"
	"math"
	"math/rand/v2"
	"time"
)

// Protocol timing, as in GGPO/GGRS.
const (
	numSyncRoundTrips     = 5
	syncRetryInterval     = 200 * time.Millisecond
	resendInterval        = 200 * time.Millisecond
	keepAliveInterval     = 200 * time.Millisecond
	qualityReportInterval = 200 * time.Millisecond
	shutdownDelay         = 5000 * time.Millisecond
	// pendingOutputSize bounds the input frames sent but not acknowledged;
	// a peer that lets more pile up is disconnected.
	pendingOutputSize = 128
	// lateSpectatorBacklog bounds instead the frames queued for a
	// spectator added to a running match (P2PSession.AddSpectator): it
	// starts far behind, since its handshake and the transfer of the
	// game state take seconds, not frames. Ten seconds at 60 fps.
	lateSpectatorBacklog = 600
	// recvHistorySize is the number of received frames kept as XOR bases.
	recvHistorySize = 128
	// maxPendingChecksums bounds the remote checksums awaiting comparison.
	maxPendingChecksums = 32
	// syncNonceSlots bounds the outstanding handshake nonces.
	syncNonceSlots = 8
	// maxControlDelay is how long an acknowledgement, quality report or
	// quality reply waits for an input packet to carry it before it goes
	// in a datagram of its own. A peer that advances sends an input packet
	// every frame, so in steady state nothing goes alone; a peer that waits
	// (prediction window full, lockstep, spectator) still acknowledges
	// within this delay, far inside resendInterval.
	maxControlDelay = 50 * time.Millisecond
	// noticeInterval spaces the disconnect notices a disconnected endpoint
	// sends: one at once, then one per interval noticeRepeats times (the
	// peer may not reach us, so it cannot ask), then only in answer to the
	// peer's packets, at most one per interval however fast it sends.
	noticeInterval = 100 * time.Millisecond
	noticeRepeats  = 10
	// udpHeaderSize is counted per packet in the bandwidth statistic.
	udpHeaderSize   = 28
	maxEndpointEvts = 16
)

type endpointState uint8

const (
	stateSynchronizing endpointState = iota + 1
	stateRunning
	stateDisconnected
	stateShutdown
)

type endpointEventKind uint8

const (
	epSynchronizing endpointEventKind = iota + 1
	epSynchronized
	epInterrupted
	epResumed
	epDisconnected
	epVersionMismatch
	// epDumpReceived: dumpIn holds a complete state dump from the peer.
	epDumpReceived
	// epDroppedUs: the peer sent a disconnect notice: it dropped us.
	epDroppedUs
	// epPlayerMapMismatch: the peer's player map differs (mapErr).
	epPlayerMapMismatch
)

type endpointEvent struct {
	kind          endpointEventKind
	count         int
	timeLeft      time.Duration
	remoteVersion uint8
}

type remoteChecksum struct {
	frame    Frame
	checksum uint64
	valid    bool
}

// inputSink receives one decoded frame of a peer's input (the inputs of all
// of the endpoint's handles, concatenated) and reports whether it was taken.
// A frame that is not taken is not acknowledged, so the peer sends it again.
type inputSink func(f Frame, data []byte) bool

// endpoint is the connection to one remote address: the sync handshake,
// redundant input transmission with acks, keep-alives, quality reports for
// time sync, checksum reports, and disconnect detection. It never blocks,
// never allocates after construction and never panics on what it receives.
type endpoint[A comparable] struct {
	addr    A
	handles []PlayerHandle // players whose input this peer sends, ascending
	state   endpointState

	fps               int
	disconnectTimeout time.Duration
	notifyStart       time.Duration

	magic       uint16
	remoteMagic uint16 // 0 until the handshake completes
	rng         *rand.Rand

	syncRemaining   int
	syncNonces      [syncNonceSlots]uint32
	syncNonceNext   int
	lastSyncRequest time.Duration
	versionReported bool
	// role, mapOut and mapWant: the player map this endpoint sends in its
	// sync messages and the one it expects from the peer (player_map.go);
	// mapErr is set once the peer's differed.
	role    peerRole
	mapOut  playerMap
	mapWant playerMap
	mapErr  *PlayerMapError[A]

	statsStart        time.Duration
	lastSendTime      time.Duration
	lastRecvTime      time.Duration
	lastInputRecvTime time.Duration
	lastQualityReport time.Duration
	shutdownAt        time.Duration
	notifySent        bool
	disconnectSent    bool
	droppedUsSent     bool
	lastNoticeTime    time.Duration
	noticesSent       int

	// Control parts waiting for the next input packet (see
	// maxControlDelay): an acknowledgement of lastRecvFrame, our quality
	// report, and the reply to the peer's latest report (pong, received at
	// pongAt; a reply has been due since pongDueAt).
	ackDue      bool
	ackDueAt    time.Duration
	reportDue   bool
	reportDueAt time.Duration
	pongDue     bool
	pong        uint64
	pongAt      time.Duration
	pongDueAt   time.Duration

	// peerStatus is the peer's view of every player, merged over packets.
	peerStatus []connectionStatus
	// floor, shared with the session (nil: none), is per player the last
	// frame before it came back to the match (P2PSession.Readmit): a
	// status with an older last frame is news of its earlier absence,
	// which the peer may still send until it readmits the player too.
	floor []Frame
	// syncDeadline, when not zero, is when an endpoint still in its
	// handshake gives up (epDisconnected): a player readmitted to a
	// running match that never arrives must not hold the match.
	syncDeadline time.Duration

	// Outgoing input: frames pendingFirst.. not yet acknowledged, each
	// sendFrameBytes long in slot frame % pendingCap; lastAcked is the XOR
	// base of the first pending frame.
	sendFrameBytes   int
	pendingCap       int
	pending          []byte
	pendingFirst     Frame
	pendingLen       int
	lastAcked        []byte
	lastAckedFrame   Frame
	pendingOverflown bool

	// Incoming input: the last recvHistorySize frames, each recvFrameBytes
	// long, as XOR bases for later packets.
	recvFrameBytes int
	recvHistory    []byte
	lastRecvFrame  Frame
	// firstRecvFrame is the first frame taken (NullFrame before): 0, or a
	// late spectator's start frame. Its XOR base is zeros; frames before
	// it have no base here.
	firstRecvFrame Frame
	scratch        [2][]byte
	zeros          []byte

	timeSync             timeSync
	localFrameAdvantage  int
	remoteFrameAdvantage int
	rtt                  time.Duration

	packetsSent int
	bytesSent   int

	checksums [maxPendingChecksums]remoteChecksum
	// compared is a ring of the frames whose checksums were compared
	// already: a duplicated report (or one repeated by a state dump) must
	// not be compared, and reported as a desync, twice. See wasCompared for
	// its length.
	compared     [2 * maxLocalChecksums]Frame
	comparedNext int

	// State dump transfers (dump.go); idle unless the session has a state
	// dump hook, which sets acceptDumps.
	acceptDumps   bool
	dumpOut       dumpSend
	dumpIn        dumpRecv
	dumpSentFrame Frame

	events  []endpointEvent
	sendBuf []byte
}

// endpointConfig is what an endpoint is built from: who the peer is, how
// many bytes one frame of input takes each way, and the session's timing.
type endpointConfig[A comparable] struct {
	addr    A
	handles []PlayerHandle // the players at addr, ascending
	// numPlayers sizes the per-player status the peer reports.
	numPlayers int
	// sendFrameBytes and recvFrameBytes are one frame of input sent to
	// and received from the peer (0: none that way).
	sendFrameBytes, recvFrameBytes int
	fps                            int
	disconnectTimeout, notifyStart time.Duration
	// seed seeds the endpoint's random numbers (handshake nonces, magic).
	seed uint64
	// role is what the peer is to this session and local the handles
	// this session plays: they make the player map checked in the
	// handshake.
	role  peerRole
	local []PlayerHandle
	// pendingFrames bounds the frames sent but not acknowledged; 0 means
	// pendingOutputSize.
	pendingFrames int
	// floor: see endpoint.floor.
	floor []Frame
}

func newEndpoint[A comparable](cfg endpointConfig[A]) *endpoint[A] {
	e := &endpoint[A]{
		addr:              cfg.addr,
		handles:           cfg.handles,
		fps:               cfg.fps,
		disconnectTimeout: cfg.disconnectTimeout,
		notifyStart:       cfg.notifyStart,
		rng:               rand.New(rand.NewPCG(cfg.seed, cfg.seed^0x9e3779b97f4a7c15)),
		peerStatus:        make([]connectionStatus, cfg.numPlayers),
		floor:             cfg.floor,
		sendFrameBytes:    cfg.sendFrameBytes,
		pendingCap:        cmp.Or(cfg.pendingFrames, pendingOutputSize),
		pending:           make([]byte, cmp.Or(cfg.pendingFrames, pendingOutputSize)*cfg.sendFrameBytes),
		lastAcked:         make([]byte, cfg.sendFrameBytes),
		lastAckedFrame:    NullFrame,
		recvFrameBytes:    cfg.recvFrameBytes,
		recvHistory:       make([]byte, recvHistorySize*cfg.recvFrameBytes),
		lastRecvFrame:     NullFrame,
		firstRecvFrame:    NullFrame,
		zeros:             make([]byte, cfg.recvFrameBytes),
		dumpSentFrame:     NullFrame,
		events:            make([]endpointEvent, 0, maxEndpointEvts),
		// Room for a full packet plus one frame that is appended before
		// the budget check trims it, so appends never reallocate.
		sendBuf: make([]byte, 0, 2*maxPacketSize+maxInputPayload),
	}
	e.role = cfg.role
	e.mapOut, e.mapWant = endpointMaps(cfg.numPlayers, handleMask(cfg.local), cfg.role, cfg.handles)
	e.scratch[0] = make([]byte, cfg.recvFrameBytes)
	e.scratch[1] = make([]byte, cfg.recvFrameBytes)
	for i := range e.peerStatus {
		e.peerStatus[i].lastFrame = NullFrame
	}
	for i := range e.compared {
		e.compared[i] = NullFrame
	}
	e.dumpIn.frame = NullFrame
	for e.magic == 0 {
		e.magic = uint16(e.rng.Uint32())
	}
	return e
}

func (e *endpoint[A]) pushEvent(ev endpointEvent) {
	if len(e.events) < cap(e.events) {
		e.events = append(e.events, ev)
	}
}

func (e *endpoint[A]) isRunning() bool { return e.state == stateRunning }

// isSynchronized: the handshake is over (a disconnected peer counts, so the
// others can start without it).
func (e *endpoint[A]) isSynchronized() bool {
	return e.state == stateRunning || e.state == stateDisconnected || e.state == stateShutdown
}

func (e *endpoint[A]) send(sock Socket[A], pkt []byte, now time.Duration) {
	if e.state == stateShutdown {
		return
	}
	e.packetsSent++
	e.bytesSent += len(pkt)
	e.lastSendTime = now
	// Send errors mean the socket cannot reach the peer now; like a lost
	// packet, the timers recover or the disconnect timeout fires.
	_ = sock.Send(e.addr, pkt)
}

// synchronize starts the handshake.
func (e *endpoint[A]) synchronize(sock Socket[A], now time.Duration) {
	e.state = stateSynchronizing
	e.syncRemaining = numSyncRoundTrips
	e.statsStart = now
	e.lastRecvTime = now
	e.lastInputRecvTime = now
	e.lastQualityReport = now
	e.sendSyncRequest(sock, now)
}

func (e *endpoint[A]) sendSyncRequest(sock Socket[A], now time.Duration) {
	nonce := e.rng.Uint32()
	e.syncNonces[e.syncNonceNext] = nonce
	e.syncNonceNext = (e.syncNonceNext + 1) % syncNonceSlots
	e.lastSyncRequest = now
	e.send(sock, appendSync(e.sendBuf[:0], msgSyncRequest, e.magic, nonce, e.mapOut), now)
}

func (e *endpoint[A]) takeNonce(n uint32) bool {
	for i, v := range e.syncNonces {
		if v == n && v != 0 {
			e.syncNonces[i] = 0
			return true
		}
	}
	return false
}

// disconnect stops input exchange and tells the peer it was dropped; the
// endpoint answers the peer's later packets with the same notice (see
// handle) and shuts down after a while.
func (e *endpoint[A]) disconnect(sock Socket[A], now time.Duration) {
	if e.state == stateShutdown || e.state == stateDisconnected {
		return
	}
	e.state = stateDisconnected
	e.shutdownAt = now + shutdownDelay
	e.stopDumps()
	e.ackDue, e.reportDue, e.pongDue = false, false, false
	e.sendNotice(sock, now)
}

func (e *endpoint[A]) sendNotice(sock Socket[A], now time.Duration) {
	e.lastNoticeTime = now
	e.noticesSent++
	e.send(sock, appendHeader(e.sendBuf[:0], msgDisconnectNotice, e.magic), now)
}

// versionMismatch records a packet from the peer in another protocol
// version. The handshake cannot complete; the game is told once.
func (e *endpoint[A]) versionMismatch(v uint8) {
	if !e.versionReported {
		e.versionReported = true
		e.pushEvent(endpointEvent{kind: epVersionMismatch, remoteVersion: v})
	}
}

// handle processes one decoded packet from the peer.
func (e *endpoint[A]) handle(m *message, sock Socket[A], now time.Duration, sink inputSink) {
	if e.state == stateShutdown {
		return
	}
	if e.remoteMagic != 0 && m.magic != e.remoteMagic {
		return
	}
	if e.state == stateDisconnected {
		// The peer still plays with us: tell it again that we dropped it,
		// in case the first notice was lost.
		if m.typ != msgDisconnectNotice && now-e.lastNoticeTime >= noticeInterval {
			e.sendNotice(sock, now)
		}
		return
	}
	e.lastRecvTime = now
	if e.notifySent && e.state == stateRunning {
		e.notifySent = false
		e.pushEvent(endpointEvent{kind: epResumed})
	}
	switch m.typ {
	case msgSyncRequest:
		// A peer with another player map gets no reply, so its handshake
		// cannot complete either; our requests tell it why.
		if e.state == stateSynchronizing && !e.checkPlayerMap(m.playerMap) {
			return
		}
		e.send(sock, appendSync(e.sendBuf[:0], msgSyncReply, e.magic, m.nonce, e.mapOut), now)
	case msgSyncReply:
		e.handleSyncReply(m, sock, now)
	case msgInput:
		if e.state != stateRunning {
			// Inputs count from the handshake on: before it, a packet
			// may be from an earlier session at the same address (a
			// player that came back), and the peer resends what we do
			// not acknowledge.
			return
		}
		e.handleInput(m, sock, now, sink)
	case msgInputAck:
		e.popPending(m.ackFrame)
	case msgQualityReport, msgQualityReply:
		e.handleQuality(m, now)
	case msgDisconnectNotice:
		if e.state == stateRunning && !e.droppedUsSent {
			e.droppedUsSent = true
			e.pushEvent(endpointEvent{kind: epDroppedUs})
		}
	case msgChecksumReport:
		e.storeChecksum(m.frame, m.checksum)
	case msgStateDump:
		e.handleDumpChunk(m)
	case msgStateDumpAck:
		e.handleDumpAck(m)
	}
}

// handleQuality takes the peer's quality report (answered with the next
// input packet, or alone after maxControlDelay) and its reply to ours.
func (e *endpoint[A]) handleQuality(m *message, now time.Duration) {
	if m.hasReport {
		e.remoteFrameAdvantage = int(m.frameAdvantage)
		if !e.pongDue {
			e.pongDueAt = now
		}
		// Answer the latest report: its hold is measured from its arrival.
		e.pongDue, e.pong, e.pongAt = true, m.ping, now
	}
	if m.hasReply {
		// The reply waited held ms at the peer for an input packet to
		// carry it; that wait is no network time.
		sent := time.Duration(m.pong)*time.Millisecond + time.Duration(m.held)*time.Millisecond
		if m.pong <= uint64(math.MaxInt64/time.Millisecond)/2 && sent <= now {
			e.rtt = now - sent
		}
	}
}

func (e *endpoint[A]) handleSyncReply(m *message, sock Socket[A], now time.Duration) {
	if e.state != stateSynchronizing || !e.checkPlayerMap(m.playerMap) || !e.takeNonce(m.nonce) {
		return
	}
	e.syncRemaining--
	e.pushEvent(endpointEvent{kind: epSynchronizing, count: numSyncRoundTrips - e.syncRemaining})
	if e.syncRemaining > 0 {
		e.sendSyncRequest(sock, now)
		return
	}
	e.state = stateRunning
	e.remoteMagic = m.magic
	e.lastInputRecvTime = now
	e.pushEvent(endpointEvent{kind: epSynchronized})
}

func (e *endpoint[A]) popPending(ack Frame) {
	for e.pendingLen > 0 && e.pendingFirst <= ack {
		copy(e.lastAcked, e.pendingSlot(e.pendingFirst))
		e.lastAckedFrame = e.pendingFirst
		e.pendingFirst++
		e.pendingLen--
	}
}

func (e *endpoint[A]) pendingSlot(f Frame) []byte {
	i := int(f) % e.pendingCap * e.sendFrameBytes
	return e.pending[i : i+e.sendFrameBytes]
}

func (e *endpoint[A]) recvSlot(f Frame) []byte {
	i := int(f) % recvHistorySize * e.recvFrameBytes
	return e.recvHistory[i : i+e.recvFrameBytes]
}

func (e *endpoint[A]) handleInput(m *message, sock Socket[A], now time.Duration, sink inputSink) {
	if m.numStatus != len(e.peerStatus) || m.frameBytes != e.recvFrameBytes {
		return // not a peer of this session's shape
	}
	e.popPending(m.ackFrame)
	for i := range e.peerStatus {
		p, st := &e.peerStatus[i], m.status[i]
		if e.floor != nil && st.lastFrame < e.floor[i] {
			continue // about the player's earlier absence
		}
		if st.disconnected && !p.disconnected {
			// The peer never changes a disconnect's kind: keep the first.
			p.disconnected, p.droppedUs = true, st.droppedUs
		}
		p.lastFrame = max(p.lastFrame, st.lastFrame)
	}
	e.handleQuality(m, now)
	if !e.ackDue {
		e.ackDue, e.ackDueAt = true, now
	}

	// The XOR base of the first frame is the frame before it: zeros before
	// the first input, else a frame we still hold.
	var prev []byte
	switch {
	case e.lastRecvFrame == NullFrame:
		prev = e.zeros
	case m.startFrame > e.lastRecvFrame+1:
		return // a gap: an older packet is missing; the peer resends
	case m.startFrame-1 <= e.lastRecvFrame-recvHistorySize:
		return // entirely old news
	case m.startFrame < e.firstRecvFrame:
		// Frames before the first one taken (a late spectator's start):
		// the peer never sends them, and they have no XOR base here, so
		// later frames in the packet would decode to garbage.
		return
	case m.startFrame == e.firstRecvFrame:
		prev = e.zeros
	default:
		prev = e.recvSlot(m.startFrame - 1)
	}
	src := m.payload
	for i := range m.count {
		f := m.startFrame + Frame(i)
		out := e.scratch[i%2]
		var err error
		if src, err = decodeDelta(src, prev, out); err != nil {
			break
		}
		if f == e.lastRecvFrame+1 || (e.lastRecvFrame == NullFrame && i == 0) {
			if !sink(f, out) {
				break
			}
			copy(e.recvSlot(f), out)
			if e.lastRecvFrame == NullFrame {
				e.firstRecvFrame = f
			}
			e.lastRecvFrame = f
			e.lastInputRecvTime = now
		}
		prev = out
	}
}

// sendInput queues the input of frame f (consecutive with earlier calls) and
// sends every unacknowledged frame. While the handshake runs it only queues:
// a spectator added to a running match (P2PSession.AddSpectator) must get
// every frame from its start frame on, also those confirmed before its
// handshake completes. The queue's bound (pendingCap) still holds: a
// peer that does not complete the handshake in time is disconnected.
func (e *endpoint[A]) sendInput(f Frame, data []byte, status []connectionStatus, sock Socket[A], now time.Duration) {
	if e.state != stateRunning && e.state != stateSynchronizing {
		return
	}
	if e.pendingLen == 0 {
		e.pendingFirst = f
	} else if f != e.pendingFirst+Frame(e.pendingLen) {
		return // not consecutive: only a session bug could cause this
	}
	e.timeSync.advanceFrame(f, e.localFrameAdvantage, e.remoteFrameAdvantage)
	if e.pendingLen == e.pendingCap {
		// The peer acknowledges nothing: it is gone or hostile.
		if !e.pendingOverflown {
			e.pendingOverflown = true
			e.pushEvent(endpointEvent{kind: epDisconnected})
		}
		return
	}
	copy(e.pendingSlot(f), data)
	e.pendingLen++
	if e.state == stateRunning {
		e.sendPending(status, sock, now)
	}
}

// sendPending sends as many unacknowledged frames as fit in one packet.
func (e *endpoint[A]) sendPending(status []connectionStatus, sock Socket[A], now time.Duration) {
	if e.pendingLen == 0 {
		return
	}
	b := appendInputHead(e.sendBuf[:0], e.magic, e.pendingFirst, e.lastRecvFrame, status,
		e.takeQuality(now), e.sendFrameBytes)
	countAt := len(b)
	b = append(b, 0)
	payloadAt := len(b)
	prev := e.lastAcked
	n := 0
	for n < e.pendingLen && n < maxFramesPerPacket {
		cur := e.pendingSlot(e.pendingFirst + Frame(n))
		before := len(b)
		b = appendDelta(b, prev, cur)
		if len(b)-payloadAt > maxInputPayload {
			b = b[:before]
			break
		}
		prev = cur
		n++
	}
	b[countAt] = byte(n)
	e.ackDue = false // the packet carries the acknowledgement
	e.send(sock, b, now)
}

// takeQuality hands the due quality report and reply to a packet that
// carries them.
func (e *endpoint[A]) takeQuality(now time.Duration) qualityParts {
	var q qualityParts
	if e.reportDue {
		e.reportDue = false
		e.lastQualityReport = now
		q.report = true
		q.frameAdvantage = int8(max(math.MinInt8, min(math.MaxInt8, e.localFrameAdvantage)))
		q.ping = uint64(now / time.Millisecond)
	}
	if e.pongDue {
		e.pongDue = false
		q.reply, q.pong = true, e.pong
		q.held = uint16(min(math.MaxUint16, (now-e.pongAt)/time.Millisecond))
	}
	return q
}

// flushControl sends the acknowledgement, quality report and reply that no
// input packet carried within maxControlDelay.
func (e *endpoint[A]) flushControl(sock Socket[A], now time.Duration) {
	if e.ackDue && now-e.ackDueAt >= maxControlDelay {
		e.ackDue = false
		b := appendHeader(e.sendBuf[:0], msgInputAck, e.magic)
		e.send(sock, appendFrame(b, e.lastRecvFrame), now)
	}
	if e.reportDue && now-e.reportDueAt >= maxControlDelay || e.pongDue && now-e.pongDueAt >= maxControlDelay {
		q := e.takeQuality(now)
		if q.report {
			b := appendHeader(e.sendBuf[:0], msgQualityReport, e.magic)
			e.send(sock, appendReport(b, q.frameAdvantage, q.ping), now)
		}
		if q.reply {
			b := appendHeader(e.sendBuf[:0], msgQualityReply, e.magic)
			e.send(sock, appendReply(b, q.pong, q.held), now)
		}
	}
}

// sendChecksum reports the checksum of a confirmed frame.
func (e *endpoint[A]) sendChecksum(f Frame, checksum uint64, sock Socket[A], now time.Duration) {
	if e.state != stateRunning {
		return
	}
	b := appendHeader(e.sendBuf[:0], msgChecksumReport, e.magic)
	b = appendFrame(b, f)
	e.send(sock, appendU64(b, checksum), now)
}

func (e *endpoint[A]) storeChecksum(f Frame, checksum uint64) {
	if e.wasCompared(f) {
		return
	}
	// Replace the same frame, else take a free slot, else the oldest frame.
	slot := -1
	for i, c := range e.checksums {
		if c.valid && c.frame == f {
			slot = i
			break
		}
	}
	if slot < 0 {
		for i, c := range e.checksums {
			if !c.valid {
				slot = i
				break
			}
		}
	}
	if slot < 0 {
		slot = 0
		for i, c := range e.checksums {
			if c.frame < e.checksums[slot].frame {
				slot = i
			}
		}
	}
	e.checksums[slot] = remoteChecksum{frame: f, checksum: checksum, valid: true}
}

// markCompared records that the peer's checksum of f has been compared.
func (e *endpoint[A]) markCompared(f Frame) {
	e.compared[e.comparedNext] = f
	e.comparedNext = (e.comparedNext + 1) % len(e.compared)
}

// wasCompared reports whether the peer's checksum of f has been compared.
// Only frames with a local checksum are compared, and the session's FIFO of
// local checksums (sent in increasing frame order) holds maxLocalChecksums:
// while f stays in it, fewer than 2*maxLocalChecksums distinct frames can
// pass through it, so f is still in this ring. Once f has left both, a
// repeated report finds no local checksum and is dropped.
func (e *endpoint[A]) wasCompared(f Frame) bool {
	for _, c := range e.compared {
		if c == f {
			return true
		}
	}
	return false
}

// poll runs the timers: handshake retries, resends, quality reports,
// keep-alives and disconnect detection.
func (e *endpoint[A]) poll(status []connectionStatus, sock Socket[A], now time.Duration) {
	switch e.state {
	case stateSynchronizing:
		if e.syncDeadline > 0 && now > e.syncDeadline && !e.disconnectSent {
			e.disconnectSent = true
			e.pushEvent(endpointEvent{kind: epDisconnected})
			return
		}
		if now-e.lastSyncRequest > syncRetryInterval {
			e.sendSyncRequest(sock, now)
		}
	case stateRunning:
		if now-e.lastInputRecvTime > resendInterval {
			e.sendPending(status, sock, now)
			e.lastInputRecvTime = now
		}
		if !e.reportDue && now-e.lastQualityReport > qualityReportInterval {
			e.reportDue, e.reportDueAt = true, now
		}
		e.flushControl(sock, now)
		if e.dumpIn.ackDue || e.dumpOut.active {
			e.pollDumps(sock, now)
		}
		if now-e.lastSendTime > keepAliveInterval {
			e.send(sock, appendHeader(e.sendBuf[:0], msgKeepAlive, e.magic), now)
		}
		silent := now - e.lastRecvTime
		if !e.notifySent && silent > e.notifyStart {
			e.notifySent = true
			e.pushEvent(endpointEvent{kind: epInterrupted, timeLeft: e.disconnectTimeout - e.notifyStart})
		}
		if !e.disconnectSent && silent > e.disconnectTimeout {
			e.disconnectSent = true
			e.pushEvent(endpointEvent{kind: epDisconnected})
		}
	case stateDisconnected:
		if now > e.shutdownAt {
			e.state = stateShutdown
		} else if e.noticesSent <= noticeRepeats && now-e.lastNoticeTime >= noticeInterval {
			e.sendNotice(sock, now)
		}
	}
}

// updateLocalFrameAdvantage estimates how far this session (at localFrame)
// is behind the peer: the peer's last frame plus half a round trip of frames.
func (e *endpoint[A]) updateLocalFrameAdvantage(localFrame Frame) {
	if localFrame == NullFrame || e.lastRecvFrame == NullFrame {
		return
	}
	pingMs := int64(e.rtt/time.Millisecond) / 2
	remote := int64(e.lastRecvFrame) + pingMs*int64(e.fps)/1000
	e.localFrameAdvantage = int(remote - int64(localFrame))
}

func (e *endpoint[A]) networkStats(now time.Duration) (NetworkStats, error) {
	if e.state != stateSynchronizing && e.state != stateRunning {
		return NetworkStats{}, ErrNotSynchronized
	}
	seconds := int((now - e.statsStart) / time.Second)
	if seconds == 0 {
		return NetworkStats{}, ErrNotEnoughData
	}
	total := e.bytesSent + e.packetsSent*udpHeaderSize
	return NetworkStats{
		SendQueueLen:       e.pendingLen,
		Ping:               e.rtt,
		KbpsSent:           total * 8 / 1000 / seconds,
		LocalFramesBehind:  e.localFrameAdvantage,
		RemoteFramesBehind: e.remoteFrameAdvantage,
	}, nil
}

// plays reports whether h is one of the peer's players.
func (e *endpoint[A]) plays(h PlayerHandle) bool {
	for _, x := range e.handles {
		if x == h {
			return true
		}
	}
	return false
}
