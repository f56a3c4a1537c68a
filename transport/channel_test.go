package transport

import (
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/rollbox/rollbox/transport/internal/inbox"
)

// chunkFrame is one frame of a chunked message as a peer sends it.
func chunkFrame(total int, part []byte) []byte {
	f := append(chunkMagic[:len(chunkMagic):len(chunkMagic)], 0, 0, 0, 0)
	binary.BigEndian.PutUint32(f[len(chunkMagic):], uint32(total))
	return append(f, part...)
}

// joinMessages packs messages into one fuzz input: each is a 2-byte
// big-endian length and its bytes.
func joinMessages(msgs ...[]byte) []byte {
	var out []byte
	for _, m := range msgs {
		out = binary.BigEndian.AppendUint16(out, uint16(len(m)))
		out = append(out, m...)
	}
	return out
}

// FuzzChunkReassembly feeds a reliable channel's reassembly any sequence of
// messages a peer could send: it never panics, never hands the game a
// reassembled message over MaxMessageSize, passes every message that is not
// a chunk frame through unchanged, in order, and counts each frame that
// cannot make a message as malformed, once.
func FuzzChunkReassembly(f *testing.F) {
	f.Add(joinMessages(chunkFrame(5, []byte("he")), chunkFrame(5, []byte("llo"))))
	f.Add(joinMessages([]byte("plain"), chunkFrame(3, []byte("abcd")), []byte("after")))
	f.Add(joinMessages(chunkFrame(4, []byte("ab")), []byte("interrupts"), chunkFrame(4, []byte("cd"))))
	f.Add(joinMessages(chunkFrame(4, []byte("ab")), chunkFrame(6, []byte("cd"))))
	f.Add(joinMessages(chunkFrame(0, nil), chunkFrame(1<<31, []byte("x"))))
	f.Add(joinMessages(chunkFrame(100, bytes.Repeat([]byte("y"), 100))))
	f.Fuzz(func(t *testing.T, stream []byte) {
		const maxSize = 64
		s := &Socket{
			cfg:   Config{MaxMessageSize: maxSize},
			log:   slog.New(slog.NewTextHandler(io.Discard, nil)),
			ctx:   t.Context(),
			ready: make(chan struct{}, 1),
		}
		ch := &Channel{s: s, cfg: Reliable(), inbox: inbox.New[PeerID](1 << 20)}
		l := &link{p: &peer{s: s, id: "peer"}, ch: ch}
		var plain, got [][]byte
		frames := 0
		for len(stream) >= 2 {
			n := min(int(binary.BigEndian.Uint16(stream)), len(stream)-2)
			msg := stream[2 : 2+n]
			stream = stream[2+n:]
			if !isChunk(msg) {
				plain = append(plain, msg)
			} else {
				frames++
			}
			l.deliver(msg)
			for _, p := range ch.Receive() {
				if p.From != "peer" {
					t.Fatalf("message from %q", p.From)
				}
				got = append(got, bytes.Clone(p.Data))
			}
		}
		// Every plain message arrives, in order, between the reassembled ones.
		k := 0
		for _, m := range got {
			if k < len(plain) && bytes.Equal(m, plain[k]) {
				k++
				continue
			}
			if len(m) > maxSize || len(m) == 0 {
				t.Fatalf("reassembled a %d-byte message, MaxMessageSize %d", len(m), maxSize)
			}
		}
		if k != len(plain) {
			t.Fatalf("%d of %d plain messages came through", k, len(plain))
		}
		// Every frame is counted malformed, waits for the rest of its
		// message, or went into a message delivered (at least one each).
		malformed, reassembled := int(s.malformed.Load()), len(got)-len(plain)
		if malformed+l.frames+reassembled > frames || reassembled == 0 && malformed+l.frames != frames {
			t.Fatalf("%d frames: %d counted malformed, %d waiting, %d messages reassembled", frames, malformed, l.frames, reassembled)
		}
	})
}

// TestChunkReassemblyRoundTrip: the frames the sender makes of a message
// over 64 KiB (or one that looks like a frame) come back as that message.
func TestChunkReassemblyRoundTrip(t *testing.T) {
	s := &Socket{
		cfg:   Config{MaxMessageSize: 1 << 20},
		log:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		ctx:   t.Context(),
		ready: make(chan struct{}, 1),
	}
	ch := &Channel{s: s, cfg: Reliable(), inbox: inbox.New[PeerID](4 << 20)}
	l := &link{p: &peer{s: s, id: "peer"}, ch: ch}
	big := make([]byte, 3*chunkPayload+17)
	for i := range big {
		big[i] = byte(i * 7)
	}
	for _, msg := range [][]byte{big, chunkFrame(1, []byte("x"))} {
		for off := 0; off < len(msg); off += chunkPayload {
			l.deliver(chunkFrame(len(msg), msg[off:min(off+chunkPayload, len(msg))]))
		}
		got := ch.Receive()
		if len(got) != 1 || !slices.Equal(got[0].Data, msg) {
			t.Fatalf("%d bytes: got %d messages back", len(msg), len(got))
		}
	}
}
