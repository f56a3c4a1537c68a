package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Goals from issue 2 ("Performance").
const (
	goalKiBPerPeer    = 16.0
	goalRelayP99Ratio = 1.2
)

// summary is a latency distribution.
type summary struct {
	n             int
	p50, p99, max time.Duration
}

// summarize returns the nearest-rank percentiles of samples (which it sorts).
func summarize(samples []time.Duration) summary {
	if len(samples) == 0 {
		return summary{}
	}
	slices.Sort(samples)
	rank := func(q float64) time.Duration {
		i := int(q*float64(len(samples))+0.999999999) - 1 // ceil(q·n) - 1
		return samples[min(max(i, 0), len(samples)-1)]
	}
	return summary{n: len(samples), p50: rank(0.50), p99: rank(0.99), max: samples[len(samples)-1]}
}

// metric reads one figure from a run.
type metric func(result) float64

// The figures in the tables.

func joinP50(r result) float64     { return float64(r.join.p50) }
func joinP99(r result) float64     { return float64(r.join.p99) }
func groupP50(r result) float64    { return float64(r.group.p50) }
func groupP99(r result) float64    { return float64(r.group.p99) }
func relayP50(r result) float64    { return float64(r.relay.p50) }
func relayP99(r result) float64    { return float64(r.relay.p99) }
func relayMax(r result) float64    { return float64(r.relay.max) }
func relaysPerS(r result) float64  { return r.relaysPerSec }
func cpuPerRelay(r result) float64 { return r.serverCPUPerRelay() }
func rateCPUPerRelay(r result) float64 {
	if r.sent == 0 {
		return 0
	}
	return r.cpuRate.server / float64(r.sent) * 1e6
}
func kibPerPeer(r result) float64  { return r.rssPerPeerKiB() }
func rawPerPeer(r result) float64  { return r.rssRawPerPeerKiB() }
func rss0(r result) float64        { return float64(r.rss0) }
func rssIdle(r result) float64     { return float64(r.rssIdle) }
func peakRSS(r result) float64     { return float64(r.peakRSS) }
func foreignRate(r result) float64 { return 100 * r.cpuRate.foreignShare() }
func foreignSat(r result) float64  { return 100 * r.cpuSat.foreignShare() }
func heapPerPeer(r result) float64 {
	return perPeerKiB(int64(r.statsIdle.HeapInuse)-int64(r.stats0.HeapInuse), r.peers)
}
func stackPerPeer(r result) float64 {
	return perPeerKiB(int64(r.statsIdle.StackInuse)-int64(r.stats0.StackInuse), r.peers)
}
func goroutinesPerPeer(r result) float64 {
	return float64(r.statsIdle.Goroutines-r.stats0.Goroutines) / float64(r.peers)
}

// median returns the median of m over runs (the mean of the middle two for
// an even count).
func median(runs []result, m metric) float64 {
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = m(r)
	}
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	return (v[(len(v)-1)/2] + v[len(v)/2]) / 2
}

