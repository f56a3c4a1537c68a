package signalserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/rollbox/rollbox/signalwire"
)

// Defaults for the zero fields of RedisConfig.
const (
	// DefaultRedisHeartbeat (1 s) finds a dead instance within seconds at
	// a few Redis commands per second per instance.
	DefaultRedisHeartbeat = time.Second
	// DefaultRedisPresenceTTL (5 s) survives several slow or lost beats,
	// and still tells rooms PeerLeft for a dead instance's peers within
	// about 6 s.
	DefaultRedisPresenceTTL = 5 * time.Second
	// DefaultRedisPrefix keeps rollbox's keys apart from other data in a
	// shared Redis.
	DefaultRedisPrefix = "rollbox:"
	// DefaultRedisInboxLen (10000 frames) absorbs seconds of signalling
	// bursts for an instance that falls briefly behind.
	DefaultRedisInboxLen = 10000
	// DefaultRedisInboxBytes (32 MiB) bounds what one lagging instance can
	// hold of Redis's memory even when the frames are large.
	DefaultRedisInboxBytes = 32 << 20
	// DefaultRedisOpTimeout (2 s) outlasts a Redis round trip under load
	// many times over, and is below DefaultRedisPresenceTTL so that a stall
	// fails commands before presence expires.
	DefaultRedisOpTimeout = 2 * time.Second
)

// RedisConfig shares a server's rooms with every other instance that uses
// the same Redis (one server or a primary; not Redis Cluster: the scripts
// touch keys they compute).
//
// Each instance keeps a presence key alive with a heartbeat. An instance that
// stops (killed, partitioned) lets it expire; another instance then removes
// its peers and tells their rooms PeerLeft. So PeerLeft for the peers of a
// dead instance arrives within PresenceTTL + Heartbeat (plus one Redis round
// trip per peer), 6 s with the defaults.
//
// A Redis that stalls for longer than OpTimeout (but less than PresenceTTL)
// fails the joins and leaves sent meanwhile, though it may run them when it
// resumes. The instance then reconciles its connections with the registry
// for a few heartbeats, and refuses joins until it has: peers registered
// here without a connection are removed and their rooms told PeerLeft once;
// peers connected here that the registry lost are disconnected with 1012 to
// join again. So after a stall the rooms are true again within a heartbeat
// or two of Redis answering.
type RedisConfig struct {
	// URL is redis://[user:password@]host:port/db (or rediss:// for TLS).
	// Empty: no Redis; the server keeps its rooms in memory.
	URL string
	// Prefix starts every key, so that deployments can share one Redis.
	// Empty means DefaultRedisPrefix.
	Prefix string
	// Heartbeat is how often the instance refreshes its presence, looks for
	// dead instances and checks Redis's health. Zero means
	// DefaultRedisHeartbeat.
	Heartbeat time.Duration
	// PresenceTTL is how long presence outlives the last heartbeat. It must
	// exceed 2×Heartbeat so that one slow beat does not kill the instance.
	// Zero means DefaultRedisPresenceTTL.
	PresenceTTL time.Duration
	// InboxLen caps the frames waiting in Redis for one instance (a stream
	// trimmed to about this length): an instance that stops reading cannot
	// fill Redis's memory. Zero means DefaultRedisInboxLen.
	InboxLen int64
	// InboxBytes caps the same frames in bytes, about: a frame is
	// published with the stream trimmed to as many frames of its size as
	// fit in InboxBytes (or InboxLen, if fewer), so that a flood of the
	// largest frames for an instance that has fallen behind holds tens of
	// MiB of Redis's memory, not InboxLen × MaxFrameBytes (640 MiB). Zero
	// means DefaultRedisInboxBytes.
	InboxBytes int64
	// OpTimeout bounds each Redis command, so that joins and signals fail
	// instead of hanging while Redis is unreachable. Zero means
	// DefaultRedisOpTimeout.
	OpTimeout time.Duration
}

