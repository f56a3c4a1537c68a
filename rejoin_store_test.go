//go:build !js

package rollbox

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testClock is a settable clock for rejoin stores.
type testClock struct{ t time.Time }

func (c *testClock) now() time.Time { return c.t }

var rejoinT0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// newTestRejoinStore opens a store of scope in dir on clock c.
func newTestRejoinStore(dir, scope string, c *testClock) *rejoinStore {
	s := openRejoinStore(dir, scope)
	s.now = c.now
	return s
}

func testRecord(i int) rejoinRecord {
	return rejoinRecord{Match: fmt.Sprintf("match-%d", i), Handle: i, Key: fmt.Sprintf("key-%d", i), Frame: 10 * i}
}

// recordFiles lists the record files (*.json) in dir.
func recordFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustClaim(t *testing.T, s *rejoinStore, now time.Time) (rejoinRecord, bool) {
	t.Helper()
	rec, ok, err := s.claim(now)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	return rec, ok
}

func TestRejoinHeldNotClaimable(t *testing.T) {
	dir := t.TempDir()
	c := &testClock{rejoinT0}
	a := newTestRejoinStore(dir, "scope", c)
	if _, ok := mustClaim(t, a, c.t); ok {
		t.Fatal("claimed a record in an empty directory")
	}
	if err := a.hold(testRecord(1)); err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(time.Second)
	if err := a.touch(77); err != nil {
		t.Fatal(err)
	}
	b := newTestRejoinStore(dir, "scope", c)
	// Well after the last touch: even where held means fresh, it is held.
	if _, ok := mustClaim(t, b, c.t.Add(500*time.Millisecond)); ok {
		t.Fatal("claimed a record that a live store holds")
	}
	if len(recordFiles(t, dir)) != 1 {
		t.Fatal("a held record was removed by a failed claim")
	}

	// a "crashes": its slot is free, its record stays, and b comes back as a.
	if err := a.close(); err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(5 * time.Second)
	rec, ok := mustClaim(t, b, c.t)
	want := testRecord(1)
	want.Frame = 77
	if !ok || rec != want {
		t.Fatalf("claim = %+v, %v; want %+v", rec, ok, want)
	}
	// Now b holds it: nobody else can take it.
	if _, ok := mustClaim(t, newTestRejoinStore(dir, "scope", c), c.t.Add(time.Second)); ok {
		t.Fatal("claimed a record that the claiming store holds")
	}
	// b keeps playing in the same slot.
	if err := b.hold(rejoinRecord{Match: "match-1", Handle: 1, Key: "key-1", Frame: 90}); err != nil {
		t.Fatal(err)
	}
	if files := recordFiles(t, dir); len(files) != 1 {
		t.Fatalf("record files after the rejoiner's hold: %v", files)
	}
	if err := b.release(); err != nil {
		t.Fatal(err)
	}
}

func TestRejoinTwoHoldersDifferentSlots(t *testing.T) {
	dir := t.TempDir()
	c := &testClock{rejoinT0}
	a := newTestRejoinStore(dir, "scope", c)
	b := newTestRejoinStore(dir, "scope", c)
	if err := a.hold(testRecord(1)); err != nil {
		t.Fatal(err)
	}
	if err := b.hold(testRecord(2)); err != nil {
		t.Fatal(err)
	}
	if a.slot == b.slot {
		t.Fatalf("both holders in slot %d", a.slot)
	}
	if n := len(recordFiles(t, dir)); n != 2 {
		t.Fatalf("%d record files, want 2", n)
	}
	// b dies; a restarted b finds b's record, never a's.
	if err := b.close(); err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(5 * time.Second)
	if err := a.touch(5); err != nil {
		t.Fatal(err)
	}
	rec, ok := mustClaim(t, newTestRejoinStore(dir, "scope", c), c.t)
	if !ok || rec != testRecord(2) {
		t.Fatalf("claim = %+v, %v; want b's record", rec, ok)
	}
	_ = a.release()
}

func TestRejoinRelease(t *testing.T) {
	dir := t.TempDir()
	c := &testClock{rejoinT0}
	a := newTestRejoinStore(dir, "scope", c)
	if err := a.hold(testRecord(1)); err != nil {
		t.Fatal(err)
	}
	if err := a.release(); err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 0 {
		t.Fatalf("files left after release: %v", left)
	}
	c.t = c.t.Add(5 * time.Second)
	if _, ok := mustClaim(t, newTestRejoinStore(dir, "scope", c), c.t); ok {
		t.Fatal("claimed a released record")
	}
	// Release and touch without a slot do nothing.
	if err := a.release(); err != nil {
		t.Fatal(err)
	}
	if err := a.touch(3); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("files after release: %v", left)
	}
}

