package rollback

import (
	"bytes"
	"time"
)

// State dumps tell the game *what* desynced, not only that something did
// (GGRS users ask for this: bevy_ggrs #117). With a hook installed
// (P2PSession.SetStateDump), the session asks the game for a dump of every
// state whose checksum it sends for desync detection, keeps it while the
// peers' checksums of that frame are outstanding, and on a mismatch hands it
// to the game and sends it to the peer, which does the same: both sides end
// up with both views of the frame.
//
// Transfers use the session's unreliable socket like everything else: the
// dump is cut into chunks of dumpChunkSize, sent a few per poll, acknowledged
// by one bitmap of received chunks, resent in passes and given up after
// maxDumpPasses. Nothing blocks and no goroutine runs; memory is bounded by
// maxPendingDumps local dumps plus one transfer each way per peer, each at most
// MaxStateDumpSize. Without a hook none of this runs and no dump packet is
// sent or answered.

const (
	// MaxStateDumpSize bounds a state dump. A longer dump is cut to its
	// first MaxStateDumpSize bytes, so a game with a larger state should
	// dump what it can compare best first, or a digest (say, one checksum
	// per entity). The bound keeps memory and the transfer small: 64 chunks,
	// acknowledged by one 64-bit mask.
	MaxStateDumpSize = maxDumpChunks * dumpChunkSize

	// dumpChunkSize is the dump payload of one stateDump packet. With the
	// 21-byte head it leaves a margin below maxPacketSize for tunnelling
	// transports.
	dumpChunkSize = 1024
	// maxDumpChunks is the chunk count of the largest dump: the bits of the
	// acknowledgement mask.
	maxDumpChunks = 64
	// dumpChunkHeadSize is the stateDump packet without its data.
	dumpChunkHeadSize = headerSize + 4 + 8 + 4 + 1

	// maxPendingDumps bounds the local dumps kept for comparisons still
	// pending. A frame's dump is freed as soon as every peer's checksum of
	// it was compared; the oldest is dropped when more are pending (a lost
	// checksum report leaves one pending for good).
	maxPendingDumps = 16
	// maxAwaitedDumps bounds, per peer, the reported desyncs still waiting
	// for the peer's dump; the oldest wait is dropped first.
	maxAwaitedDumps = 4
	// dumpChunksPerPoll paces a transfer: at most this many chunks per poll
	// (a 64 KiB dump takes 16 ticks per pass), so a dump never floods the
	// link the game's inputs share.
	dumpChunksPerPoll = 4
	// dumpResendInterval is the pause between passes over the chunks not
	// yet acknowledged, so acks of the last pass can arrive first.
	dumpResendInterval = 200 * time.Millisecond
	// maxDumpPasses bounds the passes of one transfer. Under 20 % loss a
	// chunk and its ack both get through in a pass with probability 0.64;
	// ten passes fail for one chunk with probability 0.36^10, about 4e-5.
	maxDumpPasses = 10
)

// A stateDump packet must fit maxPacketSize and one ack mask must cover the
// chunks of the largest dump; these fail to compile otherwise.
var (
	_ [maxPacketSize - dumpChunkHeadSize - dumpChunkSize]struct{}
	_ [64 - maxDumpChunks]struct{}
)

// dumpChunks is the number of chunks of a dump of total bytes; an empty dump
// still travels as one empty chunk, which carries frame and checksum.
func dumpChunks(total int) int {
	return max(1, (total+dumpChunkSize-1)/dumpChunkSize)
}

// dumpChunkLen is the length of chunk i of a dump of total bytes, or -1 if
// the dump has no chunk i.
func dumpChunkLen(total, i int) int {
	if i < 0 || i >= dumpChunks(total) {
		return -1
	}
	return min(dumpChunkSize, total-i*dumpChunkSize)
}

// chunkMask has one bit set per chunk of an n-chunk dump.
func chunkMask(n int) uint64 {
	return uint64(1)<<uint(n) - 1 // n == 64 shifts to 0, giving all ones
}

// appendDumpChunk appends stateDump packet for chunk i of data.
func appendDumpChunk(dst []byte, magic uint16, f Frame, checksum uint64, data []byte, i int) []byte {
	dst = appendHeader(dst, msgStateDump, magic)
	dst = appendFrame(dst, f)
	dst = appendU64(dst, checksum)
	dst = appendU32(dst, uint32(len(data)))
	dst = append(dst, byte(i))
	off := i * dumpChunkSize
	return append(dst, data[off:off+dumpChunkLen(len(data), i)]...)
}