func (c RedisConfig) withDefaults() (RedisConfig, error) {
	setDefault(&c.Prefix, DefaultRedisPrefix)
	setDefault(&c.Heartbeat, DefaultRedisHeartbeat)
	setDefault(&c.PresenceTTL, DefaultRedisPresenceTTL)
	setDefault(&c.InboxLen, DefaultRedisInboxLen)
	setDefault(&c.InboxBytes, DefaultRedisInboxBytes)
	setDefault(&c.OpTimeout, DefaultRedisOpTimeout)
	if c.PresenceTTL <= 2*c.Heartbeat {
		return c, fmt.Errorf("Redis.PresenceTTL (%v) must exceed twice Redis.Heartbeat (%v)", c.PresenceTTL, c.Heartbeat)
	}
	if c.Heartbeat <= 0 || c.InboxLen <= 0 || c.InboxBytes <= 0 || c.OpTimeout <= 0 {
		return c, errors.New("Redis.Heartbeat, Redis.InboxLen, Redis.InboxBytes and Redis.OpTimeout must be positive")
	}
	return c, nil
}

// redisRegistry is the registry and the instanceBus backed by Redis. Rooms and next groups live
// in Redis and change only inside Lua scripts, which Redis runs one at a
// time: concurrent joins on different instances never put a peer in two
// groups or a group over its size. Frames for a peer on another instance go
// to that instance's inbox, a Redis stream it reads in order from the last
// entry it saw, so a reconnect to Redis neither loses nor repeats a frame.
//
// Keys, under the prefix: peer:<id> (hash: group, instance, open key),
// group:<gid> (list of members in join order), open:<next>:<room> (the gid a
// joiner of that pool enters), ngroups, gidseq, instances (set),
// alive:<inst> (presence, with expiry), peers:<inst> (set), inbox:<inst>
// (stream), reap:<inst> (lock of the instance removing a dead one).
//
// PeerLeft is published by the script that removes the peer, to every
// remaining member (this instance's own peers through its inbox too), so it
// is sent exactly once whoever removes the peer and whenever Redis runs it.
type redisRegistry struct {
	cfg      RedisConfig
	opts     *redis.Options
	rdb      *redis.Client
	maxPeers int
	log      *slog.Logger

	inst     atomic.Pointer[string] // this instance's id; nil until registered
	health   atomic.Pointer[error]  // nil when healthy
	groups   atomic.Int64           // cached for Groups, refreshed each heartbeat
	lastRead atomic.Pointer[string] // last inbox entry read, for trimming
	reaped   atomic.Int64
	// published counts the PeerLeft frames the leave and reap scripts
	// queued in Redis, to this instance's peers as well as others'.
	published atomic.Int64
	rec       reconcileState // see reconcile.go

	closeOnce sync.Once
}

// errNotRegistered is a health error, like "redis unreachable: ...": the
// server reports it wrapped ("room registry unavailable: ..."), so it needs
// no prefix, and it must not look like one of go-redis's own "redis: ".
var errNotRegistered = errors.New("instance not registered in Redis yet")

// newRedis connects lazily: a Redis that is down at start leaves the server
// unhealthy until it answers, as it would later on.
func newRedis(cfg RedisConfig, maxPeers int, log *slog.Logger) (*redisRegistry, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	opts, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	// A retried command may have run already: a second XADD would deliver a
	// frame twice, so commands are never retried; callers see the error.
	opts.MaxRetries = -1
	// One dial attempt: while Redis is down, a join fails at once rather
	// than after the pool's retries.
	opts.DialerRetries = 1
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	opts.DialTimeout = min(cfg.OpTimeout, time.Second)
	opts.ReadTimeout = cfg.OpTimeout
	opts.WriteTimeout = cfg.OpTimeout
	opts.ContextTimeoutEnabled = true
	opts.DisableIdentity = true // CLIENT SETINFO is noise in older servers' logs
	r := &redisRegistry{
		cfg:      cfg,
		opts:     opts,
		rdb:      redis.NewClient(opts),
		maxPeers: maxPeers,
		log:      log.With("component", "redis"),
	}
	r.setHealth(errNotRegistered)
	return r, nil
}

func (r *redisRegistry) key(parts ...string) string {
	k := r.cfg.Prefix
	for _, p := range parts {
		k += p
	}
	return k
}

func openKey(key roomKey) string { return "open:" + strconv.Itoa(key.Next) + ":" + key.ID }

func (r *redisRegistry) instance() (string, error) {
	if p := r.inst.Load(); p != nil {
		return *p, nil
	}
	return "", errNotRegistered
}

