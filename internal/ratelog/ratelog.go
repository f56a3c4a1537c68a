// Package ratelog limits the log lines that another party can trigger: a
// peer or client that sends garbage in a loop must not flood the log (and
// fill the disk) with one line per message. A Limiter lets one line through
// per interval (after an optional burst) and counts the ones it holds back;
// the next line it lets through carries that count, so nothing goes
// unreported.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Limiter rate limits the lines about one party: keep one per party (per
// peer, per connection). Set Interval and Now before first use; the zero
// Limiter lets every line through. Its methods may be called concurrently.
type Limiter struct {
	// Interval is the least time between two lines let through, once
	// the burst is spent.
	Interval time.Duration
	// Burst is how many lines may go through at once before Interval
	// spaces them; 0 means 1.
	Burst int
	// Now is the clock; nil means time.Now. Tests inject one to run
	// without sleeping.
	Now func() time.Time

	mu    sync.Mutex
	next  time.Time // when the burst is whole again: each line let through moves it an interval on
	held  uint64    // lines held back since the last one let through
	total uint64    // lines held back in all
}

// Allow reports whether a line may be written now. When it may, held is the
// number of lines held back since the previous one, for the caller to report
// with this one.
func (l *Limiter) Allow() (ok bool, held uint64) {
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	t := now()
	l.mu.Lock()
	defer l.mu.Unlock()
	// A generic cell rate algorithm: next runs an interval ahead per line
	// let through, and a line may go while next is less than a burst of
	// intervals ahead of now.
	burst := max(l.Burst, 1)
	if l.next.Sub(t) > time.Duration(burst-1)*l.Interval {
		l.held++
		l.total++
		return false, 0
	}
	if l.next.Before(t) {
		l.next = t
	}
	l.next = l.next.Add(l.Interval)
	held, l.held = l.held, 0
	return true, held
}

// Suppressed returns the number of lines held back since the Limiter was
// made.
func (l *Limiter) Suppressed() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// Log writes a line to log as log.Log would, unless l holds it back. A line
// written after some were held back gets the attribute "suppressed" with
// their number. Lines log would not write at level (see
// slog.Logger.Enabled) are neither written nor counted, so that disabled
// debug lines do not hold back warnings. Log reports whether it held the
// line back.
func (l *Limiter) Log(ctx context.Context, log *slog.Logger, level slog.Level, msg string, args ...any) (suppressed bool) {
	if !log.Enabled(ctx, level) {
		return false
	}
	ok, held := l.Allow()
	if !ok {
		return true
	}
	if held > 0 {
		// A full slice expression: append must not write into the
		// caller's array.
		args = append(args[:len(args):len(args)], "suppressed", held)
	}
	log.Log(ctx, level, msg, args...)
	return false
}
