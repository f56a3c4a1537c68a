//go:build (darwin || dragonfly || freebsd || linux || netbsd || openbsd) && !template

// The rejoin test reads the layer's record files and probes their flock
// locks, which exist on these systems (see rollbox's rejoin_store_unix.go).

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestEndToEndRejoinAfterSIGKILL: one of three headless peers is killed
// (SIGKILL) mid-match and started again with the same command line and
// environment; it comes back to its match as the same player, and all three
// finish with the same checksum. What the restarted process recognises
// itself by is the record the layer keeps in the user's cache directory:
// every process gets the same fresh XDG_CACHE_HOME, so the three records of
// one command line (the seed is not part of it) sit side by side, and the
// restarted process must take the dead one's, not a live one's.
func TestEndToEndRejoinAfterSIGKILL(t *testing.T) {
	t.Parallel()
	// 20 s at 60 fps: the kill comes at about frame 250, and the restarted
	// peer is back long before the end even on a loaded machine (a match
	// over refuses it, and it would join a new one).
	const frames = 1200
	_, url := signalServer(t)
	cache := t.TempDir()
	env := []string{"XDG_CACHE_HOME=" + cache}
	dir := filepath.Join(cache, "rollbox", "rejoin")
	type proc struct {
		cmd            *exec.Cmd
		stdout, stderr *bytes.Buffer
	}
	procs := make([]proc, 3)
	args := make([][]string, 3)
	for i := range procs {
		args[i] = []string{"-server", url, "-room", t.Name(), "-players", "3", "-headless", "-loopback",
			"-seed", fmt.Sprint(i + 1), "-frames", fmt.Sprint(frames)}
		cmd, out, errOut := startPeerEnv(t, env, args[i]...)
		procs[i] = proc{cmd, out, errOut}
	}
	// stop kills every peer and reports their logs: the buffers may be
	// read only once the processes are gone.
	stop := func(format string, a ...any) {
		t.Helper()
		var logs strings.Builder
		for i, p := range procs {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
			fmt.Fprintf(&logs, "peer %d stderr:\n%s\n", i, p.stderr)
		}
		t.Fatalf(format+"\n%s", append(a, logs.String())...)
	}

	// Mid-match: every player's record, which its match refreshes about
	// every second with the frame it reached, says frame 200 or later.
	if err := waitForRecords(dir, 3, 200, 90*time.Second); err != nil {
		stop("%v", err)
	}
	victim := procs[2]
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = victim.cmd.Wait()
	// The dead one's record is the one whose slot no process holds now.
	dead, err := unheldRecords(dir)
	if err != nil || len(dead) != 1 {
		stop("after the kill, records not held by a live process: %+v, %v; want exactly one", dead, err)
	}

	restarted := time.Now()
	cmd, out, errOut := startPeerEnv(t, env, args[2]...)
	procs[2] = proc{cmd, out, errOut}
	runs := make([]peerRun, len(procs))
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Go(func() { runs[i] = finish(t, p.cmd, p.stdout, p.stderr) })
	}
	wg.Wait()
	defer func() {
		if t.Failed() {
			for i, r := range runs {
				t.Logf("peer %d stdout:\n%sstderr:\n%s", i, r.stdout, r.stderr)
			}
		}
	}()
	agree(t, runs, frames)

	back := backLine.FindStringSubmatch(runs[2].stderr)
	if back == nil {
		t.Fatalf("the restarted peer did not come back to its match (a fresh join?); stderr:\n%s", runs[2].stderr)
	}
	if player := fmt.Sprint(dead[0].Record.Handle + 1); back[2] != player {
		t.Fatalf("the restarted peer came back as player %s; the killed one was player %s", back[2], player)
	}
	for i, r := range runs[:2] {
		if !strings.Contains(r.stderr, `msg="rollbox: player readmitted" player=`+back[2]+" ") {
			t.Errorf("peer %d did not readmit player %s; stderr:\n%s", i, back[2], r.stderr)
		}
	}
	// Every match ended: no record is left to come back to.
	if left, err := filepath.Glob(filepath.Join(dir, "*.json")); err != nil || len(left) != 0 {
		t.Errorf("records left after the match ended: %v %v", left, err)
	}
	at, err := time.Parse(time.RFC3339Nano, back[1])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("player %s killed at about frame %d; restart to back in the match: %v (state of frame %s, playing from frame %s)",
		back[2], dead[0].Record.Frame, at.Sub(restarted).Round(time.Millisecond), back[3], back[4])
}

// backLine is the restarted peer's log line saying it is back in its match:
// its time, player, and the frames of the state it received (from) and of
// its inputs counting again (at).
var backLine = regexp.MustCompile(`time=(\S+) level=INFO msg="rollbox: back in the match after a restart" player=(\d+) from=(\d+) at=(\d+)`)

// rejoinRecordFile is the part of the layer's record file that the test
// reads.
type rejoinRecordFile struct {
	Record struct {
		Handle int `json:"handle"`
		Frame  int `json:"frame"`
	} `json:"record"`
}

// readRecords reads the record files in dir by path.
func readRecords(dir string) (map[string]rejoinRecordFile, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	recs := make(map[string]rejoinRecordFile)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var f rejoinRecordFile
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		recs[p] = f
	}
	return recs, nil
}

// waitForRecords waits (at most timeout) until dir holds n records, each of
// frame at least frame.
func waitForRecords(dir string, n, frame int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		recs, err := readRecords(dir)
		if err != nil {
			return err
		}
		reached := 0
		for _, f := range recs {
			if f.Record.Frame >= frame {
				reached++
			}
		}
		if reached >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v, %d records of frame %d or later in %s; want %d: %+v", timeout, reached, frame, dir, n, recs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// unheldRecords returns the records in dir whose slot lock (the file next
// to it, <name>.lock) no process holds: those of processes that died.
func unheldRecords(dir string) ([]rejoinRecordFile, error) {
	recs, err := readRecords(dir)
	if err != nil {
		return nil, err
	}
	var dead []rejoinRecordFile
	for p, f := range recs {
		l, err := os.OpenFile(strings.TrimSuffix(p, ".json")+".lock", os.O_RDWR, 0)
		if err != nil {
			return nil, err
		}
		err = syscall.Flock(int(l.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		l.Close() // frees the lock, if taken
		switch {
		case err == nil:
			dead = append(dead, f)
		case !errors.Is(err, syscall.EWOULDBLOCK):
			return nil, fmt.Errorf("flock %s: %w", p, err)
		}
	}
	return dead, nil
}
