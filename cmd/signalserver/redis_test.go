package main

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rollbox/rollbox/internal/redistest"
)

// TestRedisFlagSharesRoomsAcrossInstances runs two instances configured by
// -redis (one through its environment twin) against a real redis-server on
// a loopback port: a peer on each meets the other and they exchange a signal.
func TestRedisFlagSharesRoomsAcrossInstances(t *testing.T) {
	url := redistest.Start(t).URL()

	var addrs []string
	var stops []func() error
	for i, setup := range []struct {
		args []string
		env  map[string]string
	}{
		{args: []string{"-redis", url, "-redis-heartbeat", "100ms", "-redis-presence-ttl", "10s"}},
		{env: map[string]string{"SIGNALSERVER_REDIS": url, "SIGNALSERVER_REDIS_HEARTBEAT": "100ms", "SIGNALSERVER_REDIS_PRESENCE_TTL": "10s"}},
	} {
		cfg, opts, err := parseFlags(setup.args, env(setup.env), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Redis.URL != url || cfg.Redis.Heartbeat != 100*time.Millisecond {
			t.Fatalf("instance %d: Redis settings %+v", i, cfg.Redis)
		}
		logger, _ := newLogger("error", "text", io.Discard)
		cfg.Logger = logger
		cfg.MaxConnsPerIP, cfg.JoinsPerSecondPerIP = -1, -1
		addr, stop := serveOnLoopback(t, cfg, opts, logger)
		addrs = append(addrs, addr)
		stops = append(stops, stop)
	}
	for _, addr := range addrs {
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := http.Get("http://" + addr + "/health")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never healthy: %v", addr, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	join := func(addr string) (*websocket.Conn, string) {
		conn, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/shared?next=2", nil)
		if err != nil {
			t.Fatal(err)
		}
		var msg struct{ IdAssigned string }
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if err := conn.ReadJSON(&msg); err != nil {
			t.Fatal(err)
		}
		return conn, msg.IdAssigned
	}
	a, _ := join(addrs[0])
	defer a.Close()
	b, bID := join(addrs[1])
	defer b.Close()
	var np struct{ NewPeer string }
	if err := a.ReadJSON(&np); err != nil || np.NewPeer != bID {
		t.Fatalf("a got NewPeer %q (%v), want %s", np.NewPeer, err, bID)
	}
	if err := a.WriteMessage(websocket.TextMessage, []byte(`{"Signal":{"receiver":"`+bID+`","data":"hi"}}`)); err != nil {
		t.Fatal(err)
	}
	var sig struct {
		Signal struct{ Data json.RawMessage }
	}
	_ = b.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := b.ReadJSON(&sig); err != nil || string(sig.Signal.Data) != `"hi"` {
		t.Fatalf("b got %s (%v), want the signal", sig.Signal.Data, err)
	}
	for _, stop := range stops {
		if err := stop(); err != nil {
			t.Fatalf("serve: %v", err)
		}
	}
}