func TestRejoinStaleRemoved(t *testing.T) {
	for _, age := range []time.Duration{rejoinDefaultMaxAge + time.Millisecond, -rejoinDefaultMaxAge - time.Second} {
		dir := t.TempDir()
		c := &testClock{rejoinT0}
		a := newTestRejoinStore(dir, "scope", c)
		if err := a.hold(testRecord(1)); err != nil {
			t.Fatal(err)
		}
		_ = a.close()
		if _, ok := mustClaim(t, newTestRejoinStore(dir, "scope", c), c.t.Add(age)); ok {
			t.Fatalf("age %v: claimed a stale record", age)
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Fatalf("age %v: files left: %v", age, left)
		}
	}
}

// TestRejoinFreshestWins checks that of two dead processes' records, the
// more recently touched is claimed first.
func TestRejoinFreshestWins(t *testing.T) {
	dir := t.TempDir()
	c := &testClock{rejoinT0}
	a := newTestRejoinStore(dir, "scope", c)
	b := newTestRejoinStore(dir, "scope", c)
	if err := a.hold(testRecord(1)); err != nil {
		t.Fatal(err)
	}
	if err := b.hold(testRecord(2)); err != nil {
		t.Fatal(err)
	}
	_ = a.close()
	c.t = c.t.Add(30 * time.Second)
	_ = b.touch(-1)
	_ = b.close()
	c.t = c.t.Add(5 * time.Second)
	for _, want := range []rejoinRecord{testRecord(2), testRecord(1)} {
		rec, ok := mustClaim(t, newTestRejoinStore(dir, "scope", c), c.t)
		if !ok || rec != want {
			t.Fatalf("claim = %+v, %v; want %+v", rec, ok, want)
		}
	}
}

