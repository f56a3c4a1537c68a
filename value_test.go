package rollbox

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/rollbox/rollbox/rollback"
)

// padded has padding after A (7 bytes) and after C (6 bytes) on every
// 64-bit platform.
type padded struct {
	A int8
	B int64
	C uint16
}

// nested exercises every layout rule: nested structs, an array of padded
// structs, strings, and a dense array.
type nested struct {
	X     uint16
	In    padded
	Name  string
	Boxes [3]padded
	Dense [4]int32
	Flag  bool
}

func TestLayoutNestedStructs(t *testing.T) {
	l, err := layoutOf(reflect.TypeFor[nested]())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range l.leaves {
		names = append(names, f.name)
	}
	want := []string{"X", "In.A", "In.B", "In.C", "Name",
		"Boxes[0].A", "Boxes[0].B", "Boxes[0].C", "Boxes[1].A", "Boxes[1].B", "Boxes[1].C",
		"Boxes[2].A", "Boxes[2].B", "Boxes[2].C",
		"Dense[0]", "Dense[1]", "Dense[2]", "Dense[3]", "Flag"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("leaves %q, want %q", names, want)
	}
	var v nested
	base := uintptr(unsafe.Pointer(&v))
	offsets := map[string]uintptr{
		"X": uintptr(unsafe.Pointer(&v.X)) - base, "In.B": uintptr(unsafe.Pointer(&v.In.B)) - base,
		"Name": uintptr(unsafe.Pointer(&v.Name)) - base, "Boxes[2].C": uintptr(unsafe.Pointer(&v.Boxes[2].C)) - base,
		"Dense[3]": uintptr(unsafe.Pointer(&v.Dense[3])) - base, "Flag": uintptr(unsafe.Pointer(&v.Flag)) - base,
	}
	for _, f := range l.leaves {
		if off, ok := offsets[f.name]; ok && f.off != off {
			t.Errorf("%s at offset %d, want %d", f.name, f.off, off)
		}
	}
	if !reflect.DeepEqual(l.strings, []uintptr{offsets["Name"]}) {
		t.Errorf("strings at %v, want [%d]", l.strings, offsets["Name"])
	}
	// The spans cover exactly the bytes of the non-string leaves: none of
	// the padding, none of the string header.
	covered := make([]bool, unsafe.Sizeof(v))
	for _, s := range l.spans {
		for i := s.off; i < s.off+s.size; i++ {
			if covered[i] {
				t.Fatalf("byte %d in two spans", i)
			}
			covered[i] = true
		}
	}
	leafBytes := make([]bool, unsafe.Sizeof(v))
	for _, f := range l.leaves {
		if f.kind == reflect.String {
			continue
		}
		for i := f.off; i < f.off+f.size; i++ {
			leafBytes[i] = true
		}
	}
	if !reflect.DeepEqual(covered, leafBytes) {
		t.Errorf("spans %v cover bytes %v, want the leaves' %v", l.spans, covered, leafBytes)
	}
	// Adjacent fields merge: Dense and Flag are one run.
	for _, s := range l.spans {
		if s.off == offsets["Dense[3]"]-12 && s.size != 17 {
			t.Errorf("Dense and Flag: span %v, want one of 17 bytes", s)
		}
	}
}

