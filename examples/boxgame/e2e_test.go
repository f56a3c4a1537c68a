//go:build !js && !template

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/signalserver"
	"github.com/rollbox/rollbox/signalserver/signaltest"
	"go.uber.org/goleak"
)

// The end-to-end tests run real boxgame processes: this test binary itself,
// re-executed as the game when asMainEnv is set, so no separate build runs.
const asMainEnv = "BOXGAME_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		main()
		return
	}
	goleak.VerifyTestMain(m)
}

// peerRun is one finished boxgame process.
type peerRun struct {
	code   int
	result rollbox.Result
	stdout string
	stderr string
}

// signalServer starts a real signalling server on loopback.
func signalServer(t *testing.T) (*signalserver.Server, string) {
	srv := signaltest.Start(t, signalserver.Config{})
	return srv.Server, srv.URL()
}

// startPeer starts one boxgame process.
func startPeer(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	return startPeerEnv(t, nil, args...)
}

// finish waits for a peer (at most two minutes) and parses its last line.
func finish(t *testing.T, cmd *exec.Cmd, stdout, stderr *bytes.Buffer) peerRun {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Errorf("boxgame did not finish; stderr:\n%s", stderr)
	}
	r := peerRun{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	_ = json.Unmarshal([]byte(lines[len(lines)-1]), &r.result)
	return r
}

// playMatch plays one headless match of n peers; extra[i] adds flags to peer i.
func playMatch(t *testing.T, url string, n int, common []string, extra map[int][]string) []peerRun {
	t.Helper()
	type proc struct {
		cmd            *exec.Cmd
		stdout, stderr *bytes.Buffer
	}
	procs := make([]proc, n)
	for i := range n {
		args := append([]string{"-server", url, "-room", t.Name(), "-players", fmt.Sprint(n),
			"-headless", "-loopback", "-seed", fmt.Sprint(i + 1)}, common...)
		args = append(args, extra[i]...)
		cmd, out, errOut := startPeer(t, args...)
		procs[i] = proc{cmd, out, errOut}
	}
	runs := make([]peerRun, n)
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Go(func() { runs[i] = finish(t, p.cmd, p.stdout, p.stderr) })
	}
	wg.Wait()
	return runs
}

// agree checks that every run exited 0 with the same checksum at frame.
func agree(t *testing.T, runs []peerRun, frame int) {
	t.Helper()
	for i, r := range runs {
		if r.code != exitOK || int(r.result.Frame) != frame || r.result.Desyncs != 0 {
			t.Fatalf("peer %d: exit %d, result %+v\nstderr:\n%s", i, r.code, r.result, r.stderr)
		}
		if r.result.Checksum != runs[0].result.Checksum {
			t.Fatalf("peer %d checksum %016x, peer 0 %016x", i, r.result.Checksum, runs[0].result.Checksum)
		}
	}
}

func TestEndToEndThreePeers(t *testing.T) {
	t.Parallel()
	_, url := signalServer(t)
	runs := playMatch(t, url, 3, []string{"-frames", "600"}, nil)
	agree(t, runs, 600)
	for i, r := range runs {
		if r.result.Players != 3 {
			t.Errorf("peer %d: %d players", i, r.result.Players)
		}
	}
}

// TestEndToEndBadNetwork plays over 80 ms ± 30 ms and 5 % loss on every
// peer's sends: predictions go wrong, rollbacks happen, states still agree.
func TestEndToEndBadNetwork(t *testing.T) {
	t.Parallel()
	_, url := signalServer(t)
	runs := playMatch(t, url, 3, []string{"-frames", "600", "-netsim", "latency=80ms,jitter=30ms,loss=0.05"}, nil)
	agree(t, runs, 600)
	rollbacks := 0
	for _, r := range runs {
		rollbacks += r.result.Rollbacks
		if r.result.MaxPing < 100*time.Millisecond {
			t.Errorf("max ping %v under 80 ms one-way latency", r.result.MaxPing)
		}
	}
	if rollbacks == 0 {
		t.Error("no rollbacks at 80 ms latency: the network conditions were not applied")
	}
}