func (r *redisRegistry) setHealth(err error) {
	if err == nil {
		r.health.Store(nil)
		return
	}
	r.health.Store(&err)
	// A command that failed may have changed the registry anyway, or not
	// at all: compare it with the connections for a while.
	r.rec.suspect()
}

// Health returns why Redis cannot take joins, or nil: while it does,
// /health answers 503 with it and joins are refused before the upgrade.
func (r *redisRegistry) Health() error {
	if p := r.health.Load(); p != nil {
		return *p
	}
	return nil
}

func (r *redisRegistry) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.cfg.OpTimeout)
}

// joinScript adds a peer to its pool's open group. Returns {1, members...}
// on success (the members before the peer), {0} when the group is full, {2}
// when the peer already joined.
var joinScript = redis.NewScript(`
local openk, peerk, instpeers, ngroups, gidseq = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local peer, inst, nxt, maxp, gprefix = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
if redis.call('EXISTS', peerk) == 1 then return {2} end
local gid = redis.call('GET', openk)
if not gid then
  gid = tostring(redis.call('INCR', gidseq))
  redis.call('SET', openk, gid)
  redis.call('INCR', ngroups)
end
local gkey = gprefix .. gid
local members = redis.call('LRANGE', gkey, 0, -1)
if maxp > 0 and #members >= maxp then return {0} end
redis.call('RPUSH', gkey, peer)
redis.call('HSET', peerk, 'g', gid, 'i', inst, 'o', openk)
redis.call('SADD', instpeers, peer)
if nxt > 0 and #members + 1 >= nxt then redis.call('DEL', openk) end
local out = {1}
for _, m in ipairs(members) do out[#out + 1] = m end
return out
`)

// leaveLua defines leave(peerk, peer, prefix): it removes a peer and returns
// the remaining members of its group, or false when the peer is not there.
const leaveLua = `
local function leave(peerk, peer, prefix)
  local h = redis.call('HMGET', peerk, 'g', 'i', 'o')
  if not h[1] then return false end
  redis.call('DEL', peerk)
  redis.call('SREM', prefix .. 'peers:' .. h[2], peer)
  local gkey = prefix .. 'group:' .. h[1]
  redis.call('LREM', gkey, 1, peer)
  local rest = redis.call('LRANGE', gkey, 0, -1)
  if #rest == 0 then
    redis.call('DEL', gkey)
    redis.call('DECR', prefix .. 'ngroups')
    if redis.call('GET', h[3]) == h[1] then redis.call('DEL', h[3]) end
  end
  return rest
end
`

// sameGroupScript returns the group both peers are in, or false.
var sameGroupScript = redis.NewScript(`
local a = redis.call('HGET', KEYS[1], 'g')
if not a or a ~= redis.call('HGET', KEYS[2], 'g') then return false end
return a
`)

// sizeScript returns how many peers are in a pool's open group.
var sizeScript = redis.NewScript(`
local gid = redis.call('GET', KEYS[1])
if not gid then return 0 end
return redis.call('LLEN', ARGV[1] .. gid)
`)

// publishLua defines publish(prefix, frame, maxlen, peer): it appends frame
// for peer to the inbox of peer's instance and returns 1, or 0 when peer is
// not connected anywhere. Each entry carries the inbox's next sequence
// number (kept at inbox:<inst>:n): the stream is trimmed to a length, and a
// gap in the numbers is how the reader learns it lost some.
const publishLua = `
local function publish(prefix, frame, maxlen, peer)
  local inst = redis.call('HGET', prefix .. 'peer:' .. peer, 'i')
  if not inst then return 0 end
  local inbox = prefix .. 'inbox:' .. inst
  local seq = redis.call('INCR', inbox .. ':n')
  redis.call('XADD', inbox, 'MAXLEN', '~', maxlen, '*', 't', peer, 'f', frame, 'n', seq)
  return 1
end
`

// publishScript publishes a frame to each listed peer and returns how many
// it found.
var publishScript = redis.NewScript(publishLua + `
local prefix, frame, maxlen = ARGV[1], ARGV[2], ARGV[3]
local n = 0
for i = 4, #ARGV do
  n = n + publish(prefix, frame, maxlen, ARGV[i])
end
return n
`)