// writeReport prints markdown tables of results: medians over the rounds of
// each server and peer count.
func writeReport(w io.Writer, results []result, o options, rounds int, machine string) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("Machine: %s. Rooms of %d (`/bench-<k>?next=%d`); joins paced at %g/s (at most %d in flight); "+
		"latency phase: %g signals/s per peer to its room-mates for %v, one-way send→receive; "+
		"throughput phase: closed-loop ping-pong between room-mate pairs for %v; RSS read %v after the joins. ",
		machine, o.roomSize, o.roomSize, o.joinRate, o.joinConcurrency, o.rate, o.duration, o.saturate, o.settle)
	if rounds > 1 {
		p("Each figure is the median of %d rounds (servers alternating).\n\n", rounds)
	} else {
		p("One round.\n\n")
	}

	p("| server | peers | join p50 | join p99 | group complete p50 | group complete p99 | relay p50 | relay p99 | relays/s | RSS per idle peer |\n")
	p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, n := range peerCounts(results) {
		roll, bare := runsOf(results, kindRollbox, n), runsOf(results, kindBare, n)
		for _, runs := range [][]result{roll, bare} {
			if len(runs) == 0 {
				continue
			}
			group50, group99 := "—", "—"
			if runs[0].kind == kindRollbox {
				group50, group99 = ms(median(runs, groupP50)), ms(median(runs, groupP99))
			}
			p("| %s | %d | %s | %s | %s | %s | %s | %s | %.0f | %.1f KiB |\n", runs[0].kind, n,
				ms(median(runs, joinP50)), ms(median(runs, joinP99)), group50, group99,
				ms(median(runs, relayP50)), ms(median(runs, relayP99)), median(runs, relaysPerS), median(runs, kibPerPeer))
		}
		if len(roll) > 0 && len(bare) > 0 {
			r := func(m metric) string { return ratio(median(roll, m), median(bare, m)) }
			p("| **rollbox ÷ bare** | %d | %s | %s | — | — | %s | %s | %s | %s |\n", n,
				r(joinP50), r(joinP99), r(relayP50), r(relayP99), r(relaysPerS), r(kibPerPeer))
		}
	}

	p("\nDetails. RSS is VmRSS of the server process (/proc/<pid>/status); \"after GC\" means after " +
		"runtime.GC and debug.FreeOSMemory in the server; per-peer figures are the growth over the " +
		"baseline ÷ peers. Server CPU per relay is the server process's CPU time ÷ signals relayed, in " +
		"the latency / throughput phases. Foreign CPU is the share of the machine used by other processes during the " +
		"latency / throughput phases (noise).\n\n")
	p("| server | peers | RSS baseline | RSS idle, after GC | per peer, after GC | per peer, no forced GC | heap/peer | stacks/peer | goroutines/peer | peak RSS | relay max | server CPU/relay | foreign CPU | signals sent / received |\n")
	p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, n := range peerCounts(results) {
		for _, kind := range []string{kindRollbox, kindBare} {
			runs := runsOf(results, kind, n)
			if len(runs) == 0 {
				continue
			}
			var sent, received int64
			for _, r := range runs {
				sent += r.sent
				received += r.received
			}
			p("| %s | %d | %s | %s | %.1f KiB | %.1f KiB | %.1f KiB | %.1f KiB | %.2f | %s | %s | %.1f / %.1f µs | %.0f%% / %.0f%% | %d / %d |\n", kind, n,
				mib(median(runs, rss0)), mib(median(runs, rssIdle)), median(runs, kibPerPeer), median(runs, rawPerPeer),
				median(runs, heapPerPeer), median(runs, stackPerPeer), median(runs, goroutinesPerPeer),
				mib(median(runs, peakRSS)), ms(median(runs, relayMax)), median(runs, rateCPUPerRelay), median(runs, cpuPerRelay),
				median(runs, foreignRate), median(runs, foreignSat), sent, received)
		}
	}

	p("\nGoals (issue 2):\n\n")
	for _, n := range peerCounts(results) {
		roll, bare := runsOf(results, kindRollbox, n), runsOf(results, kindBare, n)
		if len(roll) == 0 {
			continue
		}
		kib, raw := median(roll, kibPerPeer), median(roll, rawPerPeer)
		p("- %d peers: all connected, every signal relayed; RSS per idle peer %.1f KiB after GC (%.1f KiB without forcing one), goal ≤ %g KiB: %s",
			n, kib, raw, goalKiBPerPeer, met(kib <= goalKiBPerPeer))
		if len(bare) > 0 && median(bare, relayP99) > 0 {
			rp, bp := median(roll, relayP99), median(bare, relayP99)
			p("; relay p99 %s vs bare %s = %.2fx, goal ≤ %gx: %s", ms(rp), ms(bp), rp/bp, goalRelayP99Ratio, met(rp/bp <= goalRelayP99Ratio))
		}
		p(".\n")
	}
	var incidents []string
	for _, r := range results {
		for name, v := range r.counters {
			if name != "signals_relayed_total" {
				incidents = append(incidents, fmt.Sprintf("%s/%d: %s = %d", r.kind, r.peers, name, v))
			}
		}
	}
	slices.Sort(incidents)
	if len(incidents) == 0 {
		p("- The rollbox server counted no dropped frames and no disconnects during the timed phases.\n")
	} else {
		p("- The rollbox server counted drops or disconnects: %s.\n", strings.Join(incidents, "; "))
	}
}

func peerCounts(results []result) []int {
	var ns []int
	for _, r := range results {
		if !slices.Contains(ns, r.peers) {
			ns = append(ns, r.peers)
		}
	}
	return ns
}

func runsOf(results []result, kind string, peers int) []result {
	var runs []result
	for _, r := range results {
		if r.kind == kind && r.peers == peers {
			runs = append(runs, r)
		}
	}
	return runs
}

// ms formats nanoseconds as milliseconds.
func ms[T time.Duration | float64](ns T) string {
	v := float64(ns) / float64(time.Millisecond)
	if v < 10 {
		return fmt.Sprintf("%.3f ms", v)
	}
	return fmt.Sprintf("%.1f ms", v)
}

func mib(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

func ratio(a, b float64) string {
	if b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

func met(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**not met**"
}
