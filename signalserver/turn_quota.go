package signalserver

import (
	"net"
	"net/netip"
	"sync"
)

// Defaults of TURNConfig's allocation quotas. A WebRTC peer connection
// allocates one relay per TURN URL it is given (GET /ice gives two: UDP and
// TCP), so a player in a mesh of n needs 2(n-1) under one credential: 32
// fit a 16-player mesh, or a smaller one that reconnected a few times while
// its old allocations await their expiry. Several players may share an IP
// (a LAN party, a carrier-grade NAT): 128 are four such full credentials.
const (
	DefaultTURNAllocationsPerUser = 32
	DefaultTURNAllocationsPerIP   = 128
)

// allocQuota caps live allocations per TURN user (the id of a credential)
// and per client IP (per /64 for IPv6, which a client has by the
// billion).
//
// pion asks the quota handler before it creates an allocation, and creating
// it can still fail (no free relay port). So Allocate reserves its place
// (reserve), which becomes the allocation's (created), or is given back
// when the request fails (failed). Requests from one client transport
// address are handled one at a time, which lets that address name the
// reservation. Reserving at once, rather than counting allocations once
// made, keeps concurrent requests (one per TCP connection) from slipping
// past the cap together.
type allocQuota struct {
	perUser, perIP int // < 0: no cap

	mu      sync.Mutex
	users   map[string]int
	ips     map[netip.Addr]int
	pending map[allocKey]allocHolder // reserved, not yet created
	live    map[allocKey]allocHolder
}

// allocKey is a client transport address: UDP or TCP, and address.
type allocKey struct {
	tcp  bool
	addr netip.AddrPort
}

type allocHolder struct {
	user string
	ip   netip.Addr
}

func newAllocQuota(perUser, perIP int) *allocQuota {
	return &allocQuota{
		perUser: perUser,
		perIP:   perIP,
		users:   map[string]int{},
		ips:     map[netip.Addr]int{},
		pending: map[allocKey]allocHolder{},
		live:    map[allocKey]allocHolder{},
	}
}

func keyOf(src net.Addr) allocKey {
	switch a := src.(type) {
	case *net.UDPAddr:
		return allocKey{addr: a.AddrPort()}
	case *net.TCPAddr:
		return allocKey{tcp: true, addr: a.AddrPort()}
	}
	return allocKey{}
}

// quotaIP is the address a client's quota is counted under.
func quotaIP(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// reserve is asked before an allocation for user from src: it reserves a
// place, or says which quota refuses it.
func (q *allocQuota) reserve(user string, src net.Addr) (refused turnRefusal, ok bool) {
	key := keyOf(src)
	h := allocHolder{user: user, ip: quotaIP(key.addr.Addr())}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.drop(q.pending, key) // not expected: failed gives it back
	switch {
	case q.perUser >= 0 && q.users[h.user] >= q.perUser:
		return turnRefusedUserQuota, false
	case q.perIP >= 0 && q.ips[h.ip] >= q.perIP:
		return turnRefusedIPQuota, false
	}
	q.hold(h)
	q.pending[key] = h
	return 0, true
}

// created turns the reservation of src into its allocation's.
func (q *allocQuota) created(user string, src net.Addr) {
	key := keyOf(src)
	q.mu.Lock()
	defer q.mu.Unlock()
	h, ok := q.pending[key]
	if !ok { // not reserved (cannot happen): count it all the same
		h = allocHolder{user: user, ip: quotaIP(key.addr.Addr())}
		q.hold(h)
	}
	delete(q.pending, key)
	q.drop(q.live, key) // not expected: one allocation per address
	q.live[key] = h
}

// failed gives back the reservation of src, if any: its request failed.
func (q *allocQuota) failed(src net.Addr) {
	key := keyOf(src)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.drop(q.pending, key)
}

// deleted gives back the place of src's allocation.
func (q *allocQuota) deleted(src net.Addr) {
	key := keyOf(src)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.drop(q.live, key)
}

func (q *allocQuota) hold(h allocHolder) {
	q.users[h.user]++
	q.ips[h.ip]++
}

// drop gives back the place of key's holder in m (q.pending or q.live), if
// m has one, and forgets it. q.mu is held.
func (q *allocQuota) drop(m map[allocKey]allocHolder, key allocKey) {
	if h, ok := m[key]; ok {
		q.release(h)
		delete(m, key)
	}
}

func (q *allocQuota) release(h allocHolder) {
	if q.users[h.user]--; q.users[h.user] <= 0 {
		delete(q.users, h.user)
	}
	if q.ips[h.ip]--; q.ips[h.ip] <= 0 {
		delete(q.ips, h.ip)
	}
}
