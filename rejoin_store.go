//go:build !js

package rollbox

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// A player peer whose process dies (crash, SIGKILL) and is started again with
// the same command line comes back as the same player: while its match
// plays, it keeps a rejoin record on disk, and at start it claims the record
// that a dead process left behind.
//
// Several peers of one match may run on one machine with identical command
// lines, so a restarted process must take the record of a process that died,
// never one of a live process. Each record therefore lives in a slot, and a
// live process holds its slot: on the unix systems with flock(2), by an
// exclusive lock on the slot's lock file, which the kernel releases when the
// process dies, however it dies. A record whose slot nobody holds belongs to
// a dead process. Elsewhere (see rejoin_store_other.go) a record touched in
// the last rejoinHeldFreshness counts as held.
//
// Files of one scope, in the store's directory, for slot n in 0..15:
//
//	<hex sha256(scope)[:16]>-<n>.json  the record, replaced atomically (temp file + rename)
//	<hex sha256(scope)[:16]>-<n>.lock  the lock file; never renamed over, so a lock on it is
//	                                   a lock on the slot
const (
	// rejoinSlots bounds the records of one scope: as many peers of one
	// command line as can run on one machine at once.
	rejoinSlots = 16
	// rejoinHeldFreshness is, where locks are not available, how recently a
	// record must have been touched to count as held by a live process. The
	// running match touches its record about every second.
	rejoinHeldFreshness = 3 * time.Second
	// rejoinSweepLimit bounds the directory entries of other scopes a claim
	// inspects for stale records, so a crowded directory costs a bounded time.
	rejoinSweepLimit = 256
)

// rejoinStore keeps the records of one command line (one scope) in one
// directory, and the slot this process holds, if any. A store is used by one
// goroutine at a time.
type rejoinStore struct {
	dir    string // "" for a store that keeps nothing
	scope  string // hex sha256 of the scope
	prefix string // scope[:16], the file names' prefix
	maxAge time.Duration
	now    func() time.Time // the clock of hold and touch; tests replace it

	slot int          // the slot held, or -1
	lock slotLock     // the lock on slot, where locks exist
	rec  rejoinRecord // the record in slot
}

// openRejoinStore returns the store of scope (a string made by the caller
// from what identifies a command line: server, room, players, local players,
// game type) in dir. With dir "" (no disk, as in a browser) the store keeps
// nothing: claim finds nothing and the other methods do nothing. Opening
// touches no file; errors come from the methods.
func openRejoinStore(dir, scope string) *rejoinStore {
	sum := sha256.Sum256([]byte(scope))
	h := hex.EncodeToString(sum[:])
	return &rejoinStore{dir: dir, scope: h, prefix: h[:16], maxAge: rejoinDefaultMaxAge, now: time.Now, slot: -1}
}

// defaultRejoinDir is where rejoin records are kept by default: a directory
// under the user's cache directory, or "" where there is none (then nothing
// is kept).
func defaultRejoinDir() string {
	if runtime.GOOS == "wasip1" {
		return ""
	}
	d, err := os.UserCacheDir()
	if err != nil || d == "" {
		return ""
	}
	return filepath.Join(d, "rollbox", "rejoin")
}

func (s *rejoinStore) recordPath(prefix string, n int) string {
	return filepath.Join(s.dir, prefix+"-"+strconv.Itoa(n)+".json")
}

func (s *rejoinStore) lockPath(prefix string, n int) string {
	return filepath.Join(s.dir, prefix+"-"+strconv.Itoa(n)+".lock")
}

// readRecord reads slot n's record file of prefix. It returns os.ErrNotExist
// (wrapped) if there is none, another error if it cannot be read, and
// errRejoinBad if it is not a valid record (too big, malformed).
func (s *rejoinStore) readRecord(prefix string, n int) (rejoinFile, error) {
	f, err := os.Open(s.recordPath(prefix, n))
	if err != nil {
		return rejoinFile{}, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, rejoinMaxFileSize+1))
	if err != nil {
		return rejoinFile{}, err
	}
	rf, err := decodeRejoinFile(b)
	if err != nil {
		return rejoinFile{}, fmt.Errorf("%w: %v", errRejoinBad, err)
	}
	return rf, nil
}

// errRejoinBad marks a record file that is not a valid record.
var errRejoinBad = errors.New("rollbox: bad rejoin record file")

// errRejoinFull is returned by hold when all slots of the scope have records.
var errRejoinFull = errors.New("rollbox: all rejoin slots of this command line are in use")

// stale reports whether a record touched at f.Touched is too old at now to be
// claimed. A time far in the future is as bogus as a very old one.
func (s *rejoinStore) stale(f rejoinFile, now time.Time) bool {
	age := now.Sub(time.UnixMilli(f.Touched))
	return age > s.maxAge || age < -s.maxAge
}

