package rollbox

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/rollbox/rollbox/rollback"
)

// FuzzRejoinMsg: parseRejoinMsg never panics; what it accepts is within
// the documented bounds, and encodes to a message it accepts again, alike.
func FuzzRejoinMsg(f *testing.F) {
	f.Add([]byte(`{"t":"rejoin","match":"m","handle":2,"key":"k"}`))
	f.Add([]byte(`{"t":"here","handle":0,"handles":[0,1]}`))
	f.Add([]byte(`{"t":"admit","handle":1,"id":3,"from":10,"at":70}`))
	f.Add([]byte(`{"t":"welcome","handle":1,"id":3,"from":10,"at":70,"players":[{"Disconnected":true,"LastFrame":4}],"size":5,"sum":9,"enc":1,"keys":["a","b"]}`))
	f.Add([]byte(`{"t":"refuse","handle":0,"err":"<no>"}`))
	f.Add([]byte(`{"t":"abort","handle":-1}`))
	f.Add([]byte(`{"T":"admitted","Handle":1e3}`))
	f.Add([]byte(`["t"]`))
	const maxState = 1 << 16
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseRejoinMsg(b, maxState)
		if err != nil {
			return
		}
		switch {
		case len(b) > rejoinMsgMax:
			t.Fatalf("accepted %d bytes", len(b))
		case m.Handle < 0 || m.Handle >= rollback.MaxPlayers:
			t.Fatalf("accepted handle %d", m.Handle)
		case len(m.Handles) > rollback.MaxPlayers || len(m.Players) > rollback.MaxPlayers || len(m.Keys) > rollback.MaxPlayers:
			t.Fatal("accepted too many players")
		case m.From < 0 || m.At < m.From:
			t.Fatalf("accepted from %d at %d", m.From, m.At)
		case m.Size < 0 || m.Size > maxState:
			t.Fatalf("accepted a state of %d bytes", m.Size)
		case len(m.Match) > 64 || len(m.Key) > 64 || len(m.Err) > 512:
			t.Fatal("accepted an overlong field")
		}
		for _, h := range m.Handles {
			if h < 0 || h >= rollback.MaxPlayers {
				t.Fatalf("accepted player %d", h)
			}
		}
		for _, k := range m.Keys {
			if len(k) > 64 {
				t.Fatal("accepted an overlong key")
			}
		}
		e := m.encode()
		if len(e) > rejoinMsgMax {
			// JSON escapes some characters in six bytes: an accepted
			// message re-encoded may exceed the bound. The messages this
			// package builds are checked by TestRejoinMsgFits.
			return
		}
		m2, err := parseRejoinMsg(e, maxState)
		if err != nil {
			t.Fatalf("%s: re-encoded as %s, refused: %v", b, e, err)
		}
		if e2 := m2.encode(); !bytes.Equal(e, e2) {
			t.Fatalf("%s: encodes as %s, then as %s", b, e, e2)
		}
	})
}

// TestRejoinMsgFits: the largest messages the protocol sends, a welcome
// and a here of a match of MaxPlayers players, fit rejoinMsgMax and parse.
func TestRejoinMsgFits(t *testing.T) {
	w := rejoinMsg{T: msgWelcome, Handle: MaxPlayers - 1, ID: 1<<64 - 1, From: 1<<31 - 2, At: 1<<31 - 1,
		Size: maxRejoinState, Sum: 1<<64 - 1, Enc: 255}
	here := rejoinMsg{T: msgHere}
	for h := range MaxPlayers {
		w.Players = append(w.Players, rollback.ResumeStatus{Disconnected: true, LastFrame: 1<<31 - 3})
		w.Keys = append(w.Keys, newRejoinKey())
		here.Handles = append(here.Handles, h)
	}
	for _, m := range []rejoinMsg{w, here, {T: msgRejoin, Match: strings.Repeat("f", 24), Handle: MaxPlayers - 1, Key: newRejoinKey()}} {
		b := m.encode()
		if _, err := parseRejoinMsg(b, maxRejoinState); err != nil {
			t.Errorf("%s of %d bytes: %v", m.T, len(b), err)
		}
	}
}

// FuzzRejoinPeers feeds arbitrary control messages, from a stranger and
// from a second program presenting the returning player's key, to the
// players still playing and to the returning player while it comes back:
// nothing panics, and the two honest players who stayed play on and agree.
func FuzzRejoinPeers(f *testing.F) {
	f.Add([]byte("\x00{\"t\":\"rejoin\",\"match\":\"match\",\"handle\":2,\"key\":\"k2\"}\n\x01{\"t\":\"admit\",\"handle\":2,\"id\":1}"))
	f.Add([]byte("\x03{\"t\":\"welcome\",\"handle\":2,\"id\":1,\"size\":30,\"players\":[{},{},{}]}\n\x03rbxC\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x1e\x00\x00\x00\x00\x00\x00\x00abc"))
	f.Add([]byte("\x04{\"t\":\"abort\",\"handle\":0}\n\x05{\"t\":\"admitted\",\"handle\":2,\"id\":1,\"err\":\"no\"}\n\x06{\"t\":\"here\",\"handle\":0,\"handles\":[0,1,2]}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<12 {
			return
		}
		a := newAttackSim(t, 51)
		a.startTo(120)
		a.dropAndWait(2)
		honest, addr := a.guestFor(2, "k2")
		msgs := bytes.Split(data, []byte("\n"))
		for i := 0; a.net.Now() < 30*time.Second || i < len(msgs); i++ {
			if i < len(msgs) && len(msgs[i]) > 0 {
				// First byte: bit 0, the sender (a stranger, or a copy of
				// the returning player at address 3 that knows its key);
				// bits 1-2, the recipient (the players who stayed or the
				// honest returning player).
				from := []int{7, 3}[msgs[i][0]&1]
				to := []int{a.addr[0], a.addr[1], addr, addr}[msgs[i][0]>>1&3]
				a.sendAs(from, to, rejoinMsg{})
				_ = a.ctl.socket(from).Send(to, msgs[i][1:])
			}
			if _, err := honest.poll(a.peersOf(2), a.cfg.clock()); err != nil {
				t.Fatalf("the returning player gave up: %v", err)
			}
			a.step()
		}
		// The returning player's fate is the hostile copy's to decide;
		// the two who stayed play on (a readmission that never completes
		// holds them 15 s at most) and agree.
		a.live[2] = false
		a.agree(a.runners[0].frame + 600)
	})
}