// dumpSend is an endpoint's outgoing dump transfer.
type dumpSend struct {
	active   bool
	frame    Frame
	checksum uint64
	data     []byte // owned by the transfer, dropped when it ends
	chunks   int
	acked    uint64
	next     int // next chunk of the current pass
	passes   int
	resumeAt time.Duration // start of the next pass
}

// dumpRecv is an endpoint's incoming dump: the newest frame the peer sent a
// dump of, reassembled in buf.
type dumpRecv struct {
	frame    Frame // NullFrame before the first chunk
	checksum uint64
	total    int
	got      uint64
	buf      []byte // handed to the session (and the game) when done
	done     bool
	taken    bool // buf was handed over
	ackDue   bool
}

// setAcceptDumps turns dump transfers with this peer on or off.
func (e *endpoint[A]) setAcceptDumps(on bool) {
	e.acceptDumps = on
	if !on {
		e.stopDumps()
	}
}

// stopDumps abandons both transfers and lets their memory go.
func (e *endpoint[A]) stopDumps() {
	e.dumpOut = dumpSend{}
	e.dumpIn = dumpRecv{frame: e.dumpIn.frame}
}

// startDumpSend sends data, the dump of frame f, to the peer, unless a
// transfer is under way or a dump of a frame at least as new was sent:
// transfers to a peer go one at a time in increasing frame order, which lets
// the receiver tell stale chunks from a new dump by frame alone. It takes
// ownership of data.
func (e *endpoint[A]) startDumpSend(f Frame, checksum uint64, data []byte, sock Socket[A], now time.Duration) bool {
	if !e.acceptDumps || e.state != stateRunning || e.dumpOut.active || f <= e.dumpSentFrame {
		return false
	}
	e.dumpSentFrame = f
	e.dumpOut = dumpSend{active: true, frame: f, checksum: checksum, data: data, chunks: dumpChunks(len(data)),
		resumeAt: now}
	e.pollDumps(sock, now)
	return true
}

// pollDumps sends the due acknowledgement and the next chunks of the
// outgoing transfer.
func (e *endpoint[A]) pollDumps(sock Socket[A], now time.Duration) {
	if in := &e.dumpIn; in.ackDue {
		in.ackDue = false
		b := appendHeader(e.sendBuf[:0], msgStateDumpAck, e.magic)
		b = appendFrame(b, in.frame)
		e.send(sock, appendU64(b, in.got), now)
	}
	out := &e.dumpOut
	if !out.active || now < out.resumeAt {
		return
	}
	for sent := 0; sent < dumpChunksPerPoll; {
		if out.next == out.chunks {
			out.next = 0
			out.passes++
			if out.passes == maxDumpPasses {
				e.dumpOut = dumpSend{} // give up: the peer is gone or has no hook
				return
			}
			out.resumeAt = now + dumpResendInterval
			return
		}
		i := out.next
		out.next++
		if out.acked&(1<<uint(i)) != 0 {
			continue
		}
		e.send(sock, appendDumpChunk(e.sendBuf[:0], e.magic, out.frame, out.checksum, out.data, i), now)
		sent++
	}
}

func (e *endpoint[A]) handleDumpAck(m *message) {
	out := &e.dumpOut
	if !out.active || m.frame != out.frame {
		return
	}
	all := chunkMask(out.chunks)
	out.acked |= m.dumpAcked & all
	if out.acked == all {
		e.dumpOut = dumpSend{}
	}
}

// handleDumpChunk adds one chunk to the incoming dump. A chunk of a newer
// frame starts a new dump (the peer finished or gave up the old one); chunks
// of older frames are stale, and chunks that disagree with the dump's first
// chunk about its checksum or length are not from that dump: both are
// dropped. Every accepted chunk is acknowledged, also after the dump is
// complete, since the peer resends until an ack arrives.
func (e *endpoint[A]) handleDumpChunk(m *message) {
	if !e.acceptDumps || e.state != stateRunning {
		return
	}
	// The peer dumps frames it confirmed, which needs its own input of the
	// frame, sent to us and at most pendingOutputSize frames ahead of what
	// we received. A frame beyond that is hostile: accepting it would make
	// every honest dump look stale.
	if int64(m.frame) > int64(e.lastRecvFrame)+pendingOutputSize+MaxInputDelay {
		return
	}
	in := &e.dumpIn
	switch {
	case in.frame == NullFrame || m.frame > in.frame:
		buf := in.buf[:0]
		if cap(buf) < m.dumpTotal {
			buf = make([]byte, 0, m.dumpTotal)
		}
		*in = dumpRecv{frame: m.frame, checksum: m.checksum, total: m.dumpTotal, buf: buf[:m.dumpTotal]}
	case m.frame < in.frame:
		return
	case m.checksum != in.checksum || m.dumpTotal != in.total:
		return
	}
	in.ackDue = true
	bit := uint64(1) << uint(m.dumpChunk)
	if in.done || in.got&bit != 0 {
		return
	}
	copy(in.buf[m.dumpChunk*dumpChunkSize:], m.dumpData)
	in.got |= bit
	if in.got == chunkMask(dumpChunks(in.total)) {
		in.done = true
		e.pushEvent(endpointEvent{kind: epDumpReceived})
	}
}