// TestEndToEndDesyncDetected corrupts one peer's state at frame 300: every
// peer detects the desync and exits 3.
func TestEndToEndDesyncDetected(t *testing.T) {
	t.Parallel()
	_, url := signalServer(t)
	runs := playMatch(t, url, 3, []string{"-frames", "600"}, map[int][]string{1: {"-desync-at", "300"}})
	for i, r := range runs {
		if r.code != exitDesync || r.result.Desyncs == 0 {
			t.Errorf("peer %d: exit %d, result %+v, want exit 3\nstderr:\n%s", i, r.code, r.result, r.stderr)
		}
		if !strings.Contains(r.stderr, "desync detected") {
			t.Errorf("peer %d: no one-line reason on stderr: %q", i, r.stderr)
		}
		// The state dumps show which box differs: box 0, nudged on peer 1.
		if !strings.Contains(r.stderr, "state differs") || !strings.Contains(r.stderr, "box 0 ") {
			t.Errorf("peer %d: no state diff logged: %q", i, r.stderr)
		}
		// Detected at the frame it happened, not before: the peers agreed
		// until then.
		for line := range strings.Lines(r.stderr) {
			if strings.Contains(line, `msg="rollbox: desync"`) {
				if !strings.Contains(line, " frame=300 ") {
					t.Errorf("peer %d: first desync reported: %s", i, line)
				}
				break
			}
		}
	}
}

// TestEndToEndPeerKilled: one of three peers is killed mid-game (no clean
// leave); the other two finish and agree.
func TestEndToEndPeerKilled(t *testing.T) {
	t.Parallel()
	srv, url := signalServer(t)
	type proc struct {
		cmd            *exec.Cmd
		stdout, stderr *bytes.Buffer
	}
	var procs []proc
	for i := range 3 {
		cmd, out, errOut := startPeer(t, "-server", url, "-room", t.Name(), "-players", "3",
			"-headless", "-loopback", "-seed", fmt.Sprint(i+1), "-frames", "900")
		procs = append(procs, proc{cmd, out, errOut})
	}
	deadline := time.Now().Add(time.Minute)
	for srv.Metrics().Joins.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatal("peers did not join")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(5 * time.Second) // mid-game: about frame 250 of 900
	if err := procs[2].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = procs[2].cmd.Wait()
	runs := []peerRun{finish(t, procs[0].cmd, procs[0].stdout, procs[0].stderr), finish(t, procs[1].cmd, procs[1].stdout, procs[1].stderr)}
	agree(t, runs, 900)
	for i, r := range runs {
		if !strings.Contains(r.stderr, "player disconnected") {
			t.Errorf("peer %d did not notice the kill: %s", i, r.stderr)
		}
	}
}

// TestEndToEndRoomToken: against a server that requires room tokens, peers
// with -token play; a peer without one is refused with the server's reason.
func TestEndToEndRoomToken(t *testing.T) {
	t.Parallel()
	secret := []byte("test secret")
	srv := signaltest.Start(t, signalserver.Config{AuthSecret: secret})
	token, err := signalserver.MintToken(secret, t.Name(), time.Hour, 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	runs := playMatch(t, srv.URL(), 2, []string{"-frames", "120", "-token", token}, nil)
	agree(t, runs, 120)

	cmd, stdout, stderr := startPeer(t, "-server", srv.URL(), "-room", t.Name(), "-players", "2",
		"-headless", "-loopback", "-frames", "120")
	r := finish(t, cmd, stdout, stderr)
	if r.code != exitFailure || !strings.Contains(r.stderr, "401") {
		t.Fatalf("without a token: exit %d, stderr %q; want exit 1 with the 401 refusal", r.code, r.stderr)
	}
}

// TestEndToEndRecordAndReplay: a peer of a real match over a bad network
// records it; played back, the replay reaches the same checksum as the
// match; played back with the world corrupted at a frame (as if Step had
// changed since), it fails naming that frame.
func TestEndToEndRecordAndReplay(t *testing.T) {
	t.Parallel()
	_, url := signalServer(t)
	file := t.TempDir() + "/match.replay"
	runs := playMatch(t, url, 3, []string{"-frames", "600", "-netsim", "latency=40ms,jitter=20ms,loss=0.05"},
		map[int][]string{1: {"-record", file}})
	agree(t, runs, 600)
	info, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("replay of 600 frames, 3 players: %d bytes", info.Size())
	cmd, out, errOut := startPeer(t, "-replay", file, "-frames", "600")
	r := finish(t, cmd, out, errOut)
	if r.code != exitOK || r.result.Frame != 600 || r.result.Checksum != runs[0].result.Checksum {
		t.Fatalf("replay: exit %d, result %+v; want 0 and the match's checksum %016x\nstderr:\n%s", r.code, r.result, runs[0].result.Checksum, r.stderr)
	}
	cmd, out, errOut = startPeer(t, "-replay", file, "-desync-at", "321")
	r = finish(t, cmd, out, errOut)
	if r.code != exitFailure || !strings.Contains(r.stderr, "differs from the recording at frame 321") {
		t.Fatalf("replay of a changed game: exit %d, stderr %q; want exit 1 naming frame 321", r.code, r.stderr)
	}
}
