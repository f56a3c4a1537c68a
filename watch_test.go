package rollbox

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/rollbox/rollbox/packet"
	"github.com/rollbox/rollbox/rollback"
	"github.com/rollbox/rollbox/transport"
)

// flatState travels by its memory.
type flatState struct {
	A [3]int64
	B bool
	C float32
}

// marshaledState holds a slice, so it travels by its own encoding.
type marshaledState struct{ Items []byte }

func (s *marshaledState) MarshalBinary() ([]byte, error) { return append([]byte(nil), s.Items...), nil }
func (s *marshaledState) UnmarshalBinary(b []byte) error {
	s.Items = append([]byte(nil), b...)
	return nil
}

// stringState holds a string and no encoding: it cannot be sent.
type stringState struct{ Name string }

func TestStateWire(t *testing.T) {
	fw, err := newStateWire[flatState]()
	if err != nil || fw.encoding != stateRaw {
		t.Fatalf("flat state: encoding %d, %v", fw.encoding, err)
	}
	in := flatState{A: [3]int64{1, -2, 3}, B: true, C: 1.5}
	b, err := fw.append([]byte("x"), &in)
	if err != nil || b[0] != 'x' {
		t.Fatalf("append: %q, %v", b, err)
	}
	var out flatState
	if err := fw.load(b[1:], &out); err != nil || out != in {
		t.Fatalf("flat round trip: %+v, %v", out, err)
	}
	if err := fw.load(b[2:], &out); err == nil {
		t.Fatal("a flat state of the wrong size loaded")
	}

	mw, err := newStateWire[marshaledState]()
	if err != nil || mw.encoding != stateMarshaled {
		t.Fatalf("marshaled state: encoding %d, %v", mw.encoding, err)
	}
	ms := marshaledState{Items: []byte("abc")}
	b, _ = mw.append(nil, &ms)
	var mout marshaledState
	if err := mw.load(b, &mout); err != nil || string(mout.Items) != "abc" {
		t.Fatalf("marshaled round trip: %+v, %v", mout, err)
	}

	if _, err := newStateWire[stringState](); err == nil || !strings.Contains(err.Error(), "MarshalBinary") {
		t.Fatalf("string state: %v, want an error asking for MarshalBinary", err)
	}
}

func TestParseWatchState(t *testing.T) {
	good := appendWatchState(nil, watchState{start: 130, checksum: 0xfeed, encoding: stateRaw, state: []byte("state")})
	ws, err := parseWatchState(good)
	if err != nil || ws.start != 130 || ws.checksum != 0xfeed || string(ws.state) != "state" {
		t.Fatalf("round trip: %+v, %v", ws, err)
	}
	bad := func(edit func(b []byte) []byte) []byte { return edit(bytes.Clone(good)) }
	for name, b := range map[string][]byte{
		"short":     good[:watchStateHeader-1],
		"magic":     bad(func(b []byte) []byte { b[0] = 'x'; return b }),
		"version":   bad(func(b []byte) []byte { b[4] = 9; return b }),
		"encoding":  bad(func(b []byte) []byte { b[5] = 7; return b }),
		"frame":     bad(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[8:], 1<<63); return b }),
		"truncated": good[:len(good)-1],
		"extra":     append(bytes.Clone(good), 0),
	} {
		if _, err := parseWatchState(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseWatchState(f *testing.F) {
	f.Add(appendWatchState(nil, watchState{start: 130, checksum: 1, state: []byte("state")}))
	f.Add(appendWatchState(nil, watchState{encoding: stateMarshaled}))
	f.Add([]byte("rbxS"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ws, err := parseWatchState(data)
		if err != nil {
			return
		}
		if ws.start < 0 || len(ws.state) != len(data)-watchStateHeader {
			t.Fatalf("accepted %+v from %d bytes", ws, len(data))
		}
		// Everything but the reserved bytes survives a round trip.
		if again := appendWatchState(nil, ws); !bytes.Equal(again[:6], data[:6]) || !bytes.Equal(again[8:], data[8:]) {
			t.Fatalf("re-encoded %x as %x", data, again)
		}
	})
}

// memSocket is a packet.Socket that records what it sends and hands out
// what a test queues.
type memSocket struct {
	known []transport.PeerID
	sent  []transport.PeerID
	in    []packet.Packet[transport.PeerID]
}

func (s *memSocket) Send(to transport.PeerID, _ []byte) error {
	for _, k := range s.known {
		if k == to {
			s.sent = append(s.sent, to)
			return nil
		}
	}
	return transport.ErrUnknownPeer
}

func (s *memSocket) Receive() []packet.Packet[transport.PeerID] {
	in := s.in
	s.in = nil
	return in
}

// The host's session socket sends to a late spectator through the watch
// room, to players through the match's mesh, drops packets to a spectator
// before the watch room is attached, and receives from both.
func TestUnionSocket(t *testing.T) {
	main := &memSocket{known: []transport.PeerID{"player"}}
	watch := &memSocket{known: []transport.PeerID{"watcher"}}
	u := newUnionSocket(main)
	u.watchers["watcher"] = rollback.PlayerHandle(2)
	if err := u.Send("watcher", nil); !errors.Is(err, transport.ErrUnknownPeer) {
		t.Fatalf("send to a watcher before the watch room: %v, want a dropped packet", err)
	}
	u.watch = watch
	if err := u.Send("watcher", nil); err != nil {
		t.Fatal(err)
	}
	if err := u.Send("player", nil); err != nil {
		t.Fatal(err)
	}
	if len(main.sent) != 1 || main.sent[0] != "player" || len(watch.sent) != 1 || watch.sent[0] != "watcher" {
		t.Fatalf("mesh sent to %v, watch room to %v", main.sent, watch.sent)
	}
	main.in = []packet.Packet[transport.PeerID]{{From: "player"}}
	watch.in = []packet.Packet[transport.PeerID]{{From: "watcher"}}
	got := u.Receive()
	if len(got) != 2 || got[0].From != "player" || got[1].From != "watcher" {
		t.Fatalf("received %v", got)
	}
}
