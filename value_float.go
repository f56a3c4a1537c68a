package rollbox

import (
	"errors"
	"math"
	"reflect"
	"unsafe"
)

// The rollback session compares a predicted input with the real one by ==,
// and rolls back only when they differ. For floats == is not sameness:
// -0 == +0, though Step may tell them apart (math.Signbit, 1/x, Atan2), and
// the checksum, which hashes bits, does. A peer that predicted +0 for
// another's -0 kept its prediction and stepped a state the owner did not:
// a desync (TestNegativeZeroInputDoesNotDesync). So an input's -0 is +0
// everywhere: the match makes it so before adding a local input, Encode
// before sending it, and Decode refuses the bits of -0, which no peer of
// ours sends. (NaN != NaN: a held NaN input is rolled back every frame, to
// the same bits, so peers agree; it only costs time.)

// errNegativeZero: a decoded float was -0, which no peer of ours encodes.
var errNegativeZero = errors.New("rollbox: input float is -0")

// floatLeaves returns the float and complex fields of fields.
func floatLeaves(fields []leaf) []leaf {
	var out []leaf
	for _, f := range fields {
		switch f.kind {
		case reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
			out = append(out, f)
		}
	}
	return out
}

// canonical returns in with every -0 made +0.
func (c *valueCodec[I]) canonical(in I) I {
	if len(c.floats) > 0 {
		c.walkFloats(unsafe.Pointer(&in), true)
	}
	return in
}

// walkFloats reports whether the input at p holds a -0, and with fix makes
// each +0.
func (c *valueCodec[I]) walkFloats(p unsafe.Pointer, fix bool) bool {
	found := false
	for _, f := range c.floats {
		q := unsafe.Add(p, f.off)
		parts, size := 1, f.size
		if f.kind == reflect.Complex64 || f.kind == reflect.Complex128 {
			parts, size = 2, f.size/2
		}
		for i := range parts {
			r := unsafe.Add(q, uintptr(i)*size)
			if size == 4 {
				if v := (*float32)(r); *v == 0 && math.Signbit(float64(*v)) {
					found = true
					if fix {
						*v = 0
					}
				}
			} else if v := (*float64)(r); *v == 0 && math.Signbit(*v) {
				found = true
				if fix {
					*v = 0
				}
			}
		}
	}
	return found
}
