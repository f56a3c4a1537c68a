package signalserver

import (
	"bytes"
	"encoding/json"
	"errors"
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
		{`42`, ClientMessage{}, ErrUnknownMessage},
		{``, ClientMessage{}, ErrMalformed},
		{`{`, ClientMessage{}, ErrMalformed},
		{`{}`, ClientMessage{}, ErrMalformed},
		{`{"Signal":1}`, ClientMessage{}, ErrMalformed},
		{`{"Signal":null}`, ClientMessage{}, ErrMalformed},
		{`{"Signal":{"receiver":"` + string(id) + `"}}`, ClientMessage{}, ErrMalformed},
		{`{"Signal":{"receiver":"` + string(id)[1:] + `x","data":1}}`, ClientMessage{}, ErrMalformed},
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

func TestServerFramesAreMatchboxJSON(t *testing.T) {
	id := NewPeerID()
	for frame, want := range map[string]string{
		string(idAssignedFrame(id)):            `{"IdAssigned":"` + string(id) + `"}`,
		string(newPeerFrame(id)):               `{"NewPeer":"` + string(id) + `"}`,
		string(peerLeftFrame(id)):              `{"PeerLeft":"` + string(id) + `"}`,
		string(signalFrame(id, []byte(`[1]`))): `{"Signal":{"sender":"` + string(id) + `","data":[1]}}`,
	} {
		if frame != want {
			t.Errorf("got %s, want %s", frame, want)
		}
	}
}

// FuzzParseClientMessage: no input panics, every frame accepted is UTF-8
// (and every one refused for its encoding is not), and every accepted
// signal re-encodes as a valid JSON, UTF-8 frame carrying its data byte for
// byte.
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
		if fast, ok := parseCanonical(bytes.TrimSpace(in)); ok {
			general, gerr := parseGeneral(bytes.TrimSpace(in))
			if gerr != nil || general.Kind != fast.Kind || general.Receiver != fast.Receiver || !bytes.Equal(general.Data, fast.Data) {
				t.Fatalf("fast path %+v, general decoder %+v, %v", fast, general, gerr)
			}
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownMessage) {
				t.Fatalf("unclassified error %v", err)
			}
			if errors.Is(err, ErrInvalidUTF8) != !utf8.Valid(in) {
				t.Fatalf("error %v for a frame whose UTF-8 validity is %v", err, utf8.Valid(in))
			}
			return
		}
		// Browsers close the WebSocket on a text frame that is not UTF-8.
		if !utf8.Valid(in) {
			t.Fatalf("accepted a frame that is not UTF-8: %q", in)
		}
		switch msg.Kind {
		case KeepAlive:
		case Signal:
			if !ValidPeerID(string(msg.Receiver)) {
				t.Fatalf("accepted receiver %q", msg.Receiver)
			}
			out := signalFrame(PeerID(id), msg.Data)
			var back struct {
				Signal struct {
					Sender string
					Data   json.RawMessage
				}
			}
			if err := json.Unmarshal(out, &back); err != nil {
				t.Fatalf("relayed frame %q is not JSON: %v", out, err)
			}
			if !bytes.Equal(back.Signal.Data, msg.Data) {
				t.Fatalf("data changed: %q -> %q", msg.Data, back.Signal.Data)
			}
			if !utf8.Valid(out) {
				t.Fatalf("relayed frame %q is not UTF-8", out)
			}
		default:
			t.Fatalf("unknown kind %d", msg.Kind)
		}
	})
}

// BenchmarkParseClientMessage parses the frames the relay sees most: a
// typical ICE candidate signal and a large SDP offer.
//
//	go test -run '^$' -bench ParseClientMessage ./signalserver
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
