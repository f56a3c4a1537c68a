package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// server is a running server under test: its address, the process whose
// memory is measured, and the control channel of serve.
type server struct {
	kind    string
	addr    string // host:port
	pid     int
	ctl     io.WriteCloser // serve's stdin: "gc" lines; closing it stops the server
	replies chan string    // serve's stdout after the address; closed at EOF
	exited  chan struct{}  // closed once the server has stopped
	exitErr error          // set before exited closes
}

// startChild re-executes exe (this binary) as a server of the given kind on
// a loopback port. The child's stderr (its logs) goes to stderr.
func startChild(ctx context.Context, exe, kind string, stderr io.Writer) (*server, error) {
	cmd := exec.CommandContext(ctx, exe, "-serve", kind, "-addr", "127.0.0.1:0")
	cmd.Stderr = stderr
	cmd.WaitDelay = 5 * time.Second
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the %s server: %w", kind, err)
	}
	return attach(ctx, kind, cmd.Process.Pid, in, out, cmd.Wait)
}

// startInProcess runs a server of the given kind inside this process, as the
// child would run it: through run with the hidden flags and pipes for stdin
// and stdout. Its memory readings include the load generator's, so only
// tests use it.
func startInProcess(ctx context.Context, kind string, stderr io.Writer) (*server, error) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"-serve", kind, "-addr", "127.0.0.1:0"}, inR, outW, stderr)
		_ = outW.Close()
		_ = inR.Close() // unblocks serve's stdin reader
		errc <- err
	}()
	return attach(ctx, kind, os.Getpid(), inW, outR, func() error { return <-errc })
}

// attach reads the server's address from out and returns its handle. wait
// returns the server's exit status once out has reached EOF.
func attach(ctx context.Context, kind string, pid int, ctl io.WriteCloser, out io.Reader, wait func() error) (*server, error) {
	s := &server{kind: kind, pid: pid, ctl: ctl, replies: make(chan string, 4), exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.replies <- sc.Text() // the parent reads every reply it asks for
		}
		close(s.replies)
		s.exitErr = wait()
		close(s.exited)
	}()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	line, err := s.reply(ctx)
	if err == nil {
		var ok bool
		if s.addr, ok = strings.CutPrefix(line, "ADDR "); !ok {
			err = fmt.Errorf("expected ADDR host:port, got %q", line)
		}
	}
	if err != nil {
		_ = ctl.Close()
		<-s.exited
		return nil, fmt.Errorf("starting the %s server: %w", kind, errors.Join(err, s.exitErr))
	}
	return s, nil
}

// reply returns the server's next stdout line.
func (s *server) reply(ctx context.Context) (string, error) {
	select {
	case line, ok := <-s.replies:
		if !ok {
			return "", errors.New("server exited")
		}
		return line, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// gc has the server collect garbage and return memory to the OS, and
// returns its runtime statistics.
func (s *server) gc(ctx context.Context) (runtimeStats, error) {
	var st runtimeStats
	if _, err := io.WriteString(s.ctl, "gc\n"); err != nil {
		return st, fmt.Errorf("asking the server for a GC: %w", err)
	}
	line, err := s.reply(ctx)
	if err != nil {
		return st, fmt.Errorf("waiting for the server's GC: %w", err)
	}
	if err := json.Unmarshal([]byte(line), &st); err != nil {
		return st, fmt.Errorf("server GC reply %q: %w", line, err)
	}
	return st, nil
}

// memory reads the server process's resident set size and its peak, in
// bytes, from /proc/<pid>/status.
func (s *server) memory() (rss, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid))
	if err != nil {
		return 0, 0, fmt.Errorf("reading the server's RSS: %w", err)
	}
	return parseStatus(b)
}

// parseStatus extracts VmRSS and VmHWM (in kB) from /proc/<pid>/status.
func parseStatus(b []byte) (rss, peak int64, err error) {
	field := func(name string) (int64, error) {
		_, rest, ok := bytes.Cut(b, []byte("\n"+name+":"))
		if !ok {
			return 0, fmt.Errorf("no %s in /proc status", name)
		}
		line, _, _ := bytes.Cut(rest, []byte("\n"))
		num, ok := strings.CutSuffix(strings.TrimSpace(string(line)), " kB")
		if !ok {
			return 0, fmt.Errorf("%s: unexpected %q", name, line)
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
		return kb << 10, err
	}
	if rss, err = field("VmRSS"); err != nil {
		return 0, 0, err
	}
	peak, err = field("VmHWM")
	return rss, peak, err
}

// counters returns the rollbox server's non-zero drop and disconnect
// counters and its relayed-signal count, read from its /metrics page.
func (s *server) counters(ctx context.Context) (map[string]int64, error) {
	if s.kind != kindRollbox {
		return nil, nil // the bare relay counts nothing
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}} // loopback, no proxy, nothing left open
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	found := map[string]int64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		interesting := strings.HasPrefix(name, "signalserver_dropped_total") || strings.HasPrefix(name, "signalserver_disconnects_total") ||
			name == "signalserver_signals_relayed_total"
		if n, err := strconv.ParseInt(value, 10, 64); err == nil && n != 0 && interesting {
			found[strings.TrimPrefix(name, "signalserver_")] = n
		}
	}
	return found, sc.Err()
}

// stop closes the control channel, which makes the server shut down, and
// waits for it to exit.
func (s *server) stop(ctx context.Context) error {
	_ = s.ctl.Close()
	go func() { // drain replies nobody asked for, so the reader reaches EOF
		for range s.replies {
		}
	}()
	select {
	case <-s.exited:
		return s.exitErr
	case <-ctx.Done():
		return fmt.Errorf("waiting for the %s server to exit: %w", s.kind, ctx.Err())
	}
}
