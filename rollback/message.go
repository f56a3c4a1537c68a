package rollback

import (
	"encoding/binary"
	"errors"
	"math"
)

// ProtocolVersion is the wire protocol version, the first byte of every
// packet. GGRS has none; here peers on different versions refuse each other
// with EventVersionMismatch instead of misreading each other's packets.
//
// The version changes only when a packet's meaning changes. New packet types
// are added without a bump: every decoder of this version drops types it does
// not know (errUnknownType), so a peer that lacks a feature just never answers
// its packets, and each feature is built to give up after a bound. The state
// dump types (stateDump, stateDumpAck) came this way.
//
// Version 2 carries quality reports and replies inside input packets (one
// datagram per peer per frame), a third connection status ("dropped us") and
// the disconnectNotice type; its peers follow the disconnect rule of
// P2PSession, which a version 1 peer does not know. Its sync messages carry
// the sender's player map, checked before the handshake completes.
const ProtocolVersion uint8 = 2

// Wire format, little-endian. Every packet starts with a 4-byte header:
//
//	version u8 | type u8 | magic u16
//
// magic is the sender's random connection number: once the handshake is done
// a receiver drops packets with any other magic (stale or foreign traffic).
// Bodies by type:
//
//	syncRequest, syncReply: nonce u32 | numPlayers u8 | plays u64 | yours u64
//	input:        start i32 | ack i32 | flags u8 | n u8 | n × (lastFrame i32,
//	              status u8) | [report] | [reply] | frameBytes u16 | count u8 |
//	              payload
//	inputAck:     ack i32
//	qualityReport: frameAdvantage i8 | ping u64
//	qualityReply: pong u64 | held u16
//	keepAlive:    (empty)
//	disconnectNotice: (empty)
//	checksumReport: frame i32 | checksum u64
//	stateDump:    frame i32 | checksum u64 | total u32 | chunk u8 | data
//	stateDumpAck: frame i32 | received u64
//
// A sync message carries the sender's player map (playerMap): its player
// count (1..MaxPlayers), the handles it plays and the handles it has at the
// receiver, each a bit mask (bit h for handle h) with no bit at or above
// numPlayers and none in both. The receiver checks them against its own map
// before the handshake may complete.
//
// An input packet's flags say which optional parts follow the statuses: bit 0
// a quality report (frameAdvantage i8 | ping u64), bit 1 a quality reply
// (pong u64 | held u16), each exactly as in its own packet type. A quality
// reply's held is the milliseconds the replier held the report before
// answering (it waits for its next input packet), which the pinger subtracts
// from the round trip. A status is 0 (connected), 1 (disconnected: the sender
// lost the player or decided to drop it) or 2 (the player dropped the sender,
// which then left the player's match). disconnectNotice tells the receiver
// that the sender has dropped it.
//
// A stateDump packet carries chunk number chunk of the sender's state dump of
// frame (whose checksum is checksum and whose length is total, at most
// MaxStateDumpSize): exactly min(dumpChunkSize, total-chunk*dumpChunkSize)
// bytes, one empty chunk for an empty dump. stateDumpAck acknowledges the
// chunks of the dump of frame that arrived, bit i for chunk i: a dump has at
// most 64 chunks, so one ack describes a whole transfer and a lost ack is
// healed by the next.
type msgType uint8

const (
	msgSyncRequest msgType = iota + 1
	msgSyncReply
	msgInput
	msgInputAck
	msgQualityReport
	msgQualityReply
	msgKeepAlive
	msgChecksumReport
	msgStateDump
	msgStateDumpAck
	msgDisconnectNotice
)

const (
	headerSize = 4
	// maxPacketSize bounds every packet we send and accept; it fits an
	// Ethernet MTU with IP/UDP (or DTLS/SCTP) headers.
	maxPacketSize = 1400
	// maxInputPayload is the budget for run-length encoded input frames in
	// one packet. The worst case, a spectator packet for MaxPlayers players
	// of incompressible input, still fits maxPacketSize.
	maxInputPayload = MaxFrameInputBytes + MaxFrameInputBytes/maxRun + 2
	// maxFramesPerPacket bounds the frames one input packet carries.
	maxFramesPerPacket = 128
	// Input packet flags: which optional parts follow the statuses.
	flagQualityReport = 1
	flagQualityReply  = 2
	// Connection status values on the wire.
	wireConnected    = 0
	wireDisconnected = 1
	wireDroppedUs    = 2
)

