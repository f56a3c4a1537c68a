//go:build js

package rollbox

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"syscall/js"
	"time"
)

// In a browser a player's rejoin record lives in the page's sessionStorage:
// it survives a reload of the page (the tab's session), which is how a
// player comes back after one, and it belongs to that tab alone, so two
// tabs of the same game never take each other's record. A tab holds its
// record while its match plays; a reload starts the page again, which
// claims it. The record is stored as on disk (rejoinFile), under a key made
// from the scope.

// rejoinSessionStorage is what defaultRejoinDir returns in a browser: the
// store keeps its record in sessionStorage ("" keeps nothing).
const rejoinSessionStorage = "sessionStorage"

// rejoinStore keeps this tab's record of one scope.
type rejoinStore struct {
	on     bool   // keeps anything at all
	scope  string // hex sha256 of the scope
	item   string // the sessionStorage key
	maxAge time.Duration
	now    func() time.Time
	held   bool
	rec    rejoinRecord
}

func openRejoinStore(dir, scope string) *rejoinStore {
	sum := sha256.Sum256([]byte(scope))
	h := hex.EncodeToString(sum[:])
	return &rejoinStore{on: dir != "", scope: h, item: "rollbox-rejoin-" + h[:16], maxAge: rejoinDefaultMaxAge, now: time.Now}
}

func defaultRejoinDir() string { return rejoinSessionStorage }

// storage returns sessionStorage, or false where there is none (a worker,
// a page that forbids it).
func storage() (st js.Value, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	st = js.Global().Get("sessionStorage")
	return st, st.Truthy()
}

// call calls sessionStorage's method, turning a JavaScript exception (a
// full quota, storage disabled) into an error.
func call(method string, args ...any) (v js.Value, err error) {
	st, ok := storage()
	if !ok {
		return js.Undefined(), errors.New("rollbox: this page has no sessionStorage")
	}
	defer func() {
		if e := recover(); e != nil {
			err = fmt.Errorf("rollbox: sessionStorage.%s: %v", method, e)
		}
	}()
	return st.Call(method, args...), nil
}

// claim returns the record a reload of this page left, if fresh, and holds
// it.
func (s *rejoinStore) claim(now time.Time) (rejoinRecord, bool, error) {
	if !s.on || s.held {
		return rejoinRecord{}, false, nil
	}
	v, err := call("getItem", s.item)
	if err != nil || v.Type() != js.TypeString {
		return rejoinRecord{}, false, err
	}
	f, err := decodeRejoinFile([]byte(v.String()))
	if err != nil || f.Scope != s.scope || now.Sub(time.UnixMilli(f.Touched)) > s.maxAge || now.Before(time.UnixMilli(f.Touched).Add(-time.Minute)) {
		_, _ = call("removeItem", s.item)
		return rejoinRecord{}, false, nil
	}
	s.held, s.rec = true, f.Record
	return f.Record, true, s.write(now)
}

func (s *rejoinStore) hold(rec rejoinRecord) error {
	if !s.on {
		return nil
	}
	if err := rec.validate(); err != nil {
		return err
	}
	s.held, s.rec = true, rec
	return s.write(s.now())
}

func (s *rejoinStore) touch(frame int) error {
	if !s.on || !s.held {
		return nil
	}
	if frame >= 0 {
		s.rec.Frame = frame
	}
	return s.write(s.now())
}

func (s *rejoinStore) write(now time.Time) error {
	b, err := json.Marshal(rejoinFile{Scope: s.scope, Touched: now.UnixMilli(), Record: s.rec})
	if err != nil {
		return err
	}
	_, err = call("setItem", s.item, string(b))
	return err
}

// release deletes the record: the match ended or was closed.
func (s *rejoinStore) release() error {
	if !s.on || !s.held {
		return nil
	}
	s.held = false
	_, err := call("removeItem", s.item)
	return err
}

// close stops holding the record and keeps it.
func (s *rejoinStore) close() error {
	s.held = false
	return nil
}
