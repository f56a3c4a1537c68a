package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// options set one benchmark run against one server.
type options struct {
	peers           int
	roomSize        int
	joinRate        float64 // dials started per second
	joinConcurrency int
	rate            float64 // signals per second per peer in the latency phase
	duration        time.Duration
	saturate        time.Duration
	settle          time.Duration
	quietWait       time.Duration // longest wait for other processes to calm down before a timed phase
	attempts        int           // most runs of a timed phase disturbed by other processes
}

func (o options) validate() error {
	var errs []error
	if o.roomSize < 2 || o.roomSize%2 != 0 {
		errs = append(errs, fmt.Errorf("-room-size must be even and at least 2, got %d", o.roomSize))
	}
	if o.attempts < 1 {
		errs = append(errs, fmt.Errorf("-attempts must be at least 1, got %d", o.attempts))
	}
	if !(o.joinRate > 0) || o.joinConcurrency < 1 {
		errs = append(errs, errors.New("-join-rate and -join-concurrency must be positive"))
	}
	if !(o.rate > 0) || o.duration <= 0 || o.saturate <= 0 || o.settle < 0 || o.quietWait < 0 {
		errs = append(errs, errors.New("-rate, -duration and -saturate must be positive, -settle and -quiet-wait not negative"))
	}
	return errors.Join(errs...)
}

// Timeouts of the phases; generous, since a 2-core machine runs both sides.
const (
	joinTimeout  = 30 * time.Second // one dial until IdAssigned
	groupTimeout = 30 * time.Second // all groups complete after the last join
	drainTimeout = 10 * time.Second // in-flight signals arrive after a phase
)

// result is what one run measured.
type result struct {
	kind  string
	peers int

	join, group, relay summary // group: rollbox only

	relaysPerSec      float64
	satRelays         int64  // relays counted in the throughput phase
	cpuRate, cpuSat   cpuUse // CPU time during the latency and throughput phases
	sent, received    int64  // latency-phase signals
	faults            int    // protocol or routing errors seen by the peers
	firstFault        string
	rss0, rssIdle     int64 // after a forced GC, bytes
	rss0Raw, rssRaw   int64 // the same readings just before the GC
	peakRSS           int64 // VmHWM at the end of the run
	stats0, statsIdle runtimeStats
	counters          map[string]int64 // rollbox's non-zero drop and disconnect counters after the timed phases
}

// serverCPUPerRelay is the server's CPU time per relayed signal in the
// throughput phase, in microseconds (0 for an in-process server).
func (r result) serverCPUPerRelay() float64 {
	if r.satRelays == 0 {
		return 0
	}
	return r.cpuSat.server / float64(r.satRelays) * 1e6
}

// rssPerPeerKiB is the RSS growth per idle peer after a forced GC.
func (r result) rssPerPeerKiB() float64 { return perPeerKiB(r.rssIdle-r.rss0, r.peers) }

// rssRawPerPeerKiB is the same without forcing a GC.
func (r result) rssRawPerPeerKiB() float64 { return perPeerKiB(r.rssRaw-r.rss0Raw, r.peers) }

func perPeerKiB(bytes int64, peers int) float64 { return float64(bytes) / 1024 / float64(peers) }

// harness holds one run's peers.
type harness struct {
	url      string // ws://host:port
	kind     string
	srvPID   int // the server's process, for CPU readings
	roomSize int
	base     time.Time // signals carry their send time as nanoseconds since base
	dialer   websocket.Dialer
	peers    []*peer // fixed before any peer starts
	pinging  atomic.Bool
}