var (
	errTruncated   = errors.New("rollback: packet truncated")
	errOversized   = errors.New("rollback: packet too large")
	errVersion     = errors.New("rollback: protocol version mismatch")
	errUnknownType = errors.New("rollback: unknown packet type")
	errTrailing    = errors.New("rollback: trailing bytes after packet")
	errBadField    = errors.New("rollback: invalid packet field")
)

// message is a decoded packet. decodeMessage fills it in place, so receiving
// allocates nothing; payload aliases the packet.
type message struct {
	version uint8
	typ     msgType
	magic   uint16

	nonce     uint32    // syncRequest, syncReply
	playerMap playerMap // syncRequest, syncReply: the sender's view

	// input, inputAck
	startFrame Frame
	ackFrame   Frame
	numStatus  int
	status     [MaxPlayers]connectionStatus
	frameBytes int
	count      int
	payload    []byte

	// qualityReport, and input packets with flagQualityReport
	hasReport      bool
	frameAdvantage int8
	ping           uint64
	// qualityReply, and input packets with flagQualityReply
	hasReply bool
	pong     uint64
	held     uint16

	frame    Frame  // checksumReport, stateDump, stateDumpAck
	checksum uint64 // checksumReport, stateDump

	dumpTotal int    // stateDump: length of the whole dump
	dumpChunk int    // stateDump: index of this chunk
	dumpData  []byte // stateDump: the chunk, aliasing the packet
	dumpAcked uint64 // stateDumpAck: chunks received, bit i for chunk i
}

