package signalwire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Kind says which message a frame holds.
type Kind uint8

// The messages of the protocol. Clients send KeepAlive and Signal; servers
// send IDAssigned, NewPeer, PeerLeft and Signal.
const (
	// KeepAlive is the bare string "KeepAlive" that clients send every 10 s.
	KeepAlive Kind = iota + 1
	// Signal carries data between two peers: from a client it names the
	// receiver, from the server the sender.
	Signal
	// IDAssigned, the server's first frame on a connection, tells a client
	// its own id.
	IDAssigned
	// NewPeer tells a client of a peer that joined its room.
	NewPeer
	// PeerLeft tells a client that a peer of its room left.
	PeerLeft
)

// String returns the message's name on the wire.
func (k Kind) String() string {
	switch k {
	case KeepAlive:
		return "KeepAlive"
	case Signal:
		return "Signal"
	case IDAssigned:
		return "IdAssigned"
	case NewPeer:
		return "NewPeer"
	case PeerLeft:
		return "PeerLeft"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Errors returned by the parsers. Both mean "drop the frame"; they differ
// only so that metrics can tell broken peers from newer protocol versions.
var (
	// ErrMalformed means the frame is not valid JSON of a message's shape.
	ErrMalformed = errors.New("signalwire: malformed message")
	// ErrUnknownMessage means well-formed JSON naming a message we do not know.
	ErrUnknownMessage = errors.New("signalwire: unknown message")
	// ErrInvalidUTF8 means the frame is not UTF-8, which every text frame
	// must be (RFC 6455 section 8.1): relayed, it would make the receiving
	// browser close its WebSocket. It wraps ErrMalformed; a server closes
	// the sender with status 1007 (invalid frame payload data).
	ErrInvalidUTF8 = fmt.Errorf("%w: not UTF-8", ErrMalformed)
)

// ClientMessage is one client-to-server frame.
type ClientMessage struct {
	Kind     Kind            // KeepAlive or Signal
	Receiver PeerID          // Signal only
	Data     json.RawMessage // Signal only: one JSON value, byte for byte
}

// ServerMessage is one server-to-client frame.
type ServerMessage struct {
	Kind Kind // IDAssigned, NewPeer, PeerLeft or Signal
	// Peer is the id IDAssigned assigns, the peer NewPeer and PeerLeft
	// are about, or the sender of a Signal.
	Peer PeerID
	Data json.RawMessage // Signal only: one JSON value, byte for byte
}

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
	if msg, ok := parseClientCanonical(frame); ok {
		return msg, nil
	}
	return parseClientGeneral(frame)
}

// ParseServerMessage decodes one text frame from a server, as
// ParseClientMessage does a client's. Peer ids are returned lowercase, as
// serde's Uuid prints them.
func ParseServerMessage(frame []byte) (ServerMessage, error) {
	if !utf8.Valid(frame) {
		return ServerMessage{}, ErrInvalidUTF8
	}
	frame = bytes.TrimSpace(frame)
	if msg, ok := parseServerCanonical(frame); ok {
		return msg, nil
	}
	return parseServerGeneral(frame)
}

// parseClientGeneral decodes any spelling of a client message, as serde would.
func parseClientGeneral(frame []byte) (ClientMessage, error) {
	if len(frame) > 0 && frame[0] == '"' {
		var name string
		if err := json.Unmarshal(frame, &name); err != nil {
			return ClientMessage{}, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if name == "KeepAlive" {
			return ClientMessage{Kind: KeepAlive}, nil
		}
		return ClientMessage{}, fmt.Errorf("%w: %.40q", ErrUnknownMessage, name)
	}
	tag, body, err := enumObject(frame)
	if err != nil {
		return ClientMessage{}, err
	}
	if tag != "Signal" {
		return ClientMessage{}, fmt.Errorf("%w: %.40q", ErrUnknownMessage, tag)
	}
	receiver, data, err := signalBody(body, "receiver")
	if err != nil {
		return ClientMessage{}, err
	}
	return ClientMessage{Kind: Signal, Receiver: receiver, Data: data}, nil
}

// parseServerGeneral decodes any spelling of a server message, as serde would.
func parseServerGeneral(frame []byte) (ServerMessage, error) {
	tag, body, err := enumObject(frame)
	if err != nil {
		return ServerMessage{}, err
	}
	var kind Kind
	switch tag {
	case "Signal":
		sender, data, err := signalBody(body, "sender")
		if err != nil {
			return ServerMessage{}, err
		}
		return ServerMessage{Kind: Signal, Peer: sender, Data: data}, nil
	case "IdAssigned":
		kind = IDAssigned
	case "NewPeer":
		kind = NewPeer
	case "PeerLeft":
		kind = PeerLeft
	default:
		return ServerMessage{}, fmt.Errorf("%w: %.40q", ErrUnknownMessage, tag)
	}
	id, ok := peerIDValue(body)
	if !ok {
		return ServerMessage{}, fmt.Errorf("%w: %s must be a peer id", ErrMalformed, tag)
	}
	return ServerMessage{Kind: kind, Peer: id}, nil
}

// enumObject splits a frame of the form {"Tag":body}, or says why it is not
// one. A unit variant (a bare JSON string) is the caller's to handle.
func enumObject(frame []byte) (tag string, body json.RawMessage, err error) {
	if len(frame) == 0 {
		return "", nil, fmt.Errorf("%w: empty frame", ErrMalformed)
	}
	if frame[0] != '{' {
		if json.Valid(frame) {
			return "", nil, fmt.Errorf("%w: not an enum value", ErrUnknownMessage)
		}
		return "", nil, fmt.Errorf("%w: not JSON", ErrMalformed)
	}
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(frame, &outer); err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(outer) != 1 {
		return "", nil, fmt.Errorf("%w: an enum object needs exactly one key, got %d", ErrMalformed, len(outer))
	}
	for tag, body = range outer { // exactly one key
	}
	return tag, body, nil
}

// signalBody decodes the body of a Signal: {peerField: id, "data": value}.
func signalBody(body json.RawMessage, peerField string) (PeerID, json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return "", nil, fmt.Errorf("%w: Signal must be an object", ErrMalformed)
	}
	id, ok := peerIDValue(fields[peerField])
	if !ok {
		return "", nil, fmt.Errorf("%w: Signal.%s must be a peer id", ErrMalformed, peerField)
	}
	data, ok := fields["data"]
	if !ok {
		return "", nil, fmt.Errorf("%w: Signal.data is missing", ErrMalformed)
	}
	return id, data, nil
}

// peerIDValue decodes a JSON string holding a peer id, lowercase: serde
// parses the id as a Uuid, which prints lowercase.
func peerIDValue(v json.RawMessage) (PeerID, bool) {
	var s string
	if err := json.Unmarshal(v, &s); err != nil || !ValidPeerID(s) {
		return "", false
	}
	return PeerID(strings.ToLower(s)), true
}

// The canonical frames, exactly as serde writes them.
const (
	keepAliveFrame = `"KeepAlive"`
	clientSignal   = `{"Signal":{"receiver":"`
	serverSignal   = `{"Signal":{"sender":"`
	signalMid      = `","data":`
	signalTail     = `}}`
)

// parseClientCanonical reads the two frames every matchbox client sends, in
// the exact shape serde writes them, without reflection: it is the relay's
// hot path, and the reflective decoder costs CPU and a deeper reader stack.
// Any other spelling of a valid message falls through to the general
// decoder.
func parseClientCanonical(frame []byte) (ClientMessage, bool) {
	if string(frame) == keepAliveFrame {
		return ClientMessage{Kind: KeepAlive}, true
	}
	receiver, data, ok := canonicalSignal(frame, clientSignal)
	if !ok {
		return ClientMessage{}, false
	}
	return ClientMessage{Kind: Signal, Receiver: receiver, Data: data}, true
}

// parseServerCanonical reads the frames a server writes, in the exact shape
// serde writes them, as parseClientCanonical does a client's.
func parseServerCanonical(frame []byte) (ServerMessage, bool) {
	if sender, data, ok := canonicalSignal(frame, serverSignal); ok {
		return ServerMessage{Kind: Signal, Peer: sender, Data: data}, true
	}
	for _, kind := range [...]Kind{IDAssigned, NewPeer, PeerLeft} {
		rest, ok := bytes.CutPrefix(frame, []byte(`{"`+kind.String()+`":"`))
		if !ok {
			continue
		}
		if len(rest) != peerIDLen+2 || string(rest[peerIDLen:]) != `"}` {
			return ServerMessage{}, false
		}
		id, ok := canonicalID(rest[:peerIDLen])
		if !ok {
			return ServerMessage{}, false
		}
		return ServerMessage{Kind: kind, Peer: id}, true
	}
	return ServerMessage{}, false
}

// canonicalSignal reads head + id + `","data":` + value + `}}`. The data is
// copied, so that the frame may be reused.
func canonicalSignal(frame []byte, head string) (PeerID, json.RawMessage, bool) {
	rest, ok := bytes.CutPrefix(frame, []byte(head))
	if !ok || len(rest) < peerIDLen+len(signalMid)+2 {
		return "", nil, false
	}
	idBytes := rest[:peerIDLen]
	rest, ok = bytes.CutPrefix(rest[peerIDLen:], []byte(signalMid))
	if !ok {
		return "", nil, false
	}
	id, ok := canonicalID(idBytes)
	if !ok {
		return "", nil, false
	}
	data, ok := bytes.CutSuffix(rest, []byte(signalTail))
	data = bytes.TrimSpace(data)
	// data must be one JSON value: then the frame is exactly the canonical
	// object. Anything else (more fields, an unbalanced value) is left to the
	// general decoder, which judges it the way serde would.
	if !ok || len(data) == 0 || !json.Valid(data) {
		return "", nil, false
	}
	return id, bytes.Clone(data), true
}

// canonicalID converts a lowercase peer id; upper case is left to the
// general decoder, which lowercases it.
func canonicalID(b []byte) (PeerID, bool) {
	if bytes.ContainsAny(b, "ABCDEF") {
		return "", false
	}
	id := PeerID(b) // one conversion serves the check and the result
	return id, ValidPeerID(string(id))
}

// Append appends m's frame to dst. Receiver must be a peer id and Data one
// JSON value (empty Data is sent as null); Data goes out byte for byte.
func (m ClientMessage) Append(dst []byte) []byte {
	if m.Kind == KeepAlive {
		return append(dst, keepAliveFrame...)
	}
	return appendSignal(dst, clientSignal, m.Receiver, m.Data)
}

// Encode returns m's frame in a new slice of exactly its length.
func (m ClientMessage) Encode() []byte {
	if m.Kind == KeepAlive {
		return []byte(keepAliveFrame)
	}
	return m.Append(make([]byte, 0, len(clientSignal)+len(m.Receiver)+len(signalMid)+dataLen(m.Data)+len(signalTail)))
}

// Append appends m's frame to dst. Peer must be a peer id and a Signal's
// Data one JSON value (empty Data is sent as null); Data goes out byte for
// byte.
func (m ServerMessage) Append(dst []byte) []byte {
	if m.Kind == Signal {
		return appendSignal(dst, serverSignal, m.Peer, m.Data)
	}
	dst = append(dst, `{"`...)
	dst = append(dst, m.Kind.String()...)
	dst = append(dst, `":`...)
	dst = appendID(dst, m.Peer)
	return append(dst, '}')
}

// Encode returns m's frame in a new slice of exactly its length: the relay
// makes one allocation per frame it sends.
func (m ServerMessage) Encode() []byte {
	n := len(`{"":""}`) + len(m.Kind.String()) + len(m.Peer)
	if m.Kind == Signal {
		n = len(serverSignal) + len(m.Peer) + len(signalMid) + dataLen(m.Data) + len(signalTail)
	}
	return m.Append(make([]byte, 0, n))
}

// dataLen is the length of data as appendSignal writes it.
func dataLen(data []byte) int {
	if len(data) == 0 {
		return len("null")
	}
	return len(data)
}

func appendSignal(dst []byte, head string, peer PeerID, data []byte) []byte {
	dst = append(dst, head[:len(head)-1]...) // all but the id's opening quote
	dst = appendID(dst, peer)
	dst = append(dst, signalMid[1:]...)
	if len(data) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, data...)
	}
	return append(dst, signalTail...)
}

// appendID appends id as a JSON string. Ids never need escaping, but one
// that does is escaped rather than trusted to break the frame.
func appendID(dst []byte, id PeerID) []byte {
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			b, _ := json.Marshal(string(id)) // a string always marshals
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, id...)
	return append(dst, '"')
}
