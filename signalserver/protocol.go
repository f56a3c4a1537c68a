package signalserver

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// PeerID is a peer's id: a lowercase, hyphenated UUID v4 made by the server.
type PeerID string

// NewPeerID returns a fresh random UUID v4.
func NewPeerID() PeerID {
	var b [16]byte
	_, _ = rand.Read(b[:])  // crypto/rand.Read never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	const hexdigits = "0123456789abcdef"
	var s [36]byte
	j := 0
	for i, v := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j] = hexdigits[v>>4]
		s[j+1] = hexdigits[v&0x0f]
		j += 2
	}
	return PeerID(s[:])
}

// ValidPeerID reports whether s has the UUID text form matchbox clients send
// (8-4-4-4-12 hex digits). Upper-case hex is accepted, as serde's Uuid does.
func ValidPeerID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// MessageKind says which client message a frame holds.
type MessageKind uint8

// The messages a matchbox client sends.
const (
	// KeepAlive is the bare string "KeepAlive" that clients send every 10 s.
	KeepAlive MessageKind = iota + 1
	// Signal is {"Signal":{"receiver":ID,"data":...}}: data to relay to a peer.
	Signal
)

// ClientMessage is one parsed client-to-server frame.
type ClientMessage struct {
	Kind     MessageKind
	Receiver PeerID          // Signal only
	Data     json.RawMessage // Signal only: the data value exactly as received
}

// Errors returned by ParseClientMessage. Both mean "drop the frame"; they differ
// only so that metrics can tell broken clients from newer protocol versions.
var (
	// ErrMalformed means the frame is not valid JSON of a client message shape.
	ErrMalformed = errors.New("signalserver: malformed message")
	// ErrUnknownMessage means well-formed JSON naming a message we do not know.
	ErrUnknownMessage = errors.New("signalserver: unknown message")
	// ErrInvalidUTF8 means the frame is not UTF-8, which every text frame
	// must be (RFC 6455 section 8.1): relayed, it would make the receiving
	// browser close its WebSocket. It wraps ErrMalformed; the server closes
	// the sender with status 1007 (invalid frame payload data).
	ErrInvalidUTF8 = fmt.Errorf("%w: not UTF-8", ErrMalformed)
)

// ParseClientMessage decodes one text frame from a client, following serde's
// externally tagged enum encoding that matchbox_protocol uses. The returned
// Data aliases a copy, never frame, so frame may be reused by the caller.
// A frame that is not UTF-8 is refused with ErrInvalidUTF8: encoding/json
// lets invalid bytes through inside strings.
func ParseClientMessage(frame []byte) (ClientMessage, error) {
	if !utf8.Valid(frame) {
		return ClientMessage{}, ErrInvalidUTF8
	}
	frame = bytes.TrimSpace(frame)
	if msg, ok := parseCanonical(frame); ok {
		return msg, nil
	}
	return parseGeneral(frame)
}

