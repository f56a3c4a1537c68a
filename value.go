package rollbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"unsafe"

	"github.com/rollbox/rollbox/rollback"
)

// A plain value is one that copying saves: numbers, booleans, strings, and
// arrays and structs of them. No pointers, slices, maps, channels,
// functions or interfaces, whose copies would share memory with the
// original (or, for maps, iterate in random order). A plain state needs no
// Clone and gets a checksum and a readable dump for free; a plain input
// type gets a wire codec for free.
//
// The layout of a plain type is computed once, by reflection, when a match
// is made. Hashing, dumping and encoding then walk the layout over the
// value's memory, which allocates nothing.

// leaf is one scalar field of a plain type, at an offset from the value's
// start.
type leaf struct {
	off  uintptr
	kind reflect.Kind
	size uintptr
	name string // the path to it, e.g. "Boxes[3].X"
}

// span is a run of bytes of a plain value hashed as they are in memory:
// fields without padding between them, merged.
type span struct{ off, size uintptr }

// layout describes a plain type.
type layout struct {
	typ     reflect.Type
	leaves  []leaf // every scalar field in declaration order (for dumps, capped)
	spans   []span // the non-padding, non-string bytes
	strings []uintptr
	// truncated: the type has more fields than a dump shows.
	truncated bool
}

// maxDumpLeaves bounds the fields a dump names: a dump longer than
// rollback.MaxStateDumpSize is cut anyway, and every field line takes at
// least three bytes.
const maxDumpLeaves = rollback.MaxStateDumpSize / 3

// notPlainError says which field keeps a type from being plain.
type notPlainError struct {
	typ   reflect.Type
	field string
	kind  reflect.Kind
}

func (e *notPlainError) Error() string {
	at := e.field
	if at == "" {
		at = "the type itself"
	}
	return fmt.Sprintf("%v is not a plain value: %s is a %v", e.typ, at, e.kind)
}

// layoutOf returns the layout of t, or a *notPlainError naming the first
// field that is not plain.
func layoutOf(t reflect.Type) (*layout, error) {
	l := &layout{typ: t}
	if err := l.walk(t, 0, ""); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *layout) walk(t reflect.Type, off uintptr, name string) error {
	return l.walkAt(t, off, name, true)
}

// walkAt adds t's leaves (up to the dump bound) and, when spans is true,
// its spans and strings.
func (l *layout) walkAt(t reflect.Type, off uintptr, name string, spans bool) error {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		if spans {
			l.addSpan(off, t.Size())
		}
		l.addLeaf(leaf{off: off, kind: t.Kind(), size: t.Size(), name: name})
		return nil
	case reflect.String:
		if spans {
			l.strings = append(l.strings, off)
		}
		l.addLeaf(leaf{off: off, kind: reflect.String, size: t.Size(), name: name})
		return nil
	case reflect.Array:
		elem := t.Elem()
		if spans && dense(elem) {
			// One run of bytes however long the array: only the names
			// of its fields (for dumps) need a walk per element, and only
			// up to the dump's bound.
			l.addSpan(off, t.Size())
			spans = false
		}
		for i := range t.Len() {
			if !spans && l.truncated {
				return nil
			}
			if err := l.walkAt(elem, off+uintptr(i)*elem.Size(), name+"["+strconv.Itoa(i)+"]", spans); err != nil {
				return err
			}
		}
		return nil
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			fname := f.Name
			if name != "" {
				fname = name + "." + f.Name
			}
			if err := l.walkAt(f.Type, off+f.Offset, fname, spans); err != nil {
				return err
			}
		}
		return nil
	default:
		return &notPlainError{typ: l.typ, field: name, kind: t.Kind()}
	}
}

// dense reports whether t's values have no padding and no strings, so that
// an array of them is one run of bytes.
func dense(t reflect.Type) bool {
	sub, err := layoutOf(t)
	return err == nil && len(sub.strings) == 0 &&
		(t.Size() == 0 || len(sub.spans) == 1 && sub.spans[0] == span{0, t.Size()})
}

func (l *layout) addSpan(off, size uintptr) {
	if size == 0 {
		return
	}
	if n := len(l.spans); n > 0 {
		last := &l.spans[n-1]
		if last.off+last.size == off {
			last.size += size
			return
		}
	}
	l.spans = append(l.spans, span{off, size})
}

func (l *layout) addLeaf(f leaf) {
	if len(l.leaves) >= maxDumpLeaves {
		l.truncated = true
		return
	}
	l.leaves = append(l.leaves, f)
}

