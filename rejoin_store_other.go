//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd) && !js

package rollbox

// lockless is true: this platform (windows, js/wasm, wasip1, solaris, ...)
// has no flock(2) here, so whether a live process holds a slot is guessed
// from freshness: a record touched within rejoinHeldFreshness counts as held
// (the running match touches it about every second). Consequences: a process
// restarted within that time after a crash finds its record only once it
// has aged past it (claim is to be retried, or the restart is slower than
// that anyway), and two processes that take a free slot at the same instant
// may both write it (the last write wins; the other process then cannot
// rejoin after a crash). A browser keeps its record in the page's
// sessionStorage instead (rejoin_store_js.go).
const lockless = true

// slotLock holds nothing: there are no locks here.
type slotLock struct{}

// tryLock never finds a slot held: without locks, claim judges by freshness.
func (s *rejoinStore) tryLock(prefix string, n int) (l slotLock, held bool, err error) {
	return slotLock{}, false, nil
}

func (slotLock) unlock() {}
