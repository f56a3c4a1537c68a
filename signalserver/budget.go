package signalserver

import (
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// The connection budget of DefaultMaxConns.
const (
	// fdReserve is the descriptors kept for everything but client
	// connections: listeners, Redis, files, and the connections refused
	// past MaxConns (see connTracker).
	fdReserve = 64
	// connMemory is what one connection is allowed for: an idle peer costs
	// about 34 KiB (docs/benchmarks.md), and one that relays needs more.
	connMemory = 64 << 10
	// fallbackFDs stands in for the descriptor limit where there is none
	// to read (Windows counts handles in the millions).
	fallbackFDs = 16384
)

// DefaultMaxConns is the MaxConns of a Config that leaves it zero: three
// quarters of this process's file-descriptor limit (RLIMIT_NOFILE) beyond
// a small reserve, which leaves room for the embedded TURN server's relay
// sockets, and no more connections than fill half the memory limit at
// 64 KiB each. The memory limit is the smallest of GOMEMLIMIT, the cgroup's
// memory limit and the machine's memory, as far as the platform tells.
func DefaultMaxConns() int {
	return connBudget(openFileLimit(), memoryLimit())
}

// connBudget sizes MaxConns from a descriptor limit and a memory limit in
// bytes (either ≤ 0 when unknown).
func connBudget(fds, mem int64) int {
	if fds <= 0 {
		fds = fallbackFDs
	}
	n := (fds - fdReserve) * 3 / 4
	if mem > 0 {
		n = min(n, mem/2/connMemory)
	}
	return int(min(max(n, 32), math.MaxInt32))
}

// memoryLimit returns the smallest memory limit this process is under, or
// 0 when none is known.
func memoryLimit() int64 {
	limit := int64(0)
	lower := func(v int64) {
		if v > 0 && (limit == 0 || v < limit) {
			limit = v
		}
	}
	if v := debug.SetMemoryLimit(-1); v != math.MaxInt64 { // GOMEMLIMIT
		lower(v)
	}
	lower(cgroupMemoryLimit())
	lower(physicalMemory())
	return limit
}

// cgroupMemoryLimit reads the memory limit of a Linux container (cgroup v2,
// then v1), or returns 0.
func cgroupMemoryLimit() int64 {
	for _, file := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		// "max", or v1's "no limit" of nearly 2^63, parse as no limit.
		if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && v < 1<<60 {
			return v
		}
		return 0
	}
	return 0
}
