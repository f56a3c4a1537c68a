package signalserver

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestAttackBusFloodFillsRedis: an instance's inbox in Redis was bounded
// in frames only (InboxLen, 10,000), so while the instance falls behind (a
// GC pause, a starved CPU, a stall) one peer elsewhere that floods one of
// its peers with the largest signals makes Redis hold 10,000 × 64 KiB:
// 640 MiB per instance, enough to run Redis out of memory and take every
// instance down with it. The inbox must be bounded in bytes too.
func TestAttackBusFloodFillsRedis(t *testing.T) {
	c := startSlowRedisPair(t, Config{})
	attacker := c.servers[0].dial(t, "/r")
	victim := c.servers[1].dial(t, "/r")
	attacker.expect(newPeerMsg(victim.id))
	// The victim's instance stops reading its inbox.
	behind := c.servers[1]
	behind.busStop()
	<-behind.busDone

	opts, err := redis.ParseURL(c.redis.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	usedMemory := func() int64 {
		t.Helper()
		info, err := rdb.Info(context.Background(), "memory").Result()
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
		}
		t.Fatal("no used_memory in INFO")
		return 0
	}
	before := usedMemory()
	payload := `"` + strings.Repeat("z", 60<<10) + `"`
	const n = 2000 // 120 MiB
	for range n {
		attacker.signal(victim.id, payload)
	}
	attacker.sendText(`"KeepAlive"`)
	// The attacker's signals have all been published once its instance
	// has read the KeepAlive behind them.
	eventually(t, "the flood published", func() bool { return c.servers[0].Metrics().KeepAlives.Load() == 1 })
	const limit = 64 << 20 // twice the default InboxBytes (32 MiB), for the stream's own overhead
	grew := usedMemory() - before
	t.Logf("Redis grew by %d MiB", grew>>20)
	if grew > limit {
		t.Fatalf("Redis grew by %d MiB for one instance's inbox, want at most %d MiB", grew>>20, limit>>20)
	}
}