func TestLayoutBigArray(t *testing.T) {
	type world struct {
		Cells [1 << 20]int32
		Tick  int64
	}
	l, err := layoutOf(reflect.TypeFor[world]())
	if err != nil {
		t.Fatal(err)
	}
	// A dense array is one run of bytes however long (merged with Tick),
	// and the dump names only as many fields as it can show.
	if want := []span{{0, unsafe.Sizeof(world{})}}; !reflect.DeepEqual(l.spans, want) {
		t.Errorf("%d spans starting %v, want %v", len(l.spans), l.spans[:min(len(l.spans), 4)], want)
	}
	if !l.truncated || len(l.leaves) != maxDumpLeaves {
		t.Errorf("%d leaves (truncated %v), want %d and truncated", len(l.leaves), l.truncated, maxDumpLeaves)
	}
	w := new(world)
	w.Cells[1<<20-1] = 7
	a := l.checksum(unsafe.Pointer(w))
	w.Cells[1<<20-1] = 8
	if l.checksum(unsafe.Pointer(w)) == a {
		t.Error("the last cell of a big array is not hashed")
	}
	w.Tick = 1
	if l.checksum(unsafe.Pointer(w)) == a {
		t.Error("a field after a big array is not hashed")
	}
	// The dump stops where the session would cut it, on a line boundary.
	head := []byte("head\n")
	dump := l.appendDump(head, unsafe.Pointer(w))
	if !bytes.HasPrefix(dump, head) {
		t.Fatalf("dump lost its prefix: %q", dump[:10])
	}
	dump = dump[len(head):]
	if len(dump) > rollback.MaxStateDumpSize || len(dump) < rollback.MaxStateDumpSize-30 || !bytes.HasSuffix(dump, []byte("]=0\n...\n")) {
		t.Errorf("dump of %d bytes ending %q, want at most %d ending in a whole line and ...", len(dump), dump[max(0, len(dump)-20):], rollback.MaxStateDumpSize)
	}
}

func TestLayoutArrayOfPaddedStructs(t *testing.T) {
	l, err := layoutOf(reflect.TypeFor[[4]padded]())
	if err != nil {
		t.Fatal(err)
	}
	// Per element: A alone, then B and C together; the padding between
	// them and after C is never hashed.
	var want []span
	for i := range uintptr(4) {
		base := i * unsafe.Sizeof(padded{})
		want = append(want, span{base, 1}, span{base + 8, 10})
	}
	if !reflect.DeepEqual(l.spans, want) {
		t.Errorf("spans %v, want %v", l.spans, want)
	}
}

func TestLayoutRefusesNonPlainTypes(t *testing.T) {
	type inner[T any] struct {
		OK  int
		Bad T
	}
	type outer[T any] struct {
		N    int
		List [2]inner[T]
	}
	for _, tc := range []struct {
		typ  reflect.Type
		kind reflect.Kind
	}{
		{reflect.TypeFor[outer[[]int]](), reflect.Slice},
		{reflect.TypeFor[outer[map[int]int]](), reflect.Map},
		{reflect.TypeFor[outer[*int]](), reflect.Pointer},
		{reflect.TypeFor[outer[any]](), reflect.Interface},
		{reflect.TypeFor[outer[func()]](), reflect.Func},
		{reflect.TypeFor[outer[chan int]](), reflect.Chan},
		{reflect.TypeFor[outer[unsafe.Pointer]](), reflect.UnsafePointer},
	} {
		t.Run(tc.kind.String(), func(t *testing.T) {
			_, err := layoutOf(tc.typ)
			var np *notPlainError
			if !errors.As(err, &np) {
				t.Fatalf("error %v, want a *notPlainError", err)
			}
			if np.field != "List[0].Bad" || np.kind != tc.kind {
				t.Errorf("names field %q kind %v, want List[0].Bad kind %v", np.field, np.kind, tc.kind)
			}
			if msg := err.Error(); !strings.Contains(msg, "List[0].Bad is a "+tc.kind.String()) {
				t.Errorf("error %q does not name the field and its kind", msg)
			}
		})
	}
	_, err := layoutOf(reflect.TypeFor[[]int]())
	if err == nil || !strings.Contains(err.Error(), "the type itself is a slice") {
		t.Errorf("a slice type: error %v, want one saying the type itself is a slice", err)
	}
}

