// Package conventions holds no code: its tests check, across the module's
// library packages, the conventions their APIs share, so that a user learns
// them once.
//
// Closed errors: a package's error for use after Close (such as
// transport.ErrClosed) wraps net.ErrClosed, so that errors.Is(err,
// net.ErrClosed) works across packages.
//
// Error prefixes: every error a library package creates names the package
// first ("transport: ...", "signalserver: ...", "rollback: ...", and for
// subpackages their own name: "web: ", "udp: ", "simnet: "; the root
// package "rollbox: "), in its own
// text or in the first error it wraps ("%w: ..." of a prefixed sentinel).
// The only exceptions are messages the package itself always wraps in a
// prefixed error before they leave it; TestErrorPrefixes lists them.
//
// Documented defaults: every exported Default<Setting> constant has a
// comment (its own or its group's) that says why its value suits real
// users, and the setting's own comment names the constant with its value,
// so that a reader of the setting finds both. What a zero setting means
// differs by package, and each says so:
//
//   - signalserver (Config, RedisConfig, TURNConfig): zero means the default
//     ("Zero means DefaultSendQueueBytes (1 MiB)."). A negative value
//     switches off the per-IP limits (MaxConnsPerIP, JoinsPerSecondPerIP)
//     and the global MaxConns; New rejects it in Config's other fields.
//   - transport (Config): zero or negative means the default ("Zero means
//     DefaultKeepAliveInterval."): withDefaults replaces every duration,
//     buffer size and limit that is not positive with its Default constant.
//   - rollbox (Config) and ebitenrb: zero means the default ("Default
//     DefaultInputDelay"); a setting whose zero is meaningful has a switch
//     beside it (NoInputDelay, Lockstep), so that the zero Config plays.
//   - rollback (Config): DefaultConfig returns the defaults ("DefaultConfig
//     sets DefaultDisconnectTimeout (2000 ms)."); a session validates its
//     Config as given, so a zero field is checked, not replaced, and is an
//     error where zero is not a valid setting.
//
// TestDefaultsDocumented checks that every Default constant is commented
// and named by a field's comment in its package.
package conventions