// bench measures one server with o.peers peers; see the package comment.
func bench(ctx context.Context, srv *server, o options, log *slog.Logger) (result, error) {
	res := result{kind: srv.kind, peers: o.peers}
	if err := o.validate(); err != nil {
		return res, err
	}
	var err error
	if res.rss0Raw, res.rss0, res.stats0, err = idleMemory(ctx, srv, o.settle); err != nil {
		return res, err
	}
	h := &harness{
		url:      "ws://" + srv.addr,
		kind:     srv.kind,
		srvPID:   srv.pid,
		roomSize: o.roomSize,
		base:     time.Now(),
		// Small buffers keep the load generator light; frames are ~130 bytes.
		dialer: websocket.Dialer{HandshakeTimeout: joinTimeout, ReadBufferSize: 1024, WriteBufferSize: 1024},
	}
	h.peers = make([]*peer, o.peers)
	for i := range h.peers {
		h.peers[i] = newPeer(h, i)
	}
	defer h.close()

	log.Info("joining", "join_rate", o.joinRate)
	if err := h.join(ctx, o); err != nil {
		return res, err
	}
	res.join, res.group = h.joinLatencies()
	log.Info("joined", "join_p50", res.join.p50, "join_p99", res.join.p99, "group_p99", res.group.p99)

	if res.rssRaw, res.rssIdle, res.statsIdle, err = idleMemory(ctx, srv, o.settle); err != nil {
		return res, err
	}
	log.Info("idle memory", "rss0_mib", res.rss0>>20, "rss_mib", res.rssIdle>>20, "kib_per_peer", res.rssPerPeerKiB(), "goroutines", res.statsIdle.Goroutines)

	// The timed phases are repeated (up to o.attempts) while other processes
	// took more than noisyShare of the CPUs; the quietest attempt counts.
	for attempt := 1; ; attempt++ {
		waitQuiet(ctx, srv.pid, o.quietWait, log)
		log.Info("latency phase", "attempt", attempt, "rate", o.rate, "duration", o.duration)
		cpu0, err := sampleCPU(srv.pid)
		if err != nil {
			return res, err
		}
		relay, sent, received, err := h.ratePhase(ctx, o)
		if err != nil {
			return res, err
		}
		cpu1, err := sampleCPU(srv.pid)
		if err != nil {
			return res, err
		}
		use := cpu1.since(cpu0)
		log.Info("relayed", "sent", sent, "received", received, "p50", relay.p50, "p99", relay.p99,
			"server_cpu", share(use.server, use), "bench_cpu", share(use.bench, use), "foreign_cpu", share(use.foreign, use))
		if attempt == 1 || use.foreignShare() < res.cpuRate.foreignShare() {
			res.relay, res.sent, res.received, res.cpuRate = relay, sent, received, use
		}
		if use.foreignShare() <= noisyShare || attempt >= o.attempts {
			break
		}
		log.Info("other processes used the CPUs during the phase; repeating it")
	}
	res.counters = logServerCounters(ctx, srv, log)

	for attempt := 1; ; attempt++ {
		waitQuiet(ctx, srv.pid, o.quietWait, log)
		log.Info("throughput phase", "attempt", attempt, "duration", o.saturate)
		perSec, relays, use, err := h.pingPong(ctx, o.saturate)
		if err != nil {
			return res, err
		}
		log.Info("throughput", "relays_per_sec", math.Round(perSec), "server_cpu_us_per_relay", math.Round(use.server/float64(max(relays, 1))*1e7)/10,
			"server_cpu", share(use.server, use), "bench_cpu", share(use.bench, use), "foreign_cpu", share(use.foreign, use))
		if attempt == 1 || use.foreignShare() < res.cpuSat.foreignShare() {
			res.relaysPerSec, res.satRelays, res.cpuSat = perSec, relays, use
		}
		if use.foreignShare() <= noisyShare || attempt >= o.attempts {
			break
		}
		log.Info("other processes used the CPUs during the phase; repeating it")
	}
	res.counters = logServerCounters(ctx, srv, log)

	if _, res.peakRSS, err = srv.memory(); err != nil {
		return res, err
	}
	for _, p := range h.peers {
		p.mu.Lock()
		res.faults += p.faults
		if res.firstFault == "" {
			res.firstFault = p.firstFault
		}
		p.mu.Unlock()
	}
	if res.faults > 0 {
		return res, fmt.Errorf("%d protocol faults, first: %s", res.faults, res.firstFault)
	}
	return res, nil
}

// Other processes count as quiet below quietShare of the machine's CPUs;
// a timed phase during which they took more than noisyShare is repeated.
const (
	quietShare = 0.10
	noisyShare = 0.15
)

// waitQuiet waits, for at most limit, until processes other than the bench
// and the server use less than quietShare of the CPUs over half a second:
// on a shared 2-core machine a neighbour's build distorts the latencies.
func waitQuiet(ctx context.Context, serverPID int, limit time.Duration, log *slog.Logger) {
	if limit <= 0 {
		return
	}
	deadline := time.Now().Add(limit)
	for warned := false; time.Now().Before(deadline); {
		a, err := sampleCPU(serverPID)
		if err != nil || sleep(ctx, 500*time.Millisecond) != nil {
			return
		}
		b, err := sampleCPU(serverPID)
		if err != nil {
			return
		}
		share := b.since(a).foreignShare()
		if share < quietShare {
			return
		}
		if !warned {
			log.Info("waiting for other processes to quieten", "foreign_cpu", fmt.Sprintf("%.0f%%", 100*share), "at_most", limit)
			warned = true
		}
	}
	log.Warn("machine still busy; measuring anyway (see the foreign CPU column)")
}