// departScript removes a peer and publishes PeerLeft to the rest of its
// group (the full-mesh rule), wherever they are connected, in one step. It
// returns {1, frames published}, or {0, 0} when the peer was not there.
//
// Removing and telling in one step makes PeerLeft exactly once whoever
// removes the peer and whenever Redis runs the script: the server on a
// leave, the reconciliation of a leave that failed, the reaper of a dead
// instance, or Redis itself after a stall, running a leave whose client had
// given up waiting (its answer then goes nowhere, but the room is told).
// The frame is peerLeftFrame's; ids are the server's own UUIDs, no escaping.
var departScript = redis.NewScript(publishLua + leaveLua + `
local peer, prefix, maxlen = ARGV[1], ARGV[2], ARGV[3]
local rest = leave(KEYS[1], peer, prefix)
if not rest then return {0, 0} end
local frame = '{"PeerLeft":"' .. peer .. '"}'
local n = 0
for _, m in ipairs(rest) do n = n + publish(prefix, frame, maxlen, m) end
return {1, n}
`)

// relayScript publishes a signal from ARGV[4] to ARGV[5] if both are in one
// group (the full-mesh rule), in one round trip: -1 when they are not, else
// what publish returns.
var relayScript = redis.NewScript(publishLua + `
local prefix, frame, maxlen, sender, receiver = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local a = redis.call('HGET', prefix .. 'peer:' .. sender, 'g')
if not a or a ~= redis.call('HGET', prefix .. 'peer:' .. receiver, 'g') then return -1 end
return publish(prefix, frame, maxlen, receiver)
`)

// heartbeatScript registers an instance (ARGV[3] == "1") or refreshes its
// presence. A refresh of an expired presence fails (returns 0): the instance
// may have been reaped already, so it must not come back under the same id.
var heartbeatScript = redis.NewScript(`
local alive, instances, inbox = KEYS[1], KEYS[2], KEYS[3]
local ttl, id, register = ARGV[1], ARGV[2], ARGV[3]
if register == '1' then
  redis.call('SET', alive, '1', 'PX', ttl)
  redis.call('SADD', instances, id)
  return 1
end
if redis.call('PEXPIRE', alive, ttl) == 0 then return 0 end
if redis.call('EXISTS', inbox) == 1 then redis.call('PEXPIRE', inbox, ttl * 20) end
redis.call('PEXPIRE', inbox .. ':n', ttl * 20)
return 1
`)

// deadScript lists registered instances whose presence has expired.
var deadScript = redis.NewScript(`
local dead = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. 'alive:' .. id) == 0 then dead[#dead + 1] = id end
end
return dead
`)

// forgetScript removes a dead instance once all its peers are gone.
var forgetScript = redis.NewScript(`
local instances, peers, inbox, lock, id = KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1]
if redis.call('SCARD', peers) > 0 then return 0 end
redis.call('SREM', instances, id)
redis.call('DEL', inbox, inbox .. ':n', lock)
return 1
`)

// Join implements registry.
func (r *redisRegistry) Join(ctx context.Context, key roomKey, peer signalwire.PeerID) ([]signalwire.PeerID, error) {
	inst, err := r.instance()
	if err != nil {
		return nil, err
	}
	ctx, cancel := r.opCtx(ctx)
	defer cancel()
	res, err := joinScript.Run(ctx, r.rdb,
		[]string{r.key(openKey(key)), r.key("peer:", string(peer)), r.key("peers:", inst), r.key("ngroups"), r.key("gidseq")},
		string(peer), inst, key.Next, r.maxPeers, r.key("group:")).Slice()
	if err != nil {
		return nil, r.failed(err)
	}
	status, _ := res[0].(int64)
	switch status {
	case 0:
		return nil, errRoomFull
	case 2:
		return nil, errors.New("signalserver: peer already joined")
	}
	members := peerIDs(res[1:])
	return members, nil // full mesh: every member hears of the newcomer
}

// Leave implements registry. The room is told PeerLeft through the bus by
// the script that removes the peer (see departScript), and Leave returns no
// one: a leave that times out but runs in Redis later still tells the room,
// and one that never ran is found by the reconciliation (see reconcile.go).
func (r *redisRegistry) Leave(ctx context.Context, peer signalwire.PeerID) ([]signalwire.PeerID, error) {
	_, err := r.depart(ctx, peer)
	return nil, err
}

