package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// cpuSample is a reading of CPU time counters, in clock ticks.
type cpuSample struct {
	busy, total int64 // the whole machine, all CPUs
	bench       int64 // this process
	server      int64 // the server process (0 when it is this process)
}

// cpuUse is CPU time spent between two samples, in seconds.
type cpuUse struct {
	wall    float64 // elapsed machine capacity: ticks of all CPUs
	foreign float64 // by processes other than the bench and the server
	bench   float64
	server  float64
}

// clockTicks is USER_HZ, the unit of /proc/stat and /proc/<pid>/stat on Linux.
const clockTicks = 100

// sampleCPU reads /proc/stat and the bench's and server's /proc/<pid>/stat.
func sampleCPU(serverPID int) (cpuSample, error) {
	var s cpuSample
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 5 || string(f[0]) != "cpu" {
		return s, fmt.Errorf("/proc/stat: unexpected %q", line)
	}
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return s, fmt.Errorf("/proc/stat: %w", err)
		}
		s.total += n
		if i != 3 && i != 4 && i < 8 { // not idle, iowait; guest time is already in user
			s.busy += n
		}
	}
	if s.bench, err = processTicks(os.Getpid()); err != nil {
		return s, err
	}
	if serverPID != os.Getpid() {
		if s.server, err = processTicks(serverPID); err != nil {
			return s, err
		}
	}
	return s, nil
}

// processTicks returns utime+stime of a process from /proc/<pid>/stat.
func processTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: fields count from after ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	var ticks int64
	for _, v := range f[11:13] { // utime, stime: fields 14 and 15
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return ticks, nil
}

// since returns the CPU time spent from a to s.
func (s cpuSample) since(a cpuSample) cpuUse {
	sec := func(t int64) float64 { return float64(t) / clockTicks }
	bench, server := s.bench-a.bench, s.server-a.server
	return cpuUse{
		wall:    sec(s.total - a.total),
		foreign: max(0, sec(s.busy-a.busy-bench-server)),
		bench:   sec(bench),
		server:  sec(server),
	}
}

// foreignShare is the share of the machine's CPU capacity used by other
// processes.
func (u cpuUse) foreignShare() float64 {
	if u.wall <= 0 {
		return 0
	}
	return u.foreign / u.wall
}
