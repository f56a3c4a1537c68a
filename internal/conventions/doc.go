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
// subpackages their own name: "web: ", "udp: ", "simnet: "), in its own
// text or in the first error it wraps ("%w: ..." of a prefixed sentinel).
// The only exceptions are messages the package itself always wraps in a
// prefixed error before they leave it; TestErrorPrefixes lists them.
//
// Documented defaults: a setting whose zero value means a default has that
// default as an exported Default<Setting> constant, whose comment (its own
// or its group's) says why it suits real users, and the setting's own
// comment names the constant ("Zero means DefaultX."). signalserver.Config
// and rollback.Config still say so once for all their fields;
// TestDefaultsDocumented lists them.
package conventions
