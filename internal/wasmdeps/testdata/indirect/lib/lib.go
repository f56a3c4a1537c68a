// Package lib imports crypto/tls.
package lib

import "crypto/tls"

// Use uses crypto/tls.
func Use() { _ = tls.VersionTLS13 }
