package rollbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// A message larger than one data channel message can safely carry (SCTP
// implementations disagree above 64 KiB) crosses the reliable channel as a
// transfer: a sequence of chunk messages, each a fixed header and a part of
// the message, sent in order. The channel is reliable and ordered, so the
// receiver needs no acknowledgements or reordering: any gap is an error.
//
// Chunk message layout (little endian):
//
//	magic "rbxC" (4) | version 1 (1) | reserved, zero (3) |
//	transfer id uint64 (8) | total length uint32 (4) | offset uint32 (4) | payload
const (
	// chunkSize is the payload of one chunk: 60 KiB, so that a chunk with its
	// header stays below 64 KiB.
	chunkSize = 60 << 10
	// chunkHeaderSize is the size of a chunk message's header.
	chunkHeaderSize = 24
	// chunkVersion is the only chunk format version this code reads and writes.
	chunkVersion = 1
)

// chunkMagic starts every chunk message. It cannot start a JSON control
// message (those start with '{'), so isChunk tells the two apart.
const chunkMagic = "rbxC"

// errChunkTooLarge reports a message whose length does not fit the header's
// uint32 total length.
var errChunkTooLarge = errors.New("rollbox: message too large to send in chunks")

// isChunk reports whether b is a chunk message (by its magic), so that a
// receiver can tell chunks from the JSON control messages on the same channel.
func isChunk(b []byte) bool {
	return len(b) >= len(chunkMagic) && string(b[:len(chunkMagic)]) == chunkMagic
}

// sendChunks splits msg into chunk messages of transfer id and calls send for
// each, in order; an error from send stops the transfer and is returned. An
// empty msg is one chunk with an empty payload, so the receiver still gets a
// (empty) message. buf is scratch space reused for every chunk (it is grown to
// chunkHeaderSize+chunkSize if smaller): send must not keep its argument after
// it returns, as packet.Socket.Send promises. With a big enough buf,
// sendChunks allocates nothing.
func sendChunks(send func([]byte) error, id uint64, msg []byte, buf []byte) error {
	if uint64(len(msg)) > math.MaxUint32 {
		return errChunkTooLarge
	}
	if cap(buf) < chunkHeaderSize+chunkSize {
		buf = make([]byte, 0, chunkHeaderSize+chunkSize)
	}
	total := uint32(len(msg))
	off := 0
	for {
		n := min(len(msg)-off, chunkSize)
		b := buf[:chunkHeaderSize]
		copy(b, chunkMagic)
		b[4] = chunkVersion
		b[5], b[6], b[7] = 0, 0, 0
		binary.LittleEndian.PutUint64(b[8:], id)
		binary.LittleEndian.PutUint32(b[16:], total)
		binary.LittleEndian.PutUint32(b[20:], uint32(off))
		b = append(b, msg[off:off+n]...)
		if err := send(b); err != nil {
			return err
		}
		off += n
		if off >= len(msg) {
			return nil
		}
	}
}

// chunkReader reassembles the transfers one peer sends, one at a time. It
// holds at most max bytes of message, refuses anything that does not follow
// the format exactly, and never panics on any input. A new transfer id while
// one is in progress abandons the one in progress (the sender gave up on it)
// and starts the new one; after an error the transfer in progress is dropped
// and the next chunk must start a transfer (offset 0).
type chunkReader struct {
	max      int
	active   bool   // a transfer is in progress
	id       uint64 // the transfer in progress
	total    int    // its total length
	buf      []byte // its bytes received so far; reused by later transfers
	received int    // len(buf), kept for clarity of the checks
}

// newChunkReader returns a reader that refuses transfers longer than max bytes.
func newChunkReader(max int) *chunkReader {
	return &chunkReader{max: max}
}

// feed takes the next chunk message from the peer. When b completes a
// transfer it returns the message and done=true; msg aliases the reader's
// buffer and is valid until the next call to feed (copy it to keep it). An
// error means b was refused and any transfer in progress is dropped.
func (r *chunkReader) feed(b []byte) (msg []byte, done bool, err error) {
	if len(b) < chunkHeaderSize || !isChunk(b) {
		r.reset()
		return nil, false, errors.New("rollbox: chunk: short message or bad magic")
	}
	if b[4] != chunkVersion || b[5] != 0 || b[6] != 0 || b[7] != 0 {
		r.reset()
		return nil, false, fmt.Errorf("rollbox: chunk: unsupported version %d or reserved bytes set", b[4])
	}
	id := binary.LittleEndian.Uint64(b[8:])
	total := uint64(binary.LittleEndian.Uint32(b[16:]))
	off := uint64(binary.LittleEndian.Uint32(b[20:]))
	payload := b[chunkHeaderSize:]
	switch {
	case total > uint64(r.max):
		r.reset()
		return nil, false, fmt.Errorf("rollbox: chunk: transfer of %d bytes is above the limit of %d", total, r.max)
	case len(payload) > chunkSize:
		r.reset()
		return nil, false, fmt.Errorf("rollbox: chunk: payload of %d bytes is above the chunk size", len(payload))
	case len(payload) == 0 && total != 0:
		// Only an empty message is sent as an empty chunk: an empty chunk
		// of a longer transfer makes no progress.
		r.reset()
		return nil, false, errors.New("rollbox: chunk: empty chunk in a non-empty transfer")
	case off+uint64(len(payload)) > total:
		r.reset()
		return nil, false, fmt.Errorf("rollbox: chunk: %d bytes at offset %d do not fit a transfer of %d", len(payload), off, total)
	}
	if !r.active || id != r.id {
		// A new transfer, possibly replacing an abandoned one.
		if off != 0 {
			r.reset()
			return nil, false, fmt.Errorf("rollbox: chunk: transfer %d starts at offset %d", id, off)
		}
		r.active, r.id, r.total = true, id, int(total)
		if cap(r.buf) < r.total {
			r.buf = make([]byte, 0, r.total)
		}
		r.buf, r.received = r.buf[:0], 0
	} else if int(total) != r.total || int(off) != r.received {
		// The channel is reliable and ordered: a chunk that does not continue
		// exactly where the previous one ended is a broken sender.
		tot, rec := r.total, r.received
		r.reset()
		return nil, false, fmt.Errorf("rollbox: chunk: transfer %d: got %d/%d, want offset %d of %d", id, off, total, rec, tot)
	}
	r.buf = append(r.buf, payload...)
	r.received = len(r.buf)
	if r.received < r.total {
		return nil, false, nil
	}
	r.active = false
	return r.buf, true, nil
}

// reset drops the transfer in progress, keeping the buffer for reuse.
func (r *chunkReader) reset() {
	r.active, r.id, r.total, r.received = false, 0, 0, 0
	r.buf = r.buf[:0]
}
