// Package redistest runs a real redis-server on a loopback port for tests:
// started per test without persistence, never the system service, and
// killable to test what happens when Redis goes away.
package redistest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/rollbox/rollbox/internal/syncbuf"
)

// Server is a real redis-server on a loopback port, started for one
// test without persistence, never the system service.
type Server struct {
	t      testing.TB
	port   int
	dir    string
	cmd    *exec.Cmd
	output *syncbuf.Buffer // written by the child while Fatalf may read it
	exited chan struct{}
}

func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server not found (make deps installs the Debian package redis-server): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	rs := &Server{t: t, port: port, dir: t.TempDir()}
	rs.Start()
	t.Cleanup(rs.Stop)
	return rs
}

// URL returns the server's redis:// URL, database 0.
func (rs *Server) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", rs.port) }

// Start runs redis-server (again, after Stop) and waits until it answers
// PING.
func (rs *Server) Start() {
	rs.t.Helper()
	rs.output = &syncbuf.Buffer{}
	rs.cmd = exec.Command("redis-server",
		"--port", strconv.Itoa(rs.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", rs.dir, "--loglevel", "warning")
	rs.cmd.Stdout, rs.cmd.Stderr = rs.output, rs.output
	if err := rs.cmd.Start(); err != nil {
		rs.t.Fatal(err)
	}
	rs.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(rs.cmd, rs.exited)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if rs.ping() {
			return
		}
		select {
		case <-rs.exited:
			rs.t.Fatalf("redis-server exited: %s", rs.output)
		default:
		}
		if time.Now().After(deadline) {
			rs.t.Fatalf("redis-server did not answer: %s", rs.output)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (rs *Server) ping() bool {
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", rs.port), time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(conn, "PING\r\n"); err != nil {
		return false
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && line == "+PONG\r\n"
}

// Pause stops redis-server with SIGSTOP: it keeps its data and its
// connections, and the kernel still accepts connections and buffers what
// clients send, but nothing is answered until Resume. It is a Redis stalled
// by a long fork, a swapped-out page or a frozen VM.
func (rs *Server) Pause() {
	rs.t.Helper()
	if err := rs.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		rs.t.Fatalf("SIGSTOP redis-server: %v", err)
	}
}

// Resume continues a paused redis-server with SIGCONT: it then runs the
// commands that arrived meanwhile, including those whose client gave up.
func (rs *Server) Resume() {
	rs.t.Helper()
	if err := rs.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		rs.t.Fatalf("SIGCONT redis-server: %v", err)
	}
}

// Stop kills redis-server: it loses everything, as a crashed one does.
func (rs *Server) Stop() {
	if rs.cmd == nil {
		return
	}
	_ = rs.cmd.Process.Kill() // SIGKILL ends a paused one too
	<-rs.exited
	rs.cmd = nil
}
