package rollback

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

func TestDeltaRoundTripAndBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for range 2000 {
		n := 1 + rng.IntN(MaxFrameInputBytes)
		prev, cur := make([]byte, n), make([]byte, n)
		for i := range cur {
			prev[i] = byte(rng.IntN(4))
			cur[i] = prev[i]
			if rng.IntN(3) == 0 {
				cur[i] = byte(rng.IntN(256))
			}
		}
		enc := appendDelta(nil, prev, cur)
		if len(enc) > n+n/maxRun+2 {
			t.Fatalf("%d bytes encoded to %d", n, len(enc))
		}
		out := make([]byte, n)
		rest, err := decodeDelta(enc, prev, out)
		if err != nil || len(rest) != 0 || !bytes.Equal(out, cur) {
			t.Fatalf("round trip failed: %v rest %d", err, len(rest))
		}
	}
	// Held input: one byte per frame.
	same := make([]byte, 100)
	if enc := appendDelta(nil, same, same); len(enc) != 1 {
		t.Fatalf("unchanged 100-byte frame encoded to %d bytes", len(enc))
	}
}

func TestDecodeDeltaRejectsBadPayloads(t *testing.T) {
	prev, out := make([]byte, 4), make([]byte, 4)
	for _, tc := range []struct {
		src  []byte
		want error
	}{
		{nil, errRLETruncated},
		{[]byte{0x02, 1}, errRLETruncated},
		{[]byte{0x84}, errRLEOverrun},
		{[]byte{0x04, 1, 2, 3, 4, 5}, errRLEOverrun},
		{[]byte{0x81}, errRLETruncated},
	} {
		if _, err := decodeDelta(tc.src, prev, out); err != tc.want {
			t.Errorf("decodeDelta(%x) = %v, want %v", tc.src, err, tc.want)
		}
	}
}

func validPackets() [][]byte {
	status := []connectionStatus{{lastFrame: 3}, {disconnected: true, lastFrame: 1},
		{disconnected: true, droppedUs: true, lastFrame: 7}}
	in := appendInputHead(nil, 0xbeef, 2, 1, status, qualityParts{}, 4)
	in = append(in, 2)
	in = appendDelta(in, make([]byte, 4), []byte{1, 0, 0, 0})
	in = appendDelta(in, []byte{1, 0, 0, 0}, []byte{1, 0, 0, 0})
	// An input packet carrying a quality report and a reply.
	inq := appendInputHead(nil, 0xbeef, 0, -1, status[:1],
		qualityParts{report: true, frameAdvantage: -3, ping: 77, reply: true, pong: 55, held: 9}, 4)
	inq = append(inq, 1)
	inq = appendDelta(inq, make([]byte, 4), []byte{5, 0, 0, 0})
	return [][]byte{
		appendSync(nil, msgSyncRequest, 7, 99, playerMap{numPlayers: 3, plays: 1, yours: 6}),
		appendSync(nil, msgSyncReply, 7, 99, playerMap{numPlayers: MaxPlayers, plays: 1 << 63, yours: 1}),
		in,
		appendFrame(appendHeader(nil, msgInputAck, 7), 5),
		appendReport(appendHeader(nil, msgQualityReport, 7), -2, 1234),
		appendReply(appendHeader(nil, msgQualityReply, 7), 1234, 3),
		appendHeader(nil, msgKeepAlive, 7),
		inq,
		appendHeader(nil, msgDisconnectNotice, 7),
		appendU64(appendFrame(appendHeader(nil, msgChecksumReport, 7), 100), 0xabc),
		// The middle chunk of a 3000-byte dump, the last one, and an
		// empty dump's only chunk.
		appendDumpChunk(nil, 7, 200, 0xdead, testDump(3000), 1),
		appendDumpChunk(nil, 7, 200, 0xdead, testDump(3000), 2),
		appendDumpChunk(nil, 7, 0, 0, nil, 0),
		appendU64(appendFrame(appendHeader(nil, msgStateDumpAck, 7), 200), 0b101),
	}
}