func TestChecksumIgnoresPadding(t *testing.T) {
	l, err := layoutOf(reflect.TypeFor[nested]())
	if err != nil {
		t.Fatal(err)
	}
	a := nested{X: 1, In: padded{A: 2, B: 3, C: 4}, Name: "box", Flag: true}
	b := a
	// Scribble over every padding byte of b: memory the spans do not
	// cover and that is not a string header.
	covered := make([]bool, unsafe.Sizeof(b))
	for _, s := range l.spans {
		for i := s.off; i < s.off+s.size; i++ {
			covered[i] = true
		}
	}
	for _, off := range l.strings {
		for i := off; i < off+unsafe.Sizeof(""); i++ {
			covered[i] = true
		}
	}
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&b)), unsafe.Sizeof(b))
	padding := 0
	for i, c := range covered {
		if !c {
			raw[i] = 0xa5
			padding++
		}
	}
	if padding < 20 {
		t.Fatalf("only %d padding bytes: the test type lost its padding", padding)
	}
	if bytes.Equal(raw, unsafe.Slice((*byte)(unsafe.Pointer(&a)), unsafe.Sizeof(a))) {
		t.Fatal("the scribble did not change b's memory")
	}
	if l.checksum(unsafe.Pointer(&a)) != l.checksum(unsafe.Pointer(&b)) {
		t.Error("two values differing only in padding hash differently")
	}
	// Equal strings at different addresses hash alike.
	b = a
	b.Name = strings.Clone(a.Name)
	if unsafe.StringData(b.Name) == unsafe.StringData(a.Name) {
		t.Fatal("strings.Clone shared the bytes")
	}
	if l.checksum(unsafe.Pointer(&a)) != l.checksum(unsafe.Pointer(&b)) {
		t.Error("equal strings at different addresses hash differently")
	}
}

// everyKind has a field of every plain kind.
type everyKind struct {
	B    bool
	I    int
	I8   int8
	I16  int16
	I32  int32
	I64  int64
	U    uint
	U8   uint8
	U16  uint16
	U32  uint32
	U64  uint64
	UP   uintptr
	F32  float32
	F64  float64
	C64  complex64
	C128 complex128
	S    string
	Arr  [2]padded
}

func TestChecksumCoversEveryField(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[everyKind](), reflect.TypeFor[nested]()} {
		l, err := layoutOf(typ)
		if err != nil {
			t.Fatal(err)
		}
		p := reflect.New(typ).UnsafePointer()
		base := l.checksum(p)
		for _, f := range l.leaves {
			q := unsafe.Add(p, f.off)
			if f.kind == reflect.String {
				seen := map[uint64]string{base: ""}
				for _, s := range []string{"a", "b", "ab", "ba", "\x00", "\x00\x00", "12345678", "12345679"} {
					*(*string)(q) = s
					sum := l.checksum(p)
					if other, dup := seen[sum]; dup {
						t.Errorf("%v: %s %q hashes as %q", typ, f.name, s, other)
					}
					seen[sum] = s
				}
				*(*string)(q) = ""
				continue
			}
			// Every byte of every field counts.
			for i := range f.size {
				b := (*byte)(unsafe.Add(q, i))
				if f.kind == reflect.Bool {
					*b = 1
				} else {
					*b = 0x80
				}
				if l.checksum(p) == base {
					t.Errorf("%v: byte %d of %s does not change the checksum", typ, i, f.name)
				}
				*b = 0
				if f.kind == reflect.Bool {
					break
				}
			}
		}
		if l.checksum(p) != base {
			t.Fatalf("%v: the zero value hashes differently after the test restored it", typ)
		}
	}
	// A string's bytes cannot move to the next string unnoticed.
	type two struct{ A, B string }
	l, _ := layoutOf(reflect.TypeFor[two]())
	zeros := "\x00\x00\x00\x00\x00\x00\x00\x00"
	for _, pair := range [][2]two{
		{{"ab", ""}, {"a", "b"}},
		{{"", "ab"}, {"a", "b"}},
		// Whole words of zeros move between strings unless their
		// lengths are hashed.
		{{"abcdefgh" + zeros, ""}, {"abcdefgh", zeros}},
	} {
		x, y := pair[0], pair[1]
		if l.checksum(unsafe.Pointer(&x)) == l.checksum(unsafe.Pointer(&y)) {
			t.Errorf("%q and %q hash alike", x, y)
		}
	}
}