// takeDump hands the complete incoming dump over; the next one gets a fresh
// buffer.
func (e *endpoint[A]) takeDump() (f Frame, checksum uint64, data []byte, ok bool) {
	in := &e.dumpIn
	if !in.done || in.taken {
		return NullFrame, 0, nil, false
	}
	data = in.buf
	if data == nil {
		data = []byte{} // an empty dump is still a dump
	}
	in.buf, in.taken = nil, true
	return in.frame, in.checksum, data, true
}

// localDump is the game's dump of a frame whose checksum this session sent.
type localDump struct {
	frame Frame
	used  bool
	// waiting has bit i set while remote i (index in P2PSession.remotes)
	// has not had its checksum of frame compared.
	waiting uint64
	data    []byte // reused for later frames: copied before it leaves
}

// awaitedDump is a desync reported to the game whose remote dump has not
// arrived yet.
type awaitedDump struct {
	frame         Frame
	local, remote uint64
	localDump     []byte // the game's, as handed out with the desync event
	valid         bool
}

// earlyDump is a peer's dump that arrived before this session compared the
// frame's checksums.
type earlyDump struct {
	frame    Frame
	checksum uint64
	data     []byte
	valid    bool
}

// peerDumps is a peer's dump bookkeeping on the session side.
type peerDumps struct {
	awaited     [maxAwaitedDumps]awaitedDump
	awaitedNext int
	early       earlyDump
}

// SetStateDump installs the hook that turns desync reports into both peers'
// views of the frame, or removes it (nil). It needs desync detection
// (Config.DesyncDetectionInterval > 0) and returns ErrInvalidRequest without
// it. Call it before the session runs so the first checked frame has a dump.
//
// Every time the session sends a checksum for desync detection (every
// DesyncDetectionInterval-th confirmed frame) it calls dump with that frame
// and the state the game saved for it. dump appends a serialisation of the
// state to dst and returns the extended slice, like the strconv.Append
// functions; any deterministic format the game can read back or diff will
// do. dst is session memory, reused for later frames: the session keeps the
// returned slice until every peer's checksum of the frame has been compared,
// so return dst's extension, never a buffer the game reuses. Appending within
// dst's capacity keeps the session free of allocations; the session copies a
// dump only when a desync needs it, and keeps at most maxPendingDumps (16).
// A dump longer than MaxStateDumpSize is cut to that length.
//
// On a desync with a peer, EventDesyncDetected carries the local dump, and
// the session sends it to the peer (one transfer at a time per peer, in
// increasing frame order, resent until acknowledged or given up after
// maxDumpPasses passes; a desync found while a transfer runs is reported
// without sending its dump). When the peer's dump of the frame has arrived,
// EventDesyncDump carries both. The peer's dump also carries its checksum, so
// a desync is found even if the peer's checksum report was lost. Both peers
// must install a hook: a session without one neither sends nor acknowledges
// dumps, and its peers give up on it.
func (s *P2PSession[S, I, A]) SetStateDump(dump func(dst []byte, frame Frame, state S) []byte) error {
	if dump != nil && s.desyncEvery <= 0 {
		return invalidf("SetStateDump needs desync detection (DesyncDetectionInterval > 0)")
	}
	s.stateDump = dump
	if dump == nil {
		s.dumps = nil
	} else if s.dumps == nil {
		s.dumps = make([]localDump, maxPendingDumps)
	}
	for _, pr := range s.players.remotes {
		pr.dumps = peerDumps{}
		pr.ep.setAcceptDumps(dump != nil)
	}
	return nil
}

// keepDump asks the game for its dump of frame f, whose checksum was just
// sent, and keeps it until every running peer compared the frame.
func (s *P2PSession[S, I, A]) keepDump(f Frame, cell *StateCell[S]) {
	slot := &s.dumps[0]
	for i := range s.dumps {
		d := &s.dumps[i]
		if !d.used {
			slot = d
			break
		}
		if d.frame < slot.frame {
			slot = d
		}
	}
	state, _ := cell.Load()
	data := cutDump(s.stateDump(slot.data[:0], f, state))
	*slot = localDump{frame: f, used: true, waiting: s.runningRemotes(), data: data}
}

