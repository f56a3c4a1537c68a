package rollback

import (
	"bytes"
	"testing"
)

func TestUintCodecs(t *testing.T) {
	check := func(size, got int) {
		t.Helper()
		if size != got {
			t.Fatalf("size %d, want %d", got, size)
		}
	}
	check(1, UintCodec[uint8]{}.Size())
	check(2, UintCodec[uint16]{}.Size())
	check(4, UintCodec[uint32]{}.Size())
	check(8, UintCodec[uint64]{}.Size())

	c := UintCodec[uint32]{}
	b := make([]byte, 4)
	c.Encode(b, 0x04030201)
	if !bytes.Equal(b, []byte{1, 2, 3, 4}) {
		t.Fatalf("little-endian encoding %v", b)
	}
	for _, v := range []uint32{0, 1, 0xff, 0xdeadbeef, ^uint32(0)} {
		c.Encode(b, v)
		got, err := c.Decode(b)
		if err != nil || got != v {
			t.Fatalf("round trip of %#x: %#x, %v", v, got, err)
		}
	}
	type buttons uint16
	bc := UintCodec[buttons]{}
	b2 := make([]byte, 2)
	bc.Encode(b2, 0xabcd)
	if got, _ := bc.Decode(b2); got != 0xabcd {
		t.Fatalf("named type round trip %#x", got)
	}
}

func TestByteArrayCodec(t *testing.T) {
	type stick [3]byte
	c := ByteArrayCodec[stick]{}
	if c.Size() != 3 {
		t.Fatalf("size %d", c.Size())
	}
	b := make([]byte, 3)
	c.Encode(b, stick{7, 8, 9})
	if !bytes.Equal(b, []byte{7, 8, 9}) {
		t.Fatalf("encoded %v", b)
	}
	if got, err := c.Decode(b); err != nil || got != (stick{7, 8, 9}) {
		t.Fatalf("decoded %v %v", got, err)
	}
}

func TestCodecsDoNotAllocate(t *testing.T) {
	b := make([]byte, 16)
	u := UintCodec[uint64]{}
	a := ByteArrayCodec[[16]byte]{}
	allocs := testing.AllocsPerRun(100, func() {
		u.Encode(b, 42)
		_, _ = u.Decode(b)
		a.Encode(b, [16]byte{1})
		_, _ = a.Decode(b)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per encode/decode", allocs)
	}
}
