package signalwire

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseClientMessage(t *testing.T) {
	id := NewPeerID()
	for _, tc := range []struct {
		in   string
		want ClientMessage
		err  error
	}{
		{`"KeepAlive"`, ClientMessage{Kind: KeepAlive}, nil},
		{" \"KeepAlive\"\n", ClientMessage{Kind: KeepAlive}, nil},
		{`{"Signal":{"receiver":"` + string(id) + `","data":{"Offer":"sdp"}}}`, ClientMessage{Kind: Signal, Receiver: id, Data: json.RawMessage(`{"Offer":"sdp"}`)}, nil},
		{`{"Signal":{"data":null,"receiver":"` + string(id) + `","extra":1}}`, ClientMessage{Kind: Signal, Receiver: id, Data: json.RawMessage(`null`)}, nil},
		{`{"Signal":{"receiver":"E0E9A2AA-620B-4CB9-BE14-E7EE91E0F4EB","data":1}}`, ClientMessage{Kind: Signal, Receiver: "e0e9a2aa-620b-4cb9-be14-e7ee91e0f4eb", Data: json.RawMessage(`1`)}, nil},
		{`"Bye"`, ClientMessage{}, ErrUnknownMessage},
		{`{"Uuid":"x"}`, ClientMessage{}, ErrUnknownMessage},
		{`{"NewPeer":"` + string(id) + `"}`, ClientMessage{}, ErrUnknownMessage}, // a server's message
		{`42`, ClientMessage{}, ErrUnknownMessage},
		{``, ClientMessage{}, ErrMalformed},
		{`{`, ClientMessage{}, ErrMalformed},
		{`{}`, ClientMessage{}, ErrMalformed},
		{`{"Signal":1}`, ClientMessage{}, ErrMalformed},
		{`{"Signal":null}`, ClientMessage{}, ErrMalformed},
		{`{"Signal":{"receiver":"` + string(id) + `"}}`, ClientMessage{}, ErrMalformed},
		{`{"Signal":{"receiver":"` + string(id)[1:] + `x","data":1}}`, ClientMessage{}, ErrMalformed},
		{`{"Signal":{"sender":"` + string(id) + `","data":1}}`, ClientMessage{}, ErrMalformed}, // a server's Signal
		{`"KeepAlive" "KeepAlive"`, ClientMessage{}, ErrMalformed},
		// Text frames must be UTF-8 (RFC 6455 section 8.1); JSON escapes
		// of any code point are fine.
		{`{"Signal":{"receiver":"` + string(id) + `","data":"\ud800 é"}}`, ClientMessage{Kind: Signal, Receiver: id, Data: json.RawMessage(`"\ud800 é"`)}, nil},
		{`{"Signal":{"receiver":"` + string(id) + `","data":"` + "\xff" + `"}}`, ClientMessage{}, ErrInvalidUTF8},
		{`{"Signal":{"data":"` + "\xc3" + `","receiver":"` + string(id) + `"}}`, ClientMessage{}, ErrInvalidUTF8},
		{`{"Signal":{"receiver":"` + string(id) + `","data":"` + "\xed\xa0\x80" + `"}}`, ClientMessage{}, ErrInvalidUTF8}, // a surrogate, encoded
		{"\"KeepAlive\"\xff", ClientMessage{}, ErrInvalidUTF8},
	} {
		got, err := ParseClientMessage([]byte(tc.in))
		if !errors.Is(err, tc.err) || got.Kind != tc.want.Kind || got.Receiver != tc.want.Receiver || !bytes.Equal(got.Data, tc.want.Data) {
			t.Errorf("ParseClientMessage(%q) = %+v, %v; want %+v, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestParseServerMessage(t *testing.T) {
	id := NewPeerID()
	for _, tc := range []struct {
		in   string
		want ServerMessage
		err  error
	}{
		{`{"IdAssigned":"` + string(id) + `"}`, ServerMessage{Kind: IDAssigned, Peer: id}, nil},
		{`{"NewPeer":"` + string(id) + `"}`, ServerMessage{Kind: NewPeer, Peer: id}, nil},
		{`{"PeerLeft":"` + string(id) + `"}`, ServerMessage{Kind: PeerLeft, Peer: id}, nil},
		{` { "PeerLeft" : "` + string(id) + `" } `, ServerMessage{Kind: PeerLeft, Peer: id}, nil},
		{`{"NewPeer":"E0E9A2AA-620B-4CB9-BE14-E7EE91E0F4EB"}`, ServerMessage{Kind: NewPeer, Peer: "e0e9a2aa-620b-4cb9-be14-e7ee91e0f4eb"}, nil},
		{`{"Signal":{"sender":"` + string(id) + `","data":{"Answer":"sdp"}}}`, ServerMessage{Kind: Signal, Peer: id, Data: json.RawMessage(`{"Answer":"sdp"}`)}, nil},
		{`{"Signal":{"data":[1, 2],"sender":"` + string(id) + `"}}`, ServerMessage{Kind: Signal, Peer: id, Data: json.RawMessage(`[1, 2]`)}, nil},
		{`"KeepAlive"`, ServerMessage{}, ErrUnknownMessage}, // a client's message
		{`{"Welcome":1}`, ServerMessage{}, ErrUnknownMessage},
		{`{"IdAssigned":"` + string(id) + `x"}`, ServerMessage{}, ErrMalformed},
		{`{"IdAssigned":""}`, ServerMessage{}, ErrMalformed},
		{`{"NewPeer":1}`, ServerMessage{}, ErrMalformed},
		{`{"NewPeer":"` + string(id) + `","PeerLeft":"` + string(id) + `"}`, ServerMessage{}, ErrMalformed},
		{`{"Signal":{"receiver":"` + string(id) + `","data":1}}`, ServerMessage{}, ErrMalformed}, // a client's Signal
		{`{"Signal":{"sender":"` + string(id) + `"}}`, ServerMessage{}, ErrMalformed},
		{`{"PeerLeft":"` + string(id) + `"`, ServerMessage{}, ErrMalformed},
		{``, ServerMessage{}, ErrMalformed},
		{`{"NewPeer":"` + string(id) + "\xff\"}", ServerMessage{}, ErrInvalidUTF8},
	} {
		got, err := ParseServerMessage([]byte(tc.in))
		if !errors.Is(err, tc.err) || got.Kind != tc.want.Kind || got.Peer != tc.want.Peer || !bytes.Equal(got.Data, tc.want.Data) {
			t.Errorf("ParseServerMessage(%q) = %+v, %v; want %+v, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestNewPeerIDIsUUIDv4(t *testing.T) {
	seen := map[PeerID]bool{}
	for range 1000 {
		id := NewPeerID()
		if !ValidPeerID(string(id)) || id[14] != '4' || !bytes.ContainsAny([]byte{id[19]}, "89ab") {
			t.Fatalf("%s is not a UUID v4", id)
		}
		if bytes.ContainsAny([]byte(id), "ABCDEF") {
			t.Fatalf("%s is not lowercase", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
	}
}

// TestFramesAreMatchboxJSON: the encoders write what matchbox_protocol's
// serde writes, and Encode allocates exactly the frame's length.
func TestFramesAreMatchboxJSON(t *testing.T) {
	id := NewPeerID()
	for _, tc := range []struct {
		frame []byte
		want  string
	}{
		{ServerMessage{Kind: IDAssigned, Peer: id}.Encode(), `{"IdAssigned":"` + string(id) + `"}`},
		{ServerMessage{Kind: NewPeer, Peer: id}.Encode(), `{"NewPeer":"` + string(id) + `"}`},
		{ServerMessage{Kind: PeerLeft, Peer: id}.Encode(), `{"PeerLeft":"` + string(id) + `"}`},
		{ServerMessage{Kind: Signal, Peer: id, Data: []byte(`[1]`)}.Encode(), `{"Signal":{"sender":"` + string(id) + `","data":[1]}}`},
		{ServerMessage{Kind: Signal, Peer: id}.Encode(), `{"Signal":{"sender":"` + string(id) + `","data":null}}`},
		{ClientMessage{Kind: KeepAlive}.Encode(), `"KeepAlive"`},
		{ClientMessage{Kind: Signal, Receiver: id, Data: []byte(`{"Offer":"v=0"}`)}.Encode(), `{"Signal":{"receiver":"` + string(id) + `","data":{"Offer":"v=0"}}}`},
		{ClientMessage{Kind: Signal, Receiver: id}.Encode(), `{"Signal":{"receiver":"` + string(id) + `","data":null}}`},
		// An id that would break the frame is escaped, never trusted.
		{ServerMessage{Kind: NewPeer, Peer: `a"b`}.Encode(), `{"NewPeer":"a\"b"}`},
		{ClientMessage{Kind: Signal, Receiver: `\`, Data: []byte(`1`)}.Encode(), `{"Signal":{"receiver":"\\","data":1}}`},
	} {
		if string(tc.frame) != tc.want {
			t.Errorf("got %s, want %s", tc.frame, tc.want)
		}
		if cap(tc.frame) != len(tc.frame) && !bytes.Contains(tc.frame, []byte(`\`)) {
			t.Errorf("%s: capacity %d, length %d", tc.frame, cap(tc.frame), len(tc.frame))
		}
	}
}

// TestEncodeAllocatesOnce: the relay's send path makes one allocation per
// frame.
func TestEncodeAllocatesOnce(t *testing.T) {
	m := ServerMessage{Kind: Signal, Peer: NewPeerID(), Data: []byte(`{"IceCandidate":"x"}`)}
	if n := testing.AllocsPerRun(100, func() { _ = m.Encode() }); n != 1 {
		t.Errorf("Encode made %v allocations, want 1", n)
	}
}

// TestImportsStayLight: the browser build of the transport imports this
// package, so it must not pull in net/http, WebSocket libraries or anything
// else that weighs on a WebAssembly binary.
func TestImportsStayLight(t *testing.T) {
	allowed := map[string]bool{"bytes": true, "crypto/rand": true, "encoding/json": true, "errors": true, "fmt": true, "strings": true, "unicode/utf8": true}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if !allowed[path] {
				t.Errorf("%s imports %s", name, path)
			}
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no source files found")
	}
}

// FuzzParseClientMessage: no input panics, every frame accepted is UTF-8
// (and every one refused for its encoding is not), and every accepted
// signal re-encodes, as the relay sends it on, as a valid JSON, UTF-8 frame
// carrying its data byte for byte.
func FuzzParseClientMessage(f *testing.F) {
	id := string(NewPeerID())
	for _, seed := range []string{
		`"KeepAlive"`, `{"Signal":{"receiver":"` + id + `","data":{"Offer":"v=0"}}}`,
		`{"Signal":{"receiver":"` + id + `","data":{"IceCandidate":"null"}}}`,
		`{"Signal":{"receiver":"` + id + `"}}`, `{"Uuid":"a"}`, `{`, `[]`, `"`, "\x00", `{"Signal":{"receiver":"` + id + `","data":"\ud800"}}`,
		`{"Signal":{"receiver":"` + id + `","data":"` + "\xff" + `"}}`, `{"Signal":{"data":"` + "\xc3\xa9\xc3" + `","receiver":"` + id + `"}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		msg, err := ParseClientMessage(in)
		// The fast path must agree with the general decoder on every input it takes.
		if fast, ok := parseClientCanonical(bytes.TrimSpace(in)); ok {
			general, gerr := parseClientGeneral(bytes.TrimSpace(in))
			if gerr != nil || general.Kind != fast.Kind || general.Receiver != fast.Receiver || !bytes.Equal(general.Data, fast.Data) {
				t.Fatalf("fast path %+v, general decoder %+v, %v", fast, general, gerr)
			}
		}
		if !checkParseError(t, in, err) {
			return
		}
		switch msg.Kind {
		case KeepAlive:
			if back, err := ParseClientMessage(msg.Encode()); err != nil || back.Kind != KeepAlive {
				t.Fatalf("KeepAlive re-encoded parses as %+v, %v", back, err)
			}
		case Signal:
			if !ValidPeerID(string(msg.Receiver)) {
				t.Fatalf("accepted receiver %q", msg.Receiver)
			}
			if back, err := ParseClientMessage(msg.Encode()); err != nil || back.Kind != Signal || back.Receiver != msg.Receiver || !bytes.Equal(back.Data, msg.Data) {
				t.Fatalf("%+v re-encoded parses as %+v, %v", msg, back, err)
			}
			checkRelayed(t, ServerMessage{Kind: Signal, Peer: PeerID(id), Data: msg.Data})
		default:
			t.Fatalf("unknown kind %d", msg.Kind)
		}
	})
}

// FuzzParseServerMessage: no input panics, the fast path agrees with the
// general decoder, and every message accepted re-encodes to a frame that
// parses back to it.
func FuzzParseServerMessage(f *testing.F) {
	id := string(NewPeerID())
	for _, seed := range []string{
		`{"IdAssigned":"` + id + `"}`, `{"NewPeer":"` + id + `"}`, `{"PeerLeft":"` + id + `"}`,
		`{"Signal":{"sender":"` + id + `","data":{"Offer":"v=0"}}}`, `{"Signal":{"sender":"` + id + `"}}`,
		`{"NewPeer":"` + strings.ToUpper(id) + `"}`, `"KeepAlive"`, `{`, `[]`, "\xff",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		msg, err := ParseServerMessage(in)
		if fast, ok := parseServerCanonical(bytes.TrimSpace(in)); ok {
			general, gerr := parseServerGeneral(bytes.TrimSpace(in))
			if gerr != nil || general.Kind != fast.Kind || general.Peer != fast.Peer || !bytes.Equal(general.Data, fast.Data) {
				t.Fatalf("fast path %+v, general decoder %+v, %v", fast, general, gerr)
			}
		}
		if !checkParseError(t, in, err) {
			return
		}
		switch msg.Kind {
		case IDAssigned, NewPeer, PeerLeft, Signal:
		default:
			t.Fatalf("unknown kind %d", msg.Kind)
		}
		if !ValidPeerID(string(msg.Peer)) || strings.ToLower(string(msg.Peer)) != string(msg.Peer) {
			t.Fatalf("accepted peer %q", msg.Peer)
		}
		checkRelayed(t, msg)
	})
}

// checkParseError checks a parser's error against its input, and reports
// whether the frame was accepted.
func checkParseError(t *testing.T, in []byte, err error) bool {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownMessage) {
			t.Fatalf("unclassified error %v", err)
		}
		if errors.Is(err, ErrInvalidUTF8) != !utf8.Valid(in) {
			t.Fatalf("error %v for a frame whose UTF-8 validity is %v", err, utf8.Valid(in))
		}
		return false
	}
	// Browsers close the WebSocket on a text frame that is not UTF-8.
	if !utf8.Valid(in) {
		t.Fatalf("accepted a frame that is not UTF-8: %q", in)
	}
	return true
}

// checkRelayed checks that m encodes to a valid JSON, UTF-8 frame that
// parses back to m, its data byte for byte.
func checkRelayed(t *testing.T, m ServerMessage) {
	t.Helper()
	out := m.Encode()
	if !json.Valid(out) || !utf8.Valid(out) {
		t.Fatalf("frame %q is not UTF-8 JSON", out)
	}
	back, err := ParseServerMessage(out)
	if err != nil || back.Kind != m.Kind || back.Peer != m.Peer || !bytes.Equal(back.Data, m.Data) {
		t.Fatalf("%+v encoded as %q parses as %+v, %v", m, out, back, err)
	}
}

// BenchmarkParseClientMessage parses the frames a relay sees most: a
// typical ICE candidate signal and a large SDP offer.
//
//	go test -run '^$' -bench ParseClientMessage ./signalwire
func BenchmarkParseClientMessage(b *testing.B) {
	id := string(NewPeerID())
	for _, bc := range []struct{ name, data string }{
		{"candidate", `{"IceCandidate":"{\"candidate\":\"candidate:1 1 udp 2122260223 192.168.1.20 50000 typ host\",\"sdpMid\":\"0\",\"sdpMLineIndex\":0,\"usernameFragment\":null}"}`},
		{"offer-8KiB", `{"Offer":"` + strings.Repeat("a=candidate:1 1 udp 1 10.0.0.1 9 typ host\\r\\n", 8<<10/44) + `"}`},
	} {
		frame := []byte(`{"Signal":{"receiver":"` + id + `","data":` + bc.data + `}}`)
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseClientMessage(frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