func TestRejoinOtherScopeNeverReturned(t *testing.T) {
	dir := t.TempDir()
	c := &testClock{rejoinT0}
	a := newTestRejoinStore(dir, "scope A", c)
	if err := a.hold(testRecord(1)); err != nil {
		t.Fatal(err)
	}
	_ = a.close()
	c.t = c.t.Add(5 * time.Second)
	b := newTestRejoinStore(dir, "scope B", c)
	if _, ok := mustClaim(t, b, c.t); ok {
		t.Fatal("claimed a record of another scope")
	}
	// A's record under B's file name (as a hash prefix collision would
	// put it) is still A's: not returned, and left for A.
	data, err := os.ReadFile(a.recordPath(a.prefix, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.recordPath(b.prefix, 3), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := mustClaim(t, b, c.t); ok {
		t.Fatal("claimed a record of another scope under this scope's name")
	}
	if _, err := os.Stat(b.recordPath(b.prefix, 3)); err != nil {
		t.Fatalf("a fresh record of another scope was removed: %v", err)
	}
	// A's own record is still there for A.
	rec, ok := mustClaim(t, newTestRejoinStore(dir, "scope A", c), c.t)
	if !ok || rec != testRecord(1) {
		t.Fatalf("A's claim = %+v, %v", rec, ok)
	}
}

// TestRejoinSweepsOtherScopes checks that a claim removes stale records of
// other scopes, which no process would otherwise ever claim.
func TestRejoinSweepsOtherScopes(t *testing.T) {
	dir := t.TempDir()
	c := &testClock{rejoinT0}
	old := newTestRejoinStore(dir, "gone", c)
	if err := old.hold(testRecord(1)); err != nil {
		t.Fatal(err)
	}
	_ = old.close()
	live := newTestRejoinStore(dir, "live", c)
	c.t = c.t.Add(rejoinDefaultMaxAge)
	if err := live.hold(testRecord(2)); err != nil {
		t.Fatal(err)
	}
	defer live.release()
	if _, ok := mustClaim(t, newTestRejoinStore(dir, "other", c), c.t.Add(time.Second)); ok {
		t.Fatal("claimed in an unrelated scope")
	}
	files := recordFiles(t, dir)
	if len(files) != 1 || !strings.Contains(files[0], live.prefix) {
		t.Fatalf("record files after the sweep: %v, want only the live one", files)
	}
}

func TestRejoinMalformedRemoved(t *testing.T) {
	dir := t.TempDir()
	c := &testClock{rejoinT0}
	s := newTestRejoinStore(dir, "scope", c)
	good, err := json.Marshal(rejoinFile{Scope: s.scope, Touched: c.t.UnixMilli(), Record: testRecord(1)})
	if err != nil {
		t.Fatal(err)
	}
	long := rejoinFile{Scope: s.scope, Touched: c.t.UnixMilli(), Record: testRecord(1)}
	long.Record.Key = strings.Repeat("k", 65)
	longKey, _ := json.Marshal(long)
	bad := [][]byte{
		nil,
		[]byte("not json"),
		[]byte("{"),
		append(append([]byte{}, good...), good...),
		append(append([]byte{}, good[:len(good)-1]...), []byte(`,"extra":1}`)...),
		// Valid but for its size: padded with white space.
		append(append([]byte{}, good...), []byte(strings.Repeat(" ", rejoinMaxFileSize))...),
		longKey,
		[]byte(`{"scope":"zz","touched":1,"record":{"match":"m","handle":0,"key":"k","frame":0}}`),
	}
	for i, b := range bad {
		if err := os.WriteFile(s.recordPath(s.prefix, i), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := mustClaim(t, s, c.t.Add(5*time.Second)); ok {
		t.Fatal("claimed a malformed record")
	}
	if files := recordFiles(t, dir); len(files) != 0 {
		t.Fatalf("malformed records left: %v", files)
	}
	// A malformed record's slot is free for hold.
	if err := os.WriteFile(s.recordPath(s.prefix, 0), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.hold(testRecord(2)); err != nil {
		t.Fatal(err)
	}
	if s.slot != 0 {
		t.Fatalf("hold took slot %d, want the malformed record's slot 0", s.slot)
	}
	_ = s.release()
}

func TestRejoinFull(t *testing.T) {
	dir := t.TempDir()
	c := &testClock{rejoinT0}
	var stores []*rejoinStore
	for i := range rejoinSlots {
		s := newTestRejoinStore(dir, "scope", c)
		if err := s.hold(testRecord(i)); err != nil {
			t.Fatalf("holder %d: %v", i, err)
		}
		stores = append(stores, s)
	}
	// Dead processes' records are kept for them too: they count as used.
	_ = stores[3].close()
	extra := newTestRejoinStore(dir, "scope", c)
	if err := extra.hold(testRecord(99)); !errors.Is(err, errRejoinFull) {
		t.Fatalf("17th hold: %v, want errRejoinFull", err)
	}
	for _, s := range stores {
		_ = s.release()
	}
	if err := extra.hold(testRecord(99)); err != nil {
		t.Fatalf("hold after the others released: %v", err)
	}
	_ = extra.release()
}

func TestRejoinInvalidHold(t *testing.T) {
	s := newTestRejoinStore(t.TempDir(), "scope", &testClock{rejoinT0})
	for _, rec := range []rejoinRecord{
		{Match: "", Key: "k"},
		{Match: strings.Repeat("m", 65), Key: "k"},
		{Match: "m", Key: strings.Repeat("k", 65)},
		{Match: "m", Handle: -1},
		{Match: "m", Frame: -1},
	} {
		if err := s.hold(rec); err == nil {
			t.Errorf("hold(%+v) accepted", rec)
		}
	}
	if s.slot != -1 {
		t.Fatal("a refused hold holds a slot")
	}
}

// TestRejoinNoDisk checks the store of a platform without disk (dir ""):
// nothing is ever found or kept.
func TestRejoinNoDisk(t *testing.T) {
	c := &testClock{rejoinT0}
	s := newTestRejoinStore("", "scope", c)
	if err := s.hold(testRecord(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.touch(3); err != nil {
		t.Fatal(err)
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := mustClaim(t, newTestRejoinStore("", "scope", c), c.t.Add(5*time.Second)); ok {
		t.Fatal("a diskless store found a record")
	}
	if err := s.release(); err != nil {
		t.Fatal(err)
	}
}

func TestRejoinPermissionsAndDefaultDir(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "wasip1" {
		t.Skip("unix permissions and cache directory")
	}
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("HOME", cache)
	dir := defaultRejoinDir()
	if !strings.HasPrefix(dir, cache) || !strings.HasSuffix(dir, filepath.Join("rollbox", "rejoin")) {
		t.Fatalf("defaultRejoinDir() = %q, want under %q", dir, cache)
	}
	s := newTestRejoinStore(dir, "scope", &testClock{rejoinT0})
	if err := s.hold(testRecord(1)); err != nil {
		t.Fatal(err)
	}
	defer s.release()
	for path, want := range map[string]os.FileMode{
		dir:                             0o700 | os.ModeDir,
		s.recordPath(s.prefix, 0):       0o600,
		s.lockPath(s.prefix, 0):         0o600,
		filepath.Join(cache, "rollbox"): 0o700 | os.ModeDir,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
		}
	}
}

// rejoinChildEnv names the directory the crash test's child process holds a
// record in; set, the test binary runs as that child.
const rejoinChildEnv = "ROLLBOX_REJOIN_CRASH_CHILD_DIR"

// rejoinChildReady is the line the child prints once it holds its record.
const rejoinChildReady = "rejoin-child-holds-record"

// TestRejoinCrashSubprocess is the real crash case: a child process (this
// test binary run again) holds a record; while it lives the record cannot be
// claimed; after SIGKILL, which runs no code in the child, the kernel has
// released its lock and the record is claimable at once.
func TestRejoinCrashSubprocess(t *testing.T) {
	if dir := os.Getenv(rejoinChildEnv); dir != "" {
		rejoinCrashChild(dir)
		return
	}
	if runtime.GOOS == "wasip1" {
		t.Skip("no subprocesses")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRejoinCrashSubprocess$", "-test.count=1")
	cmd.Env = append(os.Environ(), rejoinChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		stdin.Close()
	}()
	ready := make(chan error, 1)
	go func() {
		r := bufio.NewReader(stdout)
		for {
			line, err := r.ReadString('\n')
			if strings.TrimSpace(line) == rejoinChildReady {
				ready <- nil
				_, _ = io.Copy(io.Discard, r)
				return
			}
			if err != nil {
				ready <- fmt.Errorf("child's output ended before it held its record: %v", err)
				return
			}
		}
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the child did not hold its record within 2 minutes")
	}

	want := testRecord(7)
	parent := openRejoinStore(dir, "crash scope")
	// The child wrote its record with the real clock; a while later by that
	// clock it is still held: the child lives.
	if _, ok := mustClaim(t, parent, time.Now().Add(500*time.Millisecond)); ok {
		t.Fatal("claimed the record of a live child process")
	}
	if n := len(recordFiles(t, dir)); n != 1 {
		t.Fatalf("%d record files while the child lives, want 1", n)
	}

	if err := cmd.Process.Kill(); err != nil { // SIGKILL on unix
		t.Fatal(err)
	}
	killed = true
	_ = cmd.Wait()
	now := time.Now()
	if lockless {
		now = now.Add(rejoinHeldFreshness + time.Second)
	}
	rec, ok := mustClaim(t, parent, now)
	if !ok || rec != want {
		t.Fatalf("claim after the child's death = %+v, %v; want %+v", rec, ok, want)
	}
	if err := parent.release(); err != nil {
		t.Fatal(err)
	}
}

// rejoinCrashChild is the crash test's child: it holds a record, says so,
// and waits to be killed (or for its parent to go away, closing stdin).
func rejoinCrashChild(dir string) {
	s := openRejoinStore(dir, "crash scope")
	if err := s.hold(testRecord(7)); err != nil {
		fmt.Fprintln(os.Stderr, "child hold:", err)
		os.Exit(2)
	}
	fmt.Println(rejoinChildReady)
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(3)
}

func FuzzRejoinRecord(f *testing.F) {
	s := openRejoinStore("", "scope")
	good, _ := json.Marshal(rejoinFile{Scope: s.scope, Touched: rejoinT0.UnixMilli(), Record: testRecord(3)})
	f.Add(good)
	f.Add([]byte(`{"scope":"","touched":0,"record":{}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"record":{"match":"\u0000","handle":1e9}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rf, err := decodeRejoinFile(b)
		if err != nil {
			if rf != (rejoinFile{}) {
				t.Fatalf("error %v with a record %+v", err, rf)
			}
			return
		}
		if len(b) > rejoinMaxFileSize {
			t.Fatalf("accepted %d bytes", len(b))
		}
		if err := rf.Record.validate(); err != nil {
			t.Fatalf("accepted an invalid record: %v", err)
		}
		// What is accepted survives a round trip unchanged.
		again, err := json.Marshal(rf)
		if err != nil {
			t.Fatal(err)
		}
		rf2, err := decodeRejoinFile(again)
		if err != nil || rf2 != rf {
			t.Fatalf("round trip: %+v, %v; want %+v", rf2, err, rf)
		}
	})
}

// TestRejoinConcurrentHolders has stores take and free slots of one scope
// concurrently, which removes and creates lock files all the time: no two
// stores may ever hold the same slot (a store that locked a lock file just
// removed by its previous holder must notice and lock the new one).
func TestRejoinConcurrentHolders(t *testing.T) {
	if lockless {
		t.Skip("without locks, slots are not exclusive (see rejoin_store_other.go)")
	}
	dir := t.TempDir()
	c := &testClock{rejoinT0}
	var holders [rejoinSlots]atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			s := newTestRejoinStore(dir, "scope", c)
			for range 200 {
				if err := s.hold(testRecord(g)); err != nil {
					errs <- err
					return
				}
				slot := s.slot
				if n := holders[slot].Add(1); n != 1 {
					errs <- fmt.Errorf("%d stores hold slot %d", n, slot)
					_ = s.release()
					return
				}
				holders[slot].Add(-1)
				if err := s.release(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// BenchmarkRejoinTouch measures the running match's once-a-second cost.
func BenchmarkRejoinTouch(b *testing.B) {
	s := openRejoinStore(b.TempDir(), "scope")
	if err := s.hold(testRecord(1)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	frame := 0
	for b.Loop() {
		frame++
		if err := s.touch(frame); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.release(); err != nil {
		b.Fatal(err)
	}
}
