package redistest

import (
	"net"
	"strings"
	"testing"
)

func TestStartStopStart(t *testing.T) {
	rs := Start(t)
	if !strings.HasPrefix(rs.URL(), "redis://127.0.0.1:") || !rs.ping() {
		t.Fatalf("%s does not answer", rs.URL())
	}
	rs.Stop()
	if rs.ping() {
		t.Fatal("still answering after Stop")
	}
	rs.Start() // same port, empty again
	if !rs.ping() {
		t.Fatal("not answering after a restart")
	}
	host := strings.TrimPrefix(strings.TrimSuffix(rs.URL(), "/0"), "redis://")
	if _, _, err := net.SplitHostPort(host); err != nil {
		t.Fatal(err)
	}
}

func TestPauseResume(t *testing.T) {
	rs := Start(t)
	rs.Pause()
	if rs.ping() {
		t.Fatal("answering while paused")
	}
	rs.Resume()
	if !rs.ping() {
		t.Fatal("not answering after Resume")
	}
	rs.Pause()
	rs.Stop() // a paused server can be killed
}
