package rollbox

import (
	"errors"
	"math"
	"testing"
)

// -0 is sent as +0, and its bits, which no peer of ours sends, are refused
// (value_float.go): a peer that decoded -0 would step what its
// prediction of +0 did not.
func TestValueCodecNegativeZero(t *testing.T) {
	type in struct {
		F32 float32
		F64 float64
		C   complex64
	}
	c, err := newValueCodec[in]()
	if err != nil {
		t.Fatal(err)
	}
	neg := math.Copysign(0, -1)
	for _, v := range []in{{F32: float32(neg)}, {F64: neg}, {C: complex(float32(neg), 1)}, {C: complex(1, float32(neg))}} {
		b := make([]byte, c.Size())
		c.Encode(b, v)
		got, err := c.Decode(b)
		if err != nil || got != v || math.Signbit(float64(got.F32)) || math.Signbit(got.F64) ||
			math.Signbit(float64(real(got.C))) || math.Signbit(float64(imag(got.C))) {
			t.Errorf("%v: decode(encode) = %v, %v; want +0 where it had -0", v, got, err)
		}
	}
	// The bits of -0, as a peer of another build might send them: the
	// sign byte of F32, F64, and C's real and imaginary parts.
	for _, sign := range []int{3, 11, 15, 19} {
		b := make([]byte, c.Size())
		b[sign] = 0x80
		if _, err := c.Decode(b); !errors.Is(err, errNegativeZero) {
			t.Errorf("decoding a -0 (sign at byte %d): %v, want errNegativeZero", sign, err)
		}
	}
	// Every local input passes canonical, every frame.
	v, buf := in{F32: float32(neg), C: complex(1, float32(neg))}, make([]byte, c.Size())
	if allocs := testing.AllocsPerRun(100, func() { v = c.canonical(v); c.Encode(buf, v) }); allocs != 0 {
		t.Errorf("canonical and Encode: %v allocations", allocs)
	}
}