// depart removes peer and publishes PeerLeft to the rest of its group in
// one step, and says whether peer was there.
func (r *redisRegistry) depart(ctx context.Context, peer signalwire.PeerID) (bool, error) {
	ctx, cancel := r.opCtx(ctx)
	defer cancel()
	res, err := departScript.Run(ctx, r.rdb, []string{r.key("peer:", string(peer))}, string(peer), r.cfg.Prefix, r.cfg.InboxLen).Int64Slice()
	if err != nil {
		return false, r.failed(err)
	}
	if len(res) != 2 {
		return false, fmt.Errorf("signalserver: Redis depart script returned %v", res)
	}
	r.published.Add(res[1])
	return res[0] == 1, nil
}

// CanSignal implements registry.
func (r *redisRegistry) CanSignal(ctx context.Context, sender, receiver signalwire.PeerID) (bool, error) {
	ctx, cancel := r.opCtx(ctx)
	defer cancel()
	_, err := sameGroupScript.Run(ctx, r.rdb, []string{r.key("peer:", string(sender)), r.key("peer:", string(receiver))}).Text()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, r.failed(err)
	}
	return true, nil // full mesh: any member may signal any other
}

// Size implements registry.
func (r *redisRegistry) Size(ctx context.Context, key roomKey) (int, error) {
	ctx, cancel := r.opCtx(ctx)
	defer cancel()
	n, err := sizeScript.Run(ctx, r.rdb, []string{r.key(openKey(key))}, r.key("group:")).Int()
	if err != nil {
		return 0, r.failed(err)
	}
	return n, nil
}

// Groups implements registry. It counts the groups of every instance, as
// Redis told at the last heartbeat, so that a metrics scrape never waits.
func (r *redisRegistry) Groups() int { return int(r.groups.Load()) }

// Publish implements instanceBus.
func (r *redisRegistry) Publish(ctx context.Context, to []signalwire.PeerID, frame []byte) (int, error) {
	args := make([]any, 0, 3+len(to))
	args = append(args, r.cfg.Prefix, frame, r.inboxLen(frame))
	for _, id := range to {
		args = append(args, string(id))
	}
	ctx, cancel := r.opCtx(ctx)
	defer cancel()
	n, err := publishScript.Run(ctx, r.rdb, nil, args...).Int()
	if err != nil {
		return 0, r.failed(err)
	}
	return n, nil
}

// inboxLen is the length the inbox a frame is published to is trimmed to:
// as many frames of its size as InboxBytes holds, at most InboxLen.
func (r *redisRegistry) inboxLen(frame []byte) int64 {
	return max(1, min(r.cfg.InboxLen, r.cfg.InboxBytes/frameCost(frame)))
}

// RelaySignal publishes a signal from sender to receiver, connected to
// another instance, if the two may signal each other: published reports it
// went out, allowed whether the room allowed it. The check and the publish
// are one Redis round trip.
func (r *redisRegistry) RelaySignal(ctx context.Context, sender, receiver signalwire.PeerID, frame []byte) (published, allowed bool, err error) {
	ctx, cancel := r.opCtx(ctx)
	defer cancel()
	n, err := relayScript.Run(ctx, r.rdb, nil, r.cfg.Prefix, frame, r.inboxLen(frame), string(sender), string(receiver)).Int()
	if err != nil {
		return false, false, r.failed(err)
	}
	return n > 0, n >= 0, nil
}

// failed marks Redis unhealthy after a connection-level failure, so that
// joins are refused before the next heartbeat notices.
func (r *redisRegistry) failed(err error) error {
	var rerr redis.Error
	if !errors.As(err, &rerr) && !errors.Is(err, context.Canceled) {
		r.setHealth(fmt.Errorf("redis unreachable: %w", err))
	}
	return err
}

func peerIDs(vals []any) []signalwire.PeerID {
	ids := make([]signalwire.PeerID, 0, len(vals))
	for _, v := range vals {
		if s, ok := v.(string); ok {
			ids = append(ids, signalwire.PeerID(s))
		}
	}
	return ids
}

// Run implements instanceBus: it keeps this instance registered, removes dead
// instances' peers, and reads this instance's inbox.
func (r *redisRegistry) Run(ctx context.Context, ev busEvents) error {
	var wg sync.WaitGroup
	registered := make(chan struct{}, 1)
	wg.Go(func() { r.heartbeatLoop(ctx, ev, registered) })
	wg.Go(func() { r.inboxLoop(ctx, ev, registered) })
	wg.Wait()
	return nil
}

