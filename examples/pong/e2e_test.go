//go:build !js

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/signalserver"
	"github.com/rollbox/rollbox/signalserver/signaltest"
	"go.uber.org/goleak"
)

// The end-to-end tests run real pong processes: this test binary itself,
// re-executed as the game when asMainEnv is set, so no separate build runs.
const asMainEnv = "PONG_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	switch os.Getenv(asMainEnv) {
	case "1":
		main()
		return
	case "desync": // what main does after a match with a desync
		exit(rollbox.Result{Frame: 600, Players: 2, Desyncs: 1}, nil)
		return
	}
	goleak.VerifyTestMain(m)
}

// peerRun is one pong process, started by startPeer and finished by wait.
type peerRun struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	code           int
	result         rollbox.Result
}

// startPeer starts pong with args.
func startPeer(t *testing.T, args ...string) *peerRun {
	t.Helper()
	return startAs(t, "1", args...)
}

// startAs starts this binary with asMainEnv set to as.
func startAs(t *testing.T, as string, args ...string) *peerRun {
	t.Helper()
	p := &peerRun{cmd: exec.Command(os.Args[0], args...)}
	p.cmd.Env = append(os.Environ(), asMainEnv+"="+as)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	return p
}

// wait waits for the process (at most two minutes) and reads its result
// line, the last line of its output.
func (p *peerRun) wait(t *testing.T) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		_ = p.cmd.Process.Kill()
		<-done
		t.Errorf("pong did not finish; stderr:\n%s", &p.stderr)
	}
	p.code = p.cmd.ProcessState.ExitCode()
	out := strings.TrimSpace(p.stdout.String())
	if err := json.Unmarshal([]byte(out[strings.LastIndex(out, "\n")+1:]), &p.result); err != nil {
		t.Errorf("pong's last line %q is no result: %v", out, err)
	}
}

// agree checks that every peer exited 0 with the same checksum at frame.
func agree(t *testing.T, peers []*peerRun, frame rollbox.Frame) {
	t.Helper()
	for i, p := range peers {
		if p.code != exitOK || p.result.Frame != frame || p.result.Desyncs != 0 {
			t.Fatalf("peer %d: exit %d, result %+v\nstderr:\n%s", i, p.code, p.result, &p.stderr)
		}
		if p.result.Checksum != peers[0].result.Checksum {
			t.Fatalf("peer %d checksum %x, peer 0 %x", i, p.result.Checksum, peers[0].result.Checksum)
		}
	}
}

// playMatch plays a headless match of n native peers on the signalling
// server at url, each with args besides its own seed.
func playMatch(t *testing.T, url string, n int, args ...string) []*peerRun {
	peers := make([]*peerRun, n)
	for i := range peers {
		peers[i] = startPeer(t, append([]string{"-server", url, "-room", t.Name(), "-players", fmt.Sprint(n),
			"-headless", "-loopback", "-seed", fmt.Sprint(i + 1)}, args...)...)
	}
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Go(func() { p.wait(t) })
	}
	wg.Wait()
	return peers
}

// Two processes meet on a real signalling server, connect over WebRTC,
// play 600 frames with bots and agree on the state.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	srv := signaltest.Start(t, signalserver.Config{})
	agree(t, playMatch(t, srv.URL(), 2, "-frames", "600"), 600)
}

// The same over 80 ms ± 30 ms and 5 % loss on every send: predictions go
// wrong, peers roll back, states still agree. Four players, one per side.
func TestEndToEndFourPlayersBadNetwork(t *testing.T) {
	t.Parallel()
	srv := signaltest.Start(t, signalserver.Config{})
	peers := playMatch(t, srv.URL(), 4, "-frames", "600", "-netsim", "latency=80ms,jitter=30ms,loss=0.05")
	agree(t, peers, 600)
	rollbacks := 0
	for _, p := range peers {
		rollbacks += p.result.Rollbacks
	}
	if rollbacks == 0 {
		t.Error("no rollbacks at 80 ms latency: the network conditions were not applied")
	}
}

// A failed match exits 1 with the reason: here the signalling server
// requires a room token that the peer lacks.
func TestEndToEndFailureExits1(t *testing.T) {
	t.Parallel()
	srv := signaltest.Start(t, signalserver.Config{AuthSecret: []byte("test secret")})
	p := startPeer(t, "-server", srv.URL(), "-room", t.Name(), "-headless", "-loopback")
	p.wait(t)
	if p.code != exitFailure || !strings.Contains(p.stderr.String(), "401") {
		t.Fatalf("without a token: exit %d, stderr %q; want exit 1 with the server's 401", p.code, &p.stderr)
	}
}

// The exit codes of main_native.go's exit.
const (
	exitOK      = 0
	exitFailure = 1
	exitDesync  = 3
)

// A match with a desync ends with exit status 3, after the result line.
func TestDesyncExits3(t *testing.T) {
	t.Parallel()
	p := startAs(t, "desync")
	p.wait(t)
	if p.code != exitDesync || p.result.Desyncs != 1 {
		t.Fatalf("exit %d, result %+v; want exit 3 and the result line", p.code, p.result)
	}
}

// TestEndToEndOpponentLeaves kills one of two peers mid-game (no clean
// leave): the other notices, lets the game play the missing paddle, and
// finishes the match.
func TestEndToEndOpponentLeaves(t *testing.T) {
	t.Parallel()
	srv := signaltest.Start(t, signalserver.Config{})
	var peers []*peerRun
	for i := range 2 {
		peers = append(peers, startPeer(t, "-server", srv.URL(), "-room", t.Name(), "-players", "2",
			"-headless", "-loopback", "-seed", fmt.Sprint(i+1), "-frames", "900"))
	}
	deadline := time.Now().Add(time.Minute)
	for srv.Metrics().Joins.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("peers did not join")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(5 * time.Second) // mid-game: about frame 250 of 900
	if err := peers[1].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = peers[1].cmd.Wait()
	peers[0].wait(t)
	agree(t, peers[:1], 900)
	if !strings.Contains(peers[0].stderr.String(), "player disconnected") {
		t.Errorf("the peer did not notice the kill:\n%s", &peers[0].stderr)
	}
}