func TestDumpLines(t *testing.T) {
	type small struct {
		Pos   [2]int16
		Name  string
		Alive bool
		Speed float32
		Big   uint64
		Sub   struct{ F float64 }
		C     complex64
	}
	l, err := layoutOf(reflect.TypeFor[small]())
	if err != nil {
		t.Fatal(err)
	}
	v := small{Pos: [2]int16{-3, 4}, Name: "a\"b\n", Alive: true, Speed: 1.5, Big: math.MaxUint64}
	v.Sub.F = 0.1
	v.C = complex(float32(1), float32(-2))
	got := string(l.appendDump([]byte("head\n"), unsafe.Pointer(&v)))
	want := "head\n" +
		"Pos[0]=-3\nPos[1]=4\n" +
		`Name="a\"b\n"` + "\n" +
		"Alive=true\nSpeed=1.5\nBig=18446744073709551615\nSub.F=0.1\n" +
		"C=3f800000,c0000000\n"
	if got != want {
		t.Errorf("dump\n%s\nwant\n%s", got, want)
	}
	ls, _ := layoutOf(reflect.TypeFor[int32]())
	n := int32(-7)
	if got := string(ls.appendDump(nil, unsafe.Pointer(&n))); got != "value=-7\n" {
		t.Errorf("dump of a scalar: %q, want %q", got, "value=-7\n")
	}
}

func TestValueCodecRoundTrip(t *testing.T) {
	type input struct {
		Buttons uint16
		Fire    bool
		Aim     [2]int8
		I       int
		U       uint
		F       float32
		C       complex64
		Sub     struct {
			Jump bool
			Dx   int32
		}
	}
	c, err := newValueCodec[input]()
	if err != nil {
		t.Fatal(err)
	}
	// No padding on the wire, int and uint 8 bytes.
	if want := 2 + 1 + 2 + 8 + 8 + 4 + 8 + 1 + 4; c.Size() != want {
		t.Fatalf("Size %d, want %d", c.Size(), want)
	}
	in := input{Buttons: 0x0102, Fire: true, Aim: [2]int8{-1, 5}, I: -1 << 40, U: 1<<63 + 3, F: -2.5, C: complex(1, 2)}
	in.Sub.Jump, in.Sub.Dx = true, -9
	buf := make([]byte, c.Size())
	c.Encode(buf, in)
	if buf[0] != 0x02 || buf[1] != 0x01 || buf[2] != 1 || buf[3] != 0xff {
		t.Errorf("wire bytes %x: want little-endian fields in declaration order", buf)
	}
	out, err := c.Decode(buf)
	if err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Errorf("round trip %+v, want %+v", out, in)
	}
	if _, err := c.Decode(buf[:len(buf)-1]); err == nil {
		t.Error("a short input decodes")
	}
	if _, err := c.Decode(append(buf, 0)); err == nil {
		t.Error("a long input decodes")
	}
}

func TestValueCodecRefusesBadBools(t *testing.T) {
	type input struct {
		X    uint8
		Fire bool
		Jump bool
	}
	c, err := newValueCodec[input]()
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []int{1, 2} {
		for b := 2; b < 256; b++ {
			src := []byte{7, 0, 1}
			src[at] = byte(b)
			if _, err := c.Decode(src); !errors.Is(err, errBadBool) {
				t.Fatalf("bool byte %d at %d: error %v, want errBadBool", b, at, err)
			}
		}
	}
	if in, err := c.Decode([]byte{7, 0, 1}); err != nil || in != (input{7, false, true}) {
		t.Errorf("valid bools decode to %+v, %v", in, err)
	}
}

