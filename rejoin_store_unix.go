//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package rollbox

import (
	"errors"
	"os"
	"syscall"
)

// lockless is false: slots are held by flock(2) locks, which the kernel
// releases when the holding process dies, SIGKILL included.
const lockless = false

// slotLock is an exclusive flock on a slot's lock file, held as long as the
// file stays open. The file is opened close-on-exec, so a child process
// never inherits the lock.
type slotLock struct{ f *os.File }

// tryLock locks slot n of prefix without waiting. held is true if another
// open file (another process, or another store of this one) holds it.
func (s *rejoinStore) tryLock(prefix string, n int) (l slotLock, held bool, err error) {
	path := s.lockPath(prefix, n)
	// A holder that frees a slot without a record removes its lock file
	// while still locking it; a process that opened the file just before
	// then locks a file no longer at the path. Checking that the locked
	// file is still the one at the path, and starting over if not, keeps
	// one lock per slot. Three rounds are plenty: each round needs another
	// process to take and free the slot in between.
	for range 3 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return slotLock{}, false, err
		}
		err = flockNB(f)
		if errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return slotLock{}, true, nil
		}
		if err != nil {
			f.Close()
			return slotLock{}, false, &os.PathError{Op: "flock", Path: path, Err: err}
		}
		fi, err1 := f.Stat()
		pi, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(fi, pi) {
			return slotLock{f: f}, false, nil
		}
		f.Close()
	}
	return slotLock{}, true, nil
}

// flockNB takes an exclusive flock on f without waiting, retrying on EINTR.
func flockNB(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	err = rc.Control(func(fd uintptr) {
		for {
			ferr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
			if ferr != syscall.EINTR {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	return ferr
}

// unlock frees the slot: closing the file releases the flock.
func (l slotLock) unlock() {
	if l.f != nil {
		l.f.Close()
	}
}
