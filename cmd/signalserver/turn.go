package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/rollbox/rollbox/signalserver"
)

// turnOptions are the flags of the embedded TURN server and of GET /ice.
type turnOptions struct {
	enabled    bool
	port       int
	listenIP   string
	publicIP   string
	realm      string
	secret     string
	secretFile string
	ttl        time.Duration
	stun       string
	urls       string
	allowPeers []netip.Prefix
	maxPerUser int
	maxPerIP   int
	relayPorts string
	relayMin   int // parsed from relayPorts by apply
	relayMax   int
}

func (o *turnOptions) register(fs *flag.FlagSet) {
	fs.BoolVar(&o.enabled, "turn", false, "run a TURN server (UDP and TCP) in this process; GET /ice hands out short-lived credentials for it")
	fs.IntVar(&o.port, "turn-port", 3478, "UDP and TCP port of the TURN server")
	fs.StringVar(&o.listenIP, "turn-listen-ip", "0.0.0.0", "local address the TURN server listens on and relays from")
	fs.StringVar(&o.publicIP, "turn-public-ip", "", "IP address clients reach the TURN server at (the public one behind 1:1 NAT); required with -turn")
	fs.StringVar(&o.realm, "turn-realm", signalserver.DefaultTURNRealm, "TURN realm")
	fs.StringVar(&o.secret, "turn-secret", "", "shared secret TURN credentials are derived from (coturn's static-auth-secret); required with -turn")
	fs.StringVar(&o.secretFile, "turn-secret-file", "", "file holding the -turn-secret (trailing newline ignored)")
	fs.DurationVar(&o.ttl, "turn-ttl", signalserver.DefaultTURNTTL, "how long the TURN credentials from GET /ice stay valid")
	fs.StringVar(&o.urls, "turn-url", "", "comma-separated turn: URLs of an external TURN server (coturn with use-auth-secret) sharing -turn-secret, that GET /ice lists with fresh credentials")
	fs.StringVar(&o.stun, "stun", "", "comma-separated STUN URLs that GET /ice also lists (e.g. stun:stun.example.org:3478)")
	fs.Func("turn-allow-cidr", "peer address range (CIDR, or one IP) TURN relays may reach although it is loopback, private, link-local, carrier-grade NAT or otherwise special, such as a LAN deployment's 192.168.1.0/24; repeatable or comma-separated. The host's own addresses stay closed but to its relays", o.addAllowedPeers)
	fs.IntVar(&o.maxPerUser, "turn-max-allocations-per-user", signalserver.DefaultTURNAllocationsPerUser, "live TURN allocations per credential from GET /ice (each peer connection takes one per TURN URL) (-1: no cap)")
	fs.IntVar(&o.maxPerIP, "turn-max-allocations-per-ip", signalserver.DefaultTURNAllocationsPerIP, "live TURN allocations per client IP, per /64 for IPv6; its TCP connections to the TURN port are capped at twice as many (-1: no cap)")
	fs.StringVar(&o.relayPorts, "turn-relay-ports", "49152-65535", "MIN-MAX ports of the TURN relay sockets, to open in the firewall for UDP and TCP; empty: any free port")
}

// addAllowedPeers adds the comma-separated ranges of one -turn-allow-cidr.
func (o *turnOptions) addAllowedPeers(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			ip, ipErr := netip.ParseAddr(s)
			if ipErr != nil {
				return fmt.Errorf("%q is neither a CIDR range nor an IP address", s)
			}
			p = netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen())
		}
		o.allowPeers = append(o.allowPeers, p.Masked())
	}
	return nil
}

// apply validates the options and puts the STUN servers and an external
// TURN server in cfg.ICE; the embedded TURN server starts in start.
func (o *turnOptions) apply(cfg *signalserver.Config) error {
	for _, u := range strings.Split(o.stun, ",") {
		if u = strings.TrimSpace(u); u != "" {
			if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "stuns:") {
				return fmt.Errorf("-stun %q: want stun:host[:port]", u)
			}
			cfg.ICE.STUN = append(cfg.ICE.STUN, u)
		}
	}
	for _, u := range strings.Split(o.urls, ",") {
		if u = strings.TrimSpace(u); u != "" {
			if !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
				return fmt.Errorf("-turn-url %q: want turn:host[:port][?transport=udp|tcp]", u)
			}
			cfg.ICE.TURNURLs = append(cfg.ICE.TURNURLs, u)
		}
	}
	if !o.enabled && len(cfg.ICE.TURNURLs) == 0 {
		return nil
	}
	if o.ttl <= 0 {
		return fmt.Errorf("-turn-ttl must be positive, got %v", o.ttl)
	}
	if err := o.loadSecret(); err != nil {
		return err
	}
	cfg.ICE.TURNSecret, cfg.ICE.TURNTTL = []byte(o.secret), o.ttl
	if !o.enabled {
		return nil
	}
	if o.port < 0 || o.port > 65535 {
		return fmt.Errorf("-turn-port %d: out of range", o.port)
	}
	if net.ParseIP(o.listenIP) == nil {
		return fmt.Errorf("-turn-listen-ip %q: not an IP address", o.listenIP)
	}
	if ip := net.ParseIP(o.publicIP); ip == nil || ip.IsUnspecified() {
		return fmt.Errorf("-turn needs -turn-public-ip, the address clients reach it at (got %q)", o.publicIP)
	}
	if o.relayPorts != "" {
		lo, hi, ok := strings.Cut(o.relayPorts, "-")
		first, errFirst := strconv.Atoi(lo)
		last, errLast := strconv.Atoi(hi)
		if !ok || errFirst != nil || errLast != nil || first < 1 || last > 65535 || first > last {
			return fmt.Errorf("-turn-relay-ports %q: want MIN-MAX with 1 <= MIN <= MAX <= 65535", o.relayPorts)
		}
		o.relayMin, o.relayMax = first, last
	}
	return nil
}

// loadSecret reads -turn-secret-file into secret, and checks there is one.
func (o *turnOptions) loadSecret() error {
	secret, err := loadSecret("turn-secret", o.secret, o.secretFile)
	switch {
	case err != nil:
		return err
	case secret == nil:
		return errors.New("-turn and -turn-url need -turn-secret or -turn-secret-file")
	}
	o.secret = string(secret)
	return nil
}

// start starts the TURN server when -turn is given (nil otherwise) and
// offers it on GET /ice.
func (o *turnOptions) start(ctx context.Context, cfg *signalserver.Config, logger *slog.Logger) (*signalserver.TURNServer, error) {
	if !o.enabled {
		return nil, nil
	}
	t, err := signalserver.StartTURN(ctx, signalserver.TURNConfig{
		Listen:   net.JoinHostPort(o.listenIP, strconv.Itoa(o.port)),
		PublicIP: net.ParseIP(o.publicIP),
		Realm:    o.realm,
		Secret:   []byte(o.secret),
		TTL:      o.ttl,
		Logger:   logger,

		AllowPeers:            o.allowPeers,
		MaxAllocationsPerUser: o.maxPerUser,
		MaxAllocationsPerIP:   o.maxPerIP,
		RelayPortMin:          o.relayMin,
		RelayPortMax:          o.relayMax,
	})
	if err != nil {
		return nil, err
	}
	cfg.ICE.TURN = t
	return t, nil
}

// stopTURN shuts t down (if running) within timeout; a failure is logged,
// as the process is exiting anyway.
func stopTURN(t *signalserver.TURNServer, timeout time.Duration, logger *slog.Logger) {
	if t == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := t.Shutdown(ctx); err != nil {
		logger.Warn("TURN shutdown", "err", err)
	}
}