func (r *redisRegistry) heartbeatLoop(ctx context.Context, ev busEvents, registered chan<- struct{}) {
	tick := time.NewTicker(r.cfg.Heartbeat)
	defer tick.Stop()
	for {
		r.beat(ctx, ev, registered)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// presence registers instance id, or refreshes its presence: 0 means it had
// expired (see heartbeatScript).
func (r *redisRegistry) presence(ctx context.Context, id string, register bool) (int, error) {
	ctx, cancel := r.opCtx(ctx)
	defer cancel()
	flag := "0"
	if register {
		flag = "1"
	}
	return heartbeatScript.Run(ctx, r.rdb,
		[]string{r.key("alive:", id), r.key("instances"), r.key("inbox:", id)},
		r.cfg.PresenceTTL.Milliseconds(), id, flag).Int()
}

// beat is one heartbeat: register or refresh, reconcile, then housekeeping.
func (r *redisRegistry) beat(ctx context.Context, ev busEvents, registered chan<- struct{}) {
	inst, err := r.instance()
	if err != nil {
		if err := r.register(ctx); err != nil {
			r.setHealth(fmt.Errorf("redis unreachable: %w", err))
			return
		}
		select {
		case registered <- struct{}{}:
		default:
		}
		inst, _ = r.instance()
	} else {
		ok, err := r.presence(ctx, inst, false)
		if err != nil {
			if ctx.Err() == nil {
				r.setHealth(fmt.Errorf("redis unreachable: %w", err))
			}
			return
		}
		if ok == 0 {
			// Presumed dead: come back under a new id, and drop the peers
			// the others were told have left.
			// Drop the old peers before registering again, so that no peer
			// joined under the new id is among them.
			r.log.Warn("presence expired; registering again", "old_instance", inst)
			r.inst.Store(nil)
			ev.RegistrationLost()
			if err := r.register(ctx); err != nil {
				r.setHealth(fmt.Errorf("redis unreachable: %w", err))
				return
			}
			select {
			case registered <- struct{}{}:
			default:
			}
			return
		}
		// Joins stay refused until this instance's rooms are true again:
		// a joiner must not be matched with a peer that is gone.
		if err := r.reconcile(ctx, inst, ev); err != nil {
			if ctx.Err() == nil {
				r.setHealth(fmt.Errorf("redis unreachable: %w", err))
			}
			return
		}
	}
	r.setHealth(nil)
	hctx, cancel := r.opCtx(ctx)
	defer cancel()
	if n, err := r.rdb.Get(hctx, r.key("ngroups")).Int64(); err == nil || errors.Is(err, redis.Nil) {
		r.groups.Store(n)
	}
	if last := r.lastRead.Load(); last != nil {
		// Entries up to the last one read have been delivered.
		_ = r.rdb.XTrimMinID(hctx, r.key("inbox:", inst), *last).Err()
	}
	r.reapDead(hctx, inst)
}

func (r *redisRegistry) register(ctx context.Context) error {
	id := randomID()
	if _, err := r.presence(ctx, id, true); err != nil {
		return err
	}
	r.inst.Store(&id)
	r.lastRead.Store(nil)
	r.log.Info("registered in Redis", "instance", id)
	return nil
}

// reapDead removes the peers of instances whose presence expired and tells
// their rooms PeerLeft. A lock per dead instance makes one live instance do
// it; if that one dies midway, the lock expires and another finishes.
func (r *redisRegistry) reapDead(ctx context.Context, self string) {
	dead, err := deadScript.Run(ctx, r.rdb, []string{r.key("instances")}, r.cfg.Prefix).StringSlice()
	if err != nil {
		return
	}
	for _, id := range dead {
		if id == self {
			continue
		}
		lock := r.key("reap:", id)
		got, err := r.rdb.SetNX(ctx, lock, self, 4*r.cfg.PresenceTTL).Result()
		if err != nil || !got {
			continue
		}
		peers, err := r.rdb.SMembers(ctx, r.key("peers:", id)).Result()
		if err != nil {
			continue
		}
		for _, p := range peers {
			removed, err := r.removeAndTell(ctx, signalwire.PeerID(p))
			if err != nil {
				break
			}
			if removed {
				r.reaped.Add(1)
			}
		}
		_ = forgetScript.Run(ctx, r.rdb,
			[]string{r.key("instances"), r.key("peers:", id), r.key("inbox:", id), lock}, id).Err()
		if len(peers) > 0 {
			r.log.Info("removed a dead instance", "instance", id, "peers", len(peers))
		}
	}
}

// removeAndTell removes a peer whose connection is gone (of a dead
// instance, or of this one after a failed leave) and publishes PeerLeft to
// the rest of its group, wherever they are: the inbox carries it to this
// instance's own peers too, behind the frames before it. It says whether
// the peer was still there.
func (r *redisRegistry) removeAndTell(ctx context.Context, gone signalwire.PeerID) (bool, error) {
	return r.depart(ctx, gone)
}

// inboxLoop reads this instance's inbox in order. It uses a connection of its
// own: a blocked read would hold a pooled one, and closing this client is
// what interrupts the read when ctx ends.
func (r *redisRegistry) inboxLoop(ctx context.Context, ev busEvents, registered <-chan struct{}) {
	opts := *r.opts
	opts.PoolSize = 1
	opts.ReadTimeout = r.cfg.OpTimeout
	rc := redis.NewClient(&opts)
	stop := context.AfterFunc(ctx, func() { _ = rc.Close() })
	defer func() {
		if stop() {
			_ = rc.Close()
		}
	}()
	var inst, last string
	var next int64 // the sequence number the next entry should carry
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		cur, err := r.instance()
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-registered:
			}
			continue
		}
		if cur != inst {
			inst, last, next = cur, "0-0", 1 // a new id has a new, empty inbox
		}
		streams, err := rc.XRead(ctx, &redis.XReadArgs{
			Streams: []string{r.key("inbox:", inst), last},
			Count:   512,
			Block:   time.Second,
		}).Result()
		if err != nil {
			if errors.Is(err, redis.Nil) {
				continue // nothing within the block time
			}
			if ctx.Err() != nil {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		for _, st := range streams {
			for _, m := range st.Messages {
				last = m.ID
				n, _ := m.Values["n"].(string)
				if seq, err := strconv.ParseInt(n, 10, 64); err == nil {
					// A number past the expected one means the stream was
					// trimmed before the entries between were read; one
					// below it means the counter expired and started over.
					if seq > next && ev.FramesLost != nil {
						ev.FramesLost(int(seq - next))
					}
					next = seq + 1
				}
				to, _ := m.Values["t"].(string)
				frame, _ := m.Values["f"].(string)
				if to != "" && frame != "" {
					ev.Deliver(signalwire.PeerID(to), []byte(frame))
				}
			}
		}
		read := last // the loop changes last; the heartbeat reads the copy
		r.lastRead.Store(&read)
	}
}

// RedisLogger adapts logger to the interface of redis.SetLogger, so that a
// program can send the Redis client's own messages (failed dials) to its log.
func RedisLogger(logger *slog.Logger) interface {
	Printf(ctx context.Context, format string, v ...any)
} {
	return redisLogger{logger}
}

type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}

// Close deregisters this instance and closes the connections to Redis.
// After a clean shutdown its peers have left already; any that have not
// (a shutdown that timed out) are removed by another instance, which sees
// the presence gone at its next heartbeat.
func (r *redisRegistry) Close() error {
	var err error
	r.closeOnce.Do(func() {
		if inst, ierr := r.instance(); ierr == nil {
			ctx, cancel := context.WithTimeout(context.Background(), r.cfg.OpTimeout)
			err = r.rdb.Del(ctx, r.key("alive:", inst)).Err()
			if err == nil {
				err = forgetScript.Run(ctx, r.rdb,
					[]string{r.key("instances"), r.key("peers:", inst), r.key("inbox:", inst), r.key("reap:", inst)}, inst).Err()
			}
			cancel()
		}
		err = errors.Join(err, r.rdb.Close())
	})
	return err
}

// abandon closes the connections without deregistering: what a killed
// process leaves behind. Tests use it.
func (r *redisRegistry) abandon() {
	r.closeOnce.Do(func() { _ = r.rdb.Close() })
}
