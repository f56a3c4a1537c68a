package signalserver

import (
	"slices"
	"strconv"
	"testing"
	"time"
)

// BenchmarkRelayLatency measures one-way signal latency, send to receive on
// one clock, one signal in flight at a time: on one in-memory instance, on
// one Redis-backed instance (both peers on it), and across two
// Redis-backed instances (the frame goes through the receiver's inbox).
// It reports the p50 and p99 of the samples.
//
//	go test -run '^$' -bench RelayLatency -benchtime 5000x ./signalserver
func BenchmarkRelayLatency(b *testing.B) {
	for _, bc := range []struct {
		name  string
		start func(b *testing.B) (*testCluster, int, int) // cluster, sender's and receiver's instance
	}{
		{"memory", func(b *testing.B) (*testCluster, int, int) {
			return &testCluster{servers: []*testServer{startServer(b, Config{})}}, 0, 0
		}},
		{"redis-same-instance", func(b *testing.B) (*testCluster, int, int) {
			return startRedisCluster(b, Config{}, 2), 0, 0
		}},
		{"redis-cross-instance", func(b *testing.B) (*testCluster, int, int) {
			return startRedisCluster(b, Config{}, 2), 0, 1
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c, from, to := bc.start(b)
			sender := c.servers[from].dial(b, "/bench")
			receiver := c.servers[to].dial(b, "/bench")
			sender.expect(newPeerMsg(receiver.id))
			samples := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				data := strconv.Itoa(i)
				start := time.Now()
				sender.signal(receiver.id, data)
				receiver.expect(signalMsg(sender.id, data))
				samples = append(samples, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(samples)
			pct := func(p float64) float64 {
				return float64(samples[int(p*float64(len(samples)-1))].Microseconds())
			}
			b.ReportMetric(pct(0.50), "p50-µs")
			b.ReportMetric(pct(0.99), "p99-µs")
		})
	}
}
