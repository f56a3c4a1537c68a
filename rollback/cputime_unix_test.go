//go:build unix

package rollback

import (
	"syscall"
	"time"
)

// processCPUTime is the CPU time this process used so far, user and system.
// Benchmarks report it next to wall time: on a machine shared with other
// work it does not count the time the benchmark waited for a core.
func processCPUTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
