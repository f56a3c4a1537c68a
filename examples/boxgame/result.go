package main

import (
	"encoding/json"
	"fmt"
)

// result is the headless summary printed as the last line of stdout: the
// end-to-end tests compare it across peers.
type result struct {
	Frame          int    `json:"frame"`
	Checksum       string `json:"checksum"` // of the confirmed state at Frame
	Players        int    `json:"players"`
	Rollbacks      int    `json:"rollbacks"`
	RollbackFrames int    `json:"rollback_frames"`
	Desyncs        int    `json:"desyncs"`
	MaxPingMS      int64  `json:"max_ping_ms"`
}

// JSON returns the result as one line of JSON.
func (r result) JSON() string {
	b, err := json.Marshal(r)
	if err != nil { // a struct of strings and integers always marshals
		panic(err)
	}
	return string(b)
}

func checksumHex(sum uint64) string { return fmt.Sprintf("%016x", sum) }