// slotState is what a slot this process has just locked contains.
type slotState int

const (
	slotEmpty   slotState = iota // no record
	slotBad                      // a malformed or stale record: to remove
	slotForeign                  // a fresh record of another scope whose name collides
	slotFresh                    // a fresh record of this scope
)

// inspect reads the record of slot n of prefix, which the caller has locked,
// and says what it is; an error means the record could not be read. scope ""
// accepts any scope (the sweep of other scopes, which only looks for stale
// records).
func (s *rejoinStore) inspect(prefix string, n int, scope string, now time.Time) (rejoinFile, slotState, error) {
	f, err := s.readRecord(prefix, n)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return f, slotEmpty, nil
	case errors.Is(err, errRejoinBad):
		return f, slotBad, nil
	case err != nil:
		return f, slotEmpty, err
	case s.stale(f, now):
		return f, slotBad, nil
	case scope != "" && f.Scope != scope:
		return f, slotForeign, nil
	}
	return f, slotFresh, nil
}

// claim returns a record of this scope that no live process holds and that
// was touched within maxAge, and holds its slot: the caller is taken to be
// the process that wrote it and died. Of several such records, the most
// recently touched wins. ok is false if there is none. Stale and malformed
// records met on the way are removed, as are, in a bounded sweep, stale
// records of other scopes. If the claimed record turns out useless (its
// match is over), the caller releases it or holds a new record in its place.
func (s *rejoinStore) claim(now time.Time) (rec rejoinRecord, ok bool, err error) {
	if s.dir == "" {
		return rejoinRecord{}, false, nil
	}
	if s.slot >= 0 {
		return rejoinRecord{}, false, errors.New("rollbox: rejoin store already holds a slot")
	}
	if _, err := os.Stat(s.dir); errors.Is(err, os.ErrNotExist) {
		return rejoinRecord{}, false, nil
	}
	best, bestLock := -1, slotLock{}
	var bestFile rejoinFile
	var firstErr error
	for n := range rejoinSlots {
		l, held, err := s.tryLock(s.prefix, n)
		if err == nil && held {
			continue
		}
		var f rejoinFile
		var st slotState
		if err == nil {
			f, st, err = s.inspect(s.prefix, n, s.scope, now)
		}
		if err != nil {
			l.unlock()
			if firstErr == nil {
				firstErr = fmt.Errorf("rollbox: rejoin store: %w", err)
			}
			continue
		}
		switch {
		case st == slotEmpty:
			s.dropSlot(s.prefix, n, l, false)
			continue
		case st == slotBad:
			s.dropSlot(s.prefix, n, l, true)
			continue
		case st == slotForeign:
			l.unlock()
			continue
		case lockless && now.Sub(time.UnixMilli(f.Touched)) < rejoinHeldFreshness:
			// Without locks, a recently touched record is taken to be
			// held by a live process.
			continue
		case best >= 0 && f.Touched <= bestFile.Touched:
			l.unlock()
			continue
		}
		if best >= 0 {
			bestLock.unlock()
		}
		best, bestLock, bestFile = n, l, f
	}
	s.sweep(now)
	if best < 0 {
		return rejoinRecord{}, false, firstErr
	}
	s.slot, s.lock, s.rec = best, bestLock, bestFile.Record
	// Touch the claimed record at once: where locks do not exist, being
	// fresh is what marks it held.
	if err := s.write(now); err != nil {
		_ = s.close()
		return rejoinRecord{}, false, err
	}
	return bestFile.Record, true, nil
}

// dropSlot frees slot n of prefix, which the caller has locked: it removes
// the record if removeRecord, and the lock file too when no record remains,
// so that the directory does not fill with lock files of finished command
// lines. The lock file is removed while locked: tryLock checks, after
// locking, that the file it locked is still the one at the path.
func (s *rejoinStore) dropSlot(prefix string, n int, l slotLock, removeRecord bool) {
	if removeRecord {
		_ = os.Remove(s.recordPath(prefix, n))
	}
	if _, err := os.Stat(s.recordPath(prefix, n)); errors.Is(err, os.ErrNotExist) && !lockless {
		_ = os.Remove(s.lockPath(prefix, n))
	}
	l.unlock()
}

