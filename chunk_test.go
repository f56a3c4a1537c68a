package rollbox

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

// chunksOf returns the chunk messages sendChunks makes of msg, each copied.
func chunksOf(t testing.TB, id uint64, msg []byte) [][]byte {
	t.Helper()
	var out [][]byte
	err := sendChunks(func(b []byte) error {
		if len(b) > 64<<10 {
			t.Fatalf("chunk of %d bytes is above 64 KiB", len(b))
		}
		out = append(out, bytes.Clone(b))
		return nil
	}, id, msg, nil)
	if err != nil {
		t.Fatalf("sendChunks: %v", err)
	}
	return out
}

// chunkMsg builds a chunk message by hand, for the refusal tests.
func chunkMsg(id uint64, total, off uint32, payload []byte) []byte {
	b := make([]byte, chunkHeaderSize, chunkHeaderSize+len(payload))
	copy(b, chunkMagic)
	b[4] = chunkVersion
	binary.LittleEndian.PutUint64(b[8:], id)
	binary.LittleEndian.PutUint32(b[16:], total)
	binary.LittleEndian.PutUint32(b[20:], off)
	return append(b, payload...)
}

func TestChunkRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 1<<20 + 3} {
		msg := make([]byte, size)
		for i := range msg {
			msg[i] = byte(rng.Uint32())
		}
		chunks := chunksOf(t, uint64(size)+7, msg)
		if want := max(1, (size+chunkSize-1)/chunkSize); len(chunks) != want {
			t.Fatalf("size %d: %d chunks, want %d", size, len(chunks), want)
		}
		r := newChunkReader(2 << 20)
		for i, c := range chunks {
			if !isChunk(c) {
				t.Fatalf("size %d: chunk %d fails isChunk", size, i)
			}
			got, done, err := r.feed(c)
			if err != nil {
				t.Fatalf("size %d: chunk %d: %v", size, i, err)
			}
			if last := i == len(chunks)-1; done != last {
				t.Fatalf("size %d: chunk %d of %d: done=%v", size, i, len(chunks), done)
			}
			if done && !bytes.Equal(got, msg) {
				t.Fatalf("size %d: reassembled message differs (len %d)", size, len(got))
			}
		}
	}
}

// TestChunkReaderReuse checks that one reader reassembles transfer after
// transfer, including the same id again.
func TestChunkReaderReuse(t *testing.T) {
	r := newChunkReader(1 << 20)
	for i, msg := range [][]byte{bytes.Repeat([]byte("a"), 3*chunkSize), []byte("b"), nil, bytes.Repeat([]byte("c"), chunkSize+5)} {
		var got []byte
		for _, c := range chunksOf(t, 42, msg) {
			m, done, err := r.feed(c)
			if err != nil {
				t.Fatalf("transfer %d: %v", i, err)
			}
			if done {
				got = bytes.Clone(m)
			}
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("transfer %d: got %d bytes, want %d", i, len(got), len(msg))
		}
	}
}

func TestChunkSendStopsOnError(t *testing.T) {
	stop := errors.New("stop")
	calls := 0
	err := sendChunks(func([]byte) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	}, 1, make([]byte, 5*chunkSize), nil)
	if !errors.Is(err, stop) || calls != 2 {
		t.Fatalf("err %v after %d calls, want stop after 2", err, calls)
	}
}

func TestChunkIsChunk(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("rbx"), []byte(`{"rbxC":1}`), []byte("RBXC....")} {
		if isChunk(b) {
			t.Errorf("isChunk(%q) = true", b)
		}
	}
	if !isChunk([]byte("rbxC")) {
		t.Error("isChunk(magic) = false")
	}
}

func TestChunkRefusals(t *testing.T) {
	badVersion := chunkMsg(1, 1, 0, []byte("x"))
	badVersion[4] = 2
	badReserved := chunkMsg(1, 1, 0, []byte("x"))
	badReserved[6] = 1
	cases := []struct {
		name   string
		before [][]byte // accepted first
		bad    []byte
	}{
		{name: "short", bad: []byte("rbxC\x01")},
		{name: "magic", bad: append([]byte("rbxD"), chunkMsg(1, 1, 0, []byte("x"))[4:]...)},
		{name: "version", bad: badVersion},
		{name: "reserved", bad: badReserved},
		{name: "total above max", bad: chunkMsg(1, 1001, 0, []byte("x"))},
		{name: "payload above chunk size", bad: chunkMsg(1, 1000, 0, make([]byte, chunkSize+1))},
		{name: "payload beyond total", bad: chunkMsg(1, 3, 0, []byte("abcd"))},
		{name: "offset beyond total", bad: chunkMsg(1, 3, 3, []byte("a"))},
		{name: "offset overflow", bad: chunkMsg(1, 3, 0xffffffff, []byte("a"))},
		{name: "empty chunk of a non-empty transfer", bad: chunkMsg(1, 3, 0, nil)},
		{name: "first chunk not at 0", bad: chunkMsg(1, 3, 1, []byte("a"))},
		{name: "gap", before: [][]byte{chunkMsg(1, 900, 0, []byte("ab"))}, bad: chunkMsg(1, 900, 3, []byte("c"))},
		{name: "repeat", before: [][]byte{chunkMsg(1, 900, 0, []byte("ab"))}, bad: chunkMsg(1, 900, 0, []byte("ab"))},
		{name: "total changes", before: [][]byte{chunkMsg(1, 900, 0, []byte("ab"))}, bad: chunkMsg(1, 901, 2, []byte("c"))},
		{name: "new transfer not at 0", before: [][]byte{chunkMsg(1, 900, 0, []byte("ab"))}, bad: chunkMsg(2, 900, 2, []byte("c"))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newChunkReader(1000)
			for _, b := range c.before {
				if _, _, err := r.feed(b); err != nil {
					t.Fatalf("setup chunk refused: %v", err)
				}
			}
			if msg, done, err := r.feed(c.bad); err == nil || done || msg != nil {
				t.Fatalf("feed = %q, %v, %v; want an error", msg, done, err)
			}
			// A refusal drops the transfer in progress: its continuation
			// is refused too.
			if len(c.before) > 0 {
				if _, _, err := r.feed(chunkMsg(1, 900, 2, []byte("c"))); err == nil {
					t.Fatal("the refused transfer went on after the refusal")
				}
			}
			// After a refusal the reader starts over cleanly.
			for _, ch := range chunksOf(t, 9, []byte("fine")) {
				msg, done, err := r.feed(ch)
				if err != nil || !done || string(msg) != "fine" {
					t.Fatalf("after refusal: %q, %v, %v", msg, done, err)
				}
			}
		})
	}
}

