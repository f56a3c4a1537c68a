package signalserver

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/rollbox/rollbox/signalwire"
)

// leaveScript removes a peer without telling its group, and returns {1,
// the remaining members...}, or {0} when the peer is not there.
var leaveScript = redis.NewScript(leaveLua + `
local rest = leave(KEYS[1], ARGV[1], ARGV[2])
if not rest then return {0} end
table.insert(rest, 1, 1)
return rest
`)

// forgetSilently removes peer from Redis behind the server's back, as
// evicted keys would, and says whether it was there.
func (r *redisRegistry) forgetSilently(ctx context.Context, peer signalwire.PeerID) (bool, error) {
	ctx, cancel := r.opCtx(ctx)
	defer cancel()
	res, err := leaveScript.Run(ctx, r.rdb, []string{r.key("peer:", string(peer))}, string(peer), r.cfg.Prefix).Slice()
	if err != nil {
		return false, err
	}
	return len(res) > 0 && res[0] == int64(1), nil
}
