package rollback

import "math/bits"

// InputCodec converts a game input to and from its wire form. Every input of a
// session encodes to exactly Size() bytes, which lets the protocol XOR-delta
// consecutive frames and lets sessions keep inputs in fixed buffers, so no
// allocation happens per frame.
//
// Decode runs on bytes received from the network: it must accept any src of
// length Size() without panicking and return an error for values the game
// cannot represent.
type InputCodec[I any] interface {
	// Size is the fixed encoded length in bytes; it must be at least 1.
	Size() int
	// Encode writes in to dst, which has length Size().
	Encode(dst []byte, in I)
	// Decode reads an input from src, which has length Size().
	Decode(src []byte) (I, error)
}

// Unsigned is the set of unsigned integer types UintCodec supports.
type Unsigned interface {
	~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uint
}

// UintCodec encodes unsigned integer inputs (bit masks of buttons, typically)
// little-endian in the integer's own width. The zero value is ready to use.
type UintCodec[T Unsigned] struct{}

// Size returns the width of T in bytes.
func (UintCodec[T]) Size() int { return bits.Len64(uint64(^T(0))) / 8 }

// Encode writes in little-endian to dst.
func (c UintCodec[T]) Encode(dst []byte, in T) {
	v := uint64(in)
	for i := range c.Size() {
		dst[i] = byte(v >> (8 * i))
	}
}

// Decode reads a little-endian value from src. Every bit pattern is valid.
func (c UintCodec[T]) Decode(src []byte) (T, error) {
	var v uint64
	for i := range c.Size() {
		v |= uint64(src[i]) << (8 * i)
	}
	return T(v), nil
}

// ByteArray is the set of fixed-size byte array types ByteArrayCodec supports.
type ByteArray interface {
	~[1]byte | ~[2]byte | ~[3]byte | ~[4]byte | ~[5]byte | ~[6]byte | ~[7]byte |
		~[8]byte | ~[10]byte | ~[12]byte | ~[16]byte | ~[20]byte | ~[24]byte |
		~[32]byte | ~[48]byte | ~[64]byte | ~[128]byte | ~[256]byte
}

// ByteArrayCodec encodes fixed-size byte array inputs as their bytes. Use it
// for inputs the game already packs into bytes (analogue sticks, several
// buttons). The zero value is ready to use.
type ByteArrayCodec[T ByteArray] struct{}

// Size returns the array length.
func (ByteArrayCodec[T]) Size() int {
	var v T
	return len(v)
}

// Encode copies in to dst.
func (ByteArrayCodec[T]) Encode(dst []byte, in T) {
	for i := range len(in) {
		dst[i] = in[i]
	}
}

// Decode copies src into a new array value. Every bit pattern is valid.
func (ByteArrayCodec[T]) Decode(src []byte) (T, error) {
	var v T
	for i := range len(v) {
		v[i] = src[i]
	}
	return v, nil
}
