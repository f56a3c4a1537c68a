package ratelog

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rollbox/rollbox/internal/testclock"
)

func TestAllowLetsOneThroughPerIntervalAndCountsTheRest(t *testing.T) {
	c := testclock.New()
	l := &Limiter{Interval: 10 * time.Second, Now: c.Now}
	if ok, held := l.Allow(); !ok || held != 0 {
		t.Fatalf("first line: %v, %d held; want let through, 0", ok, held)
	}
	for i := range 5 {
		if ok, _ := l.Allow(); ok {
			t.Fatalf("line %d within the interval let through", i+2)
		}
		c.Advance(time.Second)
	}
	c.Advance(5*time.Second - time.Nanosecond)
	if ok, _ := l.Allow(); ok {
		t.Fatal("line just before the interval ended let through")
	}
	c.Advance(time.Nanosecond)
	if ok, held := l.Allow(); !ok || held != 6 {
		t.Fatalf("line after the interval: %v, %d held; want let through, 6", ok, held)
	}
	if ok, _ := l.Allow(); ok {
		t.Fatal("a new interval starts with each line let through")
	}
	c.Advance(10 * time.Second)
	if ok, held := l.Allow(); !ok || held != 1 {
		t.Fatalf("after the second interval: %v, %d held; want let through, 1", ok, held)
	}
	if got := l.Suppressed(); got != 7 {
		t.Fatalf("Suppressed %d, want 7", got)
	}
}

// A burst lets that many lines through at once; then the interval spaces
// them, and a quiet spell refills the burst, never beyond it.
func TestBurst(t *testing.T) {
	c := testclock.New()
	l := &Limiter{Interval: time.Second, Burst: 3, Now: c.Now}
	for i := range 3 {
		if ok, _ := l.Allow(); !ok {
			t.Fatalf("line %d of a burst of 3 held back", i+1)
		}
	}
	if ok, _ := l.Allow(); ok {
		t.Fatal("fourth line of a burst of 3 let through")
	}
	c.Advance(time.Second)
	if ok, held := l.Allow(); !ok || held != 1 {
		t.Fatalf("a second later: %v, %d held; want let through, 1", ok, held)
	}
	if ok, _ := l.Allow(); ok {
		t.Fatal("one interval buys one line")
	}
	c.Advance(time.Hour)
	for i := range 3 {
		if ok, _ := l.Allow(); !ok {
			t.Fatalf("after a quiet hour, line %d held back", i+1)
		}
	}
	if ok, _ := l.Allow(); ok {
		t.Fatal("a quiet spell refilled the burst beyond 3")
	}
}

func TestZeroLimiterLetsEveryLineThrough(t *testing.T) {
	var l Limiter
	for range 100 {
		if ok, held := l.Allow(); !ok || held != 0 {
			t.Fatalf("zero Limiter: %v, %d held", ok, held)
		}
	}
}

func TestLog(t *testing.T) {
	c := testclock.New()
	l := &Limiter{Interval: time.Minute, Now: c.Now}
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx := context.Background()

	args := make([]any, 2, 4)
	args[0], args[1] = "peer", "p1"
	for range 1000 {
		l.Log(ctx, log, slog.LevelWarn, "bad frame", args...)
		// Disabled lines are neither written nor counted, and do not use up
		// the interval.
		if l.Log(ctx, log, slog.LevelDebug, "detail") {
			t.Fatal("a disabled line counted as held back")
		}
	}
	c.Advance(time.Minute)
	if l.Log(ctx, log, slog.LevelWarn, "bad frame", args...) {
		t.Fatal("line after the interval held back")
	}
	if args[:4][2] != nil {
		t.Fatal("Log wrote into the caller's args array")
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), out.String())
	}
	if strings.Contains(lines[0], "suppressed") || !strings.Contains(lines[0], "peer=p1") {
		t.Errorf("first line %q", lines[0])
	}
	if !strings.Contains(lines[1], "peer=p1 suppressed=999") {
		t.Errorf("second line %q, want the 999 held back", lines[1])
	}
	if got := l.Suppressed(); got != 999 {
		t.Errorf("Suppressed %d, want 999", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	l := &Limiter{Interval: time.Hour}
	var wg sync.WaitGroup
	var mu sync.Mutex
	let := 0
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				if ok, _ := l.Allow(); ok {
					mu.Lock()
					let++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if let != 1 || l.Suppressed() != 7999 {
		t.Fatalf("%d let through, %d held back; want 1 and 7999", let, l.Suppressed())
	}
}

func BenchmarkLogHeldBack(b *testing.B) {
	l := &Limiter{Interval: time.Hour}
	log := slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	ctx := context.Background()
	l.Log(ctx, log, slog.LevelWarn, "first")
	b.ReportAllocs()
	for b.Loop() {
		l.Log(ctx, log, slog.LevelWarn, "flood")
	}
}