// TestChunkNewIDRestarts checks that a new transfer id abandons the transfer
// in progress and reassembles the new one alone.
func TestChunkNewIDRestarts(t *testing.T) {
	r := newChunkReader(1 << 20)
	old := chunksOf(t, 1, bytes.Repeat([]byte("o"), 2*chunkSize+1))
	if _, done, err := r.feed(old[0]); err != nil || done {
		t.Fatalf("first chunk: %v %v", done, err)
	}
	msg := bytes.Repeat([]byte("n"), chunkSize+10)
	var got []byte
	for _, c := range chunksOf(t, 2, msg) {
		m, done, err := r.feed(c)
		if err != nil {
			t.Fatal(err)
		}
		if done {
			got = m
		}
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("got %d bytes, want the %d of the new transfer", len(got), len(msg))
	}
	// The abandoned transfer's remaining chunks are now a broken sequence.
	if _, _, err := r.feed(old[1]); err == nil {
		t.Fatal("a chunk of the abandoned transfer was accepted")
	}
}

func FuzzChunkReader(f *testing.F) {
	f.Add([]byte("hello"), uint16(3), uint16(0))
	f.Add(chunkMsg(1, 3, 0, []byte("abc")), uint16(0), uint16(0))
	two := append(chunkMsg(5, 4, 0, []byte("ab")), chunkMsg(5, 4, 2, []byte("cd"))...)
	f.Add(two, uint16(26), uint16(0))
	f.Add(two, uint16(26), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16, mode uint16) {
		// Round trip: whatever the message, it comes back whole.
		r := newChunkReader(len(data))
		var got []byte
		n := 0
		err := sendChunks(func(b []byte) error {
			n++
			m, done, err := r.feed(b)
			if err != nil {
				t.Fatalf("round trip chunk %d: %v", n, err)
			}
			if done {
				got = bytes.Clone(m)
			}
			return nil
		}, uint64(mode), data, nil)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("round trip: err %v, got %d bytes of %d", err, len(got), len(data))
		}

		// Arbitrary input: data cut in two messages, or in messages of
		// cut bytes each, fed to a small reader; never a panic, never more
		// than max bytes.
		const limit = 64
		r = newChunkReader(limit)
		var msgs [][]byte
		if mode%2 == 0 {
			c := min(int(cut), len(data))
			msgs = [][]byte{data[:c], data[c:]}
		} else {
			step := max(int(cut), 1)
			for i := 0; i < len(data); i += step {
				msgs = append(msgs, data[i:min(i+step, len(data))])
			}
		}
		for _, b := range msgs {
			m, done, err := r.feed(b)
			if err != nil && (done || m != nil) {
				t.Fatalf("error %v with a message", err)
			}
			if done && len(m) > limit {
				t.Fatalf("message of %d bytes above max %d", len(m), limit)
			}
			if !done && m != nil {
				t.Fatal("message without done")
			}
			if cap(r.buf) > limit {
				t.Fatalf("reader holds %d bytes, above max %d", cap(r.buf), limit)
			}
		}
	})
}

func BenchmarkChunks1MiB(b *testing.B) {
	msg := make([]byte, 1<<20)
	for i := range msg {
		msg[i] = byte(i)
	}
	r := newChunkReader(len(msg))
	buf := make([]byte, 0, chunkHeaderSize+chunkSize)
	var last []byte
	feed := func(c []byte) error {
		m, done, err := r.feed(c)
		if done {
			last = m
		}
		return err
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if err := sendChunks(feed, 1, msg, buf); err != nil {
			b.Fatal(err)
		}
	}
	if len(last) != len(msg) {
		b.Fatalf("reassembled %d bytes", len(last))
	}
}