// reader consumes a packet front to back; any short read sets err.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.err = errTruncated
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() uint8 {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if v := r.take(2); v != nil {
		return binary.LittleEndian.Uint16(v)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if v := r.take(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

func (r *reader) frame() Frame { return Frame(int32(r.u32())) }

// decodeMessage parses b into m. It checks structure only (lengths, ranges,
// known values); the endpoint checks the values against its session. On
// errVersion, m.version holds the peer's version.
func decodeMessage(b []byte, m *message) error {
	if len(b) > maxPacketSize {
		return errOversized
	}
	if len(b) < headerSize {
		return errTruncated
	}
	m.version = b[0]
	if m.version != ProtocolVersion {
		return errVersion
	}
	m.typ = msgType(b[1])
	m.magic = binary.LittleEndian.Uint16(b[2:4])
	m.hasReport, m.hasReply = false, false
	r := reader{b: b[headerSize:]}
	switch m.typ {
	case msgSyncRequest, msgSyncReply:
		m.nonce = r.u32()
		if err := decodePlayerMap(&r, &m.playerMap); err != nil {
			return err
		}
	case msgInput:
		if err := decodeInputBody(&r, m); err != nil {
			return err
		}
	case msgInputAck:
		m.ackFrame = r.frame()
		if r.err == nil && m.ackFrame < NullFrame {
			return errBadField
		}
	case msgQualityReport:
		decodeReport(&r, m)
	case msgQualityReply:
		decodeReply(&r, m)
	case msgKeepAlive, msgDisconnectNotice:
	case msgChecksumReport:
		m.frame = r.frame()
		m.checksum = r.u64()
		if r.err == nil && m.frame < 0 {
			return errBadField
		}
	case msgStateDump:
		if err := decodeDumpChunk(&r, m); err != nil {
			return err
		}
	case msgStateDumpAck:
		m.frame = r.frame()
		m.dumpAcked = r.u64()
		if r.err == nil && m.frame < 0 {
			return errBadField
		}
	default:
		return errUnknownType
	}
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return errTrailing
	}
	return nil
}

// decodePlayerMap reads a sync message's player map. Masks are bounded by
// the count, so no claim makes the receiver allocate or loop more than
// MaxPlayers.
func decodePlayerMap(r *reader, pm *playerMap) error {
	n := int(r.u8())
	plays, yours := r.u64(), r.u64()
	if r.err != nil {
		return r.err
	}
	valid := uint64(1)<<uint(n) - 1 // n == 64 wraps to all ones
	if n < 1 || n > MaxPlayers || plays&^valid != 0 || yours&^valid != 0 || plays&yours != 0 {
		return errBadField
	}
	*pm = playerMap{numPlayers: n, plays: plays, yours: yours}
	return nil
}

func appendSync(dst []byte, t msgType, magic uint16, nonce uint32, pm playerMap) []byte {
	dst = appendU32(appendHeader(dst, t, magic), nonce)
	dst = append(dst, byte(pm.numPlayers))
	return appendU64(appendU64(dst, pm.plays), pm.yours)
}

func decodeReport(r *reader, m *message) {
	m.hasReport = true
	m.frameAdvantage = int8(r.u8())
	m.ping = r.u64()
}

func decodeReply(r *reader, m *message) {
	m.hasReply = true
	m.pong = r.u64()
	m.held = r.u16()
}

func decodeInputBody(r *reader, m *message) error {
	m.startFrame = r.frame()
	m.ackFrame = r.frame()
	flags := r.u8()
	m.numStatus = int(r.u8())
	if r.err != nil {
		return r.err
	}
	if m.startFrame < 0 || m.ackFrame < NullFrame || flags&^(flagQualityReport|flagQualityReply) != 0 ||
		m.numStatus > MaxPlayers {
		return errBadField
	}
	for i := range m.numStatus {
		f := r.frame()
		d := r.u8()
		if r.err != nil {
			return r.err
		}
		if f < NullFrame || d > wireDroppedUs {
			return errBadField
		}
		m.status[i] = connectionStatus{disconnected: d != wireConnected, droppedUs: d == wireDroppedUs, lastFrame: f}
	}
	if flags&flagQualityReport != 0 {
		decodeReport(r, m)
	}
	if flags&flagQualityReply != 0 {
		decodeReply(r, m)
	}
	m.frameBytes = int(r.u16())
	m.count = int(r.u8())
	if r.err != nil {
		return r.err
	}
	if m.frameBytes < 1 || m.frameBytes > MaxFrameInputBytes || m.count < 1 ||
		m.count > maxFramesPerPacket || int64(m.startFrame)+int64(m.count) > math.MaxInt32 {
		return errBadField
	}
	m.payload = r.b
	r.b = nil
	if len(m.payload) > maxInputPayload {
		return errBadField
	}
	return checkDeltaPayload(m.payload, m.frameBytes, m.count)
}

// decodeDumpChunk checks a stateDump body: the chunk must be one of the
// dump's and exactly as long as the sender's chunking makes it, so the
// receiver can copy it into place without further checks.
func decodeDumpChunk(r *reader, m *message) error {
	m.frame = r.frame()
	m.checksum = r.u64()
	total := r.u32()
	m.dumpChunk = int(r.u8())
	if r.err != nil {
		return r.err
	}
	if m.frame < 0 || total > MaxStateDumpSize {
		return errBadField
	}
	m.dumpTotal = int(total)
	n := dumpChunkLen(m.dumpTotal, m.dumpChunk)
	if n < 0 {
		return errBadField
	}
	m.dumpData = r.take(n)
	return r.err
}

func appendHeader(dst []byte, t msgType, magic uint16) []byte {
	return append(dst, ProtocolVersion, byte(t), byte(magic), byte(magic>>8))
}

func appendU16(dst []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(dst, v) }
func appendU32(dst []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(dst, v) }
func appendU64(dst []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(dst, v) }
func appendFrame(dst []byte, f Frame) []byte {
	return binary.LittleEndian.AppendUint32(dst, uint32(int32(f)))
}

// qualityParts are the optional quality report and reply of an input packet.
type qualityParts struct {
	report         bool
	frameAdvantage int8
	ping           uint64
	reply          bool
	pong           uint64
	held           uint16
}

func appendReport(dst []byte, frameAdvantage int8, ping uint64) []byte {
	return appendU64(append(dst, byte(frameAdvantage)), ping)
}

func appendReply(dst []byte, pong uint64, held uint16) []byte {
	return appendU16(appendU64(dst, pong), held)
}

// appendInputHead appends an input packet up to (excluding) count and
// payload; the caller appends count and the encoded frames.
func appendInputHead(dst []byte, magic uint16, start, ack Frame, status []connectionStatus, q qualityParts,
	frameBytes int) []byte {
	dst = appendHeader(dst, msgInput, magic)
	dst = appendFrame(dst, start)
	dst = appendFrame(dst, ack)
	var flags byte
	if q.report {
		flags |= flagQualityReport
	}
	if q.reply {
		flags |= flagQualityReply
	}
	dst = append(dst, flags, byte(len(status)))
	for _, s := range status {
		dst = appendFrame(dst, s.lastFrame)
		d := byte(wireConnected)
		switch {
		case s.droppedUs:
			d = wireDroppedUs
		case s.disconnected:
			d = wireDisconnected
		}
		dst = append(dst, d)
	}
	if q.report {
		dst = appendReport(dst, q.frameAdvantage, q.ping)
	}
	if q.reply {
		dst = appendReply(dst, q.pong, q.held)
	}
	return appendU16(dst, uint16(frameBytes))
}
