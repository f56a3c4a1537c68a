//go:build unix

package signalserver

import "syscall"

// openFileLimit returns RLIMIT_NOFILE, which the Go runtime has raised to
// its hard limit at startup, or 0 when it cannot be read.
func openFileLimit() int64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return int64(min(uint64(lim.Cur), 1<<31)) // RLIM_INFINITY: memory decides
}