// sweep removes stale and malformed records of other scopes (command lines
// whose process died and never came back), inspecting a bounded number of
// directory entries.
func (s *rejoinStore) sweep(now time.Time) {
	d, err := os.Open(s.dir)
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(rejoinSweepLimit)
	d.Close()
	for _, name := range names {
		prefix, n, ok := parseRejoinRecordName(name)
		if !ok || prefix == s.prefix {
			continue
		}
		l, held, err := s.tryLock(prefix, n)
		if err != nil || held {
			continue
		}
		if _, st, err := s.inspect(prefix, n, "", now); err == nil && st == slotBad {
			s.dropSlot(prefix, n, l, true)
			continue
		}
		l.unlock()
	}
}

// parseRejoinRecordName parses a record file name: 16 lower-case hex digits,
// "-", a slot number, ".json".
func parseRejoinRecordName(name string) (prefix string, n int, ok bool) {
	base, found := strings.CutSuffix(name, ".json")
	if !found || len(base) < 18 || base[16] != '-' {
		return "", 0, false
	}
	prefix = base[:16]
	for _, c := range prefix {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", 0, false
		}
	}
	n, err := strconv.Atoi(base[17:])
	if err != nil || n < 0 || n >= rejoinSlots || strconv.Itoa(n) != base[17:] {
		return "", 0, false
	}
	return prefix, n, true
}

// hold writes rec into the slot this process holds (the one claimed, else a
// new free one) and keeps the slot held until release or close. A free slot
// is one without a record: a record another process left behind stays for
// its owner to claim. It fails with errRejoinFull if every slot has one.
func (s *rejoinStore) hold(rec rejoinRecord) error {
	if s.dir == "" {
		return nil
	}
	if err := rec.validate(); err != nil {
		return err
	}
	if s.slot < 0 {
		if err := os.MkdirAll(s.dir, 0o700); err != nil {
			return fmt.Errorf("rollbox: rejoin store: %w", err)
		}
		if err := s.takeFreeSlot(); err != nil {
			return err
		}
	}
	s.rec = rec
	return s.write(s.now())
}

// takeFreeSlot holds the first slot of this scope that has no record, or a
// stale or malformed one (removed).
func (s *rejoinStore) takeFreeSlot() error {
	now := s.now()
	var firstErr error
	for n := range rejoinSlots {
		l, held, err := s.tryLock(s.prefix, n)
		if err == nil && held {
			continue
		}
		var st slotState
		if err == nil {
			_, st, err = s.inspect(s.prefix, n, s.scope, now)
		}
		if err != nil {
			l.unlock()
			if firstErr == nil {
				firstErr = fmt.Errorf("rollbox: rejoin store: %w", err)
			}
			continue
		}
		switch st {
		case slotBad:
			_ = os.Remove(s.recordPath(s.prefix, n))
		case slotEmpty:
		default:
			// A record another process left behind stays for it to claim.
			l.unlock()
			continue
		}
		s.slot, s.lock = n, l
		return nil
	}
	if firstErr != nil {
		return firstErr
	}
	return errRejoinFull
}

// write replaces the held slot's record file atomically with s.rec touched
// at now. It does not fsync: the record must survive the process, not the
// machine, and the page cache outlives the process.
func (s *rejoinStore) write(now time.Time) error {
	b, err := json.Marshal(rejoinFile{Scope: s.scope, Touched: now.UnixMilli(), Record: s.rec})
	if err != nil {
		return err
	}
	path := s.recordPath(s.prefix, s.slot)
	// Only the slot's holder writes its temporary file, so its name is fixed
	// and a crash leaves at most one per slot, replaced by the next write.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("rollbox: rejoin store: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("rollbox: rejoin store: %w", err)
	}
	return nil
}

// touch refreshes the held record's time and, if frame >= 0, its frame. The
// running match calls it about every second; it costs one small file write
// and rename. Without a held slot it does nothing.
func (s *rejoinStore) touch(frame int) error {
	if s.dir == "" || s.slot < 0 {
		return nil
	}
	if frame >= 0 {
		s.rec.Frame = frame
	}
	return s.write(s.now())
}

// release deletes the held record (the match ended normally: there is
// nothing to rejoin) and frees the slot.
func (s *rejoinStore) release() error {
	if s.dir == "" || s.slot < 0 {
		return nil
	}
	err := os.Remove(s.recordPath(s.prefix, s.slot))
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	_ = os.Remove(s.recordPath(s.prefix, s.slot) + ".tmp")
	s.dropSlot(s.prefix, s.slot, s.lock, false)
	s.slot, s.lock, s.rec = -1, slotLock{}, rejoinRecord{}
	return err
}

// close frees the slot but keeps the record, as a process that dies does:
// the record becomes claimable. Tests use it to simulate a crash in-process.
func (s *rejoinStore) close() error {
	if s.dir == "" || s.slot < 0 {
		return nil
	}
	s.lock.unlock()
	s.slot, s.lock, s.rec = -1, slotLock{}, rejoinRecord{}
	return nil
}
