package rollback

import "errors"

// Input frames travel XOR-delta encoded against the previous frame and then
// run-length encoded: a player holding a button produces all-zero deltas,
// which shrink to one byte per frame. The run-length code is a sequence of
// tokens, each starting with a control byte c:
//
//	c < 0x80:  c+1 literal bytes follow
//	c >= 0x80: (c & 0x7f) + 1 zero bytes
//
// Each frame's delta is encoded on its own (no token spans two frames), so
// the decoder always knows where a frame ends.

const maxRun = 128

var (
	errRLETruncated = errors.New("rollback: input payload truncated")
	errRLEOverrun   = errors.New("rollback: input payload run exceeds frame")
)

// appendDelta appends the encoding of cur XOR prev to dst. prev and cur have
// the same length.
func appendDelta(dst, prev, cur []byte) []byte {
	n := len(cur)
	i := 0
	for i < n {
		if prev[i] == cur[i] {
			j := i + 1
			for j < n && j-i < maxRun && prev[j] == cur[j] {
				j++
			}
			dst = append(dst, 0x80|byte(j-i-1))
			i = j
			continue
		}
		// A literal run ends at the first pair of equal bytes; a single
		// equal byte is cheaper to carry inside the literal.
		j := i + 1
		for j < n && j-i < maxRun {
			if prev[j] == cur[j] && (j+1 >= n || prev[j+1] == cur[j+1]) {
				break
			}
			j++
		}
		dst = append(dst, byte(j-i-1))
		for k := i; k < j; k++ {
			dst = append(dst, prev[k]^cur[k])
		}
		i = j
	}
	return dst
}

// decodeDelta decodes one frame from src into out (out = prev XOR delta) and
// returns the rest of src. It never reads or writes out of bounds, whatever
// src holds.
func decodeDelta(src, prev, out []byte) ([]byte, error) {
	n := len(out)
	i := 0
	for i < n {
		if len(src) == 0 {
			return nil, errRLETruncated
		}
		c := src[0]
		src = src[1:]
		if c&0x80 != 0 {
			run := int(c&0x7f) + 1
			if i+run > n {
				return nil, errRLEOverrun
			}
			copy(out[i:i+run], prev[i:i+run])
			i += run
			continue
		}
		run := int(c) + 1
		if i+run > n {
			return nil, errRLEOverrun
		}
		if len(src) < run {
			return nil, errRLETruncated
		}
		for k := range run {
			out[i+k] = prev[i+k] ^ src[k]
		}
		src = src[run:]
		i += run
	}
	return src, nil
}

// checkDeltaPayload verifies that src is exactly count frames of frameBytes
// each, so a packet cut short or padded is rejected before any input is used.
func checkDeltaPayload(src []byte, frameBytes, count int) error {
	for range count {
		i := 0
		for i < frameBytes {
			if len(src) == 0 {
				return errRLETruncated
			}
			c := src[0]
			src = src[1:]
			run := int(c&0x7f) + 1
			if i+run > frameBytes {
				return errRLEOverrun
			}
			if c&0x80 == 0 {
				if len(src) < run {
					return errRLETruncated
				}
				src = src[run:]
			}
			i += run
		}
	}
	if len(src) != 0 {
		return errTrailing
	}
	return nil
}