func TestValueCodecRefusesUnfitTypes(t *testing.T) {
	ok := func(err error) {
		t.Helper()
		if err != nil {
			t.Error(err)
		}
	}
	refused := func(err error, want string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want one containing %q", err, want)
		}
	}
	_, err := newValueCodec[[rollback.MaxInputSize]byte]()
	ok(err)
	_, err = newValueCodec[[rollback.MaxInputSize / 8]int]()
	ok(err)
	_, err = newValueCodec[[rollback.MaxInputSize + 1]byte]()
	refused(err, "more than 64 bytes")
	// int is 8 bytes on the wire even where it is 4 in memory.
	_, err = newValueCodec[[rollback.MaxInputSize/8 + 1]int]()
	refused(err, "more than 64 bytes")
	// Too many fields for the layout to list: refused, not truncated.
	_, err = newValueCodec[[1 << 20]bool]()
	refused(err, "more than 64 bytes")
	_, err = newValueCodec[struct {
		Name string
		X    int8
	}]()
	refused(err, "holds a string")
	_, err = newValueCodec[struct{ Keys []byte }]()
	refused(err, "Keys is a slice")
	_, err = newValueCodec[struct{}]()
	refused(err, "has no fields")
}

// fuzzInput has a field of every kind an input can hold, and padding.
type fuzzInput struct {
	B   bool
	I8  int8
	U16 uint16
	I32 int32
	U64 uint64
	I   int
	U   uint
	F32 float32
	F64 float64
	C64 complex64
	Arr [2]struct {
		X bool
		Y int16
	}
}

// sameFuzzInput compares by memory (but for padding, by the spans of l),
// so that NaNs with the same bits are equal.
func sameFuzzInput(l *layout, a, b fuzzInput) bool {
	for _, s := range l.spans {
		x := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(&a), s.off)), s.size)
		y := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(&b), s.off)), s.size)
		if !bytes.Equal(x, y) {
			return false
		}
	}
	return true
}

func FuzzValueCodecDecode(f *testing.F) {
	c, err := newValueCodec[fuzzInput]()
	if err != nil {
		f.Fatal(err)
	}
	l, err := layoutOf(reflect.TypeFor[fuzzInput]())
	if err != nil {
		f.Fatal(err)
	}
	valid := make([]byte, c.Size())
	f.Add(valid)
	c.Encode(valid, fuzzInput{B: true, I: -1, F64: math.NaN(), U64: 1 << 63})
	f.Add(valid)
	f.Add([]byte{2})
	f.Add(bytes.Repeat([]byte{0xff}, c.Size()))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 2*rollback.MaxInputSize {
			// Longer than any input: refused by its length alone, and
			// the fuzzer's time is better spent on short ones.
			if _, err := c.Decode(data); err == nil {
				t.Fatalf("decoded %d bytes", len(data))
			}
			return
		}
		// Any bytes: an error or a value, never a panic; a value encodes
		// back to the same bytes.
		in, err := c.Decode(data)
		if err == nil {
			again := make([]byte, c.Size())
			c.Encode(again, in)
			if !bytes.Equal(again, data) {
				t.Fatalf("decoded %+v from %x, which encodes to %x", in, data, again)
			}
		}
		// A value built from the bytes survives a round trip.
		var x fuzzInput
		raw := unsafe.Slice((*byte)(unsafe.Pointer(&x)), unsafe.Sizeof(x))
		copy(raw, data)
		x.B = len(data) > 0 && data[0]&1 == 1
		for i := range x.Arr {
			x.Arr[i].X = len(data) > i+1 && data[i+1]&1 == 1
		}
		buf := make([]byte, c.Size())
		c.Encode(buf, x)
		y, err := c.Decode(buf)
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", x, err)
		}
		if !sameFuzzInput(l, c.canonical(x), y) { // -0 travels as +0
			t.Fatalf("decode(encode(%+v)) = %+v", x, y)
		}
	})
}
