//go:build !linux

package signalserver

// physicalMemory returns 0: only Linux tells without cgo.
func physicalMemory() int64 { return 0 }
