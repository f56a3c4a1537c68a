// Package recordtb tests test helpers: it runs one against a testing.TB
// that records what the helper reports instead of failing the test, so
// that a test can check that a helper fails when it should, and says why.
package recordtb

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// Report is what a helper reported, each message formatted as the
// testing package would.
type Report struct {
	Logs   []string // Log and Logf
	Errors []string // Error and Errorf
	Fatals []string // Fatal and Fatalf, at most one: it ends the helper
}

// Failed reports whether the helper failed the test it was given.
func (r Report) Failed() bool { return len(r.Errors) > 0 || len(r.Fatals) > 0 }

// recorder passes every call but the reporting ones to the test.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	report Report
}

// Run runs f, in a goroutine of its own, with a testing.TB that records
// Log, Error and Fatal (and their f forms) instead of passing them to t,
// and returns what it recorded once f has returned or called Fatal, which
// ends f's goroutine as it would end a test's. Everything else (Context,
// Cleanup, TempDir, Name) is t's; Helper does nothing, so t may be nil
// when f calls nothing else. What cleanups report after Run has returned
// goes unrecorded.
func Run(t testing.TB, f func(testing.TB)) Report {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.report
}

func (r *recorder) add(to *[]string, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*to = append(*to, msg)
}

func (r *recorder) Helper() {}

func (r *recorder) Log(args ...any) { r.add(&r.report.Logs, sprintln(args...)) }

func (r *recorder) Logf(format string, args ...any) {
	r.add(&r.report.Logs, fmt.Sprintf(format, args...))
}

func (r *recorder) Error(args ...any) { r.add(&r.report.Errors, sprintln(args...)) }

func (r *recorder) Errorf(format string, args ...any) {
	r.add(&r.report.Errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatal(args ...any) {
	r.add(&r.report.Fatals, sprintln(args...))
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.add(&r.report.Fatals, fmt.Sprintf(format, args...))
	runtime.Goexit()
}

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.report.Failed()
}

// sprintln formats as t.Error does: operands always spaced, no newline.
func sprintln(args ...any) string {
	s := fmt.Sprintln(args...)
	return s[:len(s)-1]
}