// checksum hashes the value at p: its bytes in memory but for padding, and
// the contents of its strings. Peers on the same architecture family (all
// 64-bit little-endian ones: amd64, arm64, wasm) agree.
func (l *layout) checksum(p unsafe.Pointer) uint64 {
	h := uint64(14695981039346656037)
	for _, s := range l.spans {
		h = hashBytes(h, unsafe.Slice((*byte)(unsafe.Add(p, s.off)), s.size))
	}
	for _, off := range l.strings {
		s := *(*string)(unsafe.Add(p, off))
		h = mix(h, uint64(len(s)))
		h = hashBytes(h, unsafe.Slice(unsafe.StringData(s), len(s)))
	}
	return h
}

const hashPrime = 0x9e3779b97f4a7c15

func mix(h, w uint64) uint64 {
	h ^= w
	h *= hashPrime
	return h ^ h>>32
}

// hashBytes mixes b into h eight bytes at a time.
func hashBytes(h uint64, b []byte) uint64 {
	for len(b) >= 8 {
		h = mix(h, binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	var tail uint64
	for i, c := range b {
		tail |= uint64(c) << (8 * i)
	}
	return mix(h, tail^uint64(len(b))<<56)
}

// appendDump appends one line per field of the value at p, "name=value",
// for desync reports that compare two peers' states line by line. It stops
// at rollback.MaxStateDumpSize bytes, where the session would cut the dump
// anyway: formatting more costs time, and a longer dump makes the session
// copy it at every desync check.
func (l *layout) appendDump(dst []byte, p unsafe.Pointer) []byte {
	start := len(dst)
	const cut = "...\n"
	for _, f := range l.leaves {
		line := len(dst)
		if f.name == "" {
			dst = append(dst, "value"...)
		} else {
			dst = append(dst, f.name...)
		}
		dst = append(dst, '=')
		q := unsafe.Add(p, f.off)
		switch f.kind {
		case reflect.Bool:
			dst = strconv.AppendBool(dst, *(*bool)(q))
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			dst = strconv.AppendInt(dst, readInt(q, f.size), 10)
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			dst = strconv.AppendUint(dst, readUint(q, f.size), 10)
		case reflect.Float32:
			dst = strconv.AppendFloat(dst, float64(*(*float32)(q)), 'g', -1, 32)
		case reflect.Float64:
			dst = strconv.AppendFloat(dst, *(*float64)(q), 'g', -1, 64)
		case reflect.Complex64, reflect.Complex128:
			// Rare in game state: the bits, which is what determinism is about.
			dst = strconv.AppendUint(dst, readUint(q, f.size/2), 16)
			dst = append(dst, ',')
			dst = strconv.AppendUint(dst, readUint(unsafe.Add(q, f.size/2), f.size/2), 16)
		case reflect.String:
			dst = strconv.AppendQuote(dst, *(*string)(q))
		}
		dst = append(dst, '\n')
		if len(dst)-start > rollback.MaxStateDumpSize-len(cut) {
			return append(dst[:line], cut...)
		}
	}
	if l.truncated {
		dst = append(dst, cut...)
	}
	return dst
}

func readInt(p unsafe.Pointer, size uintptr) int64 {
	switch size {
	case 1:
		return int64(*(*int8)(p))
	case 2:
		return int64(*(*int16)(p))
	case 4:
		return int64(*(*int32)(p))
	default:
		return *(*int64)(p)
	}
}

func readUint(p unsafe.Pointer, size uintptr) uint64 {
	switch size {
	case 1:
		return uint64(*(*uint8)(p))
	case 2:
		return uint64(*(*uint16)(p))
	case 4:
		return uint64(*(*uint32)(p))
	default:
		return *(*uint64)(p)
	}
}

// valueCodec is the wire codec of a plain input type: each field
// little-endian in declaration order, with no padding; int and uint take 8
// bytes on every platform.
type valueCodec[I any] struct {
	fields []leaf
	floats []leaf // the float and complex fields (value_float.go)
	size   int
}

// errBadBool: a decoded bool byte was neither 0 nor 1, which no peer of
// ours encodes.
var errBadBool = errors.New("rollbox: input bool is neither 0 nor 1")

// newValueCodec returns the codec of I, or an error if I is not plain,
// holds a string (inputs have a fixed size on the wire) or is larger than
// rollback.MaxInputSize.
func newValueCodec[I any]() (*valueCodec[I], error) {
	t := reflect.TypeFor[I]()
	l, err := layoutOf(t)
	if err != nil {
		return nil, fmt.Errorf("rollbox: input type: %w", err)
	}
	if len(l.strings) > 0 {
		return nil, fmt.Errorf("rollbox: input type %v holds a string; inputs have a fixed size", t)
	}
	c := &valueCodec[I]{fields: l.leaves, floats: floatLeaves(l.leaves)}
	for _, f := range l.leaves {
		c.size += wireSize(f)
	}
	if l.truncated || c.size > rollback.MaxInputSize {
		return nil, fmt.Errorf("rollbox: input type %v takes more than %d bytes", t, rollback.MaxInputSize)
	}
	if c.size == 0 {
		return nil, fmt.Errorf("rollbox: input type %v has no fields", t)
	}
	return c, nil
}

func wireSize(f leaf) int {
	switch f.kind {
	case reflect.Int, reflect.Uint, reflect.Uintptr:
		return 8
	}
	return int(f.size)
}

// Size implements rollback.InputCodec.
func (c *valueCodec[I]) Size() int { return c.size }

// Encode implements rollback.InputCodec. It sends -0 as +0 (see
// value_float.go).
func (c *valueCodec[I]) Encode(dst []byte, in I) {
	in = c.canonical(in)
	p := unsafe.Pointer(&in)
	for _, f := range c.fields {
		q := unsafe.Add(p, f.off)
		n := wireSize(f)
		var v uint64
		switch f.kind {
		case reflect.Bool:
			if *(*bool)(q) {
				v = 1
			}
		case reflect.Int:
			v = uint64(*(*int)(q))
		case reflect.Uint:
			v = uint64(*(*uint)(q))
		case reflect.Uintptr:
			v = uint64(*(*uintptr)(q))
		case reflect.Complex64, reflect.Complex128:
			half := f.size / 2
			putUint(dst[:half], readUint(q, half))
			putUint(dst[half:n], readUint(unsafe.Add(q, half), half))
			dst = dst[n:]
			continue
		default:
			v = readUint(q, f.size)
		}
		putUint(dst[:n], v)
		dst = dst[n:]
	}
}

// Decode implements rollback.InputCodec. It accepts any src of Size bytes
// and refuses only bool bytes other than 0 and 1, floats of -0 (see
// value_float.go), and int or uint values a 32-bit platform cannot hold.
func (c *valueCodec[I]) Decode(src []byte) (I, error) {
	var in I
	if len(src) != c.size {
		return in, fmt.Errorf("rollbox: input is %d bytes, want %d", len(src), c.size)
	}
	p := unsafe.Pointer(&in)
	for _, f := range c.fields {
		q := unsafe.Add(p, f.off)
		n := wireSize(f)
		switch f.kind {
		case reflect.Bool:
			switch src[0] {
			case 0:
			case 1:
				*(*bool)(q) = true
			default:
				return in, errBadBool
			}
		case reflect.Int:
			v := int64(getUint(src[:8]))
			if int64(int(v)) != v {
				return in, fmt.Errorf("rollbox: input int %d does not fit this platform", v)
			}
			*(*int)(q) = int(v)
		case reflect.Uint, reflect.Uintptr:
			v := getUint(src[:8])
			if v > uint64(^uint(0)) {
				return in, fmt.Errorf("rollbox: input uint %d does not fit this platform", v)
			}
			if f.kind == reflect.Uint {
				*(*uint)(q) = uint(v)
			} else {
				*(*uintptr)(q) = uintptr(v)
			}
		case reflect.Complex64, reflect.Complex128:
			half := f.size / 2
			writeUint(q, half, getUint(src[:half]))
			writeUint(unsafe.Add(q, half), half, getUint(src[half:n]))
		default:
			writeUint(q, f.size, getUint(src[:n]))
		}
		src = src[n:]
	}
	if len(c.floats) > 0 && c.walkFloats(p, false) {
		var zero I
		return zero, errNegativeZero
	}
	return in, nil
}

func putUint(dst []byte, v uint64) {
	for i := range dst {
		dst[i] = byte(v >> (8 * i))
	}
}

func getUint(src []byte) uint64 {
	var v uint64
	for i, b := range src {
		v |= uint64(b) << (8 * i)
	}
	return v
}

func writeUint(p unsafe.Pointer, size uintptr, v uint64) {
	switch size {
	case 1:
		*(*uint8)(p) = uint8(v)
	case 2:
		*(*uint16)(p) = uint16(v)
	case 4:
		*(*uint32)(p) = uint32(v)
	default:
		*(*uint64)(p) = v
	}
}