// parseGeneral decodes any spelling of a client message, as serde would.
func parseGeneral(frame []byte) (ClientMessage, error) {
	if len(frame) == 0 {
		return ClientMessage{}, fmt.Errorf("%w: empty frame", ErrMalformed)
	}
	switch frame[0] {
	case '"':
		var name string
		if err := json.Unmarshal(frame, &name); err != nil {
			return ClientMessage{}, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if name == "KeepAlive" {
			return ClientMessage{Kind: KeepAlive}, nil
		}
		return ClientMessage{}, fmt.Errorf("%w: %.40q", ErrUnknownMessage, name)
	case '{':
		var outer map[string]json.RawMessage
		if err := json.Unmarshal(frame, &outer); err != nil {
			return ClientMessage{}, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if len(outer) != 1 {
			return ClientMessage{}, fmt.Errorf("%w: an enum object needs exactly one key, got %d", ErrMalformed, len(outer))
		}
		body, ok := outer["Signal"]
		if !ok {
			for name := range outer { // exactly one key
				return ClientMessage{}, fmt.Errorf("%w: %.40q", ErrUnknownMessage, name)
			}
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
			return ClientMessage{}, fmt.Errorf("%w: Signal must be an object", ErrMalformed)
		}
		var receiver string
		if err := json.Unmarshal(fields["receiver"], &receiver); err != nil || !ValidPeerID(receiver) {
			return ClientMessage{}, fmt.Errorf("%w: Signal.receiver must be a peer id", ErrMalformed)
		}
		data, ok := fields["data"]
		if !ok {
			return ClientMessage{}, fmt.Errorf("%w: Signal.data is missing", ErrMalformed)
		}
		// serde parses the id as a Uuid, which prints lowercase: match that.
		return ClientMessage{Kind: Signal, Receiver: PeerID(strings.ToLower(receiver)), Data: data}, nil
	default:
		if json.Valid(frame) {
			return ClientMessage{}, fmt.Errorf("%w: not an enum value", ErrUnknownMessage)
		}
		return ClientMessage{}, fmt.Errorf("%w: not JSON", ErrMalformed)
	}
}

// parseCanonical reads the two frames every matchbox client sends, in the
// exact shape serde writes them, without reflection: it is the relay's hot
// path, and the reflective decoder costs CPU and a deeper reader stack. Any
// other spelling of a valid message falls through to the general decoder.
func parseCanonical(frame []byte) (ClientMessage, bool) {
	const keepAlive = `"KeepAlive"`
	if string(frame) == keepAlive {
		return ClientMessage{Kind: KeepAlive}, true
	}
	const head, mid = `{"Signal":{"receiver":"`, `","data":`
	const idLen = 36
	rest, ok := bytes.CutPrefix(frame, []byte(head))
	if !ok || len(rest) < idLen+len(mid)+2 {
		return ClientMessage{}, false
	}
	id := rest[:idLen]
	rest, ok = bytes.CutPrefix(rest[idLen:], []byte(mid))
	if !ok || bytes.ContainsAny(id, "ABCDEF") {
		return ClientMessage{}, false
	}
	receiver := PeerID(id) // one conversion serves the check and the result
	if !ValidPeerID(string(receiver)) {
		return ClientMessage{}, false
	}
	data, ok := bytes.CutSuffix(rest, []byte("}}"))
	data = bytes.TrimSpace(data)
	// data must be one JSON value: then the frame is exactly the canonical
	// object. Anything else (more fields, an unbalanced value) is left to the
	// general decoder, which judges it the way serde would.
	if !ok || len(data) == 0 || !json.Valid(data) {
		return ClientMessage{}, false
	}
	return ClientMessage{Kind: Signal, Receiver: receiver, Data: bytes.Clone(data)}, true
}

// Server-to-client frames. Peer ids never need JSON escaping: the server makes
// them and they are hex and hyphens only.

func idAssignedFrame(id PeerID) []byte { return tagged("IdAssigned", id) }
func newPeerFrame(id PeerID) []byte    { return tagged("NewPeer", id) }
func peerLeftFrame(id PeerID) []byte   { return tagged("PeerLeft", id) }

func tagged(tag string, id PeerID) []byte {
	b := make([]byte, 0, len(tag)+len(id)+7)
	b = append(b, `{"`...)
	b = append(b, tag...)
	b = append(b, `":"`...)
	b = append(b, id...)
	return append(b, `"}`...)
}

// signalFrame builds {"Signal":{"sender":S,"data":D}} with D byte for byte.
func signalFrame(sender PeerID, data []byte) []byte {
	const head, mid, tail = `{"Signal":{"sender":"`, `","data":`, `}}`
	b := make([]byte, 0, len(head)+len(sender)+len(mid)+len(data)+len(tail))
	b = append(b, head...)
	b = append(b, sender...)
	b = append(b, mid...)
	b = append(b, data...)
	return append(b, tail...)
}
