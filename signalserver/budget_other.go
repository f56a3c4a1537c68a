//go:build !unix

package signalserver

// openFileLimit returns 0: this platform has no descriptor limit to read.
func openFileLimit() int64 { return 0 }