// idleMemory waits settle, reads the server's RSS, forces a GC and reads it
// again.
func idleMemory(ctx context.Context, srv *server, settle time.Duration) (raw, collected int64, st runtimeStats, err error) {
	if err = sleep(ctx, settle); err != nil {
		return
	}
	if raw, _, err = srv.memory(); err != nil {
		return
	}
	if st, err = srv.gc(ctx); err != nil {
		return
	}
	collected, _, err = srv.memory()
	return
}

// join dials every peer into its room at o.joinRate (open loop, at most
// o.joinConcurrency in flight) and, for rollbox, waits until every peer knows
// its room-mates and checks it knows the right ones.
func (h *harness) join(ctx context.Context, o options) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, o.joinConcurrency)
	period := time.Duration(float64(time.Second) / o.joinRate)
	start := time.Now()
	var wg sync.WaitGroup
	for i, p := range h.peers {
		if sleepUntil(ctx, start.Add(time.Duration(i)*period)) != nil {
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		url := fmt.Sprintf("%s/bench-%d?next=%d", h.url, i/h.roomSize, h.roomSize)
		wg.Go(func() {
			defer func() { <-sem }()
			if err := p.dial(ctx, url, joinTimeout); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return fmt.Errorf("joining: %w", err)
	}
	for i, p := range h.peers {
		room := h.peers[i/h.roomSize*h.roomSize : (i/h.roomSize+1)*h.roomSize]
		p.mates = slices.DeleteFunc(slices.Clone(room), func(q *peer) bool { return q == p })
	}
	if h.kind != kindRollbox {
		return nil // the bare relay has no rooms: nobody is told of anyone
	}
	deadline := time.NewTimer(groupTimeout)
	defer deadline.Stop()
	for _, p := range h.peers {
		select {
		case <-p.complete:
		case <-deadline.C:
			return fmt.Errorf("peer %d: group not complete %v after the joins", p.idx, groupTimeout)
		case <-ctx.Done():
			return ctx.Err()
		}
		for _, m := range p.mates {
			id := m.ID()
			p.mu.Lock()
			ok := p.known[id]
			p.mu.Unlock()
			if !ok {
				return fmt.Errorf("peer %d never learnt room-mate %d", p.idx, m.idx)
			}
		}
	}
	return nil
}

// joinLatencies returns dial start to IdAssigned and, for rollbox, dial
// start to group complete.
func (h *harness) joinLatencies() (join, group summary) {
	var ids, groups []time.Duration
	for _, p := range h.peers {
		p.mu.Lock()
		ids = append(ids, p.idAt.Sub(p.dialStart))
		if !p.completeAt.IsZero() {
			groups = append(groups, p.completeAt.Sub(p.dialStart))
		}
		p.mu.Unlock()
	}
	return summarize(ids), summarize(groups)
}

// ratePhase has every peer send o.rate signals per second, round-robin to
// its room-mates, starting at a random offset within the first interval,
// then waits for every signal to arrive.
func (h *harness) ratePhase(ctx context.Context, o options) (lat summary, sent, received int64, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	for _, p := range h.peers { // a repeated phase starts afresh; nothing is in flight
		p.sent.Store(0)
		p.received.Store(0)
		p.mu.Lock()
		p.latencies = p.latencies[:0]
		p.mu.Unlock()
	}
	count := max(1, int(math.Round(o.duration.Seconds()*o.rate)))
	interval := time.Duration(float64(time.Second) / o.rate)
	start := time.Now()
	var wg sync.WaitGroup
	for _, p := range h.peers {
		wg.Go(func() {
			first := start.Add(rand.N(interval))
			for i := range count {
				if sleepUntil(ctx, first.Add(time.Duration(i)*interval)) != nil {
					return
				}
				p.sent.Add(1) // before it goes: it may arrive, and be counted, before send returns
				if err := p.send(p.mates[i%len(p.mates)].ID(), dataRate); err != nil {
					cancel(fmt.Errorf("peer %d: sending: %w", p.idx, err))
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return lat, 0, 0, err
	}
	sum := func(f func(*peer) int64) func() int64 {
		return func() (n int64) {
			for _, p := range h.peers {
				n += f(p)
			}
			return n
		}
	}
	sent, received = h.drain(ctx, sum(func(p *peer) int64 { return p.sent.Load() }), sum(func(p *peer) int64 { return p.received.Load() }))
	var all []time.Duration
	for _, p := range h.peers {
		p.mu.Lock()
		all = append(all, p.latencies...)
		p.mu.Unlock()
	}
	if received != sent {
		return summarize(all), sent, received, fmt.Errorf("%d of %d signals never arrived", sent-received, sent)
	}
	return summarize(all), sent, received, nil
}

// drain waits until received catches up with sent, or drainTimeout passes,
// and returns both.
func (h *harness) drain(ctx context.Context, sent, received func() int64) (int64, int64) {
	deadline := time.Now().Add(drainTimeout)
	for {
		s, r := sent(), received()
		if r >= s || time.Now().After(deadline) || sleep(ctx, 10*time.Millisecond) != nil {
			return s, r
		}
	}
}

// pingPong bounces one signal between each pair of room-mates (peers 2i and
// 2i+1) for d after a short warm-up, and returns relays per second, the
// relays counted and the CPU time spent meanwhile.
func (h *harness) pingPong(ctx context.Context, d time.Duration) (perSec float64, relays int64, use cpuUse, err error) {
	recv := func() (n int64) {
		for _, p := range h.peers {
			n += p.pingRecv.Load()
		}
		return n
	}
	sent := func() (n int64) {
		for _, p := range h.peers {
			n += p.pingSent.Load()
		}
		return n
	}
	h.pinging.Store(true)
	for i := 0; i+1 < len(h.peers); i += 2 {
		a, b := h.peers[i], h.peers[i+1]
		a.pingSent.Add(1) // before it goes, as its answers are
		if err := a.send(b.ID(), dataPing); err != nil {
			h.pinging.Store(false)
			return 0, 0, use, fmt.Errorf("peer %d: %w", a.idx, err)
		}
	}
	err = sleep(ctx, min(time.Second, d/4)) // warm-up
	var cpu0, cpu1 cpuSample
	if err == nil {
		cpu0, err = sampleCPU(h.srvPID)
	}
	c0, t0 := recv(), time.Now()
	if err == nil {
		err = sleep(ctx, d)
	}
	c1, t1 := recv(), time.Now()
	if err == nil {
		cpu1, err = sampleCPU(h.srvPID)
	}
	h.pinging.Store(false)
	if err != nil {
		return 0, 0, use, err
	}
	if s, r := h.drain(ctx, sent, recv); r != s {
		var pairs []string
		for i := 0; i+1 < len(h.peers) && len(pairs) < 5; i += 2 {
			a, b := h.peers[i], h.peers[i+1]
			if as, br, bs, ar := a.pingSent.Load(), b.pingRecv.Load(), b.pingSent.Load(), a.pingRecv.Load(); as != br || bs != ar {
				pairs = append(pairs, fmt.Sprintf("%d→%d sent %d received %d, %d→%d sent %d received %d", a.idx, b.idx, as, br, b.idx, a.idx, bs, ar))
			}
		}
		return 0, 0, use, fmt.Errorf("throughput phase: %d of %d signals never arrived (%s)", s-r, s, strings.Join(pairs, "; "))
	}
	return float64(c1-c0) / t1.Sub(t0).Seconds(), c1 - c0, cpu1.since(cpu0), nil
}

// close disconnects every peer and waits for their readers.
func (h *harness) close() {
	for _, p := range h.peers {
		if p.conn != nil {
			_ = p.conn.Close()
		}
	}
	for _, p := range h.peers {
		if p.conn != nil {
			<-p.readDone
		}
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func sleepUntil(ctx context.Context, t time.Time) error { return sleep(ctx, time.Until(t)) }

// share formats part as a percentage of the machine's capacity in u.
func share(part float64, u cpuUse) string {
	if u.wall <= 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f%%", 100*part/u.wall)
}

// logServerCounters logs and returns what the server says it relayed,
// dropped and disconnected.
func logServerCounters(ctx context.Context, srv *server, log *slog.Logger) map[string]int64 {
	counters, err := srv.counters(ctx)
	switch {
	case err != nil:
		log.Warn("reading the server's metrics", "err", err)
	case len(counters) > 0:
		log.Info("server counters", "counters", counters)
	}
	return counters
}
