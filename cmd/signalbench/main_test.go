package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestBenchInProcess runs the whole benchmark core against both server kinds,
// served in-process through the hidden -serve mode, with 16 peers.
func TestBenchInProcess(t *testing.T) {
	o := options{
		peers:           16,
		roomSize:        4,
		joinRate:        400,
		joinConcurrency: 8,
		rate:            10,
		duration:        time.Second,
		saturate:        300 * time.Millisecond,
		settle:          50 * time.Millisecond,
		attempts:        1,
	}
	var results []result
	for _, kind := range []string{kindRollbox, kindBare} {
		t.Run(kind, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			srv, err := startInProcess(ctx, kind, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			res, err := bench(ctx, srv, o, slog.New(slog.DiscardHandler))
			if serr := srv.stop(ctx); serr != nil {
				t.Errorf("stopping the server: %v", serr)
			}
			if err != nil {
				t.Fatal(err)
			}
			results = append(results, res)

			wantSent := int64(o.peers) * int64(o.rate*o.duration.Seconds())
			if res.sent != wantSent || res.received != res.sent {
				t.Errorf("sent %d, received %d signals; want %d both", res.sent, res.received, wantSent)
			}
			if res.faults != 0 {
				t.Errorf("%d faults, first: %s", res.faults, res.firstFault)
			}
			checkSummary(t, "join", res.join, o.peers)
			checkSummary(t, "relay", res.relay, int(wantSent))
			if kind == kindRollbox {
				for name, v := range res.counters {
					if name != "signals_relayed_total" {
						t.Errorf("server counter %s = %d, want 0", name, v)
					}
				}
				checkSummary(t, "group complete", res.group, o.peers)
				if res.group.p50 < res.join.p50 {
					t.Errorf("group complete p50 %v before IdAssigned p50 %v", res.group.p50, res.join.p50)
				}
			} else if res.group.n != 0 {
				t.Errorf("bare relay: %d group-complete samples, want none", res.group.n)
			}
			if !(res.relaysPerSec > 0) || res.satRelays <= 0 {
				t.Errorf("throughput: %v relays/s from %d relays", res.relaysPerSec, res.satRelays)
			}
			if res.rss0 <= 0 || res.rssIdle <= 0 || res.peakRSS < res.rssIdle {
				t.Errorf("RSS baseline %d, idle %d, peak %d", res.rss0, res.rssIdle, res.peakRSS)
			}
			if res.statsIdle.Goroutines <= res.stats0.Goroutines {
				t.Errorf("goroutines %d with peers, %d before", res.statsIdle.Goroutines, res.stats0.Goroutines)
			}
		})
	}
	if len(results) != 2 {
		return
	}
	var out bytes.Buffer
	writeReport(&out, results, o, 1, machine())
	for _, want := range []string{"| rollbox | 16 |", "| bare | 16 |", "| **rollbox ÷ bare** | 16 |", "Goals (issue 2)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func checkSummary(t *testing.T, name string, s summary, n int) {
	t.Helper()
	if s.n != n || s.p50 <= 0 || s.p50 > s.p99 || s.p99 > s.max {
		t.Errorf("%s: %d samples (want %d), p50 %v, p99 %v, max %v", name, s.n, n, s.p50, s.p99, s.max)
	}
}

func TestServeRefusesNonLoopback(t *testing.T) {
	err := run(t.Context(), []string{"-serve", "bare", "-addr", "0.0.0.0:0"}, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("got %v, want a loopback-only refusal", err)
	}
}

func TestParseFlags(t *testing.T) {
	s, err := parseFlags([]string{"-peers", "8,1000", "-servers", "bare"}, io.Discard)
	if err != nil || len(s.peers) != 2 || s.peers[1] != 1000 || len(s.servers) != 1 || s.servers[0] != kindBare {
		t.Fatalf("got %+v, %v", s, err)
	}
	for _, args := range [][]string{
		{"-peers", "10"},         // not a multiple of 4
		{"-servers", "nginx"},    // unknown
		{"-room-size", "3"},      // odd: ping-pong pairs would straddle rooms
		{"-serve", "matchbox"},   // unknown server
		{"-rate", "0"},           // no latency phase
		{"-peers", "4", "extra"}, // positional
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
}

func TestParseData(t *testing.T) {
	kind, from, at, ok := parseData([]byte(`{"k":"r","f":12,"t":345}`))
	if !ok || kind != 'r' || from != 12 || at != 345 {
		t.Fatalf("got %c %d %d %v", kind, from, at, ok)
	}
	for _, bad := range []string{``, `{}`, `{"k":"r","f":1}`, `{"k":"r","f":x,"t":1}`, `{"k":"r","f":1,"t":2,"x":3}`, `{"k":"r","t":2,"f":1}`} {
		if _, _, _, ok := parseData([]byte(bad)); ok {
			t.Errorf("parseData(%q) accepted", bad)
		}
	}
}

func TestSummarize(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i))
	}
	if s := summarize(d); s.n != 100 || s.p50 != 50 || s.p99 != 99 || s.max != 100 {
		t.Fatalf("got %+v", s)
	}
	if s := summarize(nil); s != (summary{}) {
		t.Fatalf("empty: got %+v", s)
	}
}

func TestParseStatus(t *testing.T) {
	rss, peak, err := parseStatus([]byte("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nThreads:\t4\n"))
	if err != nil || rss != 1<<20 || peak != 2<<20 {
		t.Fatalf("got %d %d %v", rss, peak, err)
	}
	if _, _, err := parseStatus([]byte("Name:\tx\n")); err == nil {
		t.Fatal("accepted a status without VmRSS")
	}
}
