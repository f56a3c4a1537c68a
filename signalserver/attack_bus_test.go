package signalserver

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestAttackBusFloodDisconnectsReadingPeer: a peer on another instance
// floods a room-mate that reads steadily, at a rate below the flood's. Sent
// from the same instance, the flood would pause its sender; through the bus
// nothing pushes back, so the receiver's queue overruns twice its bound and
// the honest receiver was disconnected as slow. The flood's excess must be
// dropped instead: the victim stays, its memory stays within twice its
// bound, and once the flood ends signals get through again.
func TestAttackBusFloodDisconnectsReadingPeer(t *testing.T) {
	cfg := Config{SendQueueBytes: 64 << 10, SlowConsumerTimeout: 2 * time.Second, WriteTimeout: 30 * time.Second}
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) *testCluster
	}{
		{"same-instance", func(t *testing.T) *testCluster { return &testCluster{servers: []*testServer{startServer(t, cfg)}} }},
		{"across-instances", func(t *testing.T) *testCluster { return startSlowRedisPair(t, cfg) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.start(t)
			attacker := c.dial(t, "/r")
			victim := c.dial(t, "/r")
			attacker.expect(newPeerMsg(victim.id))
			there := c.servers[len(c.servers)-1] // the victim's instance
			peak := peakQueuedBytes(there)
			payload := `"` + strings.Repeat("z", 16<<10) + `"`
			const n = 1000 // 16 MiB
			got := make(chan error, 1)
			go func() {
				for i := 0; ; i++ {
					_ = victim.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
					_, msg, err := victim.conn.ReadMessage()
					if err != nil {
						got <- fmt.Errorf("after %d signals: %w", i, err)
						return
					}
					if string(msg) == signalMsg(attacker.id, `"end"`) {
						got <- nil
						return
					}
					time.Sleep(2 * time.Millisecond) // ~8 MB/s: a good home connection
				}
			}()
			for range n {
				attacker.signal(victim.id, payload)
			}
			// Once the flood has drained, a signal gets through.
			c.settled(t)
			eventually(t, "the flood drained", func() bool { return there.Metrics().QueuedBytes.Load() == 0 })
			attacker.signal(victim.id, `"end"`)
			if err := <-got; err != nil {
				t.Fatalf("the victim, reading all the time: %v (%s)", err, c.disconnects())
			}
			if d := c.disconnects(); d != "" {
				t.Errorf("disconnects: %s", d)
			}
			if got := c.sum(func(m *Metrics) int64 { return m.Peers.Load() }); got != 2 {
				t.Errorf("peers = %d, want 2", got)
			}
			// The victim's queue stays within twice its bound.
			if got := peak(); got > 2*cfg.SendQueueBytes+1024 {
				t.Errorf("queued up to %d bytes, want at most %d", got, 2*cfg.SendQueueBytes+1024)
			}
		})
	}
}