// testDump is n bytes of a recognisable pattern.
func testDump(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func TestDecodeMessageValid(t *testing.T) {
	var m message
	for i, p := range validPackets() {
		if err := decodeMessage(p, &m); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
	}
	p := validPackets()[2]
	if err := decodeMessage(p, &m); err != nil || m.startFrame != 2 || m.ackFrame != 1 || m.count != 2 ||
		m.numStatus != 3 || m.status[0].disconnected || !m.status[1].disconnected || m.status[1].droppedUs ||
		!m.status[2].droppedUs || !m.status[2].disconnected || m.status[0].lastFrame != 3 || m.magic != 0xbeef ||
		m.hasReport || m.hasReply {
		t.Fatalf("input decoded as %+v, %v", m, err)
	}
	q := validPackets()[7]
	if err := decodeMessage(q, &m); err != nil || m.typ != msgInput || !m.hasReport || m.frameAdvantage != -3 ||
		m.ping != 77 || !m.hasReply || m.pong != 55 || m.held != 9 || m.count != 1 || m.numStatus != 1 {
		t.Fatalf("input with quality parts decoded as %+v, %v", m, err)
	}
}

// Every strict prefix and every packet with a byte changed decodes to an
// error or a valid message, never a panic; truncations are errors.
func TestDecodeMessageRejectsMalformed(t *testing.T) {
	var m message
	for i, p := range validPackets() {
		for n := range len(p) {
			if err := decodeMessage(p[:n], &m); err == nil {
				t.Fatalf("packet %d truncated to %d bytes decoded", i, n)
			}
		}
		if err := decodeMessage(append(append([]byte{}, p...), 0), &m); err == nil {
			t.Fatalf("packet %d with a trailing byte decoded", i)
		}
		for j := range p {
			for _, b := range []byte{0, 0x7f, 0x80, 0xff} {
				q := append([]byte{}, p...)
				q[j] = b
				_ = decodeMessage(q, &m)
			}
		}
	}
	if err := decodeMessage(make([]byte, maxPacketSize+1), &m); err != errOversized {
		t.Fatalf("oversized packet: %v", err)
	}
	v := validPackets()[0]
	v[0] = ProtocolVersion + 1
	if err := decodeMessage(v, &m); err != errVersion || m.version != ProtocolVersion+1 {
		t.Fatalf("other version: %v %d", err, m.version)
	}
	hostile := appendInputHead(nil, 1, 0x7fffffff, 0, nil, qualityParts{}, 4)
	hostile = append(hostile, 10, 0x80)
	if err := decodeMessage(hostile, &m); err != errBadField {
		t.Fatalf("frame overflow: %v", err)
	}
}

func FuzzDecodeMessage(f *testing.F) {
	for _, p := range validPackets() {
		f.Add(p)
	}
	f.Add([]byte{})
	f.Add([]byte{ProtocolVersion, byte(msgInput), 0, 0, 0xff, 0xff, 0xff, 0x7f})
	// Player maps that claim more players than exist, or handles beyond
	// their count.
	f.Add(appendSync(nil, msgSyncRequest, 1, 2, playerMap{numPlayers: 255, plays: ^uint64(0)}))
	f.Add(appendSync(nil, msgSyncReply, 1, 2, playerMap{numPlayers: 2, plays: 1, yours: 1 << 40}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m message
		if err := decodeMessage(b, &m); err != nil {
			return
		}
		if m.typ == msgStateDump {
			// A decoded chunk must fit its place in the dump.
			off := m.dumpChunk * dumpChunkSize
			if m.dumpTotal > MaxStateDumpSize || off+len(m.dumpData) > m.dumpTotal ||
				len(m.dumpData) != dumpChunkLen(m.dumpTotal, m.dumpChunk) {
				t.Fatalf("chunk %d of %d bytes in a %d-byte dump", m.dumpChunk, len(m.dumpData), m.dumpTotal)
			}
		}
		if m.typ == msgInput {
			// A decoded input packet's payload must be safe to expand.
			out, prev := make([]byte, m.frameBytes), make([]byte, m.frameBytes)
			src := m.payload
			for range m.count {
				var err error
				if src, err = decodeDelta(src, prev, out); err != nil {
					break
				}
			}
		}
	})
}

func FuzzDecodeDelta(f *testing.F) {
	f.Add([]byte{0x83}, uint16(4))
	f.Add([]byte{0x01, 1, 2, 0x81}, uint16(4))
	f.Add([]byte{0x7f}, uint16(200))
	f.Fuzz(func(t *testing.T, src []byte, n uint16) {
		size := int(n)%MaxFrameInputBytes + 1
		prev, out := make([]byte, size), make([]byte, size)
		rest, err := decodeDelta(src, prev, out)
		if err == nil && len(rest) > len(src) {
			t.Fatal("decoder grew its input")
		}
		if err == nil {
			// What decodes re-encodes to something that decodes the same.
			enc := appendDelta(nil, prev, out)
			again := make([]byte, size)
			if _, err := decodeDelta(enc, prev, again); err != nil || !bytes.Equal(again, out) {
				t.Fatalf("re-encoding mismatch: %v", err)
			}
		}
	})
}

// FuzzSessionPackets feeds arbitrary packets from a known peer into a running
// session: it must never panic and must keep advancing.
func FuzzSessionPackets(f *testing.F) {
	for _, p := range validPackets() {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		net := newTestNet(1)
		peers := newMesh(t, net, 2, nil)
		syncMesh(t, net, peers)
		b := net.socket(peerAddr(1))
		for range 20 {
			_ = b.Send(peerAddr(0), pkt)
			tick(t, peers, func(p *testPeer) uint32 { return 3 })
			net.advance(16 * time.Millisecond)
		}
		if peers[0].game.gs.Frame < 10 {
			t.Fatalf("session stuck at frame %d after hostile packets", peers[0].game.gs.Frame)
		}
	})
}

func TestVersionMismatchFailsHandshake(t *testing.T) {
	net := newTestNet(12)
	peers := newMesh(t, net, 2, nil)
	// Rewrite every packet of peer 1 to claim another protocol version.
	net.socket(peerAddr(1)).tamper = func(to string, packet []byte) [][]byte {
		if to == peerAddr(0) {
			packet[0] = ProtocolVersion + 1
		}
		return [][]byte{packet}
	}
	for range 200 {
		for _, p := range peers {
			p.sess.PollRemoteClients()
		}
		net.advance(5 * time.Millisecond)
	}
	if peers[0].sess.State() != Synchronizing {
		t.Fatal("handshake completed across protocol versions")
	}
	evs := peers[0].sess.Events()
	if countEvents(evs, EventVersionMismatch) != 1 {
		t.Fatalf("events %v, want one version mismatch", evs)
	}
	for _, e := range evs {
		if e.Kind == EventVersionMismatch && (e.RemoteVersion != ProtocolVersion+1 || e.Addr != peerAddr(1)) {
			t.Fatalf("mismatch event %v", e)
		}
	}
	if _, err := peers[0].sess.AdvanceFrame(); !errors.Is(err, ErrNotSynchronized) {
		t.Fatalf("AdvanceFrame: %v", err)
	}
}