// cutDump cuts a hook's dump to MaxStateDumpSize, copying it if its array is
// larger, so a session never keeps a larger array alive for good.
func cutDump(data []byte) []byte {
	if len(data) > MaxStateDumpSize {
		data = data[:MaxStateDumpSize]
	}
	if cap(data) > MaxStateDumpSize {
		data = append(make([]byte, 0, len(data)), data...)
	}
	return data
}

// runningRemotes has bit i set for every remote i exchanging inputs.
func (s *P2PSession[S, I, A]) runningRemotes() uint64 {
	var m uint64
	for i, pr := range s.players.remotes {
		if pr.ep.isRunning() {
			m |= 1 << uint(i)
		}
	}
	return m
}

func (s *P2PSession[S, I, A]) findDump(f Frame) *localDump {
	for i := range s.dumps {
		if d := &s.dumps[i]; d.used && d.frame == f {
			return d
		}
	}
	return nil
}

// dumpCompared records that remote ri's checksum of f was compared.
func (s *P2PSession[S, I, A]) dumpCompared(ri int, f Frame) {
	if d := s.findDump(f); d != nil {
		d.waiting &^= 1 << uint(ri)
	}
}

// releaseDumps frees the dumps no running peer still has to compare.
func (s *P2PSession[S, I, A]) releaseDumps() {
	running := s.runningRemotes()
	for i := range s.dumps {
		if d := &s.dumps[i]; d.used && d.waiting&running == 0 {
			d.used = false
		}
	}
}

// reportDesyncWithDumps pushes the desync event ev with the local dump and
// starts the exchange of dumps with the peer. It runs only on a desync, so
// its copies cost nothing in a healthy game.
func (s *P2PSession[S, I, A]) reportDesyncWithDumps(pr *peer[A], ev Event[A], now time.Duration) {
	if d := s.findDump(ev.Frame); d != nil {
		ev.LocalDump = bytes.Clone(d.data)
		if ev.LocalDump == nil {
			ev.LocalDump = []byte{} // an empty dump is still a dump
		}
	}
	s.events.push(ev)
	if ev.LocalDump != nil {
		// The transfer gets its own copy: the game may change its slice.
		pr.ep.startDumpSend(ev.Frame, ev.LocalChecksum, bytes.Clone(ev.LocalDump), s.socket, now)
	}
	pd := &pr.dumps
	if e := &pd.early; e.valid && e.frame == ev.Frame {
		e.valid = false
		if e.checksum == ev.RemoteChecksum {
			s.pushDesyncDump(pr, ev.Frame, ev.LocalChecksum, ev.RemoteChecksum, ev.LocalDump, e.data)
			e.data = nil
			return
		}
		e.data = nil
	}
	pd.awaited[pd.awaitedNext] = awaitedDump{frame: ev.Frame, local: ev.LocalChecksum, remote: ev.RemoteChecksum,
		localDump: ev.LocalDump, valid: true}
	pd.awaitedNext = (pd.awaitedNext + 1) % maxAwaitedDumps
}

// remoteDumpArrived pairs a peer's complete dump with the desync it belongs
// to. If this session has not compared that frame yet, the dump waits, and
// its checksum goes where the peer's checksum report would have gone: the
// dump proves the peer saw a desync, and its report may have been lost.
func (s *P2PSession[S, I, A]) remoteDumpArrived(pr *peer[A]) {
	f, sum, data, ok := pr.ep.takeDump()
	if !ok {
		return
	}
	pd := &pr.dumps
	for i := range pd.awaited {
		a := &pd.awaited[i]
		if a.valid && a.frame == f {
			if a.remote == sum {
				a.valid = false
				s.pushDesyncDump(pr, f, a.local, a.remote, a.localDump, data)
				a.localDump = nil
			}
			return
		}
	}
	pd.early = earlyDump{frame: f, checksum: sum, data: data, valid: true}
	pr.ep.storeChecksum(f, sum)
}

func (s *P2PSession[S, I, A]) pushDesyncDump(pr *peer[A], f Frame, local, remote uint64, localDump, remoteDump []byte) {
	s.events.push(Event[A]{Kind: EventDesyncDump, Addr: pr.ep.addr, Frame: f,
		LocalChecksum: local, RemoteChecksum: remote, LocalDump: localDump, RemoteDump: remoteDump})
}
