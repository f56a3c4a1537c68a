package rollbox

import (
	"bytes"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rollbox/rollbox/internal/ratelog"
	"github.com/rollbox/rollbox/rollback"
)

// dumpingSession is a session whose every poll brings one desync dump
// event, as a peer that lies about its checksum every check causes.
type dumpingSession struct{ ev []rollback.Event[string] }

func (s *dumpingSession) AdvanceFrame() ([]rollback.Request[walker, uint8], error) { return nil, nil }
func (s *dumpingSession) Events() []rollback.Event[string]                         { return s.ev }
func (s *dumpingSession) CurrentFrame() rollback.Frame                             { return 0 }
func (s *dumpingSession) PollRemoteClients()                                       {}
func (s *dumpingSession) State() rollback.SessionState                             { return rollback.Running }

// Once the log's burst is spent, a desync dump a peer causes costs no more
// than its event: the line diff of two dumps (up to 64 KiB each, about a
// megabyte of lines to split and join) is made only for a line that is
// written. It was made for every dump, written or not.
func TestSuppressedDesyncLinesMakeNoDiff(t *testing.T) {
	dump := func(c byte) []byte {
		var b bytes.Buffer
		for b.Len() < rollback.MaxStateDumpSize-4 {
			b.Write([]byte{'x', '=', c, '\n'})
		}
		return b.Bytes()
	}
	sess := &dumpingSession{ev: []rollback.Event[string]{{Kind: rollback.EventDesyncDump, Addr: "hostile", Frame: 10,
		LocalChecksum: 1, RemoteChecksum: 2, LocalDump: dump('1'), RemoteDump: dump('2')}}}
	var logs bytes.Buffer
	start := time.Now()
	r := &runner[walker, uint8, string]{sess: sess, log: slog.New(slog.NewTextHandler(&logs, nil)),
		remoteLog: ratelog.Limiter{Interval: time.Second, Burst: 10, Now: func() time.Time { return start }}}
	for range 10 { // the burst: written, with their diffs
		if err := r.handleEvents(); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(logs.String(), "x=1 | x=2"); n < 10 {
		t.Fatalf("the burst's lines carry %d diffs, want 10 or more", n)
	}
	r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	const events = 50
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range events {
		if err := r.handleEvents(); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / events; per > 4<<10 {
		t.Errorf("%d bytes allocated per suppressed desync dump, want under 4 KiB", per)
	}
	if r.desyncs != 0 || r.lastDesync.Frame != 10 {
		t.Errorf("desyncs %d, last %v: the events were not handled", r.desyncs, r.lastDesync)
	}
}
